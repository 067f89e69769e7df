from veche_notify.domain.plan import Channel, Kind, Subscription, plan_deadline, plan_routed
from veche_shared.events import DeadlineKind, RecipientRole

from .factories import deadline, routed


def kinds(planned):
    return {(p.kind, p.role, p.channel, p.recipient) for p in planned}


def test_routed_citizen_gets_confirmation_and_redirect_notice_executor_gets_assignment():
    assert kinds(plan_routed(routed())) == {
        (Kind.REGISTERED, RecipientRole.CITIZEN, Channel.EMAIL, "citizen"),
        (Kind.REDIRECTED, RecipientRole.CITIZEN, Channel.EMAIL, "citizen"),
        (Kind.ASSIGNED, RecipientRole.EXECUTOR, Channel.EMAIL, "aleksin:roads"),
    }


def test_anonymous_appeal_notifies_only_the_executors():
    planned = plan_routed(routed(email=None, copies=True))
    assert {p.role for p in planned} == {RecipientRole.EXECUTOR}
    assert {p.recipient for p in planned} == {"aleksin:roads", "tula:mintrans"}


def test_citizen_who_gave_only_a_phone_is_told_by_sms_and_email_wins_when_both_given():
    only_phone = plan_routed(routed(email=None, phone="+7 910 123-45-67", redirected=False))
    citizen = [p for p in only_phone if p.role is RecipientRole.CITIZEN]
    assert [(p.kind, p.channel, p.address) for p in citizen] == [
        (Kind.REGISTERED, Channel.SMS, "+7 910 123-45-67")
    ]
    both = plan_routed(routed(phone="+79101234567", redirected=False))
    assert [p.channel for p in both if p.role is RecipientRole.CITIZEN] == [Channel.EMAIL]


def test_every_assigned_body_gets_its_own_assignment_and_a_copy_is_marked_as_such():
    assigned = [p for p in plan_routed(routed(copies=True)) if p.kind is Kind.ASSIGNED]
    assert {(p.recipient, p.variables["copy"]) for p in assigned} == {
        ("aleksin:roads", False),
        ("tula:mintrans", True),
    }


def test_due_soon_goes_to_the_executor_overdue_to_the_supervisor_extension_to_the_citizen():
    due = plan_deadline(deadline(DeadlineKind.DUE_SOON))
    assert kinds(due) == {(Kind.DUE_SOON, RecipientRole.EXECUTOR, Channel.EMAIL, "aleksin:roads")}
    overdue = plan_deadline(deadline(DeadlineKind.OVERDUE))
    assert [(p.role, p.recipient, p.address) for p in overdue] == [
        (RecipientRole.SUPERVISOR, "governor-office", "control@tula.example.gov.ru")
    ]
    extended = plan_deadline(deadline(DeadlineKind.EXTENDED))
    assert kinds(extended) == {(Kind.EXTENDED, RecipientRole.CITIZEN, Channel.EMAIL, "citizen")}


def test_overdue_without_a_supervisor_falls_back_to_the_executor():
    overdue = plan_deadline(deadline(DeadlineKind.OVERDUE, supervisor=None))
    assert [(p.role, p.recipient) for p in overdue] == [(RecipientRole.EXECUTOR, "aleksin:roads")]


def test_extension_of_an_anonymous_appeal_tells_nobody():
    assert plan_deadline(deadline(DeadlineKind.EXTENDED, email=None)) == []


def test_webhooks_go_to_subscribers_of_the_event_type_without_citizen_contacts():
    subscriptions = [
        Subscription("s-routed", "http://mun.example/hook", frozenset({"appeal.routed"})),
        Subscription("s-deadline", "http://mun.example/sla", frozenset({"appeal.deadline"})),
    ]
    hooks = [p for p in plan_routed(routed(), subscriptions) if p.channel is Channel.WEBHOOK]
    assert [(p.recipient, p.address) for p in hooks] == [("s-routed", "http://mun.example/hook")]
    assert "citizen@example.org" not in str(hooks[0].variables)
    due = plan_deadline(deadline(DeadlineKind.DUE_SOON), subscriptions)
    assert [p.recipient for p in due if p.channel is Channel.WEBHOOK] == ["s-deadline"]


def test_keys_are_unique_per_appeal_kind_recipient_channel_and_hold_no_personal_data():
    planned = plan_routed(routed(copies=True)) + [
        p for kind in DeadlineKind for p in plan_deadline(deadline(kind))
    ]
    keys = [p.key for p in planned]
    assert len(set(keys)) == len(keys)
    assert not any("example.org" in key or "Петров" in key for key in keys)
    assert plan_routed(routed())[0].key == plan_routed(routed())[0].key  # stable across runs
