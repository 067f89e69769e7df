"""Synthetic appeals: realistic Russian texts about Tula oblast, contacts on example.org only.

Varied topics and places so classify and route do their real work; no real person's data.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from veche_shared.events import (
    AppealReceivedV1,
    AppealSnapshot,
    Channel,
    Consent,
    Contact,
    Location,
)

TEXTS: tuple[tuple[str, str], ...] = (
    ("В Алексине на улице Мира огромная яма, машины бьют колёса", "Алексин, ул. Мира, 12"),
    ("Во дворе дома третью неделю не горят фонари, вечером темно и опасно", "Тула, ул. Ленина, 5"),
    ("Не вывозят мусор с контейнерной площадки уже десять дней", "Новомосковск, ул. Свободы, 3"),
    ("В квартире нет горячей воды с понедельника, управляющая компания не отвечает", "Тула"),
    ("Автобус номер 18 не ходит по расписанию, люди опаздывают на работу", "Щёкино"),
    ("В школе протекает крыша, в классах сыро, дети болеют", "Ефремов, ул. Школьная, 1"),
    ("Прошу спилить аварийное дерево у подъезда, оно может упасть на детей", "Узловая"),
    ("В поликлинике невозможно записаться к терапевту, телефон не отвечает", "Богородицк"),
    ("Во дворе прорвало трубу, вода заливает подвал дома", "Тула, ул. Болдина, 20"),
    ("Соседи устроили свалку строительного мусора на пустыре возле реки", "Венёв"),
    ("Нет отопления в доме, батареи холодные, на улице минус двадцать", "Кимовск"),
    ("Просим установить пешеходный переход у детского сада", "Донской, ул. Октябрьская"),
)


# Appeals written straight to the intake topic are registered in ingest's store too (the bench's
# Veche.register), so their numbers must never be ones ingest hands out, counting from 1, to the
# appeals of the same run's HTTP phases (each run has a store of its own).
TOPIC_NUMBERS_FROM = 500_000


def submission(index: int) -> dict[str, Any]:
    """The JSON body of ``POST /appeals`` for the index-th generated appeal."""
    text, address = TEXTS[index % len(TEXTS)]
    return {
        "text": f"{text}. Обращение {index}.",
        "contact": {"email": f"citizen{index % 997}@example.org"},
        "location": {"address": address},
        "consent": {"personal_data": True},
    }


def received_event(index: int, run: str, now: datetime | None = None) -> AppealReceivedV1:
    """An intake event as ingest would publish it (validated by the shared contract)."""
    text, address = TEXTS[index % len(TEXTS)]
    registered_at = now or datetime.now(UTC)
    return AppealReceivedV1(
        appeal_id=uuid.uuid5(uuid.NAMESPACE_URL, f"veche-bench/{run}/{index}"),
        occurred_at=registered_at,
        appeal=AppealSnapshot(
            registration_number=registration_number(index, registered_at.year),
            registered_at=registered_at,
            region_code="71",
            channel=Channel.PORTAL,
            text=f"{text}. Обращение {index}.",
            location=Location(address=address),
            contact=Contact(email=f"citizen{index % 997}@example.org"),
            consent=Consent(personal_data=True),
        ),
    )


def registration_number(index: int, year: int) -> str:
    return f"71-{year}-{(TOPIC_NUMBERS_FROM + index) % 1_000_000:06d}"
