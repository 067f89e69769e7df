"""The work each stage does for one appeal, for the naive baseline (c): Veche's own domain code.

(c) is "the same pipeline written the way tutorials do", so it classifies, routes and writes
the letters as Veche does, calling the services' domain code (the trained model, the rule book,
the templates, the SMTP sender) — once per message. Where the tutorial style leaves room, the
choices favour (c): no incident linking (its store queries), the seed file's rule book read
once at start (not the store's per message), letters over reused SMTP sessions (not a session
per letter), SMS and webhooks left out; only the one-message-at-a-time shape is the tutorial's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from veche_classify.app import build_triage
from veche_classify.settings import ClassifySettings
from veche_notify.channels import DeliveryError, EmailSender, Outgoing
from veche_notify.domain.plan import Channel, Planned, plan_routed
from veche_notify.domain.render import Renderer
from veche_notify.settings import NotifySettings
from veche_route.app import build_router
from veche_route.settings import RouteSettings
from veche_shared.events import (
    AppealClassifiedV1,
    AppealNotifiedV1,
    AppealReceivedV1,
    AppealRoutedV1,
    NotificationStatus,
    NotificationV1,
)

Step = Callable[[bytes], Awaitable[bytes]]  # an incoming record's value -> the outgoing one


def classify_step() -> Step:
    triage = build_triage(ClassifySettings())

    async def classify(value: bytes) -> bytes:
        received = AppealReceivedV1.from_bytes(value)
        decision = triage.decide([received.appeal])[0]
        return AppealClassifiedV1(
            appeal_id=received.appeal_id,
            appeal=received.appeal,
            classification=decision.classification,
        ).to_bytes()

    return classify


def route_step() -> Step:
    router = build_router(RouteSettings())

    async def route(value: bytes) -> bytes:  # the seed file's rules, as route starts with them
        return router.route(AppealClassifiedV1.from_bytes(value)).to_bytes()

    return route


@dataclass
class Letters:
    """One letter after another, each awaited before the next is written."""

    renderer: Renderer
    sender: EmailSender

    async def deliver(self, planned: Planned) -> NotificationV1:
        status, reason = NotificationStatus.SENT, None
        if planned.channel is not Channel.EMAIL or not planned.address:
            status, reason = NotificationStatus.SKIPPED, "not an e-mail with an address"
        else:
            rendered = self.renderer.render(planned)
            letter = Outgoing(planned.key, planned.address, rendered.subject, rendered.body)
            try:
                await self.sender.send(letter)
            except DeliveryError as error:
                status, reason = NotificationStatus.FAILED, error.reason
        return NotificationV1(
            notification_id=planned.key,
            kind=planned.kind.value,
            recipient_role=planned.role,
            channel=planned.channel.value,
            status=status,
            reason=reason,
            attempts=1 if status is not NotificationStatus.SKIPPED else 0,
        )


def notify_step(smtp_port: int) -> tuple[Step, Callable[[], Awaitable[None]]]:
    """The step and what closes its SMTP sessions."""
    settings = NotifySettings(smtp_port=smtp_port)
    letters = Letters(
        Renderer(settings.templates_override_dir, settings.region_code), EmailSender(settings)
    )

    async def notify(value: bytes) -> bytes:
        routed = AppealRoutedV1.from_bytes(value)
        notifications = [await letters.deliver(p) for p in plan_routed(routed)]
        return AppealNotifiedV1(
            appeal_id=routed.appeal_id,
            registration_number=routed.appeal.registration_number,
            notifications=tuple(notifications),
            cause=routed.schema_name,
            cause_event_id=str(routed.event_id),
        ).to_bytes()

    return notify, letters.sender.close
