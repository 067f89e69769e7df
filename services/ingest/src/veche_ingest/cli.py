"""``veche-ingest``: run the service, import a file of appeals, manage client systems' API keys."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from pathlib import Path

from veche_shared.runtime import Runtime
from veche_shared.service import serve

from .app import build_intake, create_app
from .batch_import import import_file
from .settings import IngestSettings
from .storage import IngestStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="veche-ingest", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    importing = commands.add_parser("import", help="register the rows of a CSV or JSON Lines file")
    importing.add_argument("file", type=Path)
    importing.add_argument("--rejects", type=Path, help="default: FILE.rejects.jsonl")
    importing.add_argument("--no-progress", action="store_true")
    keys = commands.add_parser("api-key", help="API keys of client systems (Open311, channels)")
    key_commands = keys.add_subparsers(dest="action", required=True)
    create = key_commands.add_parser("create", help="create a key for a system; printed once")
    create.add_argument("name", help="the client system, e.g. mfc-tula")
    args = parser.parse_args(argv)

    settings = IngestSettings()
    if args.command == "import":
        if problem := unreadable(args.file):
            print(problem, file=sys.stderr)
            return 2
        return asyncio.run(run_import(settings, args.file, args.rejects, not args.no_progress))
    if args.command == "api-key":
        return asyncio.run(create_api_key(settings, args.name))
    serve(create_app(settings), host=settings.http_host, port=settings.port)
    return 0


def unreadable(file: Path) -> str | None:
    if not file.is_file():
        return f"no such file: {file}"
    if file.suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
        return "the file must be .csv or .jsonl/.ndjson"
    return None


async def run_import(
    settings: IngestSettings, file: Path, rejects: Path | None, show_progress: bool
) -> int:
    rejects = rejects or file.with_name(file.name + ".rejects.jsonl")
    runtime = Runtime.create(settings)
    intake = build_intake(runtime, settings)
    await intake.store.create_indexes()
    await runtime.broker.start()
    try:
        summary = await import_file(
            file, intake.registrar, rejects=rejects, show_progress=show_progress
        )
        await intake.marks.flush()
    finally:
        await runtime.broker.stop()
        await runtime.client.close()
        runtime.tracer_provider.shutdown()
    print(
        f"{summary.total} rows: {summary.accepted} registered, "
        f"{summary.already_imported} already imported, {len(summary.rejected)} rejected"
        + (f" (see {rejects})" if summary.rejected else "")
        + (f"; {summary.queued} queued for Kafka" if summary.queued else "")
    )
    return 1 if summary.rejected else 0


async def create_api_key(settings: IngestSettings, name: str) -> int:
    runtime = Runtime.create(settings)
    key = secrets.token_urlsafe(32)
    try:
        await IngestStore(runtime.client, settings.database).add_api_client(name, key)
    finally:
        await runtime.client.close()
    print(key)
    print(f"API key for {name!r}: shown once, stored only as a hash.", file=sys.stderr)
    return 0
