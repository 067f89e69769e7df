"""The three ways out: SMTP (aiosmtplib), an SMS gateway and webhooks (httpx).

Each sender raises :class:`DeliveryError` saying whether the failure is worth retrying:
connection problems, timeouts, SMTP 4xx, HTTP 5xx and 429 are transient; SMTP 5xx and any other
HTTP 4xx are permanent (retrying cannot help, and a 4xx receiver asked us to stop).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import time
from dataclasses import dataclass
from email.mime.text import MIMEText
from email.utils import formatdate, parseaddr

import aiosmtplib
import httpx

from .domain.signing import DELIVERY_HEADER, EVENT_HEADER, signature_headers
from .settings import NotifySettings


class DeliveryError(Exception):
    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: str
    address: str
    subject: str
    body: str
    secret: str | None = None  # webhook subscriptions only


def message_id(key: str, domain: str) -> str:
    """The same Message-ID for every attempt of one notification, so a resend is recognisable."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def is_transient_http(status: int) -> bool:
    return status == 429 or status >= 500


def raise_for_http(response: httpx.Response) -> None:
    if response.is_success:
        return
    reason = f"HTTP {response.status_code}"
    raise DeliveryError(reason, transient=is_transient_http(response.status_code))


def smtp_error(error: Exception) -> DeliveryError:
    """Classify an aiosmtplib failure: 4xx replies and lost connections are transient."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        transient = all(400 <= code < 500 for code in codes)
        return DeliveryError(f"SMTP recipient refused {codes}", transient=transient)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return DeliveryError(f"SMTP {error.code}", transient=400 <= error.code < 500)
    return DeliveryError(f"SMTP {type(error).__name__}", transient=True)


class EmailSender:
    """SMTP over a few reused sessions.

    A session per letter costs a TCP handshake, the greeting, EHLO (STARTTLS and AUTH with a
    real relay) and QUIT on top of the MAIL/RCPT/DATA a letter needs; a burst of thousands of
    letters spends most of its time there. At most ``smtp_connections`` sessions are open; an
    idle one is closed after ``smtp_idle_s`` (relays drop idle clients), one that failed at once.
    """

    def __init__(self, settings: NotifySettings) -> None:
        self._settings = settings
        self._sessions = asyncio.Semaphore(settings.smtp_connections)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._envelope_from = parseaddr(settings.mail_from)[1]

    def message(self, outgoing: Outgoing) -> MIMEText:
        # The compat32 classes build and flatten a letter ~5x faster than EmailMessage's default
        # policy (0.2 vs 0.9 ms CPU for a Russian notice): thousands of letters a minute add up.
        letter = MIMEText(outgoing.body, "plain", "utf-8")
        for name, value in self._headers(outgoing):
            letter[name] = value
        return letter

    def wire_letter(self, outgoing: Outgoing, *, eight_bit: bool = False) -> bytes | None:
        """The letter as it goes on the wire, built directly where every header is plain ASCII
        (the common case); ``None`` otherwise (the email package then folds and encodes).

        The same letter as :meth:`message` flattened, without the email package's generic
        generator: at saturation, flattening and re-parsing the addresses out of the headers
        (``send_message``) took ~14 % of notify's CPU, the stage that bounds the pipeline.
        ``eight_bit`` (the relay takes 8BITMIME and :func:`fits_8bit` holds): the text as it
        is, in UTF-8, instead of base64 — a third smaller, and a few long lines instead of
        dozens of 76-character ones for the relay to read one by one.
        """
        headers = self._headers(outgoing)
        if not all(_plain_header(value) for _, value in headers):
            return None
        if eight_bit:
            encoding, body = "8bit", outgoing.body
        else:
            encoding, body = "base64", base64.encodebytes(outgoing.body.encode()).decode("ascii")
        lines = [
            'Content-Type: text/plain; charset="utf-8"',
            "MIME-Version: 1.0",
            f"Content-Transfer-Encoding: {encoding}",
            *(f"{name}: {value}" for name, value in headers),
            "",
            body,
        ]
        return "\n".join(lines).replace("\n", "\r\n").encode()

    def _headers(self, outgoing: Outgoing) -> list[tuple[str, str]]:
        return [
            ("From", self._settings.mail_from),
            ("To", outgoing.address),
            # RFC 2047 encoded words, folded: ASCII whatever the subject's language
            ("Subject", encoded_header(outgoing.subject, "Subject")),
            ("Date", formatdate(localtime=False)),
            ("Message-ID", message_id(outgoing.key, self._settings.message_id_domain)),
            ("X-Veche-Notification", outgoing.key),
        ]

    async def send(self, outgoing: Outgoing) -> str:
        async with self._sessions:
            session = await self._session()
            eight_bit = session.supports_extension("8bitmime") and fits_8bit(outgoing.body)
            wire = self.wire_letter(outgoing, eight_bit=eight_bit)
            try:
                if wire is not None:
                    await self._transaction(session, outgoing.address, wire, eight_bit=eight_bit)
                else:
                    await session.send_message(self.message(outgoing))
            except (aiosmtplib.SMTPException, OSError) as error:
                _close(session)
                raise smtp_error(error) from error
            except BaseException:  # cancelled mid-letter: the session's state is unknown
                _close(session)
                raise
            self._idle.append((session, time.monotonic()))
        return message_id(outgoing.key, self._settings.message_id_domain)

    async def _transaction(
        self, session: aiosmtplib.SMTP, address: str, wire: bytes, *, eight_bit: bool
    ) -> None:
        """MAIL, RCPT and DATA of one letter, as ``sendmail`` sends them, without its extra
        passes: it parses every address once more before the commands parse it again, and
        normalises the letter's line ends to measure it for SIZE, which ``data`` does again
        (``wire`` already ends its lines in CRLF): 5 000 letters to the sink, sender CPU 146–153
        → 124–125 µs a letter. A refusal resets the envelope, as ``sendmail`` does, and is
        raised as it would raise it."""
        options = [f"SIZE={len(wire)}"] if session.supports_extension("size") else []
        if eight_bit:
            options.append("BODY=8BITMIME")  # RFC 6152
        try:
            await session.mail(self._envelope_from, options=options)
            try:
                await session.rcpt(address)
            except aiosmtplib.SMTPRecipientRefused as refused:
                raise aiosmtplib.SMTPRecipientsRefused([refused]) from refused
            await session.data(wire)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await session.rset()
            raise

    async def close(self) -> None:
        sessions, self._idle = self._idle, []
        for session, _ in sessions:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await session.quit()

    async def _session(self) -> aiosmtplib.SMTP:
        while self._idle:
            session, idle_since = self._idle.pop()
            fresh = time.monotonic() - idle_since < self._settings.smtp_idle_s
            if fresh and session.is_connected:
                return session
            _close(session)
        s = self._settings
        session = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            start_tls=s.smtp_starttls,
            use_tls=False,
            timeout=s.send_timeout_s,
        )
        try:
            await session.connect()
            await _greet(session)
        except (aiosmtplib.SMTPException, OSError) as error:
            raise smtp_error(error) from error
        return session


async def _greet(session: aiosmtplib.SMTP) -> None:
    """EHLO now, unless connecting did (STARTTLS, AUTH): what the relay takes (SIZE, 8BITMIME)
    is known only after it, and the first letter's MAIL is built before MAIL would send it.
    A relay that does not speak ESMTP gets HELO, as aiosmtplib would do."""
    if not session.is_ehlo_or_helo_needed:
        return
    try:
        await session.ehlo()
    except aiosmtplib.SMTPHeloError:
        await session.helo()


# RFC 5322 2.1.1: a line is at most 998 octets without its CRLF
MAX_LINE_OCTETS = 998


def fits_8bit(text: str) -> bool:
    """Whether a text can go as an 8bit MIME body (RFC 2045 2.8): no CR or NUL of its own (its
    line breaks are LF, sent as CRLF) and no line over 998 octets; otherwise it goes base64."""
    if "\r" in text or "\0" in text:
        return False
    # a character is at most 4 octets in UTF-8: only a long line needs encoding to measure
    return all(
        len(line) * 4 <= MAX_LINE_OCTETS or len(line.encode()) <= MAX_LINE_OCTETS
        for line in text.split("\n")
    )


# RFC 2047: an encoded word is at most 75 characters; RFC 5322: a line SHOULD be at most 78.
_WORD_OVERHEAD = len("=?utf-8?b??=")
_MAX_WORD = 75
_MAX_LINE = 78


def encoded_header(value: str, name: str) -> str:
    """A header value as RFC 2047 base64 encoded words, folded so no line passes 78 characters
    (the header's name counted on the first); plain printable ASCII that fits stays as it is.

    The same kind of words the email package makes, without its search for the longest piece
    that fits, which re-encodes the value once per character: a Russian subject in 15 µs
    instead of ``Header(...).encode()``'s 90 µs, for every letter.
    """
    first_line_room = _MAX_LINE - len(name) - 2  # "Name: "
    if _printable_ascii(value) and "=?" not in value and len(value) <= first_line_room:
        return value
    words: list[str] = []
    piece = bytearray()
    room = _payload_bytes(min(_MAX_WORD, first_line_room))
    for char in value:
        encoded = char.encode()
        if len(piece) + len(encoded) > room:
            words.append(_word(piece))
            piece, room = bytearray(), _payload_bytes(min(_MAX_WORD, _MAX_LINE - 1))
        piece += encoded
    words.append(_word(piece))
    return "\n ".join(words)


def _payload_bytes(word_length: int) -> int:
    """Whole bytes whose base64 fits an encoded word of ``word_length`` characters."""
    return (word_length - _WORD_OVERHEAD) // 4 * 3


def _word(payload: bytes | bytearray) -> str:
    return f"=?utf-8?b?{base64.b64encode(payload).decode('ascii')}?="


def _printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _plain_header(value: str) -> bool:
    """ASCII with folds only (a line break followed by a space), nothing to encode."""
    return value.isascii() and "\r" not in value and "\n" not in value.replace("\n ", "")


def _close(session: aiosmtplib.SMTP) -> None:
    """Drop a session without the QUIT round trip (it failed, or idled too long)."""
    if session.is_connected:
        session.close()


def normalise_phone(phone: str) -> str:
    """E.164 for Russian numbers: "8 (910) 123-45-67" → "+79101234567"."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return f"+{digits}"


class SmsSender:
    """POST ``{"to", "text", "sender", "client_ref"}`` as JSON; see docs/notify.md."""

    def __init__(self, settings: NotifySettings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client

    async def send(self, outgoing: Outgoing) -> str:
        s = self._settings
        if not s.sms_gateway_url:
            raise DeliveryError("SMS gateway not configured", transient=False)
        headers = {"Idempotency-Key": outgoing.key}
        if s.sms_gateway_token:
            headers["Authorization"] = f"Bearer {s.sms_gateway_token.get_secret_value()}"
        payload = {
            "to": normalise_phone(outgoing.address),
            "text": outgoing.body.strip(),
            "sender": s.sms_sender,
            "client_ref": outgoing.key,
        }
        response = await _post(self._client, s.sms_gateway_url, json=payload, headers=headers)
        raise_for_http(response)
        return _gateway_id(response)


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, outgoing: Outgoing) -> str:
        if outgoing.secret is None:
            raise DeliveryError("subscription has no secret", transient=False)
        body = outgoing.body.encode()
        # signed per attempt: a retry after a long backoff is still inside the receiver's window
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: outgoing.subject,
            DELIVERY_HEADER: outgoing.key,
            **signature_headers(outgoing.secret, body),
        }
        response = await _post(self._client, outgoing.address, content=body, headers=headers)
        raise_for_http(response)
        return f"HTTP {response.status_code}"


async def _post(client: httpx.AsyncClient, url: str, **kwargs: object) -> httpx.Response:
    try:
        return await client.post(url, **kwargs)  # type: ignore[arg-type]
    except httpx.TimeoutException as error:
        raise DeliveryError("timeout", transient=True) from error
    except httpx.TransportError as error:
        raise DeliveryError(f"transport {type(error).__name__}", transient=True) from error
    except httpx.InvalidURL as error:
        raise DeliveryError("invalid URL", transient=False) from error


def _gateway_id(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return str(data.get("id", f"HTTP {response.status_code}")) if isinstance(data, dict) else ""
