"""Rows as they travel between modules: named fields, not dict keys every reader spells out.

The store builds these; the review session, the exports and the TUI read them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import NamedTuple

from workbench.grounding import Span
from workbench.safe_text import is_clean, one_line
from workbench.vocab import (
    ACCEPTED, ADJUDICATED_SUFFIX, BATCH_ENDED, EDITED, FIELDS, OK, REJECTED, prompt_label, source_label,
)

MAX_ANNOTATOR_CHARS = 100


def annotator_problem(name: object) -> str | None:
    """Why a string cannot be an annotator's name (None when it can): the same rule for
    `review --annotator` and for imported records."""
    if not isinstance(name, str) or not name.strip():
        return "must be a non-empty string"
    if name != name.strip():
        return "has blanks around it"
    if len(name) > MAX_ANNOTATOR_CHARS:
        return f"is longer than {MAX_ANNOTATOR_CHARS} characters"
    if not is_clean(name):
        return "contains control characters"
    if name.endswith(ADJUDICATED_SUFFIX):  # an adjudicator's role: a person's name, then the suffix once
        person = name[:-len(ADJUDICATED_SUFFIX)]
        if not person.strip() or person != person.strip() or person.endswith(ADJUDICATED_SUFFIX):
            return f"is not an adjudicator's role (a person's name, then {ADJUDICATED_SUFFIX} once)"
    return None


def no_decisions(option: str, name: str, known: list[str], problem: str = "has no decisions in this store") -> str:
    """The one line for an annotator option that names nobody with decisions here (most likely a typo):
    the name and who does have decisions, each bounded and safe to print (at most ten names)."""
    shown = [one_line(who, 40) for who in known[:10]] + ([f"and {len(known) - 10} more"] if len(known) > 10 else [])
    return f"{option}: '{one_line(name, 60)}' {problem} (known: {', '.join(shown) or 'none'})"


Values = dict[str, "str | None"]  # field -> value (None: not stated)


def no_values() -> Values:
    return {f: None for f in FIELDS}


def edited_fields(values: Values, suggested: Values | None) -> list[str]:
    """Fields whose final value differs from the suggestion (every filled one if there was none)."""
    if suggested is None:
        return [f for f in FIELDS if values.get(f) is not None]
    return [f for f in FIELDS if values.get(f) != suggested.get(f)]


def status_problem(status: str, values: Values, suggested: Values | None) -> str | None:
    """Why these values cannot have this status (None when they can): a rejection states no values
    (the review stores it with every field null), and `accepted` is the suggestion taken as is."""
    if status == REJECTED:
        filled = [f for f in FIELDS if values.get(f) is not None]
        if filled:
            return f"'status' is rejected but '{filled[0]}' has a value; a rejection's fields are all null"
    elif status == ACCEPTED:
        changed = edited_fields(values, suggested)
        if changed and suggested is None:
            return (f"'status' is accepted but '{changed[0]}' has a value and the record names no suggestion; "
                    "a value not taken from a suggestion makes it edited")
        if changed:
            return (f"'status' is accepted but '{changed[0]}' differs from the suggestion it names; "
                    "a changed value makes it edited")
    elif status == EDITED and suggested is not None and any(v is not None for v in suggested.values()) \
            and not edited_fields(values, suggested):
        # Only a suggestion with values was ok (a failed one has none), and the review saves an ok one unchanged as
        # accepted; a form saved empty on a failed one was stored as edited before that was refused: it imports.
        return "'status' is edited but every field is the suggestion's it names; unchanged, it is accepted"
    return None


@dataclass(frozen=True, slots=True)
class SuggestionKey:
    """What a suggestion is made with: one prompt version, model and set of request parameters
    (canonical JSON). A paper and a key name one suggestion; batches name their lines by the key's hash."""

    prompt_id: str
    model: str
    params: str

    @property
    def hash(self) -> str:
        """The key in 16 hex digits: the end of a batch line's custom_id, and a batch's `key`."""
        return hashlib.sha1("\x1f".join((self.prompt_id, self.model, self.params)).encode()).hexdigest()[:16]

    def suggestion_id(self, paper_id: str) -> str:
        """The id of the paper's suggestion with this key (the same for every rerun: reruns replace it)."""
        key = "\x1f".join((paper_id, self.prompt_id, self.model, self.params))
        return hashlib.sha1(key.encode()).hexdigest()[:16]

    def custom_id(self, paper_id: str) -> str:
        """A batch request line's id: `<paper id>:<key hash>`."""
        return custom_id(paper_id, self.hash)


def custom_id(paper_id: str, key_hash: str) -> str:
    """A batch request line's id from a paper and a key's hash (a batch record keeps the hash)."""
    return f"{paper_id}:{key_hash}"


# A paper's metadata, when a dump has it: the one list of these names.
PAPER_METADATA = ("authors_count", "published", "published_iso", "upvotes", "organization")


class ParsedRow(NamedTuple):
    """One parsed paper on its way to the store (a tuple: cheap to pickle from ingest's parser process)."""

    id: str
    content_hash: str
    title: str
    abstract: str
    authors_count: int | None
    published: str | None
    published_iso: str | None
    upvotes: int | None
    organization: str | None
    position: int
    line: int

    @property
    def metadata(self) -> tuple:
        """The PAPER_METADATA values, in that order (they are fields 4 to 8)."""
        return self[4:9]


