"""Getting a request to an OpenAI-compatible server and back: our queue in front of the server's
(`Gate`), requests per minute (`RateLimiter`), which failures are retried and how long to wait
(tenacity owns every retry: the client has max_retries=0), our own `DeadlinePassed`, and keeping the
API key out of everything kept or shown. Nothing here reads what a reply means: see `replies`."""

from __future__ import annotations

import asyncio
import email.utils
import functools
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import openai

from workbench.json_text import decode


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    max_total_seconds: float = 300.0
    backoff_base: float = 1.0
    backoff_max: float = 30.0


MAX_RETRY_AFTER_SECONDS = 120.0


# This many requests in a row that got no HTTP answer at all (refused, reset,
# timed out) mean the endpoint is down: the run stops instead of trying every paper.
DOWN_AFTER_FAILURES = 8


class Gate:
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


class RateLimiter:
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


_KEYLIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_*\-]{6,}")


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
    """The key in any case, each character also as a JSON escape (`\\u0073` is `s`): a server that
    escapes the key it echoes must not get it past redaction into the parsed fields."""
    return re.compile("".join(f"(?:{re.escape(c)}|\\\\u{ord(c):04x})" for c in key), re.IGNORECASE)


def is_quota(exc: BaseException) -> bool:
    if not isinstance(exc, openai.APIStatusError) or exc.status_code != 429:
        return False
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    return "insufficient_quota" in (getattr(exc, "code", None) or "", error.get("code") or "", error.get("type") or "")


_CUT_SHORT = re.compile(r"without sending complete message body(?: \((received \d+ bytes, expected \d+)\))?")


def cut_short(exc: BaseException) -> str | None:
    """How much of a reply arrived when the server answered, then closed the connection before the body's end
    ("received 208 bytes, expected 417"; the HTTP library's words, found in the cause of the client's
    connection error); None when it is not that (no answer at all: the endpoint may be down)."""
    cause, depth = exc.__cause__ or exc.__context__, 0
    while cause is not None and depth < 8:
        found = _CUT_SHORT.search(str(cause)[:500])
        if found:
            return found.group(1) or "part of it"
        cause, depth = cause.__cause__ or cause.__context__, depth + 1
    return None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (DeadlinePassed, openai.APIConnectionError)):  # APIConnectionError includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return (status in (408, 409) or status >= 500 or status == 429) and not is_quota(exc) \
            and not format_unsupported(exc)
    return False


_FORMAT_WORDS = re.compile(r"response[_ ]format|json[_ ]schema|json_object|structured output|grammar", re.I)


_UNSUPPORTED_WORDS = re.compile(r"not (?:be )?supported|unsupported|not implemented|unknown|invalid|unrecognized"
                                r"|not allowed|cannot|can't|does not support|failed to", re.I)


def format_unsupported(exc: openai.APIStatusError) -> bool:
    """A 400/422/500 whose message says the response format is the problem (llama-cpp-python answers
    a json_schema request with 500; others with 400): falling back to another mode is the fix."""
    if exc.status_code not in (400, 422, 500, 501):
        return False
    message = error_message(exc)
    return bool(_FORMAT_WORDS.search(message) and _UNSUPPORTED_WORDS.search(message))


def retry_after_seconds(exc: BaseException | None) -> float | None:
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


def error_message(exc: openai.APIStatusError) -> str:
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