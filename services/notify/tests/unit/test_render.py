"""Every template renders with its full context; any missing variable fails the render."""

from datetime import UTC, datetime

import pytest
from jinja2 import UndefinedError, meta
from veche_notify.domain.plan import Channel, Kind, Planned, plan_deadline, plan_routed
from veche_notify.domain.render import BUILTIN_TEMPLATES, Renderer
from veche_shared.events import DeadlineKind, RecipientRole

from .factories import ROADS, deadline, routed

ANSWERED = Planned(
    "a1",
    Kind.ANSWERED,
    RecipientRole.CITIZEN,
    Channel.EMAIL,
    "citizen",
    "citizen@example.org",
    variables={
        "registration_number": "71-2026-000001",
        "citizen_name": "Иван Петров",
        "executor": ROADS,
        "answered_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    },
)


def every_planned() -> dict[str, Planned]:
    """One planned notification per (kind, channel) that has a template, with its context."""
    planned = (
        plan_routed(routed(copies=True))
        + plan_routed(routed(email=None, phone="+79101234567"))
        + [p for kind in DeadlineKind for p in plan_deadline(deadline(kind))]
        + [
            p
            for p in plan_deadline(
                deadline(DeadlineKind.EXTENDED, email=None).model_copy(
                    update={"appeal": routed(email=None, phone="+79101234567").appeal}
                )
            )
        ]
        + [ANSWERED, _sms(ANSWERED)]
    )
    return {f"{p.kind.value}.{p.channel.value}": p for p in planned}


def _sms(planned: Planned) -> Planned:
    return Planned(
        planned.appeal_id,
        planned.kind,
        planned.role,
        Channel.SMS,
        planned.recipient,
        "+79101234567",
        variables=planned.variables,
    )


TEMPLATES = sorted(
    p.name.removesuffix(".j2")
    for p in BUILTIN_TEMPLATES.glob("*.j2")
    if not p.name.endswith(".subject.j2")
)


def test_every_template_file_has_a_notification_that_uses_it():
    assert sorted(every_planned()) == TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_renders_humane_russian_with_the_registration_number(name):
    planned = every_planned()[name]
    rendered = Renderer().render(planned)
    assert "71-2026-000001" in rendered.subject + rendered.body
    assert "{{" not in rendered.body
    assert "None" not in rendered.body
    if planned.channel is Channel.EMAIL:
        assert rendered.subject
        assert "\n" not in rendered.subject
    if planned.channel is Channel.SMS:
        assert len(rendered.body) <= 300  # a few SMS segments at most
    if planned.role is RecipientRole.CITIZEN:
        assert "Администрация города Алексин" in rendered.body  # who is responsible
    if planned.kind in {Kind.REGISTERED, Kind.REDIRECTED, Kind.ASSIGNED}:
        assert "20.12.2026" in rendered.body  # by when, as a Russian date


@pytest.mark.parametrize("name", TEMPLATES)
def test_removing_any_variable_a_template_uses_fails_the_render_loudly(name):
    planned = every_planned()[name]
    renderer = Renderer()
    templates = [f"{name}.j2"]
    if planned.channel is Channel.EMAIL:
        templates.append(f"{planned.kind.value}.subject.j2")
    used: set[str] = set()
    for template in templates:
        source = (BUILTIN_TEMPLATES / template).read_text(encoding="utf-8")
        used |= meta.find_undeclared_variables(renderer._env.parse(source))
    assert used, name
    for variable in sorted(used):
        variables = {k: v for k, v in planned.variables.items() if k != variable}
        broken = Planned(
            planned.appeal_id,
            planned.kind,
            planned.role,
            planned.channel,
            planned.recipient,
            planned.address,
            variables=variables,
        )
        with pytest.raises(UndefinedError):
            renderer.render(broken)


def test_region_folder_overrides_first_then_the_override_root(tmp_path):
    (tmp_path / "71").mkdir()
    (tmp_path / "71" / "registered.sms.j2").write_text("Тула: № {{ registration_number }}")
    (tmp_path / "registered.sms.j2").write_text("Общий: № {{ registration_number }}")
    (tmp_path / "redirected.sms.j2").write_text("Передано: № {{ registration_number }}")
    planned = {p.kind: p for p in plan_routed(routed(email=None, phone="+79101234567"))}
    tula = Renderer(override_dir=tmp_path, region_code="71")
    assert tula.render(planned[Kind.REGISTERED]).body == "Тула: № 71-2026-000001\n"
    assert tula.render(planned[Kind.REDIRECTED]).body == "Передано: № 71-2026-000001\n"
    other = Renderer(override_dir=tmp_path, region_code="50")
    assert other.render(planned[Kind.REGISTERED]).body == "Общий: № 71-2026-000001\n"
    assert tula.search_path[0] == tmp_path / "71"


def test_a_region_template_with_an_unknown_variable_fails_loudly(tmp_path):
    (tmp_path / "71").mkdir()
    (tmp_path / "71" / "registered.email.j2").write_text("{{ no_such_variable }}")
    with pytest.raises(UndefinedError):
        Renderer(override_dir=tmp_path).render(plan_routed(routed())[0])
