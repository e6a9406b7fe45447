"""Suggestions at scale through a batch engine: the OpenAI Batch API, or `vllm run-batch` on one's own GPUs.

Submitting (`suggest --batch`): the papers the live path would request (the same cache rule),
less those a batch at an engine is already asking for with the same key, become request lines,
each carrying the live path's exact request body and a custom_id `<paper id>:<key>` (key: a hash
of the prompt version, model and parameters). Files stay within the engine's limits (50,000
requests, 200 MB). Each file is recorded in `batches` before it is uploaded, then uploaded, then
its batch created; the next submit resumes a run that was killed half-way, and finds a batch
that was created but not recorded by the `workbench_ref` metadata it carries, so nothing is
sent or paid for twice. `write_request_files` writes the same files for an offline engine.

Collecting: each output and error line goes through the live path's steps (interpret ->
validate -> ground -> record), as ask 1, attempt 1, with the batch id on the suggestion and on
its attempts row. Lines are joined on custom_id (any order). Idempotent: a line whose key already
has an attempt from the same batch is skipped, and a collected batch is not read again. A key
that got an `ok` suggestion some other way meanwhile keeps it; the line is kept in the attempts
log as history. Lines are read in chunks of STORE_CHUNK and stored in transactions of WRITE_CHUNK, so a
review running at the same time waits at most one short transaction, and an interrupted collect keeps
what it stored.
"""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

from workbench.batch_files import (
    MAX_BYTES_PER_FILE, MAX_REQUESTS_PER_FILE, RequestFile, RequestLines, split_custom_id, write_request_files,
)
from workbench.batch_lines import LineReader, ReadChunk, chunked, read_in_worker, start_reader
from workbench.batch_status import counts_text, record_status, refresh
from workbench.errors import InputError, WorkbenchError
from workbench.json_text import UnreadableJson, decode, read_json_mended
from workbench.models.openai_batch import BatchAPI
from workbench.models.openai_compat import OpenAICompatibleModel
from workbench.models.transport import redact_key
from workbench.prompts import Prompt, prompt_from_text
from workbench.records import BatchRow, SuggestionKey, custom_id
from workbench.store import (
    WRITE_CHUNK, Handle, add_batch, batch_keys, batch_papers, batch_totals, bulk_writes, collected_suggestion_ids,
    count_lacking_ok, get_batch, list_batches, papers_in_flight, papers_lacking_ok, prompt_body, save_encoded_batch,
    store_location, update_batch,
)
from workbench.suggest import (
    outcomes_text, recall_format, remember_prompt, suggestion_key, usage_text,
)
from workbench.workers import BULK_NICE, ordered_map
from workbench.vocab import (
    COMPLETED, ENGINE_API, ENGINE_FILE, FAILED, UPLOADED, WRITTEN, utc_now,
)

STORE_CHUNK = 1000  # result lines read (and grounded) at a time; written WRITE_CHUNK a transaction


class Asked(NamedTuple):
    """What a batch on record asks for: a suggestion key, and the prompt (rebuilt from the store's copy)."""

    key: SuggestionKey
    prompt: Prompt


# --------------------------------------------------------------------------- planning and submitting


@dataclass
class SubmitReport:
    label: str = ""
    cached: int = 0  # already ok: not asked again
    in_flight: int = 0  # a batch at an engine is already asking for these
    requested: int = 0  # papers in the files written now
    files: list[RequestFile] = field(default_factory=list)
    batches: list[BatchRow] = field(default_factory=list)  # recorded now (and submitted, for the API)
    resumed: list[BatchRow] = field(default_factory=list)  # left half-submitted by an earlier run, sent now

    def summary(self) -> str:
        text = f"{self.label}: {self.requested:,} papers in {len(self.files)} request file{'s' * (len(self.files) != 1)}"
        text += f", cached {self.cached:,}"
        if self.in_flight:
            text += f", already in a batch {self.in_flight:,}"
        if self.resumed:
            text += f"; resumed {len(self.resumed)} batch{'es' * (len(self.resumed) != 1)} an interrupted run left"
        return text


