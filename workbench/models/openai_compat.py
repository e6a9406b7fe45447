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

We call `chat.completions.create` with a strict JSON-Schema response_format and
validate locally, rather than `.parse()`: `.parse()` raises on an invalid reply
and the raw text and token usage are lost, and both must be recorded. Every
HTTP call becomes a `Call` for the attempts log.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import hashlib
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import openai
from openai import AsyncOpenAI
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_after_delay

from workbench.config import OFFICIAL_BASE_URL
from workbench.errors import AbortedRun, InputError
from workbench.json_text import UnreadableJson, decode, read_json
from workbench.models.base import MAX_ERROR_CHARS, MAX_REASK_CHARS, Reply, capped
from workbench.prompts import Prompt
from workbench.records import Call
from workbench.schema import Summary, summary_json_schema
from workbench.vocab import ERROR, FIELDS, INVALID, OK, REFUSED, TRUNCATED, utc_now

# How to ask for JSON, best first. json_object_schema is llama-cpp-python's form
# ({"type": "json_object", "schema": ...}); json_object and text put the shape in the prompt.
RESPONSE_FORMATS = ("json_schema", "json_object_schema", "json_object", "text")
AUTO = "auto"
MAX_RETRY_AFTER_SECONDS = 120.0
# This many requests in a row that got no HTTP answer at all (refused, reset,
# timed out) mean the endpoint is down: the run stops instead of trying every paper.
DOWN_AFTER_FAILURES = 8
_KEYLIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_*\-]{6,}")
NO_MESSAGE = "the response has no message in its first choice"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    max_total_seconds: float = 300.0
    backoff_base: float = 1.0
    backoff_max: float = 30.0


class _Invalid(Exception):
    """The reply text did not match the schema."""


class _Unsupported(Exception):
    """The server rejected the response format (400/422/500 saying so): not a fault to retry."""

    def __init__(self, reason: str):
        self.reason = reason


class _Queued(Exception):
    """A request timed out waiting behind our own other requests in the server's queue."""


