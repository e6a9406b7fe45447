"""The store's public surface: every query and write, as functions on the handle `open_db()` returns.

Rows leave as the typed records of `workbench.records` (and the few defined here); errors leave as the
store's own (`StoreBusy`, `StoreRefused`, `StoreUnreadable`, `Conflict`, `ReadOnlyStore`, `StoreTooNew`),
never as a driver's. Multi-row units of work run in one `transaction()`, so a crash leaves either all of
it or none of it. A second backend implements this surface; nothing outside `workbench/store/`, `db.py`
and `migrations.py` holds SQL text or imports a driver.

Import from here, not from the modules below (the boundary test holds everyone else to it):
- papers:       papers, their revisions and sightings, and ingest's writer
- prompts:      prompt versions, endpoint formats
- suggestions:  suggestions and the attempts log
- annotations:  annotations and the events log (decisions, flags, undo, import)
- batches:      batch records
- leases:       the team's distribution (decisions per paper), leases on open slots, team reports
- bulk:         batch results encoded in worker processes, written in key order
- text_search:  full-text search with filters (`search`)
- reports:      what the prompt report, statistics, agreement, doubt and exports read
- transfer:     whole tables between two stores (`workbench copy`)
- accounts:     annotator accounts for `workbench serve` (token hashes, failed sign-ins)
- started_from: each decision with the suggestion it started from (edit effort, `compare --against`)
"""

from workbench.errors import (  # noqa: F401  (re-exported: the store's errors)
    Conflict, DamagedStore, ReadOnlyStore, StoreBusy, StoreRefused, StoreTooNew, StoreUnreadable,
)
from workbench.store._base import Handle, bulk_writes, transaction  # noqa: F401
from workbench.store.accounts import (  # noqa: F401
    Account, AccountSecret, account_secret, add_account, count_active_accounts, list_accounts, record_sign_in,
    revoke_account,
)
from workbench.store.annotations import (  # noqa: F401
    Decision, annotation_statuses, annotations_of, annotators, changed_by_others, changed_since_decided, clean_value,
    confirm_on_text, decide, flagged_ids, get_annotation, import_annotation, iter_annotations, last_event_id,
    remember_position, remembered_position, set_flag, undo_last,
)
from workbench.store.batches import (  # noqa: F401
    add_batch, batch_keys, batch_papers, batch_totals, collected_suggestion_ids, get_batch, list_batches,
    papers_in_flight, update_batch,
)
from workbench.store.leases import (  # noqa: F401
    DECIDED, FULL, HELD, Distribution, Lease, claim, clear_distribution, decide_in_slot, decision_counts, get_distribution, live_leases,
    open_papers, release, set_distribution, share_of,
)
from workbench.store.bulk import (  # noqa: F401
    WRITE_CHUNK, EncodedSuggestion, encode_batch_suggestion, open_reader, save_encoded, save_encoded_batch,
    store_location,
)
from workbench.store.papers import (  # noqa: F401
    FileCounts, PaperWriter, refresh_statistics, count_papers, find_papers, get_paper, get_papers, iter_papers, known_paper_ids,
    paper_order, paper_seq, paper_title, papers_after, paper_with_number, unknown_paper_ids,
)
from workbench.store.prompts import (  # noqa: F401
    EndpointFormat, StoredPrompt, ensure_prompt, prompt_body, prompt_versions, remember_format, remembered_format,
    resolve_prompt_versions, stored_prompts, suggestion_counts_by_prompt,
)
from workbench.store.reports import (  # noqa: F401
    Decided, Grounded, HumanDecision, KeyTotals, KeyedPrompt, StoreCounts, decided_values, decision_pairs,
    decision_seconds, decisions_with_snapshot, first_decision, grounded_suggestions, iter_suggestions, key_totals,
    ok_values, store_counts, suggestion_keys,
)
from workbench.store.started_from import StartedFrom, decisions_started_from  # noqa: F401
from workbench.store.text_search import FILTER_HELP, Query, parse, search  # noqa: F401
from workbench.store.transfer import (  # noqa: F401
    TABLES as COPY_TABLES, finish_copy, last_key, read_rows, row_at, row_counts, table_digest, write_rows,
)
from workbench.store.suggestions import (  # noqa: F401
    count_lacking_ok, get_suggestion, papers_lacking_ok, papers_with_suggestion, recent_attempts, save_batch_suggestions,
    save_suggestion, save_suggestions, suggestions_for_paper,
)
