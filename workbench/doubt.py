"""How much a paper's suggestions need a human: the order of `review --queue doubt`.

A paper's doubt is the sum of:
- for each field, how much its sources (prompt versions and models with an ok suggestion)
  disagree: the mean of 1 - token F1 over every pair of them, times 2 (0 with one source);
- 1 for each field whose evidence is not found in the abstract, or whose value is not
  supported by its quote;
- 1 for each number in a field that the abstract does not contain;
- 1.5 for each value a check changed: an item with a figure not in the abstract dropped, a claimed
  gain without a figure made null (checks.py);
- 0.5 for each repeated item a check removed;
- 3 for text that reads as instructions to a model (a prompt injection in the abstract);
- 0.5 for each failed suggestion (invalid, refused, truncated, error);
- 1 when the paper has no ok suggestion at all.
Most doubtful first; the reasons are shown on the review screen.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from workbench.metrics import token_f1
from workbench.store import Grounded, Handle, grounded_suggestions
from workbench.vocab import (
    FIELDS, FIGURE_NOT_IN_ABSTRACT, GAIN_WITHOUT_FIGURE, INSTRUCTION_IN_TEXT, NUMBER_NOT_IN_ABSTRACT, OK,
    REPEATED_ITEM, UNGROUNDED, UNGROUNDED_QUOTE, VALUE_NOT_IN_QUOTE, field_name,
)

DISAGREEMENT_WEIGHT = 2.0
FAILED_WEIGHT = 0.5
INSTRUCTION_WEIGHT = 3.0
# A value a check changed (a figure dropped, a gain made null) weighs more than a number merely marked (1):
# the stored value is no longer what the model said, and only the abstract can tell whether the check
# caught an invention or threw away a real gain the model paraphrased (small models do, issue 24).
CHECK_CHANGE_WEIGHT = 1.5
# A repeat removed loses nothing (its words are in another item of the field): a nudge, as a failed
# suggestion, so such a paper comes before one nothing was found on.
REPEAT_WEIGHT = 0.5


@dataclass
class Doubt:
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def add(self, points: float, reason: str) -> None:
        if points > 0:
            self.score += points
            if reason not in self.reasons:
                self.reasons.append(reason)

    def text(self) -> str:
        return f"doubt {self.score:.1f}: " + "; ".join(self.reasons) if self.reasons else "no doubt found"


def paper_doubt(rows: list[Grounded]) -> Doubt:
    """Doubt from one paper's stored suggestions."""
    doubt = Doubt()
    ok = [r for r in rows if r.outcome == OK]
    doubt.add(FAILED_WEIGHT * (len(rows) - len(ok)), f"{len(rows) - len(ok)} failed suggestion(s)")
    if not ok:
        doubt.add(1.0, "no usable suggestion")
        return doubt
    for index, name in enumerate(FIELDS):
        values = [r.values[index] for r in ok]
        pairs = list(itertools.combinations(values, 2))
        if pairs:
            apart = sum(1 - token_f1(a, b) for a, b in pairs) / len(pairs)
            doubt.add(DISAGREEMENT_WEIGHT * apart, f"sources disagree on {field_name(name)}")
    for row in ok:
        for name in FIELDS:
            span = row.evidence.get(name)
            if span and span.status == UNGROUNDED:
                doubt.add(1.0, f"{field_name(name)} not found in the abstract")
        for warning in row.warnings:
            kind, name = warning.get("kind"), field_name(warning.get("field", ""))
            if kind == NUMBER_NOT_IN_ABSTRACT:
                doubt.add(1.0, f"{warning.get('number')} in {name} is not in the abstract")
            elif kind == VALUE_NOT_IN_QUOTE:
                doubt.add(1.0, f"{name} not supported by its quote")
            elif kind == INSTRUCTION_IN_TEXT:
                doubt.add(INSTRUCTION_WEIGHT, "the abstract addresses the model")
            elif kind == UNGROUNDED_QUOTE and not any(r.startswith(name) for r in doubt.reasons):
                doubt.add(1.0, f"{name} not found in the abstract")
            elif kind == FIGURE_NOT_IN_ABSTRACT:
                doubt.add(CHECK_CHANGE_WEIGHT, f"a check dropped a figure of {name} not in the abstract")
            elif kind == GAIN_WITHOUT_FIGURE:
                doubt.add(CHECK_CHANGE_WEIGHT, f"a check made {name} null: no figure from the abstract")
            elif kind == REPEATED_ITEM:
                doubt.add(REPEAT_WEIGHT, f"a check removed a repeated item of {name}")
    return doubt


def doubts(db: Handle, paper_ids: list[str] | None = None) -> dict[str, Doubt]:
    """paper id -> Doubt, for every paper with suggestions (or the ones given)."""
    return {pid: paper_doubt(rows) for pid, rows in grounded_suggestions(db, paper_ids).items()}
