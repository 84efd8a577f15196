"""`recloop serve` as a real process on a real port, for tests that need one.

Tests that kill the server (`kill -9`), restart it, or drive it with an
unmodified HTTP client (mParticle's own SDK) use this instead of the
in-process app.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """One `recloop serve` process; `start()` again after a kill restarts it."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str) -> None:
        self.port = free_port()
        self._env = {**os.environ, **env}
        self._args = args
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServerProcess":
        # The installed console script, as a user would run it.
        recloop = str(Path(sys.executable).with_name("recloop"))
        command = [recloop, "serve", "--port", str(self.port)]
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own command line
                [*command, *self._args], env=self._env, stdout=log, stderr=log
            )
        self._wait_until_healthy()
        return self

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

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError(f"recloop serve is not running; log:\n{self.log()}")
        return self._process

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self._running()
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"recloop serve did not become ready; log:\n{self.log()}")

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()
