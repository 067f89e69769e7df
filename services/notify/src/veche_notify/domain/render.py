"""Jinja2 templates per notification kind and channel; a missing variable fails loudly.

Search path, first match wins: ``<override>/<region>/``, ``<override>/``, the built-in
``templates/<region>/``, the built-in ``templates/``. A region changes one letter by dropping a
file with the same name into its folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from .plan import Channel, Planned

BUILTIN_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
MOSCOW = ZoneInfo("Europe/Moscow")  # dates a citizen reads are local dates


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


def ru_date(value: datetime) -> str:
    return value.astimezone(MOSCOW).strftime("%d.%m.%Y")


def search_path(region_code: str, override_dir: Path | None = None) -> list[Path]:
    roots = [override_dir, BUILTIN_TEMPLATES] if override_dir else [BUILTIN_TEMPLATES]
    return [folder for root in roots for folder in (root / region_code, root)]


class Renderer:
    def __init__(self, override_dir: Path | None = None, region_code: str = "71") -> None:
        self.search_path = search_path(region_code, override_dir)
        self._env = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(f)) for f in self.search_path]),
            undefined=StrictUndefined,
            autoescape=False,  # plain-text e-mail and SMS
            keep_trailing_newline=True,
        )
        self._env.filters["ru_date"] = ru_date

    def render(self, planned: Planned) -> Rendered:
        if planned.channel is Channel.WEBHOOK:
            return Rendered(subject=planned.variables["event_type"], body=webhook_body(planned))
        variables = dict(planned.variables)
        body = self._env.get_template(f"{planned.kind.value}.{planned.channel.value}.j2")
        text = body.render(variables).strip() + "\n"
        subject = ""
        if planned.channel is Channel.EMAIL:
            subject = self._env.get_template(f"{planned.kind.value}.subject.j2").render(variables)
        return Rendered(subject=" ".join(subject.split()), body=text)


def webhook_body(planned: Planned) -> str:
    """The JSON a subscriber receives; the same bytes on every retry (the signature covers them)."""
    return json.dumps(
        {
            "delivery_id": planned.key,
            "event_type": planned.variables["event_type"],
            "appeal_id": planned.appeal_id,
            "data": planned.variables["data"],
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
