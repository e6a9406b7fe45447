"""Batch results written in bulk: rows encoded where they were made (a worker process), written here
in key order.

`encode_batch_suggestion` turns a suggestion and its calls into the exact rows `save_batch_suggestions`
writes (mended, JSON encoded) - pure, so a worker process does it, not the one writing. `save_encoded_batch`
writes such rows with the same rule as `save_batch_suggestions` (a key's `ok` suggestion of the current
text stays, reported as kept; the attempts are appended either way), sorted by suggestion id: the
primary key's B-tree is then filled page by page instead of at random places. `save_encoded` writes a live
run's rows the same way (`suggest --workers`), with the live rule: the new suggestion is the key's current one.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.records import Call, SuggestionRow
from workbench.store._base import Handle, executemany, guarded, marks, transaction
from workbench.store.suggestions import (
    _INSERT_ATTEMPT, _INSERT_SUGGESTION, _UPSERT_FROM_BATCH, _attempt_values, _suggestion_values,
)
from workbench.vocab import OK


# Rows written per transaction in bulk (a collect, suggest on every core): a review's decision waits for the
# transaction under way, so it is short (README, *Benchmarks*: accept -> next paper during a collect).
WRITE_CHUNK = 100


@dataclass(slots=True)
class EncodedSuggestion:
    id: str
    outcome: str
    input_tokens: int | None
    output_tokens: int | None
    row: list  # the suggestions row, columns as _SUGGESTION_COLUMNS
    attempts: list[list]  # its attempts rows, columns as _ATTEMPT_COLUMNS
    error: str | None = None  # why it is not ok


def encode_batch_suggestion(suggestion: SuggestionRow, calls: list[Call]) -> EncodedSuggestion:
    """The rows of one batch line's suggestion; it must name the text it was made from (content_hash)."""
    if suggestion.content_hash is None:
        raise ValueError("a batch suggestion names the text it was made from")
    return EncodedSuggestion(suggestion.id, suggestion.outcome, suggestion.input_tokens, suggestion.output_tokens,
                             _suggestion_values(suggestion), [_attempt_values(suggestion, c) for c in calls],
                             suggestion.error)


@guarded
def save_encoded_batch(db: Handle, items: list[EncodedSuggestion]) -> set[str]:
    """Write encoded suggestions in one transaction, in key order; the ids whose `ok` suggestion stayed."""
    if not items:
        return set()
    items = sorted(items, key=lambda item: item.id)
    ids = [item.id for item in items]
    with transaction(db):
        kept = {r[0] for r in db.execute(
            f"SELECT s.id FROM suggestions s JOIN papers p ON p.id = s.paper_id AND p.content_hash = s.content_hash "
            f"WHERE s.outcome = '{OK}' AND s.id IN ({marks(ids)})", ids)}
        executemany(db, _UPSERT_FROM_BATCH, [item.row for item in items])
        executemany(db, _INSERT_ATTEMPT, [row for item in items for row in item.attempts])
    return kept


@guarded
def save_encoded(db: Handle, items: list[EncodedSuggestion]) -> None:
    """Write encoded suggestions of a live run (`suggest` on several cores) in one transaction, in key order:
    each becomes its key's current suggestion, as `save_suggestions` makes it; the attempts are appended."""
    if not items:
        return
    items = sorted(items, key=lambda item: item.id)
    with transaction(db):
        executemany(db, _INSERT_SUGGESTION, [item.row for item in items])
        executemany(db, _INSERT_ATTEMPT, [row for item in items for row in item.attempts])


def store_location(db: Handle) -> str:
    """What `open_reader` takes to open this store again, in another process."""
    from workbench.db import location_of

    return location_of(db)


def open_reader(location: str) -> Handle:
    """This store, opened again (by a worker process that reads papers while this one writes)."""
    from workbench.db import open_db

    return open_db(location, create=False)