class _Gate:
    """At most `width` requests at the server at once (no limit until narrowed or set)."""

    def __init__(self, width: int | None = None):
        self.width = width
        self.in_flight = 0
        self.peak = 0  # the most at once since the last narrowing
        self.narrowed = 0  # times narrowed: a request admitted before the last narrowing was in that wave
        self._changed = asyncio.Condition()

    def narrow(self, admitted_at: int) -> int:
        """Halve the width for a request admitted at `admitted_at` that timed out in the server's
        queue, once per wave: its companions in the same wave timed out for the same reason."""
        if admitted_at == self.narrowed:
            self.width = max(1, (self.width or self.peak) // 2)
            self.narrowed += 1
            self.peak = 0
        return self.width

    async def __aenter__(self) -> int:
        async with self._changed:
            await self._changed.wait_for(lambda: self.width is None or self.in_flight < self.width)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return self.narrowed

    async def __aexit__(self, *exc) -> None:
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()


class DeadlinePassed(Exception):
    """The whole request took longer than `timeout` (asyncio's deadline, not a read timeout).

    Our own type: the SDK's exceptions are caught by their public classes, never
    constructed or subclassed here (their constructors are not ours to rely on)."""


@dataclass(slots=True)
class _Answer:
    """The parts of a completion we use, read defensively (a malformed body is an `invalid` reply)."""

    content: str | None
    finish_reason: str | None
    refusal: str | None
    problem: str | None = None  # the text was not valid Unicode (mended): the reply is invalid


def _answer(content, finish_reason, refusal) -> _Answer:
    """An answer from a reply's parts, its text through the one decoder (a lone surrogate makes it invalid)."""
    content, problem = decode(content if content is None or isinstance(content, str) else json.dumps(content,
                                                                                                     default=str))
    return _Answer(content=content, finish_reason=finish_reason if isinstance(finish_reason, str) else None,
                   refusal=decode(refusal)[0] if isinstance(refusal, str) else None, problem=problem)


class OpenAICompatibleModel:
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
        self._limiter = _RateLimiter(rpm) if rpm else None
        self._unanswered = 0  # requests in a row with no HTTP answer
        self._answered = False  # some request got an HTTP answer: the server is alive
        self.gate = _Gate()  # our own queue in front of the server's (see _call)
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
        return prompt.render(title, abstract, schema_in_prompt=(mode or self.response_format) in ("json_object", "text"))

    def request_body(self, prompt: Prompt, messages: list[dict], mode: str | None = None) -> dict:
        """The Chat Completions body for these messages: what the live path sends, and a batch line carries."""
        mode = mode or self.response_format
        body = {"model": self.name, "messages": messages, "temperature": prompt.temperature,
                "max_tokens": prompt.max_tokens}
        if mode == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "summary", "strict": True, "schema": summary_json_schema()}}
        elif mode == "json_object_schema":
            body["response_format"] = {"type": "json_object", "schema": summary_json_schema()}
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
                        mode: str) -> _Answer | None:
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
            if _format_unsupported(exc):
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
        usage = getattr(completion, "usage", None)
        tokens_in, tokens_out = _int(getattr(usage, "prompt_tokens", None)), _int(getattr(usage, "completion_tokens", None))
        call.input_tokens, call.output_tokens = tokens_in, tokens_out
        if tokens_in is not None or tokens_out is not None:
            reply.input_tokens = (reply.input_tokens or 0) + (tokens_in or 0)
            reply.output_tokens = (reply.output_tokens or 0) + (tokens_out or 0)
        answer = _read_answer(completion)
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
                    completion = await self.client.chat.completions.create(**kwargs)
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
                self._note_unanswered(call, exc, started)
                raise
        self._unanswered, self._answered = 0, True
        call.http_status = 200
        call.latency_ms = int((time.perf_counter() - started) * 1000)
        return completion

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
        if _is_quota(exc):
            self._stop(f"the account behind OPENAI_API_KEY has no quota left at {self.endpoint} "
                       "(429 insufficient_quota)")

    def describe(self, exc: Exception) -> str:
        """One line for a failed call: what the user reads and the attempts log keeps (key redacted)."""
        if isinstance(exc, (DeadlinePassed, openai.APITimeoutError)):
            text = f"timed out after {self.timeout:g} s"
        elif isinstance(exc, openai.APIConnectionError):
            text = f"cannot connect to {self.endpoint}"
        elif isinstance(exc, openai.APIStatusError):
            text = f"HTTP {exc.status_code}: {_error_message(exc)}"
        else:
            text = f"{type(exc).__name__}: {exc}"
        return self._short(text)

    def _short(self, text: str) -> str:
        return (self.redact(" ".join(text.split())) or "")[:MAX_ERROR_CHARS]

    def redact(self, text: str | None) -> str | None:
        """Remove the API key (and anything key-shaped) from text we keep or show."""
        return redact_key(text, self._secret)

    def retry_options(self) -> dict:
        """How tenacity retries one request to this endpoint (live calls and Batch API calls alike)."""
        return {"retry": retry_if_exception(_is_transient), "wait": self._wait, "reraise": True,
                "stop": stop_after_attempt(self.retry.max_attempts) | stop_after_delay(self.retry.max_total_seconds)}

    def sync_client(self, timeout: float | None = None) -> openai.OpenAI:
        """A blocking client for the same endpoint and key (the Batch API's files and batches)."""
        return openai.OpenAI(base_url=self.base_url, api_key=self._key, max_retries=0, timeout=timeout or self.timeout)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = _retry_after_seconds(exc)
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_SECONDS)
        backoff = self.retry.backoff_base * 2 ** (state.attempt_number - 1)
        return min(self.retry.backoff_max, backoff) * random.uniform(0.5, 1.5)


def redact_key(text: str | None, key: str | None = None) -> str | None:
    """`text` as we keep or show it: without the API key `key` (in any case) and anything key-shaped,
    and mended by the one decoder (a lone surrogate cannot be stored)."""
    text = decode(text)[0]
    if text is None:
        return None
    if key and len(key) >= 4:
        text = _key_pattern(key).sub("[redacted]", text)
    return _KEYLIKE.sub("[redacted]", text) if "k-" in text else text  # every key-shaped match holds "k-"


@functools.lru_cache(maxsize=8)
def _key_pattern(key: str) -> re.Pattern:
    return re.compile(re.escape(key), re.IGNORECASE)