@dataclass(slots=True, frozen=True)
class PaperRow:
    id: str
    seq: int
    title: str
    abstract: str
    authors_count: int | None = None
    published: str | None = None
    published_iso: str | None = None
    upvotes: int | None = None
    organization: str | None = None
    content_hash: str | None = None  # of the title and this abstract: the revision suggestions and decisions name


@dataclass(slots=True, frozen=True)
class SearchHit:
    id: str
    seq: int
    title: str
    status: str | None = None  # the annotator's decision, when the search knows who asks


@dataclass(slots=True)
class SuggestionRow:
    id: str
    paper_id: str
    prompt_id: str
    prompt_name: str
    model: str
    params: str
    outcome: str
    error: str | None
    values: Values
    evidence: dict[str, Span | None]
    warnings: list[dict]
    raw: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int | None = None
    attempts: int | None = None
    created_at: str = ""
    batch_id: str | None = None  # the batch that made it; None for a live request
    content_hash: str | None = None  # the paper text it was made from (None: the current one, when stored)

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    @property
    def key(self) -> SuggestionKey:
        return SuggestionKey(self.prompt_id, self.model, self.params)

    @property
    def prompt_label(self) -> str:
        return prompt_label(self.prompt_name, self.prompt_id)

    @property
    def label(self) -> str:
        return source_label(self.prompt_name, self.prompt_id, self.model)

    def snapshot(self) -> dict:
        """What an annotation keeps of the suggestion it started from, as the reviewer saw it."""
        return {"prompt": self.prompt_name, "prompt_hash": self.prompt_id, "model": self.model,
                "fields": dict(self.values)}


@dataclass(slots=True)
class AnnotationRow:
    paper_id: str
    annotator: str
    status: str | None  # None: only flagged, not decided
    flagged: bool
    values: Values
    notes: str | None = None
    suggestion_id: str | None = None
    suggested: dict | None = None  # snapshot of the suggestion it started from (see SuggestionRow.snapshot)
    seconds_spent: float = 0.0
    created_at: str = ""
    updated_at: str = ""
    field_sources: dict[str, str] | None = None  # field -> where its value came from, when picked per field
    version: int = 0  # the id of the event that made this row: what a later write names as based_on
    decided_on: str | None = None  # content hash of the paper text it was decided on (None: not known)

    @property
    def decided(self) -> bool:
        return self.status is not None

    def says_the_same(self, other: AnnotationRow | None) -> bool:
        """A decision that says what `other` would: status, fields, notes, the text decided on and the
        suggestion it started from (two windows of one annotator that saved the same thing have nothing to
        choose between; the same values taken from another model's suggestion are another decision)."""
        def said(row: AnnotationRow) -> tuple:
            return (row.status, dict(row.values), row.notes, row.decided_on, row.suggestion_id, row.field_sources)
        return other is not None and self.decided and said(self) == said(other)

    def suggested_values(self) -> Values | None:
        return None if self.suggested is None else self.suggested.get("fields")

    def edited_fields(self) -> list[str]:
        """The fields the reviewer changed; none for a rejection (it edits nothing: it says no)."""
        if self.status == "rejected":
            return []
        return edited_fields(self.values, self.suggested_values())


@dataclass(slots=True, frozen=True)
class TitledAnnotation:
    title: str
    annotation: AnnotationRow


@dataclass(slots=True, frozen=True)
class AttemptRow:
    id: int
    suggestion_id: str
    paper_id: str
    title: str
    prompt_label: str
    model: str
    ask: int
    attempt: int
    outcome: str
    http_status: int | None
    error: str | None
    raw: str | None
    raw_chars: int | None
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int | None
    batch_id: str | None
    at: str


@dataclass(slots=True)
class Call:
    """One model call as the attempts log keeps it (an HTTP request, or one offline run)."""

    ask: int
    attempt: int
    outcome: str
    http_status: int | None = None
    error: str | None = None
    raw: str | None = None
    raw_chars: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int | None = None
    request_hash: str | None = None
    batch_id: str | None = None
    at: str = ""


@dataclass(slots=True)
class BatchRow:
    """A batch as the store keeps it: a submitted batch, a request file written, or a results file collected."""

    id: str
    engine: str  # vocab.ENGINE_API or ENGINE_FILE
    prompt_id: str
    prompt_name: str
    model: str
    params: str
    key: str  # the suggestion key's hash: the end of each request's custom_id
    requests: int
    state: str
    created_at: str
    updated_at: str
    endpoint: str | None = None
    input_file: str | None = None
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    bytes: int | None = None
    completed: int | None = None
    failed: int | None = None
    errors: list[dict] | None = None  # the engine's validation errors: line, code, message, param
    stored: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    submitted_at: str | None = None
    ended_at: str | None = None
    collected_at: str | None = None

    @property
    def ended(self) -> bool:
        return self.state in BATCH_ENDED

    @property
    def label(self) -> str:
        return source_label(self.prompt_name, self.prompt_id, self.model)
