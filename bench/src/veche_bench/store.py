"""The store's own limits, from ``deploy/local/bench_store.py`` on the same server."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from .settings import REPO_ROOT

SCRIPT = REPO_ROOT / "deploy" / "local" / "bench_store.py"
NAME_WIDTH = 46  # bench_store.py prints the operation left-aligned in 46 characters


@dataclass(frozen=True, slots=True)
class StoreRow:
    operation: str
    ops_per_s: float
    ok: bool


def parse_table(output: str) -> list[StoreRow]:
    """Rows of bench_store.py's table: ``name(46) ops sec ops/s p50 p99  ok|FAIL check``."""
    rows: list[StoreRow] = []
    for line in output.splitlines():
        fields = line[NAME_WIDTH:].split()
        if len(fields) < 6 or not fields[0].isdigit():
            continue
        rows.append(
            StoreRow(
                operation=line[:NAME_WIDTH].strip(),
                ops_per_s=float(fields[2].replace(",", "")),
                ok=fields[5] == "ok",
            )
        )
    return rows


def pick(rows: list[StoreRow], prefix: str, contains: str = "") -> float | None:
    for row in rows:
        if row.operation.startswith(prefix) and contains in row.operation and row.ok:
            return row.ops_per_s
    return None


async def store_limits(mongo_url: str, docs: int, ops: int) -> dict[str, float | None]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--url",
        mongo_url,
        "--docs",
        str(docs),
        "--ops",
        str(ops),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    output, _ = await child.communicate()
    rows = parse_table(output.decode())
    return {
        "inserts/s (insert_many, 500/batch)": pick(rows, "insert_many (500/batch"),
        "updates/s (bulk_write 40 UpdateOne)": pick(rows, "bulk_write 40x UpdateOne"),
        "updates/s (update_one, concurrent)": pick(rows, "update_one by _id", "concurrent"),
        "finds/s (find_one by _id, concurrent)": pick(rows, "find_one by _id", "concurrent"),
    }