_MAX_COUNT = 2 ** 53  # a server's token counts and status codes: anything past this is not a count


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT else None


def _read_answer(completion) -> _Answer | None:
    """The first choice's message, or None when the body does not have one."""
    try:
        choice = completion.choices[0]
        message = choice.message
        if message is None:
            return None
        return _answer(message.content, choice.finish_reason, getattr(message, "refusal", None))
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


def _is_quota(exc: BaseException) -> bool:
    if not isinstance(exc, openai.APIStatusError) or exc.status_code != 429:
        return False
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    return "insufficient_quota" in (getattr(exc, "code", None) or "", error.get("code") or "", error.get("type") or "")


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (DeadlinePassed, openai.APIConnectionError)):  # APIConnectionError includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return (status in (408, 409) or status >= 500 or status == 429) and not _is_quota(exc) \
            and not _format_unsupported(exc)
    return False


_FORMAT_WORDS = re.compile(r"response[_ ]format|json[_ ]schema|json_object|structured output|grammar", re.I)
_UNSUPPORTED_WORDS = re.compile(r"not (?:be )?supported|unsupported|not implemented|unknown|invalid|unrecognized"
                                r"|not allowed|cannot|can't|does not support|failed to", re.I)


def _format_unsupported(exc: openai.APIStatusError) -> bool:
    """A 400/422/500 whose message says the response format is the problem (llama-cpp-python answers
    a json_schema request with 500; others with 400): falling back to another mode is the fix."""
    if exc.status_code not in (400, 422, 500, 501):
        return False
    message = _error_message(exc)
    return bool(_FORMAT_WORDS.search(message) and _UNSUPPORTED_WORDS.search(message))


def _retry_after_seconds(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if "retry-after" in headers:
            value = headers["retry-after"]
            try:
                return max(0.0, float(value))
            except ValueError:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc.message)


def public_url(url: str) -> str:
    """The endpoint without credentials or query string, safe to store and print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def interpret(answer: _Answer, prompt: Prompt, reply: Reply, redact: Callable[[str], str]) -> None:
    """Fill `reply` from one answer: truncated, refused, ok (values kept even if the evidence is not) or invalid.
    The answer is read redacted: a key the server echoes into a field is not stored there either."""
    content = redact(answer.content)
    reply.raw = capped(content)
    if answer.problem:
        reply.summary, reply.outcome, reply.error = None, INVALID, f"the reply is not valid Unicode: {answer.problem}"
    elif answer.finish_reason == "length":
        reply.outcome, reply.error = TRUNCATED, f"the reply hit max_tokens ({prompt.max_tokens})"
    elif answer.refusal or answer.finish_reason == "content_filter":
        reply.outcome = REFUSED
        reply.error = _shorten(redact(answer.refusal or "the endpoint's content filter stopped the reply"))
        reply.raw = reply.raw or capped(redact(answer.refusal))
    else:
        try:
            reply.summary, reply.evidence_given = parse_summary(content)
            reply.outcome, reply.error = OK, None
        except _Invalid as exc:
            reply.summary, reply.outcome, reply.error = None, INVALID, _shorten(redact(str(exc)))


def reask_messages(content: str | None, error: str | None) -> list[dict]:
    """What goes back to the model after an invalid reply: its reply (capped) and what was wrong."""
    return [
        {"role": "assistant", "content": capped(content or "", MAX_REASK_CHARS)},
        {"role": "user", "content": f"That reply is not valid: {error}. Reply again with only the JSON object, "
                                    "with every key of the shape above and a verbatim quote for each non-null field."},
    ]


def _shorten(text: str | None) -> str:
    return " ".join((text or "").split())[:MAX_ERROR_CHARS]


def answer_from_body(body: dict) -> _Answer | None:
    """The first choice of a Chat Completions JSON body (a batch result line's response body)."""
    try:
        choice = body["choices"][0]
        message = choice.get("message")
        if not isinstance(message, dict):
            return None
        return _answer(message.get("content"), choice.get("finish_reason"), message.get("refusal"))
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.S)


