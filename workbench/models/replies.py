"""What a reply means: one reader for a completion's answer, live (the SDK's object) or from a batch
line (its JSON body), and the steps after it - truncated, refused, ok or invalid against the schema,
the re-ask message, a batch line as a reply."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from workbench.json_text import UnreadableJson, decode, read_json
from workbench.models.base import MAX_REASK_CHARS, Reply, capped, shorten
from workbench.models.transport import redact_key
from workbench.prompts import Prompt
from workbench.records import Call
from workbench.schema import Summary
from workbench.vocab import ERROR, FIELDS, INVALID, OK, REFUSED, TRUNCATED, utc_now


def _part(value, name: str):
    """A field of the SDK's object or of its JSON body, the same way (None when it has none)."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def read_answer(completion) -> Answer | None:
    """The first choice's message of a completion - the SDK's object (a live reply) or its JSON body (a
    batch line's response body) - or None when it does not have one."""
    try:
        choice = _part(completion, "choices")[0]
        message = _part(choice, "message")
        if message is None or (isinstance(choice, dict) and not isinstance(message, dict)):
            return None
        return _answer(_part(message, "content"), _part(choice, "finish_reason"), _part(message, "refusal"))
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


def read_usage(completion) -> tuple[int | None, int | None]:
    """(input tokens, output tokens) a completion reports, object or body (None: not a count)."""
    usage = _part(completion, "usage")
    return count_or_none(_part(usage, "prompt_tokens")), count_or_none(_part(usage, "completion_tokens"))


NO_MESSAGE = "the response has no message in its first choice"


class Invalid(Exception):
    """The reply text did not match the schema."""


@dataclass(slots=True)
class Answer:
    """The parts of a completion we use, read defensively (a malformed body is an `invalid` reply)."""

    content: str | None
    finish_reason: str | None
    refusal: str | None
    problem: str | None = None  # the text was not valid Unicode (mended): the reply is invalid


def _answer(content, finish_reason, refusal) -> Answer:
    """An answer from a reply's parts, its text through the one decoder (a lone surrogate makes it invalid)."""
    content, problem = decode(content if content is None or isinstance(content, str) else json.dumps(content,
                                                                                                     default=str))
    return Answer(content=content, finish_reason=finish_reason if isinstance(finish_reason, str) else None,
                   refusal=decode(refusal)[0] if isinstance(refusal, str) else None, problem=problem)


_MAX_COUNT = 2 ** 53  # a server's token counts and status codes: anything past this is not a count


def count_or_none(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT else None


def interpret(answer: Answer, prompt: Prompt, reply: Reply, redact: Callable[[str], str]) -> None:
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
        reply.error = shorten(redact(answer.refusal or "the endpoint's content filter stopped the reply"))
        reply.raw = reply.raw or capped(redact(answer.refusal))
    else:
        try:
            reply.summary, reply.evidence_given = parse_summary(content)
            reply.outcome, reply.error = OK, None
        except Invalid as exc:
            reply.summary, reply.outcome, reply.error = None, INVALID, shorten(redact(str(exc)))


def reask_messages(content: str | None, error: str | None) -> list[dict]:
    """What goes back to the model after an invalid reply: its reply (capped) and what was wrong."""
    return [
        {"role": "assistant", "content": capped(content or "", MAX_REASK_CHARS)},
        {"role": "user", "content": f"That reply is not valid: {error}. Reply again with only the JSON object, "
                                    "with every key of the shape above and a verbatim quote for each non-null field."},
    ]


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.S)


def parse_summary(text: str | None) -> tuple[Summary, bool]:
    """(summary, evidence given) from a reply; for text mode, find the JSON object in it.

    Lenient where it costs no truth: a reply whose values are good but whose
    evidence is missing or malformed keeps its values (evidence given: False;
    grounding then aligns the values themselves). Anything else that does not
    match the schema is invalid.
    """
    if not text or not text.strip():
        raise Invalid("the reply is empty")
    body = text.strip()
    if body.startswith("```") or body.endswith("```"):  # the pattern scans every position: only when it can match
        body = _FENCE.sub("", body)
    try:
        data = read_json(body)
    except UnreadableJson:
        start, end = body.find("{"), body.rfind("}")  # prose around an object: read the object
        if start < 0 or end <= start:
            raise Invalid("the reply is not valid JSON (no JSON object in it)") from None
        try:
            data = read_json(body[start:end + 1])
        except UnreadableJson as exc:
            raise Invalid(f"the reply is not valid JSON ({exc})") from None
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
        raise Invalid(f"{where}: {first['msg']}") from None


def reply_from_result(line: dict, prompt: Prompt, redact=redact_key) -> Reply:
    """One line of a batch engine's output or error file (the OpenAI Batch API, `vllm run-batch`) as the
    reply to the one request it answers: ask 1, attempt 1 (a batch has no re-ask), read as a live reply is.

    Shapes: {"custom_id", "response": {"status_code", "request_id", "body": <chat.completion>}, "error": null};
    a failed request has "error" set (an object, or vLLM's string) and "response" null or a non-200 status.
    """
    response = line.get("response") if isinstance(line.get("response"), dict) else {}
    status = count_or_none(response.get("status_code"))
    body = response.get("body")
    call = Call(ask=1, attempt=1, outcome=ERROR, http_status=status, at=utc_now())
    reply = Reply(outcome=ERROR, latency_ms=None, calls=[call])
    error = line.get("error")
    if error or status not in (None, 200) or not isinstance(body, dict):
        reply.error = call.error = shorten(redact(_result_error(error, status, body)))
        return reply
    call.http_status = 200
    reply.input_tokens, reply.output_tokens = call.input_tokens, call.output_tokens = read_usage(body)
    answer = read_answer(body)
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
    reason = shorten(reason)
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
    """The message of an error in any of the shapes engines use: a string, {"message"}, {"error": {...}}
    (followed a few levels down, never recursively: a line nested 1,200 deep ended a collect)."""
    for _ in range(8):
        if isinstance(value, str):
            return value
        if not isinstance(value, dict):
            return None
        if isinstance(value.get("message"), str):
            return value["message"]
        value = value.get("error")
    return None