"""``veche-stack``: run the four services (and a trace sink) as local background processes.

``make up`` and the end-to-end tests use the same code, so what the tests prove is what a person
gets. Each process writes its log to ``<state>/log/<name>.log`` and its pid to
``<state>/run/<name>.pid``; ``down`` stops them (TERM, then KILL) and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SERVICES = {"ingest": 8000, "classify": 8001, "route": 8002, "notify": 8003}
SINK_PORT = 4318
MAIL_SMTP_PORT = 1025  # the local mail sink (veche-mail-sink): notify's SMTP relay locally
MAIL_HTTP_PORT = 8025  # its page listing the letters, and a stand-in SMS gateway at /sms


@dataclass(frozen=True, slots=True)
class Process:
    name: str
    command: list[str]
    port: int
    ready_path: str | None

    @property
    def ready_url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}{self.ready_path}" if self.ready_path else None


def processes(sink_out: Path, port_offset: int = 0) -> list[Process]:
    python = sys.executable
    mail = Process(
        "mail-sink",
        [
            python,
            "-m",
            "veche_notify.mail_sink",
            "serve",
            "--smtp-port",
            str(MAIL_SMTP_PORT + port_offset),
            "--http-port",
            str(MAIL_HTTP_PORT + port_offset),
            "--folder",
            str(mail_folder(sink_out)),
        ],
        MAIL_HTTP_PORT + port_offset,
        "/healthz",
    )
    sink = Process(
        "otlp-sink",
        [
            python,
            "-m",
            "veche_shared.devtools.otlp_sink",
            "--port",
            str(SINK_PORT + port_offset),
            "--out",
            str(sink_out),
        ],
        SINK_PORT + port_offset,
        None,
    )
    services = [
        Process(name, [python, "-m", f"veche_{name}"], port + port_offset, "/readyz")
        for name, port in SERVICES.items()
    ]
    return [sink, mail, *services]


def mail_folder(sink_out: Path) -> Path:
    """Letters land beside the traces: ``<state>/mail``."""
    return sink_out.parent.parent / "mail"


class Stack:
    def __init__(self, state: Path, env: Mapping[str, str], port_offset: int = 0) -> None:
        self.state = state
        self.env = dict(env)
        self.port_offset = port_offset
        self.run_dir = state / "run"
        self.log_dir = state / "log"
        self.sink_out = state / "traces" / "spans.jsonl"

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def environment(self, process: Process) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.setdefault("VECHE_OTLP_ENDPOINT", f"http://127.0.0.1:{SINK_PORT + self.port_offset}")
        # notify sends to the local mail sink (letters kept in mbox files) and its SMS stand-in
        env.setdefault("VECHE_SMTP_HOST", "127.0.0.1")
        env.setdefault("VECHE_SMTP_PORT", str(MAIL_SMTP_PORT + self.port_offset))
        env.setdefault(
            "VECHE_SMS_GATEWAY_URL", f"http://127.0.0.1:{MAIL_HTTP_PORT + self.port_offset}/sms"
        )
        env["VECHE_HTTP_PORT"] = str(process.port)
        return env

    def start(self, name: str) -> None:
        process = self._by_name(name)
        if self.is_running(name):
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            child = subprocess.Popen(
                process.command,
                env=self.environment(process),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the shell that ran `make up`
            )
        self._pid_file(name).write_text(str(child.pid))

    def up(self, timeout: float = 60.0) -> None:
        for process in processes(self.sink_out, self.port_offset):
            self.start(process.name)
        for process in processes(self.sink_out, self.port_offset):
            self.wait_ready(process.name, timeout)

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        process = self._by_name(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running(name):
                raise RuntimeError(f"{name} exited; see {self.log_dir / (name + '.log')}")
            if process.ready_url is None or _http_ok(process.ready_url):
                return
            time.sleep(0.2)
        raise TimeoutError(
            f"{name} not ready in {timeout:.0f} s; see {self.log_dir / (name + '.log')}"
        )

    def stop(self, name: str, timeout: float = 20.0, sig: signal.Signals = signal.SIGTERM) -> None:
        pid = self.pid(name)
        if pid is not None:
            _signal_group(pid, sig)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                _signal_group(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
        self._pid_file(name).unlink(missing_ok=True)

    def down(self) -> None:
        for process in reversed(processes(self.sink_out, self.port_offset)):
            self.stop(process.name)

    def pid(self, name: str) -> int | None:
        try:
            return int(self._pid_file(name).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def is_running(self, name: str) -> bool:
        pid = self.pid(name)
        return pid is not None and _alive(pid)

    def _by_name(self, name: str) -> Process:
        for process in processes(self.sink_out, self.port_offset):
            if process.name == name:
                return process
        raise KeyError(name)


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reap our own children
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """The process and its children (each is started as a group leader); a process someone
    started by hand in another group (its pid written over ours) gets the signal alone, or
    ``stop`` would wait for ever for a process it never signalled."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument(
        "--state", type=Path, default=Path(os.environ.get("VECHE_LOCAL_STATE", ".local"))
    )
    args = parser.parse_args(argv)
    stack = Stack(args.state.resolve(), {})
    if args.command == "up":
        stack.up()
    elif args.command == "down":
        stack.down()
    for process in processes(stack.sink_out):
        state = "running" if stack.is_running(process.name) else "stopped"
        print(f"  {process.name:<10} {state:<8} http://127.0.0.1:{process.port}")
    print(
        f"  letters to citizens and executors: {mail_folder(stack.sink_out)} "
        f"(list: http://127.0.0.1:{MAIL_HTTP_PORT}/ or `veche-mail-sink list`)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