class Plan:
    """What a batch asks for now: the key, and the papers by the live path's cache rule less those in
    flight, streamed from the store (with their title and abstract) as the files are written."""

    def __init__(self, db: Handle, prompt: Prompt, model: OpenAICompatibleModel, *,
                 paper_ids: list[str] | None = None, limit: int | None = None, force: bool = False):
        remember_prompt(db, prompt)
        recall_format(db, model)
        self.db, self.only, self.limit, self.force = db, paper_ids, limit, force
        self.prompt, self.key = prompt, suggestion_key(prompt, model)
        self.busy = papers_in_flight(db, self.key.hash)
        self.report = SubmitReport(label=f"{prompt.label} · {model.name}")

    def papers(self) -> Iterator[tuple[str, str, str]]:
        """(id, title, abstract) of each paper to ask for, in paper order; counts what it leaves out."""
        key, report = self.key, self.report
        lacking, complete = 0, True
        rows = papers_lacking_ok(self.db, key, only=self.only, force=self.force,
                                 with_text=True)
        for row in rows:
            lacking += 1
            if row[0] in self.busy:
                report.in_flight += 1
            elif self.limit is None or report.requested < self.limit:
                report.requested += 1
                yield row
            elif not self.busy:
                complete = False  # the rest only need counting: a query does it
                break
        scope, lacking_all = count_lacking_ok(self.db, key, only=self.only,
                                              force=self.force or complete)
        report.cached = scope - (lacking if complete else lacking_all)


def _new_row(key: SuggestionKey, prompt: Prompt, request_file: RequestFile, *, row_id: str, engine: str,
             endpoint: str | None) -> BatchRow:
    now = utc_now()
    return BatchRow(
        id=row_id, engine=engine, prompt_id=key.prompt_id, prompt_name=prompt.name, model=key.model,
        params=key.params, key=key.hash, requests=request_file.requests, state=WRITTEN, created_at=now,
        updated_at=now, endpoint=endpoint, input_file=str(request_file.path), bytes=request_file.bytes,
    )


def _write_and_record(db: Handle, plan: Plan, model: OpenAICompatibleModel, path_for: Callable[[int], Path], *,
                      engine: str, id_prefix: str, max_requests: int, max_bytes: int) -> list[BatchRow]:
    """Write the plan's request files, each on record (with its papers) as soon as it is complete."""
    rows = []
    files = write_request_files(plan.papers(), RequestLines(model, plan.prompt), plan.key.hash, path_for,
                                max_requests=max_requests, max_bytes=max_bytes)
    for request_file in files:
        row = _new_row(plan.key, plan.prompt, request_file, row_id=f"{id_prefix}-{uuid.uuid4().hex[:16]}", engine=engine,
                       endpoint=model.endpoint)
        add_batch(db, row, request_file.papers)
        request_file.papers = []
        plan.report.files.append(request_file)
        rows.append(row)
    return rows


def write_files(db: Handle, prompt: Prompt, model: OpenAICompatibleModel, target: Path, *,
                paper_ids: list[str] | None = None, limit: int | None = None, force: bool = False,
                max_requests: int = MAX_REQUESTS_PER_FILE, max_bytes: int = MAX_BYTES_PER_FILE) -> SubmitReport:
    """Request files for an offline engine (`vllm run-batch`): TARGET-1.jsonl, TARGET-2.jsonl, ...; no upload."""
    plan = Plan(db, prompt, model, paper_ids=paper_ids, limit=limit, force=force)
    suffix = target.suffix or ".jsonl"
    plan.report.batches = _write_and_record(
        db, plan, model, lambda n: target.with_name(f"{target.stem}-{n}{suffix}"), engine=ENGINE_FILE,
        id_prefix="file", max_requests=max_requests, max_bytes=max_bytes)
    return plan.report


def submit(db: Handle, prompt: Prompt, model: OpenAICompatibleModel, api: BatchAPI, folder: Path, *,
           paper_ids: list[str] | None = None, limit: int | None = None, force: bool = False,
           max_requests: int = MAX_REQUESTS_PER_FILE, max_bytes: int = MAX_BYTES_PER_FILE) -> SubmitReport:
    """Resume what an interrupted submit left, then write, record, upload and create the new batches."""
    resumed = [_send(db, api, row, resumed=True) for row in list_batches(db, uncollected=True, engine=ENGINE_API)
               if row.state in (WRITTEN, UPLOADED) and row.endpoint == api.endpoint]
    plan = Plan(db, prompt, model, paper_ids=paper_ids, limit=limit, force=force)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows = _write_and_record(db, plan, model, lambda n: folder / f"{stamp}-{plan.key.hash[:8]}-{n}.jsonl",
                             engine=ENGINE_API, id_prefix="pending", max_requests=max_requests, max_bytes=max_bytes)
    plan.report.resumed = resumed
    plan.report.batches = [_send(db, api, row) for row in rows]  # every file on record before the first upload
    return plan.report


