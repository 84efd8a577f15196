"""`recloop serve`: the API with uvicorn, and the job worker beside it.

With one process the worker runs inside it. With `--workers N` uvicorn runs
N API processes that share the port; the job worker then runs once, as a
`recloop worker` process of its own that `serve` starts, restarts if it
dies, and stops with the rest, so N API processes never mean N workers.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator

import structlog
import uvicorn

log = structlog.get_logger(__name__)

# How long the job worker gets to finish its jobs in hand when serve stops;
# what it has not finished goes back to the queue when its lease expires.
WORKER_STOP_SECONDS = 30.0
RESTART_DELAY_SECONDS = 1.0


def serve(host: str, port: int, *, workers: int, run_worker: bool) -> None:
    if workers == 1:
        _set_worker_enabled(run_worker)
        _uvicorn(host, port, workers=1)
        return
    _set_worker_enabled(False)
    with _shared_metrics(), _job_worker(run_worker):
        _uvicorn(host, port, workers=workers)


def _set_worker_enabled(enabled: bool) -> None:
    # The API processes read their settings from the environment.
    os.environ["RECLOOP_WORKER_ENABLED"] = "true" if enabled else "false"


def _uvicorn(host: str, port: int, *, workers: int) -> None:
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
    )


@contextlib.contextmanager
def _shared_metrics() -> Iterator[None]:
    """Let any API process answer /metrics for all of them (and the worker)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    directory = tempfile.mkdtemp(prefix="recloop-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _job_worker(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    worker = JobWorkerProcess()
    worker.start()
    try:
        yield
    finally:
        worker.stop()


class JobWorkerProcess:
    """One `recloop worker` child, kept running until `stop()`."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=WORKER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
        self._thread.join(timeout=WORKER_STOP_SECONDS)

    def _supervise(self) -> None:
        command = [sys.executable, "-m", "app.cli", "worker"]
        while not self._stopping.is_set():
            self._process = subprocess.Popen(command)  # noqa: S603 - our own command
            code = self._process.wait()
            if self._stopping.is_set():
                return
            log.error("serve.job_worker_exited", exit_code=code)
            self._stopping.wait(RESTART_DELAY_SECONDS)
