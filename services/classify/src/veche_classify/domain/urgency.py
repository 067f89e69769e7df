"""Urgency rules on top of the model: they can only RAISE urgency, never lower it.

Critical (the ЕДДС fast path): a threat to life right now, or a utility outage in the cold
season — no heating at all (heating only matters in the heating season), or no water,
electricity or gas in winter (by the registration date or by frost mentioned in the text).
"""

from __future__ import annotations

import re
from datetime import datetime

from veche_shared.events import Channel, Urgency

ORDER = (Urgency.LOW, Urgency.MEDIUM, Urgency.HIGH, Urgency.CRITICAL)
WINTER_MONTHS = frozenset({11, 12, 1, 2, 3})

# Patterns run on the normalised text (lower case, ё→е, markup removed).
_THREAT_TO_LIFE = re.compile(
    r"угроз\w* (для )?жизн|опасн\w* для жизн|без сознания|не дышит|задыха|"
    r"пахн\w* газ|запах\w* газ|утечк\w* газ|газом пахн|"
    r"\bпожар(?!н)|(?<!не )\bгорит\b|горят дом|возгоран|задымлен|\bвзрыв|"
    r"обрушил|обрушени|рухнул|может рухнуть|"
    r"с ножом|с ножами|с ружьем|с оружием|стреля|"
    r"провод\w* (оборван|искр|лежат)|оборвал\w* провод|"
    r"тонет|утонул|провалил\w* под лед|"
    r"покусал\w* ребенк|напал\w* на ребенк|собаки? (напал|рвут|загрызл)"
)
_NO = r"(нет|отключ\w*|отсутству\w*|пропал\w*|без|не подают|не дают)"
_NO_HEATING = re.compile(
    rf"{_NO} (отоплени|тепл[оа]\b)|(батаре\w*|радиатор\w*) (ледян|холодн)|"
    r"разморо\w* (систем|отоплен)|котельная (не работает|встала|остановилась)"
)
# Hot water is not on the list: its absence is unpleasant, not dangerous.
_NO_UTILITY = re.compile(
    rf"{_NO} (холодной )?(?P<what>воды|водоснабжени\w*|света|электричеств\w*|электроэнерги\w*|"
    r"газа|газоснабжени\w*)\b"
)
# A dark stairwell or street is an improvement complaint, not a power outage.
_LIGHTING_ONLY = re.compile(r"подъезд|лестниц|фонар|освещени|на площадке")
_FROST = re.compile(r"мороз|минус \d|(?<![\w-])-\s?\d{1,2}\b(?!-)|замерза|зимой|зима")


def is_threat_to_life(normalised: str) -> bool:
    return bool(_THREAT_TO_LIFE.search(normalised))


def is_winter_outage(normalised: str, registered_at: datetime | None) -> bool:
    if _NO_HEATING.search(normalised):
        return True
    winter = (registered_at is not None and registered_at.month in WINTER_MONTHS) or bool(
        _FROST.search(normalised)
    )
    outage = _NO_UTILITY.search(normalised)
    if outage is None or not winter:
        return False
    return outage["what"] != "света" or not _LIGHTING_ONLY.search(normalised)


def raise_to(level: Urgency, floor: Urgency | None) -> Urgency:
    if floor is None:
        return level
    return max(level, floor, key=ORDER.index)


def apply_rules(
    predicted: Urgency,
    normalised: str,
    *,
    registered_at: datetime | None = None,
    channel: Channel | None = None,
    hint: Urgency | None = None,
) -> tuple[Urgency, tuple[str, ...]]:
    """The model's urgency raised by the rules; also the names of the rules that fired."""
    fired: list[str] = []
    level = raise_to(predicted, hint)
    if channel is Channel.EDDS:  # duty-dispatch incidents are never below high
        level = raise_to(level, Urgency.HIGH)
    if is_threat_to_life(normalised):
        fired.append("threat_to_life")
    if is_winter_outage(normalised, registered_at):
        fired.append("winter_outage")
    if fired:
        level = Urgency.CRITICAL
    return level, tuple(fired)
