"""A real HTTP server on 127.0.0.1 that speaks Chat Completions, with scripted faults.

Replies are schema-shaped JSON built by the offline extractor from the abstract
in the request, so they ground. A script maps a title fragment to the faults
its next requests meet, e.g. {"Multigrid": ["429", "ok"]} ("reply:TEXT" answers with TEXT); requests of other
papers get `default` (normally "ok"). Every request is recorded.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from workbench.models.offline import extract

_TITLE = re.compile(r"Title: (.*)")
# A model that returns hostile text in every field: markup, action links, escape sequences.
HOSTILE_SUMMARY = {
    "technique": "[@click=app.quit]Quit[/] \x1b]0;PWNED-TITLE\x07 \x1b[2J",
    "claimed_gain": "[link=https://evil.example]99x faster[/link] \x1b]52;c;cHduZWQ=\x07",
    "compute": "[/] [bold]\u202eGPUs 8\u202c",
    "evidence": {"technique": "[@click=app.quit]Quit[/]", "claimed_gain": "\x1b]52;c;cHduZWQ=\x07",
                 "compute": "[/]"},
}
_ABSTRACT = re.compile(r"<<<\n(.*)\n>>>", re.S)


def _mode(body: dict) -> str:
    """The response format a request asks for, named as workbench names them."""
    response_format = body.get("response_format") or {}
    kind = response_format.get("type", "text")
    return "json_object_schema" if kind == "json_object" and "schema" in response_format else kind


def paper_in(body: dict) -> tuple[str, str]:
    """(title, abstract) of the paper a Chat Completions request asks about: the last user message
    with a title (few-shot example turns come before it, a re-ask after)."""
    user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    paper_user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user" and "Title:" in m["content"])
    title_match = _TITLE.search(user) or _TITLE.search(paper_user)
    abstract_match = _ABSTRACT.search(paper_user)
    return (title_match.group(1).strip() if title_match else "", abstract_match.group(1) if abstract_match else "")


def completion(body: dict, content: str | None, finish_reason: str = "stop", refusal: str | None = None,
               completion_id: str = "chatcmpl-0") -> dict:
    """A chat.completion object answering `body`, with usage."""
    return {
        "id": completion_id, "object": "chat.completion", "created": 0, "model": body["model"],
        "choices": [{"index": 0, "finish_reason": finish_reason,
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": {"prompt_tokens": 100 + len(json.dumps(body["messages"])) // 4,
                  "completion_tokens": len(content or "") // 4 + 1, "total_tokens": 0},
    }


class _QuietServer(ThreadingHTTPServer):
    # A client opening 64 connections at once overflows the default backlog of 5 (connection errors).
    request_queue_size = 256
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (timeout, aborted run) hangs up mid-reply: expected here.
        pass

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, the client's
    # delayed ACK adds ~40 ms to every reply. Real servers set TCP_NODELAY.
    disable_nagle_algorithm = True

    def log_message(self, *args):  # keep test output clean
        pass


class LocalServer:
    """What every fake server offers a test: its URL and a stop (it sets `self.server` in start())."""

    server: _QuietServer | None

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def serve(handler: type[BaseHTTPRequestHandler]) -> _QuietServer:
    """A server on a free port of 127.0.0.1, answering on a thread of its own."""
    server = _QuietServer(("127.0.0.1", 0), handler)
    # A short poll: shutdown() waits up to one poll interval (0.5 s by default) per test.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


@dataclass
class Request:
    title: str
    body: dict
    headers: dict
    at: float


@dataclass
class FakeOpenAI(LocalServer):
    default: str = "ok"
    latency: float = 0.0  # seconds added to every reply
    retry_after: str = "1"
    script: dict[str, list[str]] = field(default_factory=dict)
    # response format -> HTTP status with which it is refused (llama-cpp-python: {"json_schema": 500})
    reject_formats: dict[str, int] = field(default_factory=dict)
    omit_evidence: bool = False  # replies with good values and no evidence (a small model in json_object mode)
    slots: int | None = None  # like llama-server -np N: at most N requests worked on at once, the rest wait
    models: list[str] = field(default_factory=lambda: ["test-model"])  # GET /v1/models
    loading: float = 0.0  # seconds after start during which it answers 503, as llama-server does while it loads
    requests: list[Request] = field(default_factory=list)
    server: _QuietServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "FakeOpenAI":
        fake = self
        self._slots = threading.BoundedSemaphore(self.slots) if self.slots else None
        ready_at = time.monotonic() + self.loading

        class Handler(QuietHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                if time.monotonic() < ready_at:
                    return fake._error(self, 503, "Loading model", "unavailable_error")
                fake._answer(self, body)

            def do_GET(self):
                if time.monotonic() < ready_at:
                    return fake._error(self, 503, "Loading model", "unavailable_error")
                if self.path == "/health" and fake.loading:
                    return fake._send(self, 200, b'{"status": "ok"}', "application/json")
                if self.path == "/v1/models" and fake.models:
                    listing = {"object": "list", "data": [{"id": name, "object": "model", "created": 0,
                                                           "owned_by": "test"} for name in fake.models]}
                    return fake._send(self, 200, json.dumps(listing).encode(), "application/json")
                if self.path == "/props" and fake.slots:  # llama-server tells its slots
                    return fake._send(self, 200, json.dumps({"total_slots": fake.slots}).encode(), "application/json")
                fake._error(self, 404, f"no route {self.path}", "not_found")

        self.server = serve(Handler)
        return self

    def count(self, title_fragment: str = "") -> int:
        return sum(1 for r in self.requests if title_fragment in r.title)

    # ------------------------------------------------------------------ replies

    def _next_fault(self, title: str) -> str:
        with self.lock:
            for fragment, faults in self.script.items():
                if fragment in title and faults:
                    return faults.pop(0)
        return self.default

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        title, abstract = paper_in(body)
        with self.lock:
            self.requests.append(Request(title, body, {k.lower(): v for k, v in handler.headers.items()}, time.monotonic()))
        mode = _mode(body)
        if mode in self.reject_formats:
            return self._error(handler, self.reject_formats[mode], f"response_format {mode} is not supported",
                               "invalid_request_error")
        fault = self._next_fault(title)
        if self._slots is not None:
            with self._slots:  # the server's own queue: one at a time
                time.sleep(self.latency)
        elif self.latency:
            time.sleep(self.latency)

        if fault.startswith("reply:"):  # a scripted reply text, sent as it is
            return self._completion(handler, body, fault.removeprefix("reply:"))
        if fault == "ok":
            summary = extract(title, abstract).model_dump()
            if self.omit_evidence:
                summary.pop("evidence")
            content = json.dumps(summary)
            if body.get("response_format", {}).get("type") not in ("json_schema", "json_object"):
                content = f"Here is the summary:\n```json\n{content}\n```"
            return self._completion(handler, body, content)
        if fault == "injected":  # a model that obeyed an instruction hidden in the abstract
            return self._completion(handler, body, json.dumps({"hacked": True, "technique": "pwned"}))
        if fault == "malformed":
            return self._completion(handler, body, '{"technique": "half a reply", "claimed_gain": ')
        if fault == "length":
            return self._completion(handler, body, '{"technique": "a very long', finish_reason="length")
        if fault == "refusal":
            return self._completion(handler, body, None, refusal="I can't help with that request.")
        if fault == "badbody":
            return self._send(handler, 200, b"<html>upstream proxy error</html>", "text/html")
        if fault == "listbody":  # JSON, but not a completion
            return self._send(handler, 200, b"[1, 2, 3]", "application/json")
        if fault == "oddchoices":  # a completion whose parts have the wrong types
            return self._send(handler, 200, b'{"choices": "none", "usage": {"prompt_tokens": "many"}}',
                              "application/json")
        if fault == "slow":
            time.sleep(3.0)
            return self._completion(handler, body, json.dumps(extract(title, abstract).model_dump()))
        if fault == "trickle":  # one byte every 0.2 s: a read timeout never fires, a deadline does
            return self._completion(handler, body, json.dumps(extract(title, abstract).model_dump()), trickle=0.2)
        if fault == "cutoff":  # 200 and the length of a whole reply, then half of it and the connection closes
            reply = completion(body, json.dumps(extract(title, abstract).model_dump()))
            payload = json.dumps(reply).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload[:len(payload) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return None
        if fault == "hang":  # accepts the request and never answers
            time.sleep(30)
            return None
        if fault == "huge":  # a 50 MB reply
            return self._completion(handler, body, '{"technique": "' + "x" * 50_000_000 + '"}')
        if fault == "nomessage":
            reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                     "choices": [{"index": 0, "finish_reason": "stop"}]}
            return self._send(handler, 200, json.dumps(reply).encode(), "application/json")
        if fault == "hostile":  # every field a hostile string, each quoted verbatim from nowhere
            return self._completion(handler, body, json.dumps(HOSTILE_SUMMARY))
        if fault == "huge-usage":  # token counts no SQLite integer can hold
            reply = completion(body, json.dumps(extract(title, abstract).model_dump()))
            reply["usage"] = {"prompt_tokens": 10 ** 30, "completion_tokens": -(10 ** 30), "total_tokens": 0}
            return self._send(handler, 200, json.dumps(reply).encode(), "application/json")
        if fault == "surrogate":  # a "\\ud800" JSON escape in a field: valid JSON, not valid Unicode
            summary = extract(title, abstract).model_dump()
            summary["technique"] = "x\ud800y"
            return self._completion(handler, body, json.dumps(summary))
        if fault == "surrogate-raw":  # the reply text itself holds one (the body's JSON escapes it)
            return self._completion(handler, body, '{"technique": "x\ud800y", "claimed_gain": null}')
        if fault == "500-surrogate":
            return self._error(handler, 500, "upstream said x\ud800y", "server_error")
        if fault in ("echo-key", "400-echo-key", "echo-key-escaped"):  # a server that repeats the key it was sent
            key = handler.headers.get("Authorization", "").removeprefix("Bearer ")
            if fault == "400-echo-key":
                return self._error(handler, 400, f"bad request from {key.upper()}", "invalid_request_error")
            summary = extract(title, abstract).model_dump()
            summary["technique"] = f"{key.upper()} training"
            summary["evidence"]["technique"] = key.upper()
            content = json.dumps(summary)
            if fault == "echo-key-escaped":  # every character a JSON \u escape: the same string once parsed
                escaped = "".join(f"\\u{ord(c):04x}" for c in key)
                content = content.replace(json.dumps(key.upper())[1:-1], escaped).replace(
                    json.dumps(f"{key.upper()} training")[1:-1], escaped + " training")
            return self._completion(handler, body, content)
        if fault == "429":
            return self._error(handler, 429, "Rate limit reached", "rate_limit_exceeded", {"Retry-After": self.retry_after})
        if fault == "quota":
            return self._error(handler, 429, "You exceeded your current quota", "insufficient_quota")
        if fault == "500":
            return self._error(handler, 500, "The server had an error", "server_error")
        if fault == "400-schema":
            return self._error(handler, 400, "response_format json_schema is not supported", "invalid_request_error")
        if fault == "400":
            return self._error(handler, 400, "max_tokens is too large for this model", "invalid_request_error")
        if fault == "401":
            key = handler.headers.get("Authorization", "").removeprefix("Bearer ")
            # Real servers echo part of the key; this one echoes all of it, to prove we never keep it.
            return self._error(handler, 401, f"Incorrect API key provided: {key}", "invalid_api_key")
        raise AssertionError(f"unknown fault {fault!r}")

    def _completion(self, handler, body, content, finish_reason="stop", refusal=None, trickle=0.0) -> None:
        reply = completion(body, content, finish_reason, refusal, f"chatcmpl-{len(self.requests)}")
        self._send(handler, 200, json.dumps(reply).encode(), "application/json", trickle=trickle)

    def _error(self, handler, status, message, code, headers=None) -> None:
        body = json.dumps({"error": {"message": message, "type": code, "code": code}}).encode()
        self._send(handler, status, body, "application/json", headers)

    @staticmethod
    def _send(handler, status, payload: bytes, content_type: str, headers=None, trickle: float = 0.0) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        if not trickle:
            handler.wfile.write(payload)
            return
        for byte in payload:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(trickle)


def endpoint_env(monkeypatch, key: str):
    """A fixture's body: the fake server running as the endpoint `OPENAI_BASE_URL` names, with `key` as
    `OPENAI_API_KEY` (a test then checks the key never leaks); stopped after the test."""
    server = FakeOpenAI().start()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    yield server
    server.stop()
