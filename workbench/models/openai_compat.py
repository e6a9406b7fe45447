"""Any OpenAI-compatible Chat Completions endpoint (official API, vLLM, Ollama, llama.cpp).

Retries belong to tenacity alone (the client has max_retries=0): 408/409/429
(not insufficient_quota), 5xx, timeouts and connection errors, honouring
Retry-After (capped at 120 s), otherwise exponential backoff with jitter, within
a bounded number of attempts and total time. 401/403/404 and an exhausted quota
stop the whole run: every other request would fail the same way. So does an
endpoint that is plainly down: a run of connection failures and time-outs with
no reply in between.

`timeout` bounds each request's whole duration (a server that trickles its
reply a byte at a time restarts a read timeout forever, not this deadline).

We POST the Chat Completions body with the client's documented `post` (its
"undocumented endpoints" route: the same retries, time-outs and typed errors)
and read the JSON ourselves, rather than `chat.completions.create` or
`.parse()`. `create` walks the whole request, JSON Schema included, through
its typed transform and builds a pydantic object of the reply: 3-4 ms of CPU a
request, as much as the network work, measured with cProfile (README,
*Benchmarks*). `.parse()` also raises on an invalid reply, and the raw text and
token usage must be recorded. Every HTTP call becomes a `Call` for the
attempts log.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time

import openai
from openai import AsyncOpenAI
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_after_delay

from workbench.config import OFFICIAL_BASE_URL
from workbench.errors import AbortedRun, InputError
from workbench.models.base import ModelDefaults, Reply, capped, shorten
from workbench.models.figures import list_figures
from workbench.models.replies import Answer, NO_MESSAGE, interpret, read_answer, read_usage, reask_messages
from workbench.models.transport import (
    DOWN_AFTER_FAILURES, MAX_RETRY_AFTER_SECONDS, DeadlinePassed, Gate, RateLimiter, RetryPolicy, cut_short,
    error_message, format_unsupported, is_quota, is_transient, public_url, redact_key, retry_after_seconds,
)
from workbench.prompts import Prompt
from workbench.records import Call
from workbench.schema import summary_json_schema
from workbench.vocab import ERROR, INVALID, utc_now

# How to ask for JSON, best first. json_object_schema is llama-cpp-python's form
# ({"type": "json_object", "schema": ...}); json_object and text put the shape in the prompt.
RESPONSE_FORMATS = ("json_schema", "json_object_schema", "json_object", "text")
AUTO = "auto"


class _Unsupported(Exception):
    """The server rejected the response format (400/422/500 saying so): not a fault to retry."""

    def __init__(self, reason: str):
        self.reason = reason


class _Queued(Exception):
    """A request timed out waiting behind our own other requests in the server's queue."""


