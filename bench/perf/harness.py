"""Processes for the performance benchmark: servers, wrk, scratch databases."""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

HERE = Path(__file__).parent
VENV_BIN = Path(sys.executable).parent
STARTUP_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpus() -> int:
    return len(os.sched_getaffinity(0))


def pinned(command: list[str], cpu_list: str | None) -> list[str]:
    """The command pinned to `cpu_list` ("0", "1-3"), when there is a choice."""
    if cpu_list is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", cpu_list, *command]


@dataclass
class Server:
    """A server process on a loopback port, stopped with SIGTERM."""

    name: str
    command: list[str]
    env: dict[str, str]
    ready_path: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - the bench's own commands
                self.command,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not start; see {self.log_path}")

    def rss_bytes(self) -> int:
        """Resident memory of the server and every process under it."""
        if self.process is None:
            return 0
        return sum(_rss(pid) for pid in _process_tree(self.process.pid))

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def bare_server(workdir: Path, cpu_list: str | None, workers: int) -> Server:
    port = free_port()
    command = [
        str(VENV_BIN / "uvicorn"),
        "bare_app:app",
        "--app-dir",
        str(HERE),
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    return Server(
        "bare FastAPI",
        pinned(command, cpu_list),
        {},
        "/recs",
        port,
        workdir / "bare.log",
    )


def recloop_server(
    workdir: Path,
    database_url: str,
    cpu_list: str | None,
    workers: int,
    *,
    job_worker: bool = True,
    **env: str,
) -> Server:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    command = [str(VENV_BIN / "recloop"), "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    if not job_worker:
        command.append("--no-worker")
    settings = {
        "RECLOOP_DATABASE_URL": database_url,
        "RECLOOP_INGEST_KEY": "bench-key",
        "RECLOOP_INGEST_SECRET": "bench-secret-value",
        "RECLOOP_LOG_LEVEL": "WARNING",
        **env,
    }
    return Server(
        "recloop",
        pinned(command, cpu_list),
        settings,
        "/readyz",
        port,
        workdir / "recloop.log",
    )


INGEST_AUTH = ("bench-key", "bench-secret-value")
AUTH_HEADER = "Authorization: Basic YmVuY2gta2V5OmJlbmNoLXNlY3JldC12YWx1ZQ=="


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def wrk(
    url: str,
    script: str,
    seconds: float,
    connections: int,
    cpu_list: str | None,
    env: dict[str, str] | None = None,
    headers: tuple[str, ...] = (),
) -> LoadResult:
    """Run wrk against `url` with one of this folder's Lua scripts."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "10s",
    ]
    command += ["-s", str(HERE / script)]
    for header in headers:
        command += ["-H", header]
    completed = subprocess.run(  # noqa: S603 - the bench's own command line
        pinned([*command, url], cpu_list),
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    line = completed.stdout.strip().splitlines()[-1]
    raw = json.loads(line)
    return LoadResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=raw["errors"] + raw["socket_errors"],
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
    )


class ScratchDatabase:
    """A database of the bench's own, removed afterwards."""

    def __init__(self, kind: str, postgres_url: str) -> None:
        self.kind = kind
        self._postgres_url = postgres_url
        self._directory = Path(tempfile.mkdtemp(prefix="recloop-bench-"))
        self._name = f"recloop_bench_{uuid.uuid4().hex[:8]}"

    @property
    def url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self._directory / 'recloop.db'}"
        return self._postgres_url.rsplit("/", 1)[0] + f"/{self._name}"

    @property
    def workdir(self) -> Path:
        return self._directory

    def __enter__(self) -> "ScratchDatabase":
        if self.kind == "postgresql":
            asyncio.run(self._admin(f'CREATE DATABASE "{self._name}"'))
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.kind == "postgresql":
            asyncio.run(
                self._admin(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
            )
        shutil.rmtree(self._directory, ignore_errors=True)

    async def fetchval(self, query: str) -> object:
        if self.kind == "sqlite":
            import sqlite3

            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as connection:
                return connection.execute(query).fetchone()[0]
        connection = await asyncpg.connect(self.url)
        try:
            return await connection.fetchval(query)
        finally:
            await connection.close()

    async def _admin(self, statement: str) -> None:
        connection = await asyncpg.connect(self._postgres_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0
