"""Rows built by hand for tests that need a store in a known state."""

from __future__ import annotations

from workbench.grounding import Span
from workbench.records import SuggestionRow
from workbench.store import ensure_prompt, get_suggestion, save_suggestion
from workbench.vocab import FIELDS


def add_suggestion(db, pid: str, prompt_id: str, prompt_name: str, model: str, values: dict, *, outcome="ok",
                   evidence: dict | None = None, warnings: list | None = None, latency=100, tokens=(10, 5),
                   params="{}", suggestion_id: str | None = None, created_at="2026-11-23T10:00:00Z",
                   batch_id: str | None = None) -> SuggestionRow:
    """Store a suggestion (and its prompt) as a model run would have; returns it as read back."""
    from workbench.records import SuggestionKey

    ensure_prompt(db, prompt_id, prompt_name, "test prompt", "body")
    sid = suggestion_id or SuggestionKey(prompt_id, model, params).suggestion_id(pid)
    row = SuggestionRow(
        id=sid, paper_id=pid, prompt_id=prompt_id, prompt_name=prompt_name, model=model, params=params,
        outcome=outcome, error=None if outcome == "ok" else "HTTP 500",
        values={f: (values.get(f) if outcome == "ok" else None) for f in FIELDS},
        evidence={f: Span(**(evidence or {})[f]) if (evidence or {}).get(f) else None for f in FIELDS},
        warnings=warnings or [], input_tokens=tokens[0], output_tokens=tokens[1], latency_ms=latency, attempts=1,
        created_at=created_at, batch_id=batch_id,
    )
    save_suggestion(db, row, [])
    return get_suggestion(db, sid)
