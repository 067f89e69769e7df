"""Which notifications a routed appeal calls for (pure: no I/O, no sending)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from veche_shared.events import AppealRoutedV1, RecipientRole


class Kind(StrEnum):
    REGISTERED = "registered"  # citizen: confirmation with the registration number
    REDIRECTED = "redirected"  # citizen: 59-ФЗ ст. 8 notice that another body will answer
    ASSIGNED = "assigned"  # executor: a new appeal to answer, with its deadline


@dataclass(frozen=True, slots=True)
class Planned:
    kind: Kind
    role: RecipientRole
    channel: str
    address: str  # personal data for citizens: stored by notify, never logged

    def key(self, appeal_id: str) -> str:
        """The unique notification key: one message per appeal, kind, recipient and channel."""
        return f"{appeal_id}:{self.kind.value}:{self.role.value}:{self.channel}"


def plan(event: AppealRoutedV1) -> list[Planned]:
    contact = event.appeal.contact
    planned: list[Planned] = []
    citizen_channel = (
        ("email", str(contact.email))
        if contact.email
        else ("sms", contact.phone)
        if contact.phone
        else None
    )
    if citizen_channel is not None:  # anonymous appeals get no citizen notification
        channel, address = citizen_channel
        planned.append(Planned(Kind.REGISTERED, RecipientRole.CITIZEN, channel, address))
        if event.redirected:
            planned.append(Planned(Kind.REDIRECTED, RecipientRole.CITIZEN, channel, address))
    if event.executor.contact_email:
        planned.append(
            Planned(
                Kind.ASSIGNED, RecipientRole.EXECUTOR, "email", str(event.executor.contact_email)
            )
        )
    return planned
