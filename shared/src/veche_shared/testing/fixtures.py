"""pytest fixtures shared by every service's integration tests and the e2e suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from ..mongo import Document
from ..topics_cli import drop_topics, ensure_topics
from .infra import Infra, local_infra, unique_namespace


@pytest.fixture(scope="session")
def infra() -> Infra:
    return local_infra()


@pytest.fixture(scope="session")
def session_prefix() -> str:
    return unique_namespace()


@pytest.fixture(scope="module")
def namespace(session_prefix: str) -> str:
    """Topics and databases of one test module: modules never see each other's events."""
    return unique_namespace(f"{session_prefix}m")


@pytest.fixture(scope="module")
async def topics(infra: Infra, namespace: str) -> AsyncIterator[str]:
    """Every project topic under this module's namespace, for the module's tests; deleted after
    them (the fixtures that use the topics end first)."""
    await ensure_topics(infra.kafka_bootstrap, namespace)
    yield namespace
    await drop_topics(infra.kafka_bootstrap, namespace)


@pytest.fixture(scope="session")
async def mongo(infra: Infra, session_prefix: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield client
    for name in await client.list_database_names():
        if name.startswith(session_prefix):
            await client.drop_database(name)
    await client.close()
