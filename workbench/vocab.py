"""The domain's words, defined once: fields, statuses, outcomes, queues, warning kinds, labels.

Every module takes these names from here. A change of vocabulary that reaches
the store (a new status or outcome) also needs a new migration: shipped
migrations hold their own literal copies.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

# --------------------------------------------------------------------------- the summary's fields

FIELDS = ("technique", "claimed_gain", "compute")
FIELD_LABELS = {"technique": "Technique", "claimed_gain": "Claimed gain", "compute": "Compute"}
NOTES = "notes"
NOTES_LABEL = "Notes"
# Fields whose numbers are checked against the abstract (a number not in it is likely invented).
NUMBER_FIELDS = ("claimed_gain", "compute")


def field_label(field: str) -> str:
    """"Claimed gain", or "Notes" for the form's notes field."""
    return FIELD_LABELS.get(field, NOTES_LABEL)


def field_name(field: str) -> str:
    """Lower-case label for running text and reports: "claimed gain"."""
    return field_label(field).lower()


# --------------------------------------------------------------------------- decisions

ACCEPTED, EDITED, REJECTED = "accepted", "edited", "rejected"
STATUSES = (ACCEPTED, EDITED, REJECTED)
STATUS_STYLES = {ACCEPTED: "green", EDITED: "yellow", REJECTED: "red"}
STATUS_MARKS = {ACCEPTED: "✓", EDITED: "✎", REJECTED: "✗"}

# --------------------------------------------------------------------------- suggestions

OK, INVALID, REFUSED, TRUNCATED, ERROR = "ok", "invalid", "refused", "truncated", "error"
OUTCOMES = (OK, INVALID, REFUSED, TRUNCATED, ERROR)

# Grounding of one field's evidence in the abstract.
EXACT, FUZZY, UNGROUNDED, MISSING = "exact", "fuzzy", "ungrounded", "missing"

# Warning kinds stored with a suggestion (JSON list of {"field", "kind", ...}).
NUMBER_NOT_IN_ABSTRACT = "number_not_in_abstract"
UNGROUNDED_QUOTE = "ungrounded_quote"
VALUE_NOT_IN_QUOTE = "value_not_in_quote"
INSTRUCTION_IN_TEXT = "instruction_in_text"
EVIDENCE_MISSING = "evidence_missing"
# Warnings of the checks a prompt declares (checks.py): each names what was dropped from the model's reply.
FIGURE_NOT_IN_ABSTRACT = "figure_not_in_abstract"  # an item with a number the abstract lacks was dropped
GAIN_WITHOUT_FIGURE = "gain_without_figure"  # a claimed gain with no figure from the abstract became null
REPEATED_ITEM = "repeated_item"  # an item that repeats an earlier one was removed

# --------------------------------------------------------------------------- review queues

# Each a named selector in review/queues.py. todo: undecided; all: every paper; flagged; rejected and
# edited: by status; disagreements: two annotators differ; doubt: undecided, most doubtful first;
# changed: the abstract changed after the decision.
TODO, ALL, FLAGGED, DISAGREEMENTS, DOUBT, CHANGED = "todo", "all", "flagged", "disagreements", "doubt", "changed"
QUEUES = (TODO, ALL, FLAGGED, REJECTED, EDITED, DISAGREEMENTS, DOUBT, CHANGED)
SEARCH_QUEUE_PREFIX = "search:"

# --------------------------------------------------------------------------- models

OFFLINE = "offline"


def prompt_label(name: str, prompt_id: str) -> str:
    """A prompt version as people read it: name@first-8-of-hash."""
    return f"{name}@{prompt_id[:8]}"


def source_label(prompt_name: str, prompt_id: str, model: str) -> str:
    return f"{prompt_label(prompt_name, prompt_id)} · {model}"


def estimated_cost(input_tokens: int, output_tokens: int, price: tuple[float, float] | None) -> float | None:
    """USD for the tokens at (input, output) USD per million; None without a price."""
    if price is None:
        return None
    return input_tokens / 1e6 * price[0] + output_tokens / 1e6 * price[1]