def _send(db: Handle, api: BatchAPI, row: BatchRow, *, resumed: bool = False) -> BatchRow:
    """Upload a recorded request file and create its batch, recording each step."""
    uploaded_before = row.state == UPLOADED
    if row.state == WRITTEN:
        path = Path(row.input_file or "")
        if not path.is_file():
            raise WorkbenchError(f"{path}: the request file of batch {row.id} is gone; cancel it with "
                                 f"`workbench batch cancel {row.id}` and submit again")
        row.input_file_id = api.upload(path)
        update_batch(db, row.id, state=UPLOADED, input_file_id=row.input_file_id)
    batch = api.find(row.id) if resumed and uploaded_before else None  # created by a run killed before recording it?
    if batch is None:
        batch = api.create(row.input_file_id, row.id)
    update_batch(db, row.id, id=batch.id, submitted_at=utc_now())
    Path(row.input_file or "").unlink(missing_ok=True)  # the engine keeps it now
    return record_status(db, batch.id, batch, api.model.redact)


# --------------------------------------------------------------------------- collecting


@dataclass
class Lines:
    """Line numbers of a kind: how many, and the first few to name."""

    count: int = 0
    first: list[int] = field(default_factory=list)

    def append(self, number: int, shown: int = 5) -> None:
        self.count += 1
        if len(self.first) < shown:
            self.first.append(number)

    def __str__(self) -> str:
        return ("line " if self.count == 1 else "lines ") + ", ".join(map(str, self.first)) + \
            (", …" if self.count > len(self.first) else "")


@dataclass
class CollectReport:
    """What collecting one batch (or results file) stored."""

    batch_id: str
    label: str = ""
    state: str = ""
    lines: int = 0
    stored: int = 0
    outcomes: Counter = field(default_factory=Counter)
    kept: int = 0  # the key already had an ok suggestion: kept, the line stored as history
    already: int = 0  # stored by an earlier collect of this batch
    foreign: Lines = field(default_factory=lambda: Lines())  # a custom_id this batch (or store) did not ask
    unreadable: Lines = field(default_factory=lambda: Lines())  # not JSON
    input_tokens: int = 0
    output_tokens: int = 0
    note: str | None = None  # why nothing (more) was stored: still running, failed, already collected
    running: bool = False  # the engine has not finished it: collect again later

    def summary(self, price: tuple[float, float] | None = None) -> str:
        text = f"{self.batch_id}"
        if self.label:
            text += f" ({self.label})"
        if self.note and not self.lines:
            return f"{text}: {self.note}"
        text += f": stored {self.stored:,} {outcomes_text(self.outcomes)}"
        if self.kept:
            text += f", {self.kept:,} kept as history (an ok suggestion was there already)"
        if self.already:
            text += f", {self.already:,} stored before"
        if self.foreign.count:
            text += f", {self.foreign.count:,} line{'s' * (self.foreign.count != 1)} not from this batch ({self.foreign})"
        if self.unreadable.count:
            text += f", {self.unreadable.count:,} unreadable line{'s' * (self.unreadable.count != 1)} ({self.unreadable})"
        text += f"; {usage_text(self.input_tokens, self.output_tokens, price, ' at the batch price')}"
        if self.note:
            text += f"; {self.note}"
        return text


def asked_keys(db: Handle) -> dict[str, Asked]:
    """key hash -> every key a batch on record was made with, its prompt rebuilt from the copy the store keeps."""
    keys = {}
    for stored, key in batch_keys(db).items():
        body = prompt_body(db, key.prompt_id)
        if body is None:
            raise WorkbenchError(f"the store has no text for prompt {key.prompt_id[:8]}, which batch key {stored} uses")
        keys[stored] = Asked(key, prompt_from_text(body, f"the stored prompt {key.prompt_id[:8]}"))
    return keys


