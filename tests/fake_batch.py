"""A real HTTP server on 127.0.0.1 that speaks the OpenAI Batch API: /v1/files (upload, content) and
/v1/batches (create, retrieve, list, cancel), with the provider's object shapes.

A batch is `validating` when created, `in_progress` while it is looked at `finish_after` times,
then ends: its requests are answered (schema-shaped JSON from the offline extractor, so replies
ground) into an output file in shuffled order and an error file for the failed ones. `script`
maps a title fragment to what its request meets: "ok", "500" (an HTTP error in the error file),
"expired" (no response, an error object), "malformed", "length", "refusal", "nomessage", "echo-key"
(an error quoting the caller's key, which must never be kept). A batch whose input names the model
`reject_model` fails validation, with line numbers. Every HTTP request is recorded.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fake_openai import LocalServer, QuietHandler, _QuietServer, completion, paper_in, serve
from workbench.models.offline import extract


@dataclass
class Seen:
    method: str
    path: str
    authorization: str


@dataclass
class FakeBatchAPI(LocalServer):
    script: dict[str, str] = field(default_factory=dict)
    finish_after: int = 1  # looks at a batch (retrieve) before it ends
    end_as: str = "completed"  # or "expired": only the first half of the requests get done
    reject_model: str | None = None
    shuffle_seed: int = 7
    hold_create: threading.Event | None = None  # create waits for this (a client killed mid-create)
    files: dict[str, dict] = field(default_factory=dict)
    batches: dict[str, dict] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    server: _QuietServer | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    def start(self) -> "FakeBatchAPI":
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):
                fake._route(self, "GET")

            def do_POST(self):
                fake._route(self, "POST")

        self.server = serve(Handler)
        return self

    def count(self, method: str, path_start: str) -> int:
        return sum(1 for s in self.seen if s.method == method and s.path.startswith(path_start))

    # ------------------------------------------------------------------ routing

    def _route(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        path = url.path.removeprefix("/v1")
        with self.lock:
            self.seen.append(Seen(method, path, handler.headers.get("Authorization", "")))
        length = int(handler.headers.get("Content-Length", 0))
        raw = handler.rfile.read(length) if length else b""
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["chat", "completions"]:  # the live path, at the same endpoint
            body = json.loads(raw)
            content = json.dumps(extract(*paper_in(body)).model_dump())
            return self._send(handler, 200, completion(body, content))
        if method == "POST" and parts == ["files"]:
            return self._send(handler, 200, self._upload(handler.headers["Content-Type"], raw))
        if method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            stored = self.files.get(parts[1])
            if stored is None:
                return self._error(handler, 404, f"No such File object: {parts[1]}")
            return self._send(handler, 200, stored["data"], "application/octet-stream")
        if method == "POST" and parts == ["batches"]:
            if self.hold_create is not None:
                self.hold_create.wait(30)
            return self._create(handler, json.loads(raw))
        if method == "GET" and parts == ["batches"]:
            limit = int(parse_qs(url.query).get("limit", ["20"])[0])
            data = [{k: v for k, v in b.items() if not k.startswith("_")}
                    for b in sorted(self.batches.values(), key=lambda b: b["created_at"], reverse=True)[:limit]]
            return self._send(handler, 200, {"object": "list", "data": data, "has_more": False,
                                             "first_id": data[0]["id"] if data else None,
                                             "last_id": data[-1]["id"] if data else None})
        if len(parts) >= 2 and parts[0] == "batches" and parts[1] in self.batches:
            batch = self.batches[parts[1]]
            if method == "GET" and len(parts) == 2:
                return self._send(handler, 200, self._look(batch))
            if method == "POST" and parts[2:] == ["cancel"]:
                batch.update(status="cancelling", cancelling_at=int(time.time()))
                return self._send(handler, 200, batch)
        return self._error(handler, 404, f"Invalid URL ({method} {url.path})")

    # ------------------------------------------------------------------ files and batches

    def _new_file(self, name: str, data: bytes, purpose: str) -> dict:
        with self.lock:
            file_id = f"file-{len(self.files) + 1:04d}"
            self.files[file_id] = {"data": data, "object": {
                "id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": name, "purpose": purpose, "status": "processed"}}
        return self.files[file_id]["object"]

    def _upload(self, content_type: str, raw: bytes) -> dict:
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        upload = fields["file"]
        assert fields["purpose"].get_content().strip() == "batch"
        return self._new_file(upload.get_filename(), upload.get_payload(decode=True), "batch")

    def _create(self, handler, request: dict) -> None:
        assert request["endpoint"] == "/v1/chat/completions" and request["completion_window"] == "24h"
        source = self.files.get(request["input_file_id"])
        if source is None:
            return self._error(handler, 400, f"No such File object: {request['input_file_id']}")
        lines = source["data"].decode().splitlines()
        errors = self._validate(lines, request["endpoint"])
        now = int(time.time())
        with self.lock:
            batch_id = f"batch_{len(self.batches) + 1:04d}"
            batch = {
                "id": batch_id, "object": "batch", "endpoint": request["endpoint"], "errors": None,
                "input_file_id": request["input_file_id"], "completion_window": "24h", "status": "validating",
                "output_file_id": None, "error_file_id": None, "created_at": now + len(self.batches),
                "in_progress_at": None, "expires_at": now + 86400, "finalizing_at": None, "completed_at": None,
                "failed_at": None, "expired_at": None, "cancelling_at": None, "cancelled_at": None,
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "metadata": request.get("metadata") or {}, "_lines": lines, "_looks": 0,
            }
            if errors:
                batch.update(status="failed", failed_at=now, errors={"object": "list", "data": errors})
            self.batches[batch_id] = batch
        self._send(handler, 200, batch)

    def _validate(self, lines: list[str], endpoint: str) -> list[dict]:
        errors, seen = [], set()
        for number, text in enumerate(lines, start=1):
            line = json.loads(text)
            if line["custom_id"] in seen:
                errors.append({"code": "duplicate_custom_id", "line": number, "param": "custom_id",
                               "message": f"The custom_id {line['custom_id']} is used more than once."})
            seen.add(line["custom_id"])
            if line["method"] != "POST" or line["url"] != endpoint:
                errors.append({"code": "invalid_url", "line": number, "param": "url", "message": "Bad url."})
            if line["body"]["model"] == self.reject_model:
                errors.append({"code": "model_not_found", "line": number, "param": "body.model",
                               "message": f"The model '{line['body']['model']}' does not exist or you do not "
                                          "have access to it."})
        return errors

    def _look(self, batch: dict) -> dict:
        """A retrieve: the batch moves on (validating -> in_progress -> ended after `finish_after` looks)."""
        with self.lock:
            batch["_looks"] += 1
            if batch["status"] == "validating":
                batch.update(status="in_progress", in_progress_at=int(time.time()),
                             request_counts={"total": len(batch["_lines"]), "completed": 0, "failed": 0})
            elif batch["status"] == "cancelling":
                batch.update(status="cancelled", cancelled_at=int(time.time()))
            elif batch["status"] == "in_progress" and batch["_looks"] > self.finish_after:
                self._run(batch)
        return batch

    def _run(self, batch: dict) -> None:
        lines = [json.loads(text) for text in batch["_lines"]]
        done = len(lines) if self.end_as == "completed" else len(lines) // 2
        outputs, failures = [], []
        for number, line in enumerate(lines, start=1):
            result = self._answer(line, number) if number <= done else {
                "id": f"batch_req_{number}", "custom_id": line["custom_id"], "response": None,
                "error": {"code": "batch_expired",
                          "message": "This request could not be executed before the completion window expired."}}
            (outputs if result["error"] is None and result["response"]["status_code"] == 200 else failures).append(
                result)
        random.Random(self.shuffle_seed).shuffle(outputs)  # output order is not input order
        for name, results in (("output", outputs), ("error", failures)):
            if results:
                data = "".join(json.dumps(r) + "\n" for r in results).encode()
                batch[f"{name}_file_id"] = self._new_file(f"{batch['id']}_{name}.jsonl", data, "batch_output")["id"]
        now = int(time.time())
        batch.update(status=self.end_as, finalizing_at=now, **{f"{self.end_as}_at": now},
                     request_counts={"total": len(lines), "completed": len(outputs), "failed": len(failures)})

    def _answer(self, line: dict, number: int) -> dict:
        body = line["body"]
        title, abstract = paper_in(body)
        fault = next((f for fragment, f in self.script.items() if fragment in title), "ok")
        result = {"id": f"batch_req_{number}", "custom_id": line["custom_id"], "error": None,
                  "response": {"status_code": 200, "request_id": f"req_{number}", "body": None}}
        if fault == "ok":
            content = json.dumps(extract(title, abstract).model_dump())
            result["response"]["body"] = completion(body, content, completion_id=f"chatcmpl-{number}")
        elif fault == "malformed":
            result["response"]["body"] = completion(body, '{"technique": "half a reply", "claimed_gain": ')
        elif fault == "length":
            result["response"]["body"] = completion(body, '{"technique": "a very long', "length")
        elif fault == "refusal":
            result["response"]["body"] = completion(body, None, refusal="I can't help with that request.")
        elif fault == "nomessage":
            result["response"]["body"] = {"id": "x", "object": "chat.completion", "choices": [{"index": 0}]}
        elif fault == "500":
            result["response"].update(status_code=500, body={"error": {
                "message": "The server had an error while processing your request.", "type": "server_error"}})
        elif fault == "echo-key":
            key = next(s.authorization for s in self.seen if s.path == "/files").removeprefix("Bearer ")
            result["response"].update(status_code=401, body={"error": {
                "message": f"Incorrect API key provided: {key}", "type": "invalid_request_error"}})
        elif fault == "expired":
            result.update(response=None, error={"code": "batch_expired", "message": "This request expired."})
        else:
            raise AssertionError(f"unknown fault {fault!r}")
        return result

    # ------------------------------------------------------------------ replies

    @staticmethod
    def _send(handler, status: int, payload, content_type: str = "application/json") -> None:
        if not isinstance(payload, bytes):
            payload = json.dumps({k: v for k, v in payload.items() if not k.startswith("_")}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _error(self, handler, status: int, message: str) -> None:
        self._send(handler, status, {"error": {"message": message, "type": "invalid_request_error", "code": None}})
