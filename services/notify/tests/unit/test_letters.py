from email import message_from_bytes, policy
from email.header import decode_header, make_header

import pytest
from veche_notify.channels import EmailSender, Outgoing, encoded_header, fits_8bit
from veche_notify.settings import NotifySettings

NOTICE = Outgoing(
    key="appeal-1:registered:citizen:email",
    address="citizen@example.org",
    subject="Ваше обращение № 71-2026-000123 зарегистрировано — срок ответа до 23 декабря 2026 г.",
    body="Здравствуйте!\n\nОбращение зарегистрировано.\nОтвет будет дан в срок.\n" * 8,
)


def parsed(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


def test_wire_letter_reads_back_as_the_same_letter_the_email_package_builds():
    sender = EmailSender(NotifySettings())
    wire = sender.wire_letter(NOTICE)
    assert wire is not None
    built = parsed(sender.message(NOTICE).as_bytes())
    sent = parsed(wire)
    names = ["From", "To", "Subject", "Message-ID", "X-Veche-Notification", "Content-Type"]
    assert [str(sent[n]) for n in names] == [str(built[n]) for n in names]
    assert sent["Subject"] == NOTICE.subject
    assert sent.get_content() == built.get_content() == NOTICE.body
    assert sent["Date"] is not None


def test_wire_letter_has_crlf_lines_within_the_smtp_limit():
    wire = EmailSender(NotifySettings()).wire_letter(NOTICE)
    assert wire is not None
    assert b"\n" not in wire.replace(b"\r\n", b"")
    assert max(len(line) for line in wire.split(b"\r\n")) <= 78


def test_an_8bit_letter_carries_the_text_as_it_is_and_reads_back_the_same():
    sender = EmailSender(NotifySettings())
    wire = sender.wire_letter(NOTICE, eight_bit=True)
    base64_wire = sender.wire_letter(NOTICE)
    assert wire is not None
    assert base64_wire is not None

    received = parsed(wire)
    assert received["Content-Transfer-Encoding"] == "8bit"
    # on the wire every line ends in CRLF (RFC 5322); the text is the same line by line
    assert received.get_content().replace("\r\n", "\n") == NOTICE.body
    assert received["Subject"] == NOTICE.subject
    assert "Обращение зарегистрировано.\r\n".encode() in wire  # CRLF line ends, UTF-8
    assert b"\n" not in wire.replace(b"\r\n", b"")
    assert len(wire) < len(base64_wire)


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("Здравствуйте!\n\nОтвет будет дан в срок.\n", True),
        ("ж" * 499 + "\n", True),  # 998 octets: the longest line RFC 5322 allows
        ("ж" * 500 + "\n", False),
        ("a" * 998, True),
        ("a" * 999, False),
        ("a carriage return\r of its own\n", False),
        ("a NUL \0 byte\n", False),
        ("", True),
    ],
)
def test_only_text_within_rfc_5322_lines_goes_8bit(text: str, fits: bool) -> None:
    assert fits_8bit(text) is fits


def test_non_ascii_headers_are_left_to_the_email_package():
    russian_from = EmailSender(NotifySettings(mail_from="Вече <noreply@veche.local>"))
    assert russian_from.wire_letter(NOTICE) is None
    assert "Вече" in str(parsed(russian_from.message(NOTICE).as_bytes())["From"])
    idn = Outgoing(NOTICE.key, "житель@пример.рф", NOTICE.subject, NOTICE.body)
    assert EmailSender(NotifySettings()).wire_letter(idn) is None


def test_a_header_value_with_a_bare_line_break_is_not_sent_raw():
    sender = EmailSender(NotifySettings(mail_from="Veche <noreply@veche.local>\nBcc: x@y.z"))
    assert sender.wire_letter(NOTICE) is None


SUBJECTS = [
    NOTICE.subject,
    "Короткая тема",
    "Обращение 71-2026-000123: ответ 🏠 получен — «кавычки», ёлки и ЁЖ " * 3,
    "Appeal 71-2026-000123 registered",
    "An ASCII subject long enough that it cannot stay on the first line of the header at all",
    "looks =?utf-8?b?encoded?= but is not",
    "a tab\there and\r\nBcc: injected@example.org",
    "",
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_encoded_subject_decodes_to_the_subject_within_line_limits(subject: str) -> None:
    value = encoded_header(subject, "Subject")
    assert value.isascii()
    lines = f"Subject: {value}".split("\n")
    assert all(len(line) <= 78 for line in lines)
    assert all(line.startswith(" ") for line in lines[1:])  # folds, never a new header
    assert all(len(word) <= 75 for word in value.split())  # RFC 2047's limit per word
    assert str(make_header(decode_header(value))) == subject


def test_a_plain_short_ascii_subject_is_sent_as_it_is() -> None:
    assert encoded_header("Appeal registered", "Subject") == "Appeal registered"


def test_the_email_package_reads_the_fast_subject_in_a_whole_letter() -> None:
    for subject in SUBJECTS:
        letter = Outgoing(NOTICE.key, NOTICE.address, subject, NOTICE.body)
        wire = EmailSender(NotifySettings()).wire_letter(letter)
        assert wire is not None
        received = parsed(wire)
        assert received["Subject"] == subject
        assert received["Bcc"] is None  # a line break in a subject never starts a header