class ResultStore:
    """Stores result lines of one batch (or results file), read STORE_CHUNK lines at a time and written in
    transactions of WRITE_CHUNK. With
    `workers` > 1 the lines are read and grounded in that many worker processes, chunk by chunk, while
    this process only writes, in the order of the lines."""

    def __init__(self, db: Handle, batch_id: str, keys: dict[str, Asked], report: CollectReport, *,
                 expected: set[str] | None = None, redact=redact_key,
                 on_progress: Callable[[CollectReport], None] | None = None, workers: int = 1):
        self.db, self.batch_id, self.keys, self.report = db, batch_id, keys, report
        self.expected = expected  # custom_ids the batch asked for (None: any known key)
        self.redact, self.on_progress, self.workers = redact, on_progress, workers

    def add_lines(self, lines: Iterable[str | bytes], first_number: int = 1) -> None:
        chunks = chunked(enumerate(lines, start=first_number), STORE_CHUNK)
        ahead = list(itertools.islice(chunks, 2))  # fewer than two chunks are not worth starting processes
        chunks = itertools.chain(ahead, chunks)
        with bulk_writes(self.db):
            if self.workers > 1 and len(ahead) > 1:
                setup = (store_location(self.db), self.batch_id, self.keys, self.redact)
                results = ordered_map(read_in_worker, chunks, self.workers, start_reader, setup, nice=BULK_NICE)
            else:
                results = map(LineReader(self.db, self.batch_id, self.keys, self.redact).read, chunks)
            for result in results:
                self._store(result)

    def _store(self, result: ReadChunk) -> None:
        report = self.report
        report.lines += result.lines
        for number in result.unreadable:
            report.unreadable.append(number)
        foreign, wanted = list(result.foreign), []
        for number, cid, item in result.items:
            if self.expected is not None and cid not in self.expected:
                foreign.append(number)
            else:
                wanted.append(item)
        for number in sorted(foreign):
            report.foreign.append(number)
        # Stored by an earlier chunk or collect (each chunk is committed before the next is read), or
        # met earlier in this chunk: a line given twice is stored once.
        done = collected_suggestion_ids(self.db, self.batch_id, [item.id for item in wanted])
        items = []
        for item in wanted:
            if item.id in done:
                report.already += 1
                continue
            done.add(item.id)
            items.append(item)
        for start in range(0, len(items), WRITE_CHUNK):  # short transactions: a review's write waits on one at most
            written = items[start:start + WRITE_CHUNK]
            report.kept += len(save_encoded_batch(self.db, written))
            for item in written:  # counted as written: an interrupted collect reports what it stored
                report.stored += 1
                report.outcomes[item.outcome] += 1
                report.input_tokens += item.input_tokens or 0
                report.output_tokens += item.output_tokens or 0
        if self.on_progress:
            self.on_progress(report)


def _finish_collect(db: Handle, row_id: str, report: CollectReport) -> None:
    """Mark the batch collected, its counters counted from the store (a collect that was killed and run
    again stored its lines in two goes: the counters hold both)."""
    stored, input_tokens, output_tokens = batch_totals(db, row_id)
    update_batch(db, row_id, collected_at=utc_now(), stored=stored, input_tokens=input_tokens,
                 output_tokens=output_tokens)


def collect(db: Handle, api: BatchAPI | None, row: BatchRow, *, redact=redact_key,
            on_progress: Callable[[CollectReport], None] | None = None, workers: int = 1) -> CollectReport:
    """Store an ended batch's output and error lines; say why not when it has not ended."""
    report = CollectReport(row.id, label=row.label, state=row.state)
    if row.collected_at:
        report.note = f"collected already ({row.stored:,} lines stored)"
        return report
    if row.engine == ENGINE_FILE:
        report.note = ("a request file for an offline engine: collect its results with "
                       "`workbench batch collect --file RESULTS.jsonl`")
        return report
    if api is None or row.endpoint != api.endpoint:
        report.note = f"submitted to {row.endpoint}; set OPENAI_BASE_URL to it to collect it"
        return report
    row = refresh(db, api, row)
    report.state = row.state
    if not row.ended:
        report.running = True
        report.note = f"still {row.state}" + (f" ({counts_text(row)})" if row.completed is not None else "")
        return report
    expected = {custom_id(pid, row.key) for pid in batch_papers(db, row.id)}
    store = ResultStore(db, row.id, asked_keys(db), report, expected=expected, redact=redact,
                        on_progress=on_progress, workers=workers)
    for file_id in (row.output_file_id, row.error_file_id):
        if file_id:
            store.add_lines(api.lines(file_id))
    if row.state != COMPLETED:
        report.note = _unfinished(row, report)
    _finish_collect(db, row.id, report)
    return report


