"""pytest fixtures shared by every service's integration tests and the e2e suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from ..mongo import Document
from ..topics_cli import ensure_topics
from .infra import Infra, local_infra, unique_namespace


@pytest.fixture(scope="session")
def infra() -> Infra:
    return local_infra()


@pytest.fixture(scope="session")
def namespace() -> str:
    return unique_namespace()


@pytest.fixture(scope="session")
async def topics(infra: Infra, namespace: str) -> str:
    """Create every project topic under this session's namespace; return the namespace."""
    await ensure_topics(infra.kafka_bootstrap, namespace)
    return namespace


@pytest.fixture(scope="session")
async def mongo(infra: Infra, namespace: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield client
    for name in await client.list_database_names():
        if name.startswith(namespace):
            await client.drop_database(name)
    await client.close()
