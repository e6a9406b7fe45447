"""The interface every suggestion provider implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from workbench.prompts import Prompt
from workbench.schema import Summary

OUTCOMES = ("ok", "invalid", "refused", "truncated", "error")


@dataclass(slots=True)
class Reply:
    """What one request produced. Never raises for model faults: they are outcomes."""

    outcome: str
    summary: Summary | None = None
    error: str | None = None  # short, never contains the API key
    raw: str | None = None  # the model's reply text as received
    input_tokens: int | None = None
    output_tokens: int | None = None
    attempts: int = 1
    latency_ms: int = 0


class Model(Protocol):
    name: str

    def params(self, prompt: Prompt) -> dict:
        """The request parameters that shape the output: part of a suggestion's identity."""

    async def summarise(self, title: str, abstract: str, prompt: Prompt) -> Reply:
        """Suggest a summary for one abstract."""

    async def aclose(self) -> None:
        """Release connections."""