def collect_all(db: Handle, api: BatchAPI | None, rows: list[BatchRow], *, wait: bool = False,
                poll: float = 30.0, timeout: float = 25 * 3600.0, redact=redact_key,
                on_state: Callable[[BatchRow], None] | None = None,
                on_progress: Callable[[CollectReport], None] | None = None,
                sleep: Callable[[float], None] = time.sleep) -> Iterator[CollectReport]:
    """Collect each batch that has ended, yielding its report; with `wait`, poll the others every `poll`
    seconds until they end or `timeout` passes (their last reports then say `running`)."""
    deadline = time.monotonic() + timeout
    pending = list(rows)
    while pending:
        waiting = []
        for row in pending:
            report = collect(db, api, row, redact=redact, on_progress=on_progress)
            if on_state:
                on_state(get_batch(db, report.batch_id) or row)
            if report.running and wait and time.monotonic() < deadline:
                waiting.append(get_batch(db, row.id))
            else:
                yield report
        if waiting:
            sleep(max(0.0, min(poll, deadline - time.monotonic())))
        pending = waiting


def _unfinished(row: BatchRow, report: CollectReport) -> str:
    if row.state == FAILED:
        return "the engine rejected the batch: nothing was run" + ("; see its errors below" if row.errors else "")
    missing = row.requests - report.stored - report.already
    return f"{row.state}: {missing:,} of {row.requests:,} requests have no result; the next `suggest --batch` " \
           "asks for them again" if missing > 0 else row.state


def collect_file(db: Handle, path: Path, *, redact=redact_key,
                 on_progress: Callable[[CollectReport], None] | None = None, workers: int = 1) -> CollectReport:
    """Store a results file from an offline engine (`vllm run-batch -o`). Its id is a hash of its bytes,
    so the same file collected twice adds nothing, and a rerun's new file is a batch of its own."""
    try:
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha1").hexdigest()[:16]
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    row_id = f"results-{digest}"
    existing = get_batch(db, row_id)
    report = CollectReport(row_id, label=existing.label if existing else "", state=COMPLETED)
    if existing and existing.collected_at:
        report.note = f"collected already ({existing.stored:,} lines stored)"
        return report
    keys = asked_keys(db)
    requested = requested_ids(db)
    if not requested:
        raise InputError(f"{path}: the store has no request files on record; write them with "
                         "`workbench suggest --batch --batch-file FILE` first")
    if existing is None:
        existing = _results_row(db, path, row_id, keys)
        report.label = existing.label
    store = ResultStore(db, row_id, keys, report, expected=requested, redact=redact, on_progress=on_progress,
                        workers=workers)
    try:
        with open(path, "rb") as handle:
            store.add_lines(handle)
    except OSError as exc:
        raise WorkbenchError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if report.unreadable.count == report.lines:  # nothing to go on: it stays uncollected
        raise WorkbenchError(f"{path}: no readable result line" + (f" ({report.unreadable})" if report.lines else
                                                                   " (the file is empty)") + "; nothing was stored")
    if report.stored == 0 and report.already == 0 and report.foreign.count + report.unreadable.count == report.lines:
        raise InputError(f"{path}: none of its {report.lines:,} lines answers a request file written from this store")
    update_batch(db, row_id, requests=report.lines)
    _finish_collect(db, row_id, report)
    return report


def requested_ids(db: Handle) -> set[str]:
    """Every custom_id written to a request file on record (`suggest --batch --batch-file`): a results file
    may answer these and nothing else, so it cannot plant a suggestion for a paper or key never asked."""
    return {custom_id(pid, row.key) for row in list_batches(db, engine=ENGINE_FILE) if row.state == WRITTEN
            for pid in batch_papers(db, row.id)}


def _results_row(db: Handle, path: Path, row_id: str, keys: dict[str, Asked]) -> BatchRow:
    """The record of a results file, under the key of its first line that names one (else any key)."""
    key, prompt = next(iter(keys.values()))
    with open(path, "rb") as handle:
        for data in handle:
            try:
                ids = split_custom_id(read_json_mended(decode(data)[0])[0].get("custom_id"))
            except (UnreadableJson, AttributeError):
                continue
            if ids and ids[1] in keys:
                key, prompt = keys[ids[1]]
                break
    now = utc_now()
    row = BatchRow(id=row_id, engine=ENGINE_FILE, prompt_id=key.prompt_id, prompt_name=prompt.name,
                   model=key.model, params=key.params, key=key.hash, requests=0, state=COMPLETED, created_at=now,
                   updated_at=now, input_file=str(path), bytes=path.stat().st_size, submitted_at=now, ended_at=now)
    add_batch(db, row, [])
    return row


