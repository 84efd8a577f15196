"""`recloop serve` and `recloop worker` as real processes, for tests that need one.

Tests that kill the server (`kill -9`), restart it, run several processes
on one database, or drive it with an unmodified HTTP client (mParticle's own
SDK) use these instead of the in-process app.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def recloop_env(
    database_url: str, ingest_auth: tuple[str, str], events_api: Any = None
) -> dict[str, str]:
    """Settings for a process on this database, writing back to `events_api`."""
    env = {
        "RECLOOP_DATABASE_URL": database_url,
        "RECLOOP_INGEST_KEY": ingest_auth[0],
        "RECLOOP_INGEST_SECRET": ingest_auth[1],
    }
    if events_api is not None:
        env["RECLOOP_MPARTICLE_API_KEY"] = events_api.api_key
        env["RECLOOP_MPARTICLE_API_SECRET"] = events_api.api_secret
        env["RECLOOP_MPARTICLE_BASE_URL"] = events_api.base_url
    return env


class RecloopProcess(ABC):
    """One `recloop` process; `start()` again after a kill restarts it."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str) -> None:
        self._env = {**os.environ, **env}
        self._args = args
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def command(self) -> list[str]:
        """The `recloop` subcommand and its options."""

    def start(self) -> "RecloopProcess":
        # The installed console script, as a user would run it.
        recloop = str(Path(sys.executable).with_name("recloop"))
        self._log_offset = self._log_size()
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own command line
                [recloop, *self.command(), *self._args],
                env=self._env,
                stdout=log,
                stderr=log,
            )
        self._wait_until_ready()
        return self

    @property
    def pid(self) -> int:
        return self._running().pid

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send `sig` and wait for the process to exit; returns its exit code."""
        process = self._running()
        process.send_signal(sig)
        return process.wait(timeout=STARTUP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self.kill(signal.SIGTERM)

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")

    def _log_size(self) -> int:
        return self._log_path.stat().st_size if self._log_path.exists() else 0

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError(f"recloop is not running; log:\n{self.log()}")
        return self._process

    @abstractmethod
    def _ready(self) -> bool:
        """Whether the process has started up."""

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self._running()
            if self._ready():
                return
            time.sleep(0.05)
        raise TimeoutError(f"recloop did not become ready; log:\n{self.log()}")

    def __enter__(self) -> "RecloopProcess":
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


class ServerProcess(RecloopProcess):
    """`recloop serve` on a free port, ready once /readyz answers 200."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str) -> None:
        super().__init__(env, log_path, *args)
        self.port = free_port()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return ["serve", "--port", str(self.port)]

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False


class WorkerProcess(RecloopProcess):
    """`recloop worker`, ready once it logs that its worker loop started."""

    def command(self) -> list[str]:
        return ["worker"]

    def _ready(self) -> bool:
        with self._log_path.open("rb") as log:
            log.seek(self._log_offset)
            return b"worker.started" in log.read()
