"""Any OpenAI-compatible Chat Completions endpoint (official API, vLLM, Ollama, llama.cpp).

Retries belong to tenacity alone (the client has max_retries=0): 408/409/429
(not insufficient_quota), 5xx, timeouts and connection errors, honouring
Retry-After (capped at 120 s), otherwise exponential backoff with jitter, within
a bounded number of attempts and total time. 401/403/404 and an exhausted quota
stop the whole run: every other request would fail the same way.

We call `chat.completions.create` with a strict JSON-Schema response_format and
validate locally, rather than `.parse()`: `.parse()` raises on an invalid reply
and the raw text and token usage are lost, and both must be recorded.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import openai
from openai import AsyncOpenAI
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_after_delay

from workbench.errors import AbortedRun, InputError
from workbench.models.base import Reply
from workbench.prompts import Prompt
from workbench.schema import Summary, summary_json_schema

OFFICIAL_BASE_URL = "https://api.openai.com/v1"
RESPONSE_FORMATS = ("json_schema", "json_object", "text")
MAX_RETRY_AFTER_SECONDS = 120.0
_KEYLIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_*\-]{6,}")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    max_total_seconds: float = 300.0
    backoff_base: float = 1.0
    backoff_max: float = 30.0


class _Invalid(Exception):
    """The reply text did not match the schema."""


class OpenAICompatibleModel:
    def __init__(
        self, name: str, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
        response_format: str = "json_schema", retry: RetryPolicy = RetryPolicy(), rpm: float | None = None,
    ):
        if response_format not in RESPONSE_FORMATS:
            raise InputError(f"--response-format must be one of {', '.join(RESPONSE_FORMATS)}")
        self.name = name
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or OFFICIAL_BASE_URL).rstrip("/")
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.base_url == OFFICIAL_BASE_URL:
                raise InputError(f"model '{name}' needs OPENAI_API_KEY for {OFFICIAL_BASE_URL} "
                                 "(or set OPENAI_BASE_URL to a local server)")
            key = "no-key"  # local servers (Ollama, llama.cpp) ignore it, the client wants one
        self._key = key
        self.endpoint = _public_url(self.base_url)
        self.response_format = response_format
        self.retry = retry
        self._limiter = _RateLimiter(rpm) if rpm else None
        self.client = AsyncOpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=timeout)

    def params(self, prompt: Prompt) -> dict:
        return {"temperature": prompt.temperature, "max_tokens": prompt.max_tokens,
                "response_format": self.response_format, "endpoint": self.endpoint}

    async def aclose(self) -> None:
        await self.client.close()

    # ------------------------------------------------------------------ one paper

    async def summarise(self, title: str, abstract: str, prompt: Prompt) -> Reply:
        started = time.perf_counter()
        messages = prompt.render(title, abstract, schema_in_prompt=self.response_format != "json_schema")
        reply = Reply(outcome="error", attempts=0)
        for ask in (1, 2):  # one re-ask on an invalid reply, with the validation error
            completion = await self._complete(messages, prompt, reply)
            if completion is None:
                break
            choice = completion.choices[0]
            message = choice.message
            reply.raw = self.redact(message.content) if message.content is not None else None
            if choice.finish_reason == "length":
                reply.outcome, reply.error = "truncated", f"the reply hit max_tokens ({prompt.max_tokens})"
                break
            refusal = getattr(message, "refusal", None)
            if refusal or choice.finish_reason == "content_filter":
                reply.outcome = "refused"
                reply.error = self.redact(refusal or "the endpoint's content filter stopped the reply")[:300]
                reply.raw = reply.raw or (self.redact(refusal) if refusal else None)
                break
            try:
                reply.summary = parse_summary(message.content)
                reply.outcome, reply.error = "ok", None
                break
            except _Invalid as exc:
                reply.outcome, reply.error = "invalid", str(exc)[:300]
                if ask == 1:
                    messages = messages + [
                        {"role": "assistant", "content": message.content or ""},
                        {"role": "user", "content": f"That reply is not valid: {exc}. Reply again with only "
                                                    "the JSON object, matching the schema exactly."},
                    ]
        reply.latency_ms = int((time.perf_counter() - started) * 1000)
        return reply

    async def _complete(self, messages: list[dict], prompt: Prompt, reply: Reply):
        """One completion with retries; on a final transient failure, fill `reply` and return None."""
        kwargs = {"model": self.name, "messages": messages, "temperature": prompt.temperature,
                  "max_tokens": prompt.max_tokens}
        if self.response_format == "json_schema":
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "summary", "strict": True, "schema": summary_json_schema()}}
        elif self.response_format == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            wait=self._wait,
            stop=stop_after_attempt(self.retry.max_attempts) | stop_after_delay(self.retry.max_total_seconds),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    reply.attempts += 1
                    if self._limiter:
                        await self._limiter.wait()
                    completion = await self.client.chat.completions.create(**kwargs)
        except asyncio.CancelledError:
            raise
        except openai.APIStatusError as exc:
            self._raise_if_fatal(exc)
            reply.outcome, reply.error = "error", self._describe(exc)
            return None
        except (openai.APIConnectionError, openai.APIResponseValidationError) as exc:
            reply.outcome, reply.error = "error", self._describe(exc)
            return None
        except Exception as exc:  # a malformed HTTP body, or anything else the client raises
            reply.outcome, reply.error = "invalid", self.redact(f"unreadable response: {type(exc).__name__}: {exc}")[:300]
            return None
        usage = getattr(completion, "usage", None)
        if usage is not None:
            reply.input_tokens = (reply.input_tokens or 0) + (usage.prompt_tokens or 0)
            reply.output_tokens = (reply.output_tokens or 0) + (usage.completion_tokens or 0)
        if not getattr(completion, "choices", None):
            reply.outcome, reply.error = "invalid", "the response has no choices"
            return None
        return completion

    # ------------------------------------------------------------------ failures

    def _raise_if_fatal(self, exc: openai.APIStatusError) -> None:
        status = exc.status_code
        if status == 401:
            raise AbortedRun(f"the endpoint {self.endpoint} rejected the API key (401 Unauthorized); check OPENAI_API_KEY")
        if status == 403:
            raise AbortedRun(f"the endpoint {self.endpoint} refused access to model '{self.name}' (403 Forbidden); "
                             "check OPENAI_API_KEY and the model's access")
        if status == 404:
            raise AbortedRun(f"the endpoint {self.endpoint} has no model '{self.name}' (404 Not Found); "
                             "check --model and OPENAI_BASE_URL")
        if _is_quota(exc):
            raise AbortedRun(f"the account behind OPENAI_API_KEY has no quota left at {self.endpoint} "
                             "(429 insufficient_quota)")

    def _describe(self, exc: Exception) -> str:
        if isinstance(exc, openai.APITimeoutError):
            text = "timed out"
        elif isinstance(exc, openai.APIConnectionError):
            text = f"cannot connect to {self.endpoint}"
        elif isinstance(exc, openai.APIStatusError):
            text = f"HTTP {exc.status_code}: {_error_message(exc)}"
        else:
            text = f"{type(exc).__name__}: {exc}"
        return self.redact(text)[:300]

    def redact(self, text: str | None) -> str | None:
        """Remove the API key (and anything key-shaped) from text we keep or show."""
        if text is None:
            return None
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "[redacted]")
        return _KEYLIKE.sub("[redacted]", text)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = _retry_after_seconds(exc)
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_SECONDS)
        backoff = self.retry.backoff_base * 2 ** (state.attempt_number - 1)
        return min(self.retry.backoff_max, backoff) * random.uniform(0.5, 1.5)


def _is_quota(exc: BaseException) -> bool:
    if not isinstance(exc, openai.APIStatusError) or exc.status_code != 429:
        return False
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    return "insufficient_quota" in (getattr(exc, "code", None) or "", error.get("code") or "", error.get("type") or "")


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return (status in (408, 409) or status >= 500 or status == 429) and not _is_quota(exc)
    return False


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
    except (TypeError, ValueError):
        return None
    return None


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc.message)


def _public_url(url: str) -> str:
    """The endpoint without credentials or query string, safe to store and print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.S)


def parse_summary(text: str | None) -> Summary:
    """Validate a reply against the schema; for text mode, find the JSON object in it."""
    if not text or not text.strip():
        raise _Invalid("the reply is empty")
    body = _FENCE.sub("", text.strip())
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end <= start:
            raise _Invalid("the reply is not valid JSON (no JSON object in it)") from None
        try:
            data = json.loads(body[start:end + 1])
        except json.JSONDecodeError as exc:
            raise _Invalid(f"the reply is not valid JSON ({exc.msg})") from None
    try:
        return Summary.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
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
