"""A local server that speaks the mParticle Events API over a real socket.

Like mParticle it checks HTTP Basic credentials (401 when missing, 403 when
wrong), deduplicates batches on `source_request_id`, applies each batch's
user attributes to the user's profile (a new value replaces the old), and
answers 2xx with `X-MP-Rate-Limit-Percentage-Used`. Unlike mParticle, which
is lenient, it validates every batch against the official inbound schema
and answers 400 naming the violation, so a test sees any batch that is not
schema-valid. Tests can script replies (429s with or without Retry-After,
5xx, 400s, slow answers) or enforce a batches-per-second limit. For outage
and crash runs it can also answer every request slowly, fail everything
until `recover()`, and tell whether two requests for one user were ever in
flight at once.
"""

import base64
import contextlib
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = (
    Path(__file__).parent.parent / "fixtures/mparticle.inbound.eventsapi.schema.json"
)
WINDOW_SECONDS = 1.0


@dataclass
class Reply:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    # Answer this late (the client may have given up by then); the batches
    # are applied all the same when the status is 2xx.
    delay_seconds: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 202

    @property
    def batches(self) -> list[dict[str, Any]]:
        return self.body if isinstance(self.body, list) else [self.body]


def _schema_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


class FakeEventsApi:
    def __init__(self, api_key: str = "mp-key", api_secret: str = "mp-secret") -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.requests: list[Received] = []
        self.accepted: list[Received] = []
        # Per MPID, the user attributes as mParticle would hold them, and
        # every change of them in order.
        self.profiles: dict[int, dict[str, Any]] = {}
        self.changes: dict[int, list[dict[str, Any]]] = {}
        self.duplicate_batches = 0
        self.invalid: list[str] = []
        self._seen_request_ids: set[str] = set()
        self._script: list[Reply] = []
        self._limit: tuple[int, int | None] | None = None
        self._window: deque[tuple[float, int]] = deque()
        self._validator = _schema_validator()
        # Seconds every request takes before it is answered.
        self.delay_seconds = 0.0
        self._outage: Reply | None = None
        self._in_flight: Counter[int] = Counter()
        # MPIDs that were in two requests at once: a job that ran twice.
        self.overlapping_mpids: set[int] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v2"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, then with 202s."""
        with self._lock:
            self._script.extend(replies)

    def rate_limit(
        self, batches_per_second: int, retry_after_seconds: int | None = None
    ) -> None:
        """Answer 429 to a request that would exceed this many batches in any
        one-second window, as mParticle's rate limit does."""
        with self._lock:
            self._limit = (batches_per_second, retry_after_seconds)

    @property
    def accepted_batches(self) -> list[dict[str, Any]]:
        return [batch for request in self.accepted for batch in request.batches]

    @property
    def statuses(self) -> list[int]:
        return [request.status for request in self.requests]

    def fail_all(self, reply: Reply) -> None:
        """Answer every request with `reply` until `recover()` (an outage)."""
        with self._lock:
            self._outage = reply

    def recover(self) -> None:
        with self._lock:
            self._outage = None

    def delivered(self) -> dict[str, dict[str, Any]]:
        """Accepted batches by `source_request_id`, as mParticle dedupes them."""
        return {batch["source_request_id"]: batch for batch in self.accepted_batches}

    def __enter__(self) -> "FakeEventsApi":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        if path not in ("/v2/events", "/v2/bulkevents"):
            return Reply(404, body=_errors("NOT_FOUND", path))
        auth = headers.get("authorization")
        if not auth:
            return Reply(401)
        if auth != self._expected_auth():
            return Reply(403)
        try:
            body = json.loads(raw)
        except ValueError:
            return Reply(400, body=_errors("BAD_REQUEST", "bad json"))
        received = Received(path, headers, body)
        mpids = [batch.get("mpid") for batch in received.batches]
        with self._lock:
            for mpid in mpids:
                if self._in_flight[mpid]:
                    self.overlapping_mpids.add(mpid)
                self._in_flight[mpid] += 1
        try:
            time.sleep(self.delay_seconds)
        finally:
            with self._lock:
                self._in_flight.subtract(mpids)
        with self._lock:
            reply = self._outage or self._decide(received)
            received.status = reply.status
            self.requests.append(received)
            if 200 <= reply.status < 300:
                self.accepted.append(received)
                self._apply(received.batches)
        return reply

    def _decide(self, received: Received) -> Reply:
        problems = [self._problem(batch) for batch in received.batches]
        if any(problems):
            message = "; ".join(p for p in problems if p)
            self.invalid.append(message)
            return Reply(400, body=_errors("BAD_REQUEST", message))
        if self._script:
            return self._script.pop(0)
        if self._over_limit(len(received.batches)):
            return self._throttled()
        return Reply(headers={"X-MP-Rate-Limit-Percentage-Used": self._used()})

    def _problem(self, batch: Any) -> str | None:
        error = jsonschema.exceptions.best_match(self._validator.iter_errors(batch))
        return None if error is None else f"{error.json_path}: {error.message}"

    def _over_limit(self, batches: int) -> bool:
        if self._limit is None:
            return False
        now = time.monotonic()
        while self._window and self._window[0][0] <= now - WINDOW_SECONDS:
            self._window.popleft()
        if sum(n for _, n in self._window) + batches > self._limit[0]:
            return True
        self._window.append((now, batches))
        return False

    def _throttled(self) -> Reply:
        assert self._limit is not None
        headers = {"X-MP-Rate-Limit-Exceeded": "app"}
        if self._limit[1] is not None:
            headers["Retry-After"] = str(self._limit[1])
        return Reply(429, headers=headers)

    def _used(self) -> str:
        if self._limit is None:
            return "1"
        in_window = sum(n for _, n in self._window)
        return str(min(100, 100 * in_window // self._limit[0]))

    def _apply(self, batches: list[dict[str, Any]]) -> None:
        for batch in batches:
            request_id = batch.get("source_request_id")
            if request_id in self._seen_request_ids:
                self.duplicate_batches += 1
                continue
            self._seen_request_ids.add(request_id)
            profile = self.profiles.setdefault(batch["mpid"], {})
            profile.update(batch.get("user_attributes", {}))
            for name in batch.get("deleted_user_attributes", []):
                profile.pop(name, None)
            self.changes.setdefault(batch["mpid"], []).append(dict(profile))

    def _expected_auth(self) -> str:
        token = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        return f"Basic {token}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = fake._reply(self.path, headers, raw)
                time.sleep(reply.delay_seconds)
                # A client that timed out has gone; what it sent still counts.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(reply)

            def _answer(self, reply: Reply) -> None:
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: object) -> None:
                return None

        return Handler


def _errors(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}
