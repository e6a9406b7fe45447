"""What the model said, beside what was stored after the prompt's checks (the review's `m` page). No Textual."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.checks import CHECK_KINDS
from workbench.records import SuggestionRow
from workbench.vocab import FIELDS


@dataclass(frozen=True, slots=True)
class ModelSaid:
    """One suggestion's reply as the model wrote it and as it was stored."""

    label: str  # prompt@hash · model
    said: dict[str, str | None] | None  # the reply's fields, read as the live path reads a reply (None: unreadable)
    quotes: dict[str, str | None] | None  # the reply's evidence (None: it gave none, or it is unreadable)
    stored: dict[str, str | None]  # the checked values, as stored
    changes: tuple[dict, ...]  # the checks' warnings: what each dropped
    raw: str | None  # the reply text as received (shown when it cannot be read)
    problem: str | None = None  # why the raw reply cannot be read

    @property
    def changed_fields(self) -> tuple[str, ...]:
        if self.said is None:
            return ()
        return tuple(f for f in FIELDS if self.said.get(f) != self.stored.get(f))


def model_said(suggestion: SuggestionRow | None) -> ModelSaid | None:
    """The suggestion's raw reply read back (None: no suggestion, or one that failed)."""
    if suggestion is None or not suggestion.ok:
        return None
    from workbench.models.replies import Invalid, parse_summary  # pydantic: only when the page opens

    changes = tuple(w for w in suggestion.warnings if w.get("kind") in CHECK_KINDS)
    try:
        summary, evidence_given = parse_summary(suggestion.raw)
    except Invalid as exc:
        return ModelSaid(suggestion.label, None, None, dict(suggestion.values), changes, suggestion.raw, str(exc))
    return ModelSaid(suggestion.label, summary.fields(), summary.quotes() if evidence_given else None,
                     dict(suggestion.values), changes, suggestion.raw)
