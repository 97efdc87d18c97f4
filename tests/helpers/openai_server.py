"""A real OpenAI-compatible embeddings server on 127.0.0.1, for tests.

It speaks HTTP (stdlib ``http.server`` in a thread) and answers
``POST .../embeddings`` (``/v1/embeddings``, Azure's
``/openai/deployments/<name>/embeddings``) with deterministic vectors, so the
real ``openai`` client is tested end to end, nothing mocked. Every request is
recorded (arrival time, path, headers, JSON body); a script of ``Reply`` items
makes the next requests fail, stall or misbehave.
"""

from __future__ import annotations

import json
import random
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


def server_vector(text: str, dim: int) -> list[float]:
    """The vector the server returns for ``text`` (a unit vector seeded by the text)."""
    rng = np.random.default_rng(zlib.crc32(text.encode("utf-8")))
    vector = rng.standard_normal(dim)
    return [float(x) for x in vector / np.linalg.norm(vector)]


@dataclass
class Reply:
    """What the server does for one scripted request.

    ``status`` other than 200 answers with that status, ``headers`` and an
    OpenAI-style error body; ``delay`` sleeps first (to make the client time
    out); ``dim`` overrides the vector width; ``nan`` puts NaN in the vectors;
    ``raw`` is sent as the body instead (bad JSON, a truncated answer).
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    dim: int | None = None
    nan: bool = False
    message: str = "scripted failure"
    raw: bytes | None = None


@dataclass
class Request:
    """One request the server received."""

    at: float  # time.monotonic() on arrival
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def inputs(self) -> list[str]:
        value = self.body.get("input")
        return [value] if isinstance(value, str) else list(value or [])


class FakeOpenAIServer:
    """The server's state; ``running()`` serves it on a free loopback port."""

    def __init__(self, dim: int = 16, api_key: str | None = None, shuffle: bool = False):
        self.dim = dim
        self.api_key = api_key
        self.shuffle = shuffle
        self.script: deque[Reply] = deque()
        self.requests: list[Request] = []
        self.port = 0
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def then(self, *replies: Reply) -> FakeOpenAIServer:
        """Queue replies for the next requests (after them: normal answers)."""
        with self._lock:
            self.script.extend(replies)
        return self

    def batch_sizes(self) -> list[int]:
        return [len(r.inputs) for r in self.requests]

    # -- request handling (called from the server's threads) -------------------

    def _next_reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self.script.popleft() if self.script else Reply()

    def handle(self, request: Request) -> tuple[int, dict[str, str], dict[str, Any]]:
        reply = self._next_reply(request)
        if reply.delay:
            time.sleep(reply.delay)
        if self.api_key is not None:
            sent = request.headers.get("authorization", "")
            azure = request.headers.get("api-key", "")
            if sent != f"Bearer {self.api_key}" and azure != self.api_key:
                return 401, {}, _error("Incorrect API key provided.", "invalid_api_key")
        if reply.raw is not None:
            return reply.status, reply.headers, {"raw": reply.raw}
        if reply.status != 200:
            return reply.status, reply.headers, _error(reply.message, f"status_{reply.status}")
        if not request.path.split("?")[0].endswith("/embeddings"):
            return 404, {}, _error(f"no route {request.path}", "not_found")
        dim = reply.dim or request.body.get("dimensions") or self.dim
        data = []
        for index, text in enumerate(request.inputs):
            vector = server_vector(text, dim)
            if reply.nan:
                vector[0] = float("nan")
            data.append({"object": "embedding", "index": index, "embedding": vector})
        if self.shuffle:
            random.Random(len(self.requests)).shuffle(data)
            if len(data) > 1 and all(d["index"] == i for i, d in enumerate(data)):
                data.reverse()
        body = {
            "object": "list",
            "data": data,
            "model": request.body.get("model"),
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
        return 200, reply.headers, body

    @contextmanager
    def running(self) -> Iterator[FakeOpenAIServer]:
        """Serve on 127.0.0.1 (a free port) until the block ends."""
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)


def _error(message: str, code: str) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up: not the test's business


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        request = Request(
            at=time.monotonic(),
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=json.loads(raw or b"{}"),
        )
        status, headers, body = self.server.owner.handle(request)
        # NaN goes out as the bare token NaN; "raw" bodies as they are
        payload = body["raw"] if "raw" in body else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass
