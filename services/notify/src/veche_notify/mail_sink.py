"""``veche-mail-sink``: a local SMTP server that keeps every letter, in mbox files.

So a person trying Veche sees the letters a citizen and an executor would get::

    veche-mail-sink serve --folder .local/mail      # SMTP on 1025, page on http://127.0.0.1:8025
    veche-mail-sink list --folder .local/mail       # the same list in the terminal

Letters are appended to ``*.mbox`` files of up to 1 000 letters each (any mail client opens
them: ``mutt -f``, ``mail -f``); only the newest boxes holding ``--keep`` letters stay (5 000 by
default; 0 keeps all). A file per letter cost more CPU in the kernel than the SMTP server in
Python — on ext4, creating files where many were just deleted scans the inode table — and a
benchmark's tens of thousands of files made the page unusable.

The page also accepts the SMS gateway's JSON (``POST /sms``, docs/notify.md) and keeps each text
message as a JSON line under ``sms/``, so the local stack can send SMS too.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import html
import json
import logging
import mailbox
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import IO, Any, TypeVar

from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

DEFAULT_SMTP_PORT = 1025
DEFAULT_HTTP_PORT = 8025
DEFAULT_KEEP = 5000
PER_FILE = 1000  # letters (or texts) per file
PAGE_LETTERS = 200  # the page lists the newest letters: each one is parsed to show it
T = TypeVar("T")


def _new_name(suffix: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}{suffix}"


def oldest_first(folder: Path, suffix: str) -> list[Path]:
    """A folder's files of one kind, oldest first: their names start with their UTC time."""
    return sorted(folder.glob(f"*{suffix}"))


def newest_entries(
    folder: Path, suffix: str, read: Callable[[Path], list[T]], newest: int | None
) -> list[T]:
    """The entries of a folder's files, oldest first; ``newest``: only that many of the latest,
    reading only the files that hold them."""
    found: list[T] = []
    for path in reversed(oldest_first(folder, suffix)):
        found[:0] = read(path)
        if newest and len(found) >= newest:
            return found[-newest:]
    return found


class RollingFiles:
    """Appends entries to the newest of a folder's files named ``<UTC time>-<random><suffix>``,
    ``per_file`` entries each, and deletes the oldest files once the rest hold ``keep`` (0: keep
    all). Each entry is one unbuffered ``write``: a reader sees whole entries as soon as the
    sender has its reply. Not for concurrent writers: one process owns the folder."""

    def __init__(self, folder: Path, suffix: str, keep: int, per_file: int = PER_FILE) -> None:
        self.folder = folder
        self.suffix = suffix
        self.keep = keep
        self.per_file = per_file
        self._file: IO[bytes] | None = None
        self._entries = 0

    def append(self, entry: bytes) -> None:
        if self._file is None or self._entries >= self.per_file:
            self._roll()
        assert self._file is not None
        self._file.write(entry)
        self._entries += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _roll(self) -> None:
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._file = (self.folder / _new_name(self.suffix)).open("ab", buffering=0)
        self._entries = 0
        if self.keep:
            # the new file and as many full ones before it as hold ``keep`` entries
            full_files_kept = -(-self.keep // self.per_file)
            for path in oldest_first(self.folder, self.suffix)[: -(full_files_kept + 1)]:
                path.unlink(missing_ok=True)


def mbox_entry(content: bytes, received_at: str) -> bytes:
    """A letter as ``mailbox.mbox`` writes one (a From_ line, LF line ends, body lines starting
    with "From " quoted), with the time it arrived. Written here because ``mailbox.mbox.add``
    needs a ``flush`` — an fsync — before a reader sees the letter."""
    text = content.replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From ")
    if not text.endswith(b"\n"):
        text += b"\n"
    from_line = f"From veche-mail-sink {time.asctime(time.gmtime())}\n".encode()
    return from_line + f"X-Sink-Received: {received_at}\n".encode() + text + b"\n"


def _utc_stamp() -> str:
    """ISO 8601 to the microsecond (services/notify/scripts/send_windows.py times the 250)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class KeepLetters:
    """aiosmtpd handler: every accepted message appended to the folder's mbox files, the
    envelope recipients included; at least the newest ``keep`` letters kept (0: all)."""

    def __init__(self, folder: Path, keep: int = 0, per_file: int = PER_FILE) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.boxes = RollingFiles(folder, ".mbox", keep, per_file)

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        recipients = ", ".join(envelope.rcpt_tos)
        data = f"X-Sink-Rcpt-To: {recipients}\r\n".encode() + content
        self.boxes.append(mbox_entry(data, _utc_stamp()))
        return "250 Message accepted for delivery"


@functools.lru_cache(maxsize=8192)
def parse_smtp_address(arg: str, local_part_limit: int) -> tuple[str | None, str | None]:
    """``SMTP._getaddr`` of aiosmtpd 1.4, remembered: the sender is the same on every letter and
    executors' addresses repeat, while each parse walks the email package's header grammar."""
    if not arg:
        return "", ""
    try:
        parse = get_angle_addr if arg.lstrip().startswith("<") else get_addr_spec
        address, rest = parse(arg)
    except HeaderParseError:
        return None, None
    addr: str = address.addr_spec
    localpart = addr.rpartition("@")[0]
    if local_part_limit and len(localpart) > local_part_limit:
        return None, None
    return addr, rest


class SinkSMTP(SMTP):
    """aiosmtpd's server with its address parsing remembered. aiosmtpd 1.4 also defines a
    ``typing.Protocol`` class inside ``_getaddr`` — an ABC built on every MAIL and RCPT: with
    the parse, a third of the sink's Python time at saturation, on the two cores the bench
    measures Veche on (tests/unit/test_mail_sink.py checks the two agree)."""

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        return parse_smtp_address(arg, self.local_part_limit)


async def serve_smtp(
    folder: Path, host: str = "127.0.0.1", port: int = 0, handler: KeepLetters | None = None
) -> asyncio.Server:
    """Start the SMTP sink in the running event loop (tests use it in-process, some with a
    handler of their own that keeps letters the same way)."""
    handler = handler or KeepLetters(folder)
    # aiosmtpd logs every command at INFO, recipients' addresses included: keep them out of logs
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SinkSMTP(handler, hostname="veche-mail-sink", enable_SMTPUTF8=True),
        host=host,
        port=port,
    )


@dataclass(frozen=True, slots=True)
class Letter:
    name: str  # <mbox file>/<number in it>
    received_at: str
    to: str
    subject: str
    message_id: str
    notification: str
    body: str


def read_letter(name: str, content: bytes) -> Letter:
    message = BytesParser(policy=policy.default).parsebytes(content)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    return Letter(
        name=name,
        received_at=str(message.get("X-Sink-Received", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        message_id=str(message.get("Message-ID", "")),
        notification=str(message.get("X-Veche-Notification", "")),
        body=str(body),
    )


def _box_letters(path: Path) -> list[tuple[str, bytes]]:
    box = mailbox.mbox(path, create=False)
    try:
        return [(f"{path.name}/{key}", box.get_bytes(key)) for key in box.iterkeys()]
    finally:
        box.close()


def letters(folder: Path, newest: int | None = None) -> list[Letter]:
    """The letters kept, oldest first; ``newest``: only that many of the latest."""
    found = newest_entries(folder, ".mbox", _box_letters, newest)
    return [read_letter(name, content) for name, content in found]


def find_letter(folder: Path, box: str, key: int) -> Letter | None:
    path = folder / box
    if path.parent != folder or path.suffix != ".mbox" or not path.is_file():
        return None
    mbox = mailbox.mbox(path, create=False)
    try:
        # an mbox's keys are the letters' numbers (typeshed types every mailbox's keys as str)
        return read_letter(f"{box}/{key}", mbox.get_bytes(key))  # type: ignore[arg-type]
    except KeyError:
        return None
    finally:
        mbox.close()


def _texts(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [{"name": f"{path.name}/{n}", **json.loads(line)} for n, line in enumerate(lines)]


def text_messages(folder: Path, newest: int | None = None) -> list[dict[str, Any]]:
    return newest_entries(folder / "sms", ".jsonl", _texts, newest)


def create_page(folder: Path, keep: int = 0) -> FastAPI:
    page = FastAPI(title="Veche mail sink", docs_url=None, redoc_url=None)
    texts = RollingFiles(folder / "sms", ".jsonl", keep)

    @page.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "folder": str(folder)}

    @page.get("/", response_class=HTMLResponse)
    async def index() -> str:
        rows = "".join(
            f"<tr><td>{html.escape(x.received_at)}</td><td>{html.escape(x.to)}</td>"
            f'<td><a href="/messages/{html.escape(x.name)}">{html.escape(x.subject)}</a></td></tr>'
            for x in reversed(letters(folder, PAGE_LETTERS))
        )
        sms = "".join(
            f"<tr><td>{html.escape(str(m.get('received_at')))}</td>"
            f"<td>{html.escape(str(m.get('to')))}</td>"
            f"<td>{html.escape(str(m.get('text')))}</td></tr>"
            for m in reversed(text_messages(folder, PAGE_LETTERS))
        )
        return (
            "<!doctype html><meta charset=utf-8><title>Veche: письма</title>"
            f"<h1>Письма ({html.escape(str(folder))}; новейшие {PAGE_LETTERS})</h1>"
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

    @page.get("/messages/{box}/{key}", response_class=PlainTextResponse)
    async def message(box: str, key: int) -> str:
        found = find_letter(folder, box, key)
        if found is None:
            raise HTTPException(404, "no such letter")
        return f"Кому: {found.to}\nТема: {found.subject}\n\n{found.body}"

    @page.post("/sms")
    async def receive_sms(request: Request) -> dict[str, str]:
        """A stand-in SMS gateway with the JSON API notify speaks (docs/notify.md)."""
        payload = await request.json()
        if not isinstance(payload, dict) or not {"to", "text"} <= payload.keys():
            raise HTTPException(422, "expected a JSON object with 'to' and 'text'")
        text_id = uuid.uuid4().hex
        line = {**payload, "id": text_id, "received_at": _utc_stamp()}
        texts.append(json.dumps(line, ensure_ascii=False).encode() + b"\n")
        return {"id": text_id}

    return page


async def run(folder: Path, host: str, smtp_port: int, http_port: int, keep: int) -> None:
    import uvicorn

    handler = KeepLetters(folder, keep)
    smtp = await serve_smtp(folder, host, smtp_port, handler)
    print(
        f"veche-mail-sink: SMTP {host}:{smtp_port}; letters kept in {folder}; "
        f"list them at http://{host}:{http_port}/ (SMS gateway: POST http://{host}:{http_port}/sms)",
        flush=True,
    )
    config = uvicorn.Config(
        create_page(folder, keep), host=host, port=http_port, log_config=None, access_log=False
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        smtp.close()
        await smtp.wait_closed()
        handler.boxes.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="veche-mail-sink", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the SMTP sink and its page")
    serve.add_argument("--folder", type=Path, default=Path(".local/mail"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--smtp-port", type=int, default=DEFAULT_SMTP_PORT)
    serve.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT)
    serve.add_argument(
        "--keep", type=int, default=DEFAULT_KEEP, help="newest letters and texts kept (0: all)"
    )
    listing = commands.add_parser("list", help="list the letters kept in a folder")
    listing.add_argument("--folder", type=Path, default=Path(".local/mail"))
    args = parser.parse_args(argv)
    folder: Path = args.folder.resolve()
    if args.command == "list":
        for letter in letters(folder):
            print(f"{letter.received_at}  {letter.to:<32}  {letter.subject}  ({letter.name})")
        for sms in text_messages(folder):
            print(f"{sms.get('received_at')}  SMS {sms.get('to')!s:<28}  {sms.get('text')}")
        return 0
    asyncio.run(run(folder, args.host, args.smtp_port, args.http_port, args.keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
