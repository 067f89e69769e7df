"""An in-memory MongoDB wire-protocol server for one phase of the bench.

``deploy/local/memstore/memstore.sh`` fetches mongo-java-server from Maven Central and runs it
(nothing on disk, nothing survives a restart). Veche runs against it unchanged, through
``VECHE_MONGO_URL``, to show how much of its limit on this machine is FerretDB's cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from veche_shared.mongo import Document, ping
from veche_shared.testing.app_runner import free_port
from veche_shared.testing.infra import REPO_ROOT

SCRIPT = REPO_ROOT / "deploy" / "local" / "memstore" / "memstore.sh"
BUILD_TIMEOUT_S = 600.0  # the first run fetches ~5 MB of jars
START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class MemoryStore:
    url: str
    pid: int


async def answers(url: str) -> bool:
    client: AsyncMongoClient[Document] = AsyncMongoClient(url, serverSelectionTimeoutMS=1000)
    try:
        await ping(client)
        return True
    except PyMongoError:
        return False
    finally:
        await client.close()


async def build() -> None:
    child = await asyncio.create_subprocess_exec(
        str(SCRIPT), "build", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _, errors = await asyncio.wait_for(child.communicate(), BUILD_TIMEOUT_S)
    except TimeoutError:
        child.kill()
        raise RuntimeError("memstore.sh build took too long") from None
    if child.returncode != 0:
        raise RuntimeError(f"memstore.sh build failed: {errors.decode(errors='replace')[-500:]}")


@contextlib.asynccontextmanager
async def memory_store(log: Path) -> AsyncIterator[MemoryStore]:
    """The server on a free port, until the block ends; its output in ``log``."""
    await build()
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        # its own session: a signal to the bench's terminal does not reach it first
        child = await asyncio.create_subprocess_exec(
            str(SCRIPT), "run", str(port), stdout=out, stderr=out, start_new_session=True
        )
    try:
        url = f"mongodb://127.0.0.1:{port}/"
        await _wait_until_answering(url, child)
        yield MemoryStore(url, child.pid)
    finally:
        await _stop(child)


async def _wait_until_answering(url: str, child: asyncio.subprocess.Process) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + START_TIMEOUT_S
    while not await answers(url):
        if child.returncode is not None:
            raise RuntimeError(f"the in-memory store exited with {child.returncode}")
        if loop.time() > give_up:
            raise RuntimeError(f"the in-memory store did not answer within {START_TIMEOUT_S} s")
        await asyncio.sleep(0.5)


async def _stop(child: asyncio.subprocess.Process) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.wait(), 15)
            return
