"""Letters reuse a few SMTP sessions instead of one session per letter (real aiosmtpd server)."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from veche_notify.channels import DeliveryError, EmailSender, Outgoing
from veche_notify.mail_sink import KeepLetters, letters, serve_smtp
from veche_notify.settings import NotifySettings

pytestmark = pytest.mark.integration


class CountingSessions(KeepLetters):
    """Keeps letters like the sink and counts the sessions (one EHLO each)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.sessions = 0

    async def handle_EHLO(  # noqa: N802 (the name aiosmtpd calls)
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses


def outgoing(n: int) -> Outgoing:
    return Outgoing(
        key=f"a{n}:registered:citizen:email",
        address=f"c{n}@example.org",
        subject="Обращение зарегистрировано",
        body=f"Номер {n}",
    )


async def test_thirty_letters_share_at_most_the_configured_sessions(tmp_path):
    handler = CountingSessions(tmp_path / "mail")
    server = await serve_smtp(tmp_path / "mail", handler=handler)
    port = server.sockets[0].getsockname()[1]
    sender = EmailSender(NotifySettings(smtp_port=port, smtp_connections=3))
    try:
        await asyncio.gather(*(sender.send(outgoing(n)) for n in range(30)))
        await asyncio.gather(*(sender.send(outgoing(n)) for n in range(30, 40)))
    finally:
        await sender.close()
        server.close()
    assert len(letters(tmp_path / "mail")) == 40
    assert 1 <= handler.sessions <= 3


async def test_a_session_the_server_dropped_is_replaced(tmp_path):
    handler = CountingSessions(tmp_path / "mail")
    server = await serve_smtp(tmp_path / "mail", handler=handler)
    port = server.sockets[0].getsockname()[1]
    sender = EmailSender(NotifySettings(smtp_port=port, smtp_connections=1, smtp_idle_s=0.05))
    try:
        await sender.send(outgoing(1))
        await asyncio.sleep(0.1)  # idled past smtp_idle_s: not reused
        await sender.send(outgoing(2))
    finally:
        await sender.close()
        server.close()
    assert len(letters(tmp_path / "mail")) == 2
    assert handler.sessions == 2


async def test_unreachable_relay_is_a_transient_failure(tmp_path):
    sender = EmailSender(NotifySettings(smtp_port=1, smtp_connections=1))
    with pytest.raises(DeliveryError) as raised:
        await sender.send(outgoing(1))
    assert raised.value.transient


class Refusing(KeepLetters):
    """Keeps letters like the sink, but refuses some recipients at RCPT and some letters at
    DATA, the way relays answer: 550 (no such user), 452 (mailbox full), 451 (try later)."""

    async def handle_RCPT(  # noqa: N802 (the name aiosmtpd calls)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("nobody"):
            return "550 5.1.1 no such user"
        if address.startswith("full"):
            return "452 4.2.2 mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        if envelope.rcpt_tos[0].startswith("later"):
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


def letter_to(address: str) -> Outgoing:
    return Outgoing(key=f"{address}:registered", address=address, subject="Тема", body="Текст")


@pytest.mark.parametrize(
    ("address", "reason", "transient"),
    [
        ("nobody@example.org", "SMTP recipient refused [550]", False),
        ("full@example.org", "SMTP recipient refused [452]", True),
        ("later@example.org", "SMTP 451", True),
    ],
)
async def test_a_relay_s_refusal_is_classified_and_the_next_letter_still_goes(
    tmp_path, address, reason, transient
):
    server = await serve_smtp(tmp_path / "mail", handler=Refusing(tmp_path / "mail"))
    port = server.sockets[0].getsockname()[1]
    sender = EmailSender(NotifySettings(smtp_port=port, smtp_connections=1))
    try:
        with pytest.raises(DeliveryError) as raised:
            await sender.send(letter_to(address))
        await sender.send(letter_to("citizen@example.org"))
    finally:
        await sender.close()
        server.close()
    assert (raised.value.reason, raised.value.transient) == (reason, transient)
    assert [x.to for x in letters(tmp_path / "mail")] == ["citizen@example.org"]


class EightBitOrNot(KeepLetters):
    """Keeps letters like the sink and what each was sent as; ``seven_bit``: the relay does
    not offer 8BITMIME (its EHLO reply without it), as an old relay would answer."""

    def __init__(self, folder: Path, *, seven_bit: bool) -> None:
        super().__init__(folder)
        self.seven_bit = seven_bit
        self.sent_as: list[tuple[list[str], bytes]] = []

    async def handle_EHLO(  # noqa: N802 (the name aiosmtpd calls)
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [r for r in responses if not (self.seven_bit and r.endswith("8BITMIME"))]

    async def handle_MAIL(  # noqa: N802 (the name aiosmtpd calls)
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        self.sent_as.append((list(envelope.mail_options), envelope.original_content))
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("seven_bit", [False, True])
async def test_letters_go_8bit_only_to_a_relay_that_takes_8bitmime(tmp_path, seven_bit):
    handler = EightBitOrNot(tmp_path / "mail", seven_bit=seven_bit)
    server = await serve_smtp(tmp_path / "mail", handler=handler)
    port = server.sockets[0].getsockname()[1]
    sender = EmailSender(NotifySettings(smtp_port=port, smtp_connections=1))
    # a line that starts with a period is quoted on the wire (RFC 5321 4.5.2) and comes back
    text = "Здравствуйте!\n\nОбращение № 71-2026-000123 зарегистрировано.\n.\n...и всё.\n"
    try:
        await sender.send(Outgoing("a1:registered", "c1@example.org", "Тема", text))
    finally:
        await sender.close()
        server.close()
    [(options, content)] = handler.sent_as
    if seven_bit:
        assert "BODY=8BITMIME" not in options
        assert b"Content-Transfer-Encoding: base64" in content
        assert content.isascii()
    else:
        assert "BODY=8BITMIME" in options
        assert b"Content-Transfer-Encoding: 8bit" in content
        assert "Обращение № 71-2026-000123 зарегистрировано.".encode() in content
    assert [x.body for x in letters(tmp_path / "mail")] == [text]
