"""Edit effort: the characters a reviewer inserts and deletes to turn a suggestion into the decision.
Pure arithmetic on values; stdlib only (the README repeats the definitions).

- edit distance (`edit_distance`): insertions + deletions, no substitutions:
  len(a) + len(b) - 2 * LCS(a, b), over Unicode characters, case-sensitive. A metric: 0 only
  for equal strings, symmetric, the triangle inequality holds, between |len(a) - len(b)| and
  len(a) + len(b).
- per field: `typed` = edit distance from the suggested value to the decided one (null is the
  empty text: nothing to type); `scratch` = the decided value's length (typing it with no
  suggestion). A rejection, or a decision with no suggestion, counts as typing from scratch
  (typed = scratch), whatever the suggestion said.
- effort saved = 1 - typed / scratch, held between 0 and 1: a suggestion that costs more to fix
  than typing the value fresh saved nothing (the reviewer can clear it). With nothing to type
  (scratch 0: the decision is null): 1 when nothing was typed either (a null suggested and kept),
  0 when the suggested value had to be cleared. A rejection saved 0.
- a decision: typed and scratch summed over its fields, saved by the same rule; accepted as is
  when it started from a suggestion it did not reject and typed nothing.
- a group of decisions: the share accepted as is, the mean of the decisions' saved, the mean of
  each field's saved, and the unclamped character totals (typed, scratch).

Evidence quotes are not measured: a decision keeps no quotes, only the three fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from workbench.vocab import FIELDS, REJECTED

# Both texts' differing middles above this many characters each: the distance is taken as
# len(a) + len(b) (an upper bound: nothing shared) instead of computed. Values are bounded far
# below it at the door (600 characters from a model, 2,000 from an import), so it never applies
# to a stored value; it keeps a caller's oversized text from costing more than a few milliseconds.
MAX_COMPARED_CHARS = 20_000


def lcs_length(a: str, b: str) -> int:
    """Length of a longest common subsequence, exact. Bit-parallel (Allison & Dix 1986, Hyyrö
    2004): one row of the O(n·m) table is the bits of one integer, so the work is len(b) big-integer
    steps over len(a) bits, about n·m/64 machine words: 600 x 600 characters take well under a millisecond."""
    if not a or not b:
        return 0
    if len(b) > len(a):
        a, b = b, a  # the longer text in the bits
    masks: dict[str, int] = {}
    for i, ch in enumerate(a):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full
    for ch in b:
        match = row & masks.get(ch, 0)
        row = ((row + match) | (row - match)) & full
    return len(a) - row.bit_count()


def edit_distance(a: str | None, b: str | None) -> int:
    """Characters inserted plus deleted to turn a into b (None is the empty text)."""
    a, b = a or "", b or ""
    if a == b:
        return 0
    start = 0  # what both begin and end with costs nothing and is taken off first
    shorter = min(len(a), len(b))
    while start < shorter and a[start] == b[start]:
        start += 1
    end = 0
    while end < shorter - start and a[-1 - end] == b[-1 - end]:
        end += 1
    middle_a, middle_b = a[start:len(a) - end], b[start:len(b) - end]
    if min(len(middle_a), len(middle_b)) > MAX_COMPARED_CHARS:
        return len(middle_a) + len(middle_b)
    return len(middle_a) + len(middle_b) - 2 * lcs_length(middle_a, middle_b)


def saved(typed: int, scratch: int, from_scratch: bool = False) -> float:
    """Effort saved, between 0 and 1 (the module's rule for nothing to type and for a rejection)."""
    if from_scratch:
        return 0.0
    if scratch == 0:
        return 1.0 if typed == 0 else 0.0
    return max(0.0, 1.0 - typed / scratch)


@dataclass(frozen=True, slots=True)
class FieldEffort:
    typed: int  # characters inserted plus deleted from the suggestion
    scratch: int  # characters of the decided value
    saved: float


@dataclass(frozen=True, slots=True)
class DecisionEffort:
    fields: dict[str, FieldEffort]
    from_scratch: bool  # rejected, or no suggestion to start from

    @property
    def typed(self) -> int:
        return sum(f.typed for f in self.fields.values())

    @property
    def scratch(self) -> int:
        return sum(f.scratch for f in self.fields.values())

    @property
    def saved(self) -> float:
        return saved(self.typed, self.scratch, self.from_scratch)

    @property
    def as_is(self) -> bool:
        return not self.from_scratch and self.typed == 0


def decision_effort(suggested: Mapping[str, str | None] | None, final: Mapping[str, str | None],
                    status: str | None = None) -> DecisionEffort:
    """The effort of one decision (`final`, with its status) from the suggestion it started from
    (None: there was none)."""
    from_scratch = suggested is None or status == REJECTED
    fields = {}
    for name in FIELDS:
        value = final.get(name) or ""
        typed = len(value) if from_scratch else edit_distance(suggested.get(name), value)
        fields[name] = FieldEffort(typed, len(value), saved(typed, len(value), from_scratch))
    return DecisionEffort(fields, from_scratch)


@dataclass
class EffortTally:
    """Decisions' effort added up for a report."""

    decisions: int = 0
    as_is: int = 0
    saved_sum: float = 0.0
    typed: int = 0
    scratch: int = 0
    field_saved: dict[str, float] = field(default_factory=lambda: {f: 0.0 for f in FIELDS})

    def add(self, effort: DecisionEffort) -> None:
        self.decisions += 1
        self.as_is += effort.as_is
        self.saved_sum += effort.saved
        self.typed += effort.typed
        self.scratch += effort.scratch
        for name, one in effort.fields.items():
            self.field_saved[name] += one.saved

    def as_dict(self) -> dict:
        n = self.decisions
        mean = lambda total: round(total / n, 4) if n else None  # noqa: E731
        return {"decisions": n, "accepted_as_is": mean(self.as_is), "saved": mean(self.saved_sum),
                "fields": {f: mean(self.field_saved[f]) for f in FIELDS},
                "typed_chars": self.typed, "scratch_chars": self.scratch}
