"""A local server that speaks the mParticle Events API over a real socket.

It checks HTTP Basic credentials as mParticle does (401 when missing, 403
when wrong), records every accepted request, and answers from a script of
responses so tests can inject 429s, 5xx and 400s. For outage and crash runs
it can also answer slowly, fail everything until `recover()`, and tell
whether two requests for one user were ever in flight at once.
"""

import base64
import contextlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def batches(self) -> list[dict[str, Any]]:
        return self.body if isinstance(self.body, list) else [self.body]


class FakeEventsApi:
    def __init__(
        self,
        api_key: str = "mp-key",
        api_secret: str = "mp-secret",
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.requests: list[Received] = []
        self.accepted: list[Received] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        # Seconds every request takes before it is answered.
        self.delay_seconds = 0.0
        self._outage: Reply | None = None
        self._in_flight: Counter[int] = Counter()
        # MPIDs that were in two requests at once: a job that ran twice.
        self.overlapping_mpids: set[int] = set()
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

    @property
    def accepted_batches(self) -> list[dict[str, Any]]:
        return [batch for request in self.accepted for batch in request.batches]

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
            return Reply(404, body={"errors": [{"code": "NOT_FOUND", "message": path}]})
        auth = headers.get("authorization")
        if not auth:
            return Reply(401)
        if auth != self._expected_auth():
            return Reply(403)
        try:
            body = json.loads(raw)
        except ValueError:
            return Reply(
                400, body={"errors": [{"code": "BAD_REQUEST", "message": "bad json"}]}
            )
        received = Received(path, headers, body)
        mpids = [batch.get("mpid") for batch in received.batches]
        with self._lock:
            self.requests.append(received)
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
            if self._outage is not None:
                return self._outage
            reply = self._script.pop(0) if self._script else Reply()
            if reply.status == 202:
                self.accepted.append(received)
        return reply

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
