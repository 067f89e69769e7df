"""``veche-ingest import FILE``: register the rows of a CSV or JSON Lines file as appeals.

Each row is validated on its own; a bad row is written to the rejects file with its line number and
the reason, and the rest go on. Rows are keyed by their ``external_id`` (or their content), so
re-running the same file registers nothing twice.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .domain.channels import ImportRow
from .registrar import Registrar

CONCURRENCY = 16  # rows in flight: enough to overlap store round trips, small for a 2-core box


@dataclass(slots=True)
class ImportSummary:
    accepted: int = 0
    already_imported: int = 0
    queued: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.accepted + self.already_imported + len(self.rejected)


class RowError(Exception):
    pass


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line number, raw row or why it cannot be read) for CSV or JSON Lines."""
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, {k: v for k, v in row.items() if k is not None}
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                yield number, RowError(f"not JSON: {error.msg}")
                continue
            yield number, value if isinstance(value, dict) else RowError("not a JSON object")


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines - 1 if path.suffix.lower() == ".csv" else lines


def rejection_reason(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in issue['loc']) or 'row'}: {issue['msg']}"
        for issue in error.errors()
    )


async def import_file(
    path: Path, registrar: Registrar, *, rejects: Path, show_progress: bool = True
) -> ImportSummary:
    summary = ImportSummary()
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(number: int, raw: dict[str, Any] | RowError) -> None:
        try:
            if isinstance(raw, RowError):
                raise raw
            intake = ImportRow.from_raw(raw).to_intake()  # contact fields validate here
        except (ValidationError, RowError) as error:
            reason = rejection_reason(error) if isinstance(error, ValidationError) else str(error)
            summary.rejected.append({"line": number, "reason": reason, "row": raw_of(raw)})
            return
        async with slots:
            registered = await registrar.register(intake)
        if registered.replayed:
            summary.already_imported += 1
        else:
            summary.accepted += 1
            summary.queued += registered.queued

    with progress_bar(show_progress) as progress:
        task = progress.add_task(f"importing {path.name}", total=count_rows(path))
        pending: set[asyncio.Task[None]] = set()
        for number, raw in read_rows(path):
            job = asyncio.create_task(one(number, raw))
            job.add_done_callback(lambda _: progress.advance(task))
            pending.add(job)
            if len(pending) >= CONCURRENCY * 4:  # bounded memory for large files
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for done in finished:
                    done.result()  # an infrastructure failure stops the import loudly
        for job in pending:
            await job
    write_rejects(rejects, summary.rejected)
    return summary


def raw_of(raw: dict[str, Any] | RowError) -> dict[str, Any] | None:
    return None if isinstance(raw, RowError) else raw


def write_rejects(path: Path, rejected: list[dict[str, Any]]) -> None:
    if not rejected:
        path.unlink(missing_ok=True)
        return
    with path.open("w", encoding="utf-8") as handle:
        for entry in sorted(rejected, key=lambda e: e["line"]):
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")


def progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )
