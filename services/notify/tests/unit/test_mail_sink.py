"""The local mail sink's own logic: its remembered address parsing and its mbox files."""

import asyncio
import mailbox
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import SMTP
from veche_notify.mail_sink import (
    KeepLetters,
    RollingFiles,
    SinkSMTP,
    create_page,
    find_letter,
    letters,
    mbox_entry,
    text_messages,
)

ADDRESSES = [
    "<noreply@veche.example>",
    "<ivan.petrov@example.org> SIZE=2048",
    " <spaced@example.org>",
    "bare@example.org",
    "<>",
    "",
    "<not an address",
    "<@>",
    "<иван@пример.рф> SMTPUTF8",
    "<" + "x" * 70 + "@example.org>",  # over the 64-character local part limit
    '<quoted\\ local"@example.org>',
]


@pytest.fixture(params=[0, 64], ids=["no-limit", "limit-64"])
def servers(request: pytest.FixtureRequest) -> Iterator[tuple[SMTP, SMTP]]:
    """aiosmtpd's own server and the sink's, with the same local part limit (0: none)."""
    loop = asyncio.new_event_loop()
    handler = KeepLetters.__new__(KeepLetters)  # the parsing does not touch the handler
    library, sink = SMTP(handler, loop=loop), SinkSMTP(handler, loop=loop)
    library.local_part_limit = sink.local_part_limit = request.param  # a class attribute
    try:
        yield library, sink
    finally:
        loop.close()


@pytest.mark.parametrize("arg", ADDRESSES)
def test_sink_parses_smtp_addresses_as_aiosmtpd_does(servers: tuple[SMTP, SMTP], arg: str) -> None:
    library, sink = servers
    expected = library._getaddr(arg)

    assert sink._getaddr(arg) == expected
    assert sink._getaddr(arg) == expected  # remembered: the same answer the second time


def test_the_over_long_local_part_is_refused_only_under_a_limit(
    servers: tuple[SMTP, SMTP],
) -> None:
    _, sink = servers
    address, _ = sink._getaddr("<" + "x" * 70 + "@example.org>")
    assert (address is None) == bool(sink.local_part_limit)


def _letter(number: int) -> bytes:
    return (
        f"To: n{number}@example.org\r\nSubject: {number}\r\n\r\n"
        "From the body's first line, which mbox must quote\r\n"
    ).encode()


def _keep(folder: Path, count: int, keep: int, per_file: int) -> None:
    files = RollingFiles(folder, ".mbox", keep, per_file)
    for number in range(count):
        files.append(mbox_entry(_letter(number), "2026-12-07T12:00:00Z"))
        time.sleep(0.001)  # file names carry the time: one file per millisecond at most
    files.close()


def test_letters_come_back_whole_in_order(tmp_path: Path) -> None:
    _keep(tmp_path, 7, keep=0, per_file=3)

    kept = letters(tmp_path)

    assert [x.subject for x in kept] == [str(n) for n in range(7)]
    assert [x.to for x in kept][:2] == ["n0@example.org", "n1@example.org"]
    # quoted, as mailbox.mbox quotes it (an 8bit letter's line starting "From " is, too)
    assert kept[0].body == ">From the body's first line, which mbox must quote\n"
    assert kept[0].received_at == "2026-12-07T12:00:00Z"
    assert len(list(tmp_path.glob("*.mbox"))) == 3  # 3 + 3 + 1


def test_retention_drops_whole_old_files_and_keeps_the_newest_letters(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a box")

    _keep(tmp_path, 45, keep=20, per_file=10)

    kept = [int(x.subject) for x in letters(tmp_path)]
    # the current file (5 letters) and the two full files before it: at least the newest 20
    assert kept == list(range(20, 45))
    assert (tmp_path / "notes.txt").exists()


def test_keep_zero_keeps_everything(tmp_path: Path) -> None:
    _keep(tmp_path, 30, keep=0, per_file=4)
    assert len(letters(tmp_path)) == 30


def test_only_the_newest_are_read_when_asked(tmp_path: Path) -> None:
    _keep(tmp_path, 9, keep=0, per_file=4)

    newest = letters(tmp_path, newest=2)

    assert [x.subject for x in newest] == ["7", "8"]
    box, key = newest[0].name.split("/")
    found = find_letter(tmp_path, box, int(key))
    assert found is not None
    assert found.subject == "7"
    assert find_letter(tmp_path, box, 99) is None
    assert find_letter(tmp_path, "../etc.mbox", 0) is None


def test_the_mbox_files_open_with_the_standard_library(tmp_path: Path) -> None:
    _keep(tmp_path, 3, keep=0, per_file=10)
    (path,) = tmp_path.glob("*.mbox")

    box = mailbox.mbox(path, create=False)
    subjects = [message["Subject"] for message in box]
    box.close()

    assert subjects == ["0", "1", "2"]


async def test_the_sms_stand_in_keeps_each_text_with_its_own_id_and_time(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=create_page(tmp_path, keep=0))
    payload = {"to": "+79161234567", "text": "Обращение зарегистрировано", "id": "forged"}

    async with httpx.AsyncClient(transport=transport, base_url="http://sink") as client:
        answer = await client.post("/sms", json=payload)
        refused = await client.post("/sms", json=["not", "an", "object"])

    assert answer.status_code == 200
    assert refused.status_code == 422
    (kept,) = text_messages(tmp_path)
    assert kept["id"] == answer.json()["id"] != "forged"
    assert (kept["to"], kept["text"]) == (payload["to"], payload["text"])
    assert kept["received_at"].endswith("Z")
