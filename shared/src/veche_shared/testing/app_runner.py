"""Run a service's ASGI app under a real uvicorn server inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from faststream.asgi.types import ASGIApp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(app: ASGIApp, port: int | None = None) -> AsyncIterator[str]:
    """Start the app (lifespan included: broker, indexes); yield its base URL; stop it."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # surface the startup failure
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.05)
        # The HTTP side can be up before FastStream's brokers run; a test that ended in that gap
        # would leave consumers behind that take partitions from the next test's apps.
        brokers = getattr(app, "brokers", ())
        while not all(broker.running for broker in brokers):
            if task.done():
                task.result()
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
