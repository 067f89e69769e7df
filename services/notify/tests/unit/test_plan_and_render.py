import pytest
from jinja2 import UndefinedError
from veche_notify.domain.plan import Kind, plan
from veche_notify.domain.render import Renderer
from veche_shared.events import (
    AppealRoutedV1,
    Deadlines,
    Executor,
    ExecutorLevel,
    Territory,
    Urgency,
)
from veche_shared.testing.events import snapshot


def routed(email="citizen@example.org", redirected=True):
    appeal = snapshot(email=email)
    at = appeal.registered_at
    return AppealRoutedV1(
        appeal_id="6f4deb8c-4263-435a-ac74-86ab8d28432e",
        appeal=appeal,
        topic="roads",
        urgency=Urgency.HIGH,
        territory=Territory(code="aleksin", name="Городской округ город Алексин", resolved=True),
        executor=Executor(
            code="aleksin:roads",
            organisation="Администрация города Алексин",
            department="Управление по дорогам",
            level=ExecutorLevel.MUNICIPAL,
            contact_email="roads@aleksin.example.gov.ru",
        ),
        redirected=redirected,
        deadlines=Deadlines(register_by=at, redirect_by=at, answer_by=at),
        rule_id="roads-municipal",
    )


def test_citizen_with_email_gets_confirmation_and_redirect_notice_executor_gets_assignment():
    kinds = {(p.kind, p.role.value, p.channel) for p in plan(routed())}
    assert kinds == {
        (Kind.REGISTERED, "citizen", "email"),
        (Kind.REDIRECTED, "citizen", "email"),
        (Kind.ASSIGNED, "executor", "email"),
    }


def test_anonymous_appeal_notifies_only_the_executor():
    assert [p.kind for p in plan(routed(email=None))] == [Kind.ASSIGNED]


def test_notification_keys_are_unique_per_appeal_kind_recipient_channel():
    keys = [p.key("a1") for p in plan(routed())]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("planned", plan(routed()), ids=lambda p: p.kind.value)
def test_every_template_renders_humane_russian_with_the_registration_number(planned):
    rendered = Renderer().render(planned, routed())
    assert "71-2026-000001" in rendered.subject + rendered.body
    assert "20.11.2026" in rendered.body  # the deadline, in Russian date format
    if planned.role.value == "citizen":
        assert "Администрация города Алексин" in rendered.body  # who is responsible


def test_missing_template_variable_fails_loudly(tmp_path):
    (tmp_path / "registered.email.j2").write_text("{{ no_such_variable }}")
    renderer = Renderer(override_dir=tmp_path)
    with pytest.raises(UndefinedError):
        renderer.render(plan(routed())[0], routed())
