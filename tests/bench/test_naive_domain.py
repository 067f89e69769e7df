"""The naive baseline (c) does Veche's domain work per message: a received appeal goes through
the three steps and comes out as a notified event, its letters in a real SMTP sink."""

from pathlib import Path

from veche_bench.appeals import received_event
from veche_bench.domain import classify_step, notify_step, route_step
from veche_notify.mail_sink import letters, serve_smtp
from veche_shared.events import (
    AppealClassifiedV1,
    AppealNotifiedV1,
    AppealRoutedV1,
    NotificationStatus,
)


async def test_one_appeal_is_classified_routed_and_its_letters_sent(tmp_path: Path) -> None:
    received = received_event(0, "domain")  # a pothole in Алексин
    sink = await serve_smtp(tmp_path / "mail")
    notify, close = notify_step(sink.sockets[0].getsockname()[1])
    try:
        classified = AppealClassifiedV1.from_bytes(await classify_step()(received.to_bytes()))
        routed = AppealRoutedV1.from_bytes(await route_step()(classified.to_bytes()))
        notified = AppealNotifiedV1.from_bytes(await notify(routed.to_bytes()))
    finally:
        await close()
        sink.close()
        await sink.wait_closed()

    assert classified.appeal_id == routed.appeal_id == notified.appeal_id == received.appeal_id
    assert classified.classification.topic == "roads"
    assert "Алексин" in routed.territory.name
    assert notified.cause_event_id == str(routed.event_id)
    sent = [n for n in notified.notifications if n.status is NotificationStatus.SENT]
    assert sent
    assert len(letters(tmp_path / "mail")) == len(sent)