class OpenAICompatibleModel(ModelDefaults):
    instant = False

    def __init__(
        self, name: str, *, base_url: str = OFFICIAL_BASE_URL, api_key: str | None = None, timeout: float = 60.0,
        response_format: str = "json_schema", retry: RetryPolicy = RetryPolicy(), rpm: float | None = None,
    ):
        if response_format != AUTO and response_format not in RESPONSE_FORMATS:
            raise InputError(f"--response-format must be one of {', '.join((AUTO, *RESPONSE_FORMATS))}")
        self.name = name
        self.base_url = base_url.rstrip("/")
        if not api_key:
            if self.base_url == OFFICIAL_BASE_URL:
                raise InputError(f"model '{name}' needs OPENAI_API_KEY for {OFFICIAL_BASE_URL} "
                                 "(or set OPENAI_BASE_URL to a local server)")
            api_key = "no-key"  # local servers (Ollama, llama.cpp) ignore it, the client wants one
        self._key = api_key
        self._secret = None if api_key == "no-key" else api_key  # what redaction looks for
        self.endpoint = public_url(self.base_url)
        self.requested_format = response_format
        # auto: the mode remembered for this endpoint and model (see learned()), else the best one.
        self.response_format = RESPONSE_FORMATS[0] if response_format == AUTO else response_format
        self.learned_format: str | None = None  # a fallback found during this run, for the caller to remember
        self.timeout = timeout
        self.retry = retry
        self._limiter = RateLimiter(rpm) if rpm else None
        self._unanswered = 0  # requests in a row with no HTTP answer
        self._answered = False  # some request got an HTTP answer: the server is alive
        self.gate = Gate()  # our own queue in front of the server's (see _call)
        self._stopped: str | None = None  # why the run stopped: no further calls are made
        self.client = AsyncOpenAI(base_url=self.base_url, api_key=api_key, max_retries=0, timeout=timeout)

    def use_format(self, response_format: str) -> None:
        """With --response-format auto: start from the mode this endpoint is known to support."""
        if self.requested_format == AUTO and response_format in RESPONSE_FORMATS:
            self.response_format = response_format

    def params(self, prompt: Prompt, response_format: str | None = None) -> dict:
        return {"temperature": prompt.temperature, "max_tokens": prompt.max_tokens,
                "response_format": response_format or self.response_format, "endpoint": self.endpoint}

    async def aclose(self) -> None:
        await self.client.close()

    # ------------------------------------------------------------------ one paper

    async def summarise(self, title: str, abstract: str, prompt: Prompt) -> Reply:
        started = time.perf_counter()
        reply = Reply(outcome=ERROR, attempts=0)
        mode = self.response_format
        messages = self.messages(prompt, title, abstract, mode)
        ask = 1
        while ask <= 2:  # one re-ask on an invalid reply, with the validation error
            try:
                answer = await self._complete(messages, prompt, reply, ask, mode)
            except AbortedRun as exc:  # the run stops; what was asked so far still goes in the log
                reply.outcome, reply.error = ERROR, self._short(str(exc))
                reply.latency_ms = int((time.perf_counter() - started) * 1000)
                exc.reply = reply
                raise
            except _Unsupported as exc:  # the server cannot do this mode: the next one, at once
                fallback = self._fall_back(mode, exc.reason)
                if fallback is None:
                    reply.outcome, reply.error = ERROR, self._short(exc.reason)
                    break
                mode = fallback
                messages = self.messages(prompt, title, abstract, mode)
                continue
            if answer is None:
                break
            interpret(answer, prompt, reply, self.redact)
            reply.calls[-1].outcome, reply.calls[-1].error = reply.outcome, reply.error
            if reply.outcome != INVALID or ask == 2:
                break
            messages = messages + reask_messages(answer.content, reply.error)
            ask += 1
        reply.params = self.params(prompt, mode)
        reply.latency_ms = int((time.perf_counter() - started) * 1000)
        return reply

    def messages(self, prompt: Prompt, title: str, abstract: str, mode: str | None = None) -> list[dict]:
        return prompt.render(title, abstract, schema_in_prompt=(mode or self.response_format) in ("json_object", "text"),
                             figures=list_figures)

    def request_body(self, prompt: Prompt, messages: list[dict], mode: str | None = None) -> dict:
        """The Chat Completions body for these messages: what the live path sends, and a batch line carries."""
        mode = mode or self.response_format
        body = {"model": self.name, "messages": messages, "temperature": prompt.temperature,
                "max_tokens": prompt.max_tokens}
        if mode == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "summary", "strict": True, "schema": summary_json_schema(prompt.evidence_first)}}
        elif mode == "json_object_schema":
            body["response_format"] = {"type": "json_object", "schema": summary_json_schema(prompt.evidence_first)}
        elif mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    def _fall_back(self, mode: str, reason: str) -> str | None:
        """The next mode after one the server rejected; remembered for the rest of the run and by the caller."""
        if self.requested_format != AUTO:
            return None  # the user asked for this mode: say it failed, do not switch behind their back
        position = RESPONSE_FORMATS.index(mode)
        if position + 1 >= len(RESPONSE_FORMATS):
            return None
        fallback = RESPONSE_FORMATS[position + 1]
        if RESPONSE_FORMATS.index(self.response_format) < position + 1:
            self.response_format = self.learned_format = fallback
        return fallback

    async def _complete(self, messages: list[dict], prompt: Prompt, reply: Reply, ask: int,
                        mode: str) -> Answer | None:
        """One completion with retries, each call logged; None when it ended without a usable reply."""
        kwargs = self.request_body(prompt, messages, mode)
        request_hash = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:16]
        retrying = AsyncRetrying(**self.retry_options())
        try:
            async for attempt in retrying:
                with attempt:
                    while True:  # a time-out in the server's queue is asked again, not counted as a failure
                        if self._stopped:
                            raise AbortedRun(self._stopped)
                        reply.attempts += 1
                        call = Call(ask=ask, attempt=attempt.retry_state.attempt_number, outcome=ERROR,
                                    request_hash=request_hash, at=utc_now())
                        reply.calls.append(call)
                        try:
                            completion = await self._call(kwargs, call)
                            break
                        except _Queued:
                            continue
        except asyncio.CancelledError:
            raise
        except openai.APIStatusError as exc:
            self.stop_if_fatal(exc)
            if format_unsupported(exc):
                raise _Unsupported(self.describe(exc)) from None
            reply.outcome, reply.error = ERROR, self.describe(exc)
            return None
        except (DeadlinePassed, openai.APIConnectionError, openai.APIResponseValidationError) as exc:
            reply.outcome, reply.error = ERROR, self.describe(exc)
            reply.calls[-1].error = reply.calls[-1].error or reply.error
            return None
        except AbortedRun:
            raise
        except Exception as exc:  # a malformed HTTP body, or anything else the client raises
            reply.outcome, reply.error = INVALID, self._short(f"unreadable response: {type(exc).__name__}: {exc}")
            reply.calls[-1].outcome, reply.calls[-1].error = reply.outcome, reply.error
            return None
        tokens_in, tokens_out = read_usage(completion)
        call.input_tokens, call.output_tokens = tokens_in, tokens_out
        if tokens_in is not None or tokens_out is not None:
            reply.input_tokens = (reply.input_tokens or 0) + (tokens_in or 0)
            reply.output_tokens = (reply.output_tokens or 0) + (tokens_out or 0)
        answer = read_answer(completion)
        if answer is None:
            reply.outcome, reply.error = INVALID, NO_MESSAGE
            call.outcome, call.error = reply.outcome, reply.error
            return None
        call.raw = capped(self.redact(answer.content))
        call.raw_chars = len(answer.content) if answer.content is not None else None
        return answer

    async def _call(self, kwargs: dict, call: Call):
        """One HTTP request under the total deadline; fills `call` with what happened.

        Requests first pass our own gate, whose waiting does not count against the
        deadline. A time-out while other requests were in flight at a server that has
        answered before is our own queueing at a server with fewer slots than our
        concurrency: the gate narrows (halves, once per wave of such time-outs) and the
        request is asked again; it is not
        a failure of the model, nor a sign the endpoint is down.
        """
        if self._limiter:
            await self._limiter.wait()
        async with self.gate as admitted_at:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self.timeout):
                    text = await self.client.post("/chat/completions", body=kwargs, cast_to=str)
            except TimeoutError:
                queued = self.gate.in_flight > 1 or admitted_at != self.gate.narrowed  # others ahead of it
                if queued and self._answered:
                    width = self.gate.narrow(admitted_at)
                    call.error = (f"timed out after {self.timeout:g} s in the server's queue; "
                                  f"asking again with {width} request{'s' if width != 1 else ''} at a time")
                    call.latency_ms = int((time.perf_counter() - started) * 1000)
                    raise _Queued() from None
                exc = DeadlinePassed()
                self._note_unanswered(call, exc, started)
                raise exc from None
            except openai.APIStatusError as exc:
                self._unanswered, self._answered = 0, True  # the server answered, even if with an error
                call.http_status, call.error = exc.status_code, self.describe(exc)
                call.latency_ms = int((time.perf_counter() - started) * 1000)
                raise
            except openai.APIConnectionError as exc:
                if cut_short(exc) is None:
                    self._note_unanswered(call, exc, started)
                    raise
                self._unanswered, self._answered = 0, True  # it answered, then closed mid-body: this paper's fault
                call.error, call.latency_ms = self.describe(exc), int((time.perf_counter() - started) * 1000)
                raise
        self._unanswered, self._answered = 0, True
        call.http_status = 200
        call.latency_ms = int((time.perf_counter() - started) * 1000)
        return json.loads(text)  # not JSON: the caller's "unreadable response"

    def _note_unanswered(self, call: Call, exc: Exception, started: float) -> None:
        call.error = self.describe(exc)
        call.latency_ms = int((time.perf_counter() - started) * 1000)
        self._unanswered += 1
        if self._unanswered >= DOWN_AFTER_FAILURES:
            self._stop(f"the endpoint {self.endpoint} is not answering: {self._unanswered} requests in a row "
                       f"failed (last: {call.error}); is the server running? (check OPENAI_BASE_URL; "
                       "a server that is only slow needs a longer --timeout)")

    # ------------------------------------------------------------------ failures

    def _stop(self, reason: str) -> None:
        """Every further request would fail the same way: stop the run (and refuse new calls)."""
        self._stopped = self._stopped or reason
        raise AbortedRun(reason)

    def stop_if_fatal(self, exc: openai.APIStatusError) -> None:
        status = exc.status_code
        if status == 401:
            self._stop(f"the endpoint {self.endpoint} rejected the API key (401 Unauthorized); check OPENAI_API_KEY")
        if status == 403:
            self._stop(f"the endpoint {self.endpoint} refused access to model '{self.name}' (403 Forbidden); "
                       "check OPENAI_API_KEY and the model's access")
        if status == 404:
            self._stop(f"the endpoint {self.endpoint} has no model '{self.name}' (404 Not Found); "
                       "check --model and OPENAI_BASE_URL")
        if is_quota(exc):
            self._stop(f"the account behind OPENAI_API_KEY has no quota left at {self.endpoint} "
                       "(429 insufficient_quota)")

    def describe(self, exc: Exception) -> str:
        """One line for a failed call: what the user reads and the attempts log keeps (key redacted)."""
        if isinstance(exc, (DeadlinePassed, openai.APITimeoutError)):
            text = f"timed out after {self.timeout:g} s"
        elif isinstance(exc, openai.APIConnectionError) and (cut := cut_short(exc)) is not None:
            text = f"the reply was cut off: the server closed the connection before its end ({cut})"
        elif isinstance(exc, openai.APIConnectionError):
            text = f"cannot connect to {self.endpoint}"
        elif isinstance(exc, openai.APIStatusError):
            text = f"HTTP {exc.status_code}: {error_message(exc)}"
        else:
            text = f"{type(exc).__name__}: {exc}"
        return self._short(text)

    def _short(self, text: str) -> str:
        return shorten(self.redact(text))

    def redact(self, text: str | None) -> str | None:
        """Remove the API key (and anything key-shaped) from text we keep or show."""
        return redact_key(text, self._secret)

    def retry_options(self) -> dict:
        """How tenacity retries one request to this endpoint (live calls and Batch API calls alike)."""
        return {"retry": retry_if_exception(is_transient), "wait": self._wait, "reraise": True,
                "stop": stop_after_attempt(self.retry.max_attempts) | stop_after_delay(self.retry.max_total_seconds)
                | self._wait_past_budget}

    def _wait_past_budget(self, state: RetryCallState) -> bool:
        """Stop now rather than wait for a Retry-After that ends past the request's time budget (a
        server asking for 120 s three times would hold one paper for 6 minutes of a 5-minute budget)."""
        exc = state.outcome.exception() if state.outcome else None
        retry_after = retry_after_seconds(exc)
        if retry_after is None:
            return False
        elapsed = state.seconds_since_start or 0.0
        return elapsed + min(retry_after, MAX_RETRY_AFTER_SECONDS) > self.retry.max_total_seconds

    def sync_client(self, timeout: float | None = None) -> openai.OpenAI:
        """A blocking client for the same endpoint and key (the Batch API's files and batches)."""
        return openai.OpenAI(base_url=self.base_url, api_key=self._key, max_retries=0, timeout=timeout or self.timeout)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = retry_after_seconds(exc)
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_SECONDS)
        backoff = self.retry.backoff_base * 2 ** (state.attempt_number - 1)
        return min(self.retry.backoff_max, backoff) * random.uniform(0.5, 1.5)


