"""``veche-mail-sink``: a local SMTP server that keeps every letter as an ``.eml`` file.

So a person trying Veche sees the letters a citizen and an executor would get::

    veche-mail-sink serve --folder .local/mail      # SMTP on 1025, page on http://127.0.0.1:8025
    veche-mail-sink list --folder .local/mail       # the same list in the terminal

The page also accepts the SMS gateway's JSON (``POST /sms``, docs/notify.md) and keeps each text
message as a ``.json`` file under ``sms/``, so the local stack can send SMS too.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

DEFAULT_SMTP_PORT = 1025
DEFAULT_HTTP_PORT = 8025


def _write_atomically(path: Path, data: bytes) -> None:
    """A reader never sees half a file: write beside, then rename."""
    temporary = path.with_suffix(path.suffix + ".part")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _new_name(suffix: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}{suffix}"


class KeepAsEml:
    """aiosmtpd handler: one ``.eml`` per accepted message (the envelope recipients included)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        recipients = ", ".join(envelope.rcpt_tos)
        data = f"X-Sink-Rcpt-To: {recipients}\r\n".encode() + content
        _write_atomically(self.folder / _new_name(".eml"), data)
        return "250 Message accepted for delivery"


async def serve_smtp(
    folder: Path, host: str = "127.0.0.1", port: int = 0, handler: KeepAsEml | None = None
) -> asyncio.Server:
    """Start the SMTP sink in the running event loop (tests use it in-process, some with a
    handler of their own that keeps letters the same way)."""
    handler = handler or KeepAsEml(folder)
    # aiosmtpd logs every command at INFO, recipients' addresses included: keep them out of logs
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, hostname="veche-mail-sink", enable_SMTPUTF8=True),
        host=host,
        port=port,
    )


@dataclass(frozen=True, slots=True)
class Letter:
    name: str
    received_at: str
    to: str
    subject: str
    message_id: str
    notification: str
    body: str


def read_letter(path: Path) -> Letter:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    return Letter(
        name=path.name,
        received_at=path.name.split("-", 1)[0],
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        message_id=str(message.get("Message-ID", "")),
        notification=str(message.get("X-Veche-Notification", "")),
        body=str(body),
    )


def letters(folder: Path) -> list[Letter]:
    return [read_letter(path) for path in sorted(folder.glob("*.eml"))]


def text_messages(folder: Path) -> list[dict[str, Any]]:
    return [
        {"name": path.name, **json.loads(path.read_text(encoding="utf-8"))}
        for path in sorted((folder / "sms").glob("*.json"))
    ]


def create_page(folder: Path) -> FastAPI:
    page = FastAPI(title="Veche mail sink", docs_url=None, redoc_url=None)

    @page.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "folder": str(folder)}

    @page.get("/", response_class=HTMLResponse)
    async def index() -> str:
        rows = "".join(
            f"<tr><td>{html.escape(x.received_at)}</td><td>{html.escape(x.to)}</td>"
            f'<td><a href="/messages/{html.escape(x.name)}">{html.escape(x.subject)}</a></td></tr>'
            for x in reversed(letters(folder))
        )
        sms = "".join(
            f"<tr><td>{html.escape(m['name'][:22])}</td><td>{html.escape(str(m.get('to')))}</td>"
            f"<td>{html.escape(str(m.get('text')))}</td></tr>"
            for m in reversed(text_messages(folder))
        )
        return (
            "<!doctype html><meta charset=utf-8><title>Veche: письма</title>"
            f"<h1>Письма ({html.escape(str(folder))})</h1>"
            f"<table border=1 cellpadding=4><tr><th>Получено</th><th>Кому</th><th>Тема</th></tr>"
            f"{rows}</table><h1>SMS</h1><table border=1 cellpadding=4>"
            f"<tr><th>Получено</th><th>Кому</th><th>Текст</th></tr>{sms}</table>"
        )

    @page.get("/api/messages")
    async def api_messages() -> list[dict[str, str]]:
        return [
            {k: getattr(x, k) for k in Letter.__dataclass_fields__ if k != "body"}
            for x in letters(folder)
        ]

    @page.get("/messages/{name}", response_class=PlainTextResponse)
    async def message(name: str) -> str:
        path = folder / name
        if path.parent != folder or path.suffix != ".eml" or not path.is_file():
            raise HTTPException(404, "no such letter")
        letter = read_letter(path)
        return f"Кому: {letter.to}\nТема: {letter.subject}\n\n{letter.body}"

    @page.post("/sms")
    async def receive_sms(request: Request) -> dict[str, str]:
        """A stand-in SMS gateway with the JSON API notify speaks (docs/notify.md)."""
        payload = await request.json()
        if not isinstance(payload, dict) or not {"to", "text"} <= payload.keys():
            raise HTTPException(422, "expected a JSON object with 'to' and 'text'")
        (folder / "sms").mkdir(parents=True, exist_ok=True)
        name = _new_name(".json")
        _write_atomically(folder / "sms" / name, json.dumps(payload, ensure_ascii=False).encode())
        return {"id": name}

    return page


async def run(folder: Path, host: str, smtp_port: int, http_port: int) -> None:
    import uvicorn

    smtp = await serve_smtp(folder, host, smtp_port)
    print(
        f"veche-mail-sink: SMTP {host}:{smtp_port}; letters kept in {folder}; "
        f"list them at http://{host}:{http_port}/ (SMS gateway: POST http://{host}:{http_port}/sms)",
        flush=True,
    )
    config = uvicorn.Config(
        create_page(folder), host=host, port=http_port, log_config=None, access_log=False
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        smtp.close()
        await smtp.wait_closed()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="veche-mail-sink", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the SMTP sink and its page")
    serve.add_argument("--folder", type=Path, default=Path(".local/mail"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--smtp-port", type=int, default=DEFAULT_SMTP_PORT)
    serve.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT)
    listing = commands.add_parser("list", help="list the letters kept in a folder")
    listing.add_argument("--folder", type=Path, default=Path(".local/mail"))
    args = parser.parse_args(argv)
    folder: Path = args.folder.resolve()
    if args.command == "list":
        for letter in letters(folder):
            print(f"{letter.received_at}  {letter.to:<32}  {letter.subject}  ({letter.name})")
        for sms in text_messages(folder):
            print(f"{sms['name'][:22]}  SMS {sms.get('to')!s:<28}  {sms.get('text')}")
        return 0
    asyncio.run(run(folder, args.host, args.smtp_port, args.http_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