# A batch engine (the OpenAI Batch API) charges this share of the live price.
BATCH_PRICE_SHARE = 0.5


def batch_price(price: tuple[float, float] | None) -> tuple[float, float] | None:
    """The price of a request made in a batch, from the live (input, output) price."""
    return None if price is None else (price[0] * BATCH_PRICE_SHARE, price[1] * BATCH_PRICE_SHARE)


# --------------------------------------------------------------------------- batches

# Where a batch runs: a Batch API endpoint (upload, create, poll, download) or files only
# (request files for `vllm run-batch`, results files collected from it).
ENGINE_API, ENGINE_FILE = "api", "file"
# A batch's state: ours before the engine has it, then the engine's own status.
WRITTEN, UPLOADED = "written", "uploaded"
COMPLETED, FAILED, EXPIRED, CANCELLED = "completed", "failed", "expired", "cancelled"
BATCH_ENDED = (COMPLETED, FAILED, EXPIRED, CANCELLED)  # the engine will not change it again


NUL_STORED_AS = "\ufffd"  # PostgreSQL text cannot hold NUL: a paper's text keeps U+FFFD for it on every backend


def collapse_whitespace(text: str) -> str:
    """Runs of any white space (tabs, newlines, NBSP) become one space; ends trimmed."""
    return " ".join(text.split())


_NOW = [0, ""]  # the last second formatted, and its text: a run stores thousands of rows a second
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # 2026-11-23T12:00:00Z: fixed width, so the text sorts as the time does


def utc_now() -> str:
    """The one time format of the store and the exports: UTC to the second, ISO 8601."""
    second = int(time.time())
    if second != _NOW[0]:
        _NOW[1] = time.strftime(TIME_FORMAT, time.gmtime(second))
        _NOW[0] = second
    return _NOW[1]


_TIME_SHAPE = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")  # strptime alone takes 2026-1-2T3:4:5Z


def parse_utc_time(text: str) -> datetime | None:
    """A time in utc_now's format, or None for any other text or an impossible date."""
    if not _TIME_SHAPE.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


# Limits on numbers that reach a request: the same bound for a command-line option, a config value
# and what a server reports about itself.
MAX_TIMEOUT_SECONDS = 86_400  # a day: past that a request is not waiting, it is lost
MAX_CONCURRENCY = 256  # requests at once (--concurrency, a server's /props slots)
MAX_PRICE = 1_000_000  # USD per million tokens (--price-in/--price-out, [prices."MODEL"]): past that, a typo

# --------------------------------------------------------------------------- working as a team

# An adjudicated decision is stored as its own annotator role: the adjudicator's name with this suffix
# (ana adjudicating is "ana@adjudicated"), so it never counts as one of a paper's decisions and never
# replaces ana's own decision on the paper.
ADJUDICATED_SUFFIX = "@adjudicated"
LEASE_SECONDS = 1800  # a paper on screen holds its slot this long, renewed while it stays there
MAX_PER_PAPER = 50  # decisions a paper can need (`team per-paper K`)


def adjudicator_role(name: str) -> str:
    return name + ADJUDICATED_SUFFIX


def is_adjudication(annotator: str) -> bool:
    return annotator.endswith(ADJUDICATED_SUFFIX)


# Papers of the team's progress (`team status`): every decision it needs, no decision nor hold yet,
# in between, and complete but with decisions that differ and no adjudicated one.
COMPLETE, IN_PROGRESS, NOT_STARTED, AWAITING_ADJUDICATION = "complete", "in_progress", "not_started", "awaiting_adjudication"

# A decision's limits, the same for the review's form and for an import, so whatever is saved exports and
# imports back.
MAX_DECISION_VALUE_CHARS = 2_000
MAX_NOTES_CHARS = 10_000

# The summary's limits (schema.py validates with them; the offline rules keep within them without
# importing pydantic, which the review's first frame does not need).
MAX_VALUE_CHARS = 600
MAX_QUOTE_CHARS = 1500
NULL_WORDS = frozenset({"null", "none", "n/a", "not stated", "not mentioned"})  # a value that means "none"
