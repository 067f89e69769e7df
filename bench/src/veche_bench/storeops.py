"""What Veche asked of the store in a phase, read from the services' own ``/metrics``
(``veche_store_commands_total``, ``veche_store_statements_total``): the same counters an
operator sees in production, differenced over the phase."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

COMMANDS = "veche_store_commands"
STATEMENTS = "veche_store_statements"
# the statement kinds a write command carries, and what the report calls them
KINDS = {"insert": "inserted", "update": "updated", "delete": "deleted"}


Counts = dict[str, float]


def parse(service: str, text: str) -> Counts:
    """``commands``, ``finds`` and ``<service>.<kind>`` (documents inserted, updated or
    deleted) from one service's exposition."""
    counts: Counts = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{COMMANDS}_total":
                counts["commands"] += sample.value
                if sample.labels.get("command") in ("find", "getMore", "aggregate"):
                    counts["finds"] += sample.value
            elif sample.name == f"{STATEMENTS}_total":
                kind = KINDS.get(sample.labels.get("command", ""))
                if kind:
                    counts[f"{service}.{kind}"] += sample.value
    return counts


async def snapshot(services: Sequence[tuple[str, str]]) -> Counts:
    """Every (service, base URL)'s counters, summed (replicas under their service's name); one
    that does not answer counts nothing: the difference then undercounts, it never invents."""
    timeout = aiohttp.ClientTimeout(total=3)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        texts = await asyncio.gather(*(_metrics(session, url) for _, url in services))
    total: Counts = defaultdict(float)
    for (service, _), text in zip(services, texts, strict=True):
        for key, value in parse(service, text).items():
            total[key] += value
    return dict(total)


async def _metrics(session: aiohttp.ClientSession, url: str) -> str:
    try:
        async with session.get(f"{url}/metrics") as response:
            return await response.text() if response.status == 200 else ""
    except (aiohttp.ClientError, TimeoutError):
        return ""


def per_appeal(before: Counts, after: Counts, appeals: int) -> Counts:
    """The phase's work per appeal: what the counters grew by, over the appeals it sent."""
    if appeals <= 0:
        return {}
    grown = {key: value - before.get(key, 0.0) for key, value in after.items()}
    return {key: value / appeals for key, value in grown.items() if value > 0}


def total_of(ops: Mapping[str, float], kind: str) -> float:
    """Documents of one kind (``inserted``, ``updated``) per appeal, all services together."""
    return sum(value for key, value in ops.items() if key.endswith(f".{kind}"))


def by_service(ops: Mapping[str, float], kind: str) -> list[tuple[str, float]]:
    """(service, documents of one kind per appeal), the most first."""
    pairs = [(key.split(".", 1)[0], v) for key, v in ops.items() if key.endswith(f".{kind}")]
    return sorted(pairs, key=lambda pair: -pair[1])