def parse_summary(text: str | None) -> tuple[Summary, bool]:
    """(summary, evidence given) from a reply; for text mode, find the JSON object in it.

    Lenient where it costs no truth: a reply whose values are good but whose
    evidence is missing or malformed keeps its values (evidence given: False;
    grounding then aligns the values themselves). Anything else that does not
    match the schema is invalid.
    """
    if not text or not text.strip():
        raise _Invalid("the reply is empty")
    body = text.strip()
    if body.startswith("```") or body.endswith("```"):  # the pattern scans every position: only when it can match
        body = _FENCE.sub("", body)
    try:
        data = read_json(body)
    except UnreadableJson:
        start, end = body.find("{"), body.rfind("}")  # prose around an object: read the object
        if start < 0 or end <= start:
            raise _Invalid("the reply is not valid JSON (no JSON object in it)") from None
        try:
            data = read_json(body[start:end + 1])
        except UnreadableJson as exc:
            raise _Invalid(f"the reply is not valid JSON ({exc})") from None
    try:
        return Summary.model_validate(data), True
    except ValidationError as exc:
        errors = exc.errors()
        if isinstance(data, dict) and all(e["loc"] and e["loc"][0] == "evidence" for e in errors):
            values = {f: data.get(f) for f in FIELDS} | {"evidence": {f: None for f in FIELDS}}
            try:
                return Summary.model_validate(values), False
            except ValidationError:
                pass
        first = errors[0]
        where = ".".join(str(p) for p in first["loc"]) or "reply"
        raise _Invalid(f"{where}: {first['msg']}") from None


class _RateLimiter:
    """Requests evenly spaced to stay under N requests per minute."""

    def __init__(self, rpm: float):
        self.interval = 60.0 / rpm
        self.next_slot = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        await asyncio.sleep(slot - now)


def reply_from_result(line: dict, prompt: Prompt, redact=redact_key) -> Reply:
    """One line of a batch engine's output or error file (the OpenAI Batch API, `vllm run-batch`) as the
    reply to the one request it answers: ask 1, attempt 1 (a batch has no re-ask), read as a live reply is.

    Shapes: {"custom_id", "response": {"status_code", "request_id", "body": <chat.completion>}, "error": null};
    a failed request has "error" set (an object, or vLLM's string) and "response" null or a non-200 status.
    """
    response = line.get("response") if isinstance(line.get("response"), dict) else {}
    status = _int(response.get("status_code"))
    body = response.get("body")
    call = Call(ask=1, attempt=1, outcome=ERROR, http_status=status, at=utc_now())
    reply = Reply(outcome=ERROR, latency_ms=None, calls=[call])
    error = line.get("error")
    if error or status not in (None, 200) or not isinstance(body, dict):
        reply.error = call.error = _shorten(redact(_result_error(error, status, body)))
        return reply
    call.http_status = 200
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    reply.input_tokens = call.input_tokens = _int(usage.get("prompt_tokens"))
    reply.output_tokens = call.output_tokens = _int(usage.get("completion_tokens"))
    answer = answer_from_body(body)
    if answer is None:
        reply.outcome, reply.error = INVALID, NO_MESSAGE
    else:
        call.raw = capped(redact(answer.content))
        call.raw_chars = len(answer.content) if answer.content is not None else None
        interpret(answer, prompt, reply, redact)
    call.outcome, call.error = reply.outcome, reply.error
    return reply


def unreadable_reply(reason: str) -> Reply:
    """A batch line that cannot be read as text (not UTF-8, a lone surrogate): that paper's invalid outcome."""
    reason = _shorten(reason)
    call = Call(ask=1, attempt=1, outcome=INVALID, error=reason, at=utc_now())
    return Reply(outcome=INVALID, error=reason, latency_ms=None, calls=[call])


def _result_error(error, status: int | None, body) -> str:
    """What a failed batch line says went wrong: "HTTP 500: message", "code: message" or the message."""
    message = _message_in(error) or _message_in(body)
    code = error.get("code") if isinstance(error, dict) and isinstance(error.get("code"), str) else None
    if status is not None and status != 200:
        return f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if message:
        return f"{code}: {message}" if code and code not in message else message
    return "the engine returned no response for this request"


def _message_in(value) -> str | None:
    """The message of an error in any of the shapes engines use: a string, {"message"}, {"error": {...}}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if isinstance(value.get("message"), str):
            return value["message"]
        return _message_in(value.get("error"))
    return None
