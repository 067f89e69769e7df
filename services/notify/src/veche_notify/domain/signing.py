"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<body>"`` (docs/notify.md).

The timestamp is signed with the body, so a captured delivery cannot be replayed later than the
receiver's tolerance, and a changed timestamp breaks the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Veche-Timestamp"  # Unix seconds, decimal
SIGNATURE_HEADER = "X-Veche-Signature"  # "v1=<hex HMAC-SHA256>"
DELIVERY_HEADER = "X-Veche-Delivery"  # the notification key: the same on every retry
EVENT_HEADER = "X-Veche-Event"  # appeal.routed | appeal.deadline | appeal.answered
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` keyed by the secret."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def signature_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, stamp, body)}


def verify(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent (no replay)."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance_s:
        return False
    expected = sign(secret, stamp, body)
    # several signatures may be sent while a secret is rotated: "v1=a, v1=b"
    candidates = [part.strip() for part in signature.split(",")]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
