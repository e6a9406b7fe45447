"""The interface every suggestion provider implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from workbench.prompts import Prompt
from workbench.records import Call

if TYPE_CHECKING:
    from workbench.schema import Summary  # pydantic: imported by what builds one, not by the interface

# What is kept of a model's reply (in the store and the attempts log): a summary
# is ~1 KB, so this only bites on a runaway or hostile reply.
MAX_RAW_CHARS = 20_000
# What is sent back to the model of an invalid reply when asking again.
MAX_REASK_CHARS = 4_000
MAX_ERROR_CHARS = 300


def shorten(text: str | None) -> str:
    """An error message as kept and shown: one line, at most MAX_ERROR_CHARS."""
    return " ".join((text or "").split())[:MAX_ERROR_CHARS]


def capped(text: str | None, limit: int = MAX_RAW_CHARS) -> str | None:
    """The first `limit` characters, marked when cut."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit:,} more characters not kept]"


@dataclass(slots=True)
class Reply:
    """What one suggestion request produced. Never raises for model faults: they are outcomes."""

    outcome: str
    summary: Summary | None = None
    error: str | None = None  # short, never contains the API key
    raw: str | None = None  # the model's final reply text as received (capped)
    input_tokens: int | None = None
    output_tokens: int | None = None
    attempts: int = 1
    latency_ms: int | None = 0  # None: not measured (a batch line)
    evidence_given: bool = True  # False: the values were kept but the reply's evidence was missing or malformed
    calls: list[Call] = field(default_factory=list)  # every model call made, for the attempts log
    params: dict | None = None  # the request parameters actually used (a fallback may change them)


class Model(Protocol):
    """A suggestion provider: everything its callers (suggest, batch, review, cli) use, and nothing else."""

    name: str
    # True for a model that answers in well under a millisecond without I/O (the
    # offline rules): the review screen computes its suggestion with the paper
    # instead of in the background, so one is never pending.
    instant: bool
    endpoint: str | None  # where requests go, as shown and remembered (None: no endpoint)
    # A response format found to work during this run after the asked-for one was refused, for the
    # caller to remember and reset to None (None: nothing learned).
    learned_format: str | None

    def params(self, prompt: Prompt) -> dict:
        """The request parameters that shape the output: part of a suggestion's identity."""

    def note(self, prompt: Prompt) -> str | None:
        """What to tell the user once before using this prompt (None: nothing)."""

    def use_format(self, response_format: str) -> None:
        """Start from this response format (remembered for the endpoint) when the user asked for auto."""

    async def summarise(self, title: str, abstract: str, prompt: Prompt) -> Reply:
        """Suggest a summary for one abstract."""

    def summarise_now(self, title: str, abstract: str, prompt: Prompt) -> Reply:
        """The same without an event loop; only an `instant` model has it."""

    async def aclose(self) -> None:
        """Release connections."""


class ModelDefaults:
    """The members of `Model` most providers answer the same way."""

    instant = False
    endpoint: str | None = None
    learned_format: str | None = None

    def note(self, prompt: Prompt) -> str | None:
        return None

    def use_format(self, response_format: str) -> None:
        return None

    def summarise_now(self, title: str, abstract: str, prompt: Prompt) -> Reply:
        raise NotImplementedError(f"{type(self).__name__} is not an instant model")

    async def aclose(self) -> None:
        return None
