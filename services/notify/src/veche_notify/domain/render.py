"""Jinja2 templates per notification kind and channel; a missing variable fails loudly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from veche_shared.events import AppealRoutedV1

from .plan import Planned

BUILTIN_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
URGENCY_RU = {"low": "обычная", "medium": "обычная", "high": "высокая", "critical": "критическая"}


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


class Renderer:
    def __init__(self, override_dir: Path | None = None) -> None:
        folders = [override_dir, BUILTIN_TEMPLATES] if override_dir else [BUILTIN_TEMPLATES]
        self._env = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
            undefined=StrictUndefined,
            autoescape=False,  # plain-text e-mail and SMS
            keep_trailing_newline=True,
        )
        self._env.filters["ru_date"] = lambda value: value.strftime("%d.%m.%Y")

    def render(self, planned: Planned, event: AppealRoutedV1) -> Rendered:
        variables = _variables(event)
        body = self._env.get_template(f"{planned.kind.value}.{planned.channel}.j2").render(
            variables
        )
        subject = self._env.get_template(f"{planned.kind.value}.subject.j2").render(variables)
        return Rendered(subject=subject.strip(), body=body.strip() + "\n")


def _variables(event: AppealRoutedV1) -> dict[str, Any]:
    return {
        "registration_number": event.appeal.registration_number,
        "registered_at": event.appeal.registered_at,
        "citizen_name": event.appeal.contact.name,
        "appeal_title": event.appeal.title,
        "topic": event.topic,
        "urgency": URGENCY_RU[event.urgency.value],
        "executor": event.executor,
        "territory": event.territory,
        "deadlines": event.deadlines,
        "redirected": event.redirected,
    }
