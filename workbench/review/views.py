"""What the review screen shows, decided here: a paper with its suggestions and decision (`PaperView`),
each field with its grounding (`FieldView`), the sources side by side (`Source`, `sources`), a
decision composed from them (`Composition`), and what to tell the reviewer (`Notice`). No Textual."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.grounding import Span, ground_field
from workbench.metrics import exact, normalise_for_comparison
from workbench.records import AnnotationRow, PaperRow, SuggestionRow, Values, no_values
from workbench.store import clean_value
from workbench.vocab import ACCEPTED, EDITED, FIELDS, REJECTED


@dataclass(slots=True, frozen=True)
class Notice:
    """Something the reviewer should be told (the TUI shows it as a notification)."""

    message: str
    severity: str = "information"  # information | warning | error
    title: str = ""


@dataclass(slots=True, frozen=True)
class FieldView:
    """One field as the pane shows it: its value and how it is grounded in the abstract."""

    value: str | None
    span: Span | None
    warnings: tuple[dict, ...] = ()
    own: bool = False  # the reviewer's value (not the suggestion's): grounded by itself
    absent: bool = False  # nothing to show: no decision and no usable suggestion (yet)


@dataclass
class PaperView:
    paper: PaperRow
    annotation: AnnotationRow | None
    suggestions: list[SuggestionRow]  # every stored suggestion of the paper, oldest first
    shown: int | None  # index in `suggestions` of the one on screen
    others: list[AnnotationRow] = field(default_factory=list)  # the decisions being adjudicated
    pending: bool = False  # the active prompt/model's suggestion is under way
    picked: bool = False  # the reviewer chose the suggestion on screen with 1-9
    numbers: list[int] = field(default_factory=list)  # each suggestion's number (1-9) in this session

    @property
    def suggestion(self) -> SuggestionRow | None:
        return None if self.shown is None else self.suggestions[self.shown]

    @property
    def decided(self) -> bool:
        return self.annotation is not None and self.annotation.decided

    @property
    def text_changed(self) -> bool:
        """The decision was made on an older revision of the abstract."""
        decided_on = self.annotation.decided_on if self.decided else None
        return decided_on is not None and decided_on != self.paper.content_hash

    @property
    def shows_decision(self) -> bool:
        """The pane shows the reviewer's own values (an accepted or edited decision), unless a
        suggestion was picked with 1-9: `a` then confirms what is shown, never replaces it."""
        return self.decided and self.annotation.status in (ACCEPTED, EDITED) and not self.picked

    @property
    def keeps_decision(self) -> bool:
        """`a` keeps the reviewer's decision as it stands: their own values on the pane, or any decision (a
        rejection too) made on an older text, which `a` then says stands on this one. A pick (1-9) is accepted."""
        return self.shows_decision or (self.text_changed and not self.picked)

    def values(self) -> Values:
        if self.shows_decision:
            return dict(self.annotation.values)
        suggestion = self.suggestion
        return dict(suggestion.values) if suggestion is not None and suggestion.ok else no_values()

    def fields(self) -> dict[str, FieldView]:
        """What the pane shows for each field, grounded: the suggestion's evidence where the value is
        the suggestion's, else the value itself aligned to the abstract."""
        if not self.shows_decision and (self.suggestion is None or not self.suggestion.ok):
            return {f: FieldView(None, None, absent=True) for f in FIELDS}
        return {f: self.field_view(f, value) for f, value in self.values().items()}

    def field_view(self, name: str, value: str | None) -> FieldView:
        suggestion = self.suggestion
        if suggestion is not None and suggestion.ok and suggestion.values.get(name) == value and \
                (value is not None or not self.shows_decision):  # a value the checks set to none keeps its warning
            return FieldView(value, suggestion.evidence.get(name), tuple(w for w in suggestion.warnings
                                                                        if w.get("field") == name))
        if value is None:
            return FieldView(None, None)
        span, warnings = ground_field(name, value, None, self.paper.abstract, quote_expected=False)
        return FieldView(value, span, tuple(warnings), own=True)

    def evidence(self) -> dict[str, Span | None]:
        """The spans to highlight: the evidence of what the pane shows (and would be stored)."""
        return {f: view.span for f, view in self.fields().items()}


@dataclass(frozen=True)
class Source:
    """One column of the compare screen: a suggestion, or another annotator's decision."""

    label: str
    values: Values
    usable: bool  # an ok suggestion, or a decision that kept values (not rejected)
    suggestion: SuggestionRow | None = None
    annotator: str | None = None
    status: str | None = None  # the reviewer's decision (a decision's column only)

    @property
    def key(self) -> str:
        """How an annotation records where a field came from."""
        return f"annotator:{self.annotator}" if self.annotator else f"suggestion:{self.label}"

    @property
    def rejection(self) -> bool:
        """A reviewer's rejection: no values, and the decision is that there should be none."""
        return self.annotator is not None and not self.usable

    @property
    def heading(self) -> str:
        """What the column is: a reviewer's decision, or a suggestion (saying so when it failed)."""
        if self.annotator is not None:
            return f"{self.annotator}'s decision · {self.status}"
        suggestion = self.suggestion
        if suggestion is not None and not suggestion.ok:
            return f"suggestion {self.label} · failed ({suggestion.outcome})"
        return f"suggestion {self.label}"


def sources(view: PaperView, limit: int = 9) -> list[Source]:
    """The paper's suggestions (oldest first) and other annotators' decisions, at most `limit`:
    the decisions always (adjudication is what they are there for), as many suggestions as fit."""
    decisions = [Source(f"{other.annotator} ({other.status})", dict(other.values), other.status != REJECTED,
                        annotator=other.annotator, status=other.status) for other in view.others][:limit]
    suggestions = [Source(s.label, dict(s.values) if s.ok else no_values(), s.ok, suggestion=s)
                   for s in view.suggestions][:limit - len(decisions)]
    return suggestions + decisions


YOU = "you"


@dataclass
class Composition:
    """A decision put together in the compare screen: each field from a chosen source."""

    values: Values
    field_sources: dict[str, str]
    # The suggestion it is measured against (kept as the annotation's snapshot): the first one it
    # takes a field from, else the one on screen when compare opened. Taking a reviewer's column
    # does not make the suggestion disappear: `edited_fields` and the status compare with it.
    suggestion: SuggestionRow | None
    rejects: bool = False  # every field from a reviewer's rejection: the decision is a rejection

    @classmethod
    def of(cls, columns: list[Source], choice: dict[str, int], shown: SuggestionRow | None = None) -> "Composition":
        picked = {f: columns[choice[f]] for f in FIELDS}
        suggestion = next((picked[f].suggestion for f in FIELDS if picked[f].suggestion is not None), shown)
        return cls({f: picked[f].values.get(f) for f in FIELDS}, {f: picked[f].key for f in FIELDS}, suggestion,
                   rejects=all(picked[f].rejection for f in FIELDS))

    def typed_over(self, values: Values) -> dict[str, str]:
        """The sources after the reviewer edited the composed values: changed fields are theirs."""
        return {f: (self.field_sources[f] if clean_value(values.get(f)) == self.values.get(f) else YOU)
                for f in FIELDS}


def same_value(a: str | None, b: str | None) -> bool:
    """Whether two values shown side by side say the same (case, spacing and punctuation aside)."""
    return exact(a, b)


def comparable(value: str | None) -> str:
    """A value as compared for "the same as the others" in the sources screen."""
    return normalise_for_comparison(value)
