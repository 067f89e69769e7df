"""An e-mail address field that is validated like pydantic's ``EmailStr``, once per address.

Every stage re-validates the events it consumes, and an appeal's addresses (the citizen's, the
executors' from the rulebook) come back event after event: ``email_validator``'s full IDNA check
cost route 5 % and ingest's HTTP path 12 % of their CPU (cProfile at 10 appeals/s), mostly for
addresses it had just accepted. The normalised form of a valid address is remembered in a
bounded, in-memory cache (never logged, gone with the process); an invalid one is checked again
each time and rejected with pydantic's own error.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic.networks import validate_email

CACHED_ADDRESSES = 4096


@lru_cache(maxsize=CACHED_ADDRESSES)
def normalised_email(value: str) -> str:
    """The address as ``EmailStr`` would store it (raises pydantic's error when invalid)."""
    return validate_email(value)[1]


EmailAddress = Annotated[
    str,
    AfterValidator(normalised_email),
    WithJsonSchema({"type": "string", "format": "email"}),
]
