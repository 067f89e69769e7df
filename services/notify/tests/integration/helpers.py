"""Real servers for notify's integration tests: an SMTP sink and an HTTP recorder.

The SMTP server is aiosmtpd (the mail sink notify ships), the HTTP side a small FastAPI app under
uvicorn, both in the test's event loop. The recorder plays the SMS gateway and municipal
webhook receivers: it keeps every request and answers with scripted statuses on demand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from veche_notify.mail_sink import Letter, letters, serve_smtp
from veche_notify.settings import NotifySettings
from veche_shared.testing.app_runner import serving


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    requests: list[Received] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses, then 200
    always: dict[str, int] = field(default_factory=dict)  # path -> status for every request

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def app(self) -> FastAPI:
        api = FastAPI()

        @api.post("/{path:path}")
        async def record(path: str, request: Request) -> JSONResponse:
            path = "/" + path
            self.requests.append(Received(path, dict(request.headers), await request.body()))
            queued = self.script.get(path)
            status = queued.pop(0) if queued else self.always.get(path, 200)
            return JSONResponse({"id": f"r{len(self.requests)}"}, status_code=status)

        return api


@dataclass
class Servers:
    mail: Path
    smtp_port: int
    http: str
    recorder: Recorder

    def letters(self) -> list[Letter]:
        return letters(self.mail)

    def settings(self, namespace: str, infra: Any, **overrides: Any) -> NotifySettings:
        values: dict[str, Any] = {
            "namespace": namespace,
            "kafka_bootstrap": infra.kafka_bootstrap,
            "mongo_url": infra.mongo_url,
            "smtp_port": self.smtp_port,
            "sms_gateway_url": f"{self.http}/sms",
            "retry_initial_s": 0.05,
            "retry_max_s": 0.2,
            "batch_timeout_ms": 20,
        }
        return NotifySettings(**(values | overrides))


@asynccontextmanager
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    smtp = await serve_smtp(tmp_path / "mail")
    recorder = Recorder()
    try:
        async with serving(recorder.app()) as http:
            yield Servers(tmp_path / "mail", smtp.sockets[0].getsockname()[1], http, recorder)
    finally:
        smtp.close()
        await smtp.wait_closed()
