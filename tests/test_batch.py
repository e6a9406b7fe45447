"""Suggestions through a batch engine: `suggest --batch`, `batch status|collect|cancel`, against a real HTTP
server that speaks the OpenAI Batch API (tests/fake_batch.py), and through files alone (`--batch-file`, a
stand-in for `vllm run-batch`, `collect --file`)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, write
from tests.fake_batch import FakeBatchAPI
from workbench.db import open_db
from workbench.models.offline import extract
from workbench.models.openai_compat import OpenAICompatibleModel
from workbench.plain_text import as_printed
from workbench.models.replies import reply_from_result
from workbench.prompts import resolve_prompt

KEY = "sk-batch-SECRET-0123456789abcdef"
MODEL = "gpt-test"
# One paper each (the 3rd, 4th, ... in paper order) meets an injected failure, stored as this outcome.
FAULTS = {"500": "error", "malformed": "invalid", "expired": "error", "refusal": "refused", "length": "truncated",
          "nomessage": "invalid", "echo-key": "error"}


@pytest.fixture
def fake():
    server = FakeBatchAPI().start()
    yield server
    server.stop()


@pytest.fixture
def env(monkeypatch, fake, run_cli, seeds_copy):
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert run_cli("ingest").exit_code == 0
    return fake


def db_rows(store: Path | str, sql: str, params=()) -> list[tuple]:
    """Rows from the store on either backend (a path or a postgresql:// URL)."""
    if not str(store).startswith("postgresql://"):
        with sqlite3.connect(store, timeout=10) as db:
            return db.execute(sql, params).fetchall()
    db = open_db(store)
    try:
        return [tuple(row) for row in db.execute(sql, params).fetchall()]
    finally:
        db.close()


def uploaded_requests(fake: FakeBatchAPI) -> list[dict]:
    return [json.loads(line) for f in fake.files.values() if f["object"]["purpose"] == "batch"
            for line in f["data"].decode().splitlines()]


def titles(db_path: Path) -> dict[str, tuple[str, str]]:
    return {pid: (title, abstract) for pid, title, abstract in db_rows(db_path, "SELECT id, title, abstract FROM papers")}


def test_every_seed_paper_through_a_batch_then_nothing_twice(store_url, env, run_cli, tmp_path):
    db_path = store_url  # on both backends
    """The issue's 'done when': 504 papers submitted, collected with --wait, every one stored (injected
    failures as failed outcomes), a second collect adds none, and a new submit asks only for what is not ok."""
    fake = env
    faulty = {title: fault for (title,), fault in zip(db_rows(db_path, "SELECT title FROM papers ORDER BY seq LIMIT 9")[2:],
                                                      FAULTS)}
    fake.script = dict(faulty)
    fake.finish_after = 3
    submitted = run_cli("suggest", "--batch", "--model", MODEL)
    assert submitted.exit_code == 0, submitted.stderr
    assert "504 papers in 1 request file, cached 0" in submitted.stdout
    assert "submitted batch_0001 (504 requests)" in submitted.stdout
    assert fake.count("POST", "/files") == 1 and fake.count("POST", "/batches") == 1

    # each line carries exactly the live request body, and a custom_id naming its paper and key
    requests = uploaded_requests(fake)
    papers = titles(db_path)
    model = OpenAICompatibleModel(MODEL, base_url=fake.base_url, api_key=KEY)
    prompt = resolve_prompt("summary")
    assert len(requests) == 504 and len({r["custom_id"] for r in requests}) == 504
    for request in requests[:20]:
        paper_id, key = request["custom_id"].split(":")
        title, abstract = papers[paper_id]
        assert (request["method"], request["url"]) == ("POST", "/v1/chat/completions")
        assert request["body"] == model.request_body(prompt, model.messages(prompt, title, abstract))
        assert request["body"]["response_format"]["json_schema"]["strict"] is True
    assert not list((tmp_path / "annotations" / "batches").glob("*.jsonl"))  # uploaded, then removed

    waiting = run_cli("batch", "status")
    assert waiting.stdout.startswith("batch_0001  in_progress") or "validating" in waiting.stdout
    collected = run_cli("batch", "collect", "--wait", "--poll", "0.05")
    assert collected.exit_code == 0, collected.stderr
    assert "stored 504 (ok 497; failed: error 3, invalid 2, refused 1, truncated 1)" in collected.stdout
    assert fake.count("GET", "/batches/batch_0001") >= 4  # it polled until the batch ended

    rows = db_rows(db_path, "SELECT s.paper_id, p.title, p.abstract, s.outcome, s.technique, s.batch_id, s.error "
                            "FROM suggestions s JOIN papers p ON p.id = s.paper_id")
    assert len(rows) == 504 and {r[5] for r in rows} == {"batch_0001"}
    for paper_id, title, abstract, outcome, technique, _, error in rows:
        fault = faulty.get(title)
        if fault:
            assert outcome == FAULTS[fault], (title, outcome, error)
        else:  # the stored reply is the one made for this paper's abstract: joined on custom_id
            # the engine answered the request it was sent: the paper as it prints (the prompt's latex_as_text)
            assert outcome == "ok" and technique == extract(as_printed(title), as_printed(abstract)).technique
    assert db_rows(db_path, "SELECT count(*), count(DISTINCT batch_id) FROM attempts") == [(504, 1)]
    assert "(batch)" in run_cli("log", "--limit", "1", env={"COLUMNS": "200"}).stdout

    again = run_cli("batch", "collect")
    assert again.stdout == "no batches wait to be collected\n"
    named = run_cli("batch", "collect", "batch_0001")
    assert "collected already (504 lines stored)" in named.stdout
    assert db_rows(db_path, "SELECT count(*) FROM attempts") == [(504,)]
    status = run_cli("batch", "status", "--json")
    (record,) = json.loads(status.stdout)
    assert (record["state"], record["collected"], record["stored"], record["completed"], record["failed"]) == \
        ("completed", True, 504, 501, 3)  # the engine counts HTTP failures; we also count bad replies

    fake.script = {}
    resubmit = run_cli("suggest", "--batch", "--model", MODEL)
    assert "7 papers in 1 request file, cached 497" in resubmit.stdout
    not_ok = {r[0] for r in db_rows(db_path, "SELECT paper_id FROM suggestions WHERE outcome != 'ok'")}
    asked = {r["custom_id"].split(":")[0] for r in uploaded_requests(fake)[504:]}
    assert asked == not_ok and len(asked) == 7

    # the key reached the server, and nothing we keep or print
    assert all(seen.authorization == f"Bearer {KEY}" for seen in fake.seen)
    echo_title = next(title for title, fault in faulty.items() if fault == "echo-key")
    echoed = db_rows(db_path, "SELECT s.error FROM suggestions s JOIN papers p ON p.id = s.paper_id "
                              "WHERE p.title = ?", [echo_title])
    assert echoed == [("HTTP 401: Incorrect API key provided: [redacted]",)]
    for text in (submitted.stdout, submitted.stderr, collected.stdout, collected.stderr, status.stdout,
                 resubmit.stdout, json.dumps(requests)):
        assert KEY not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_request_files_stay_within_the_limits(seeded_db, tmp_path):
    from workbench import batch
    from workbench.store import batch_papers, paper_order

    model = OpenAICompatibleModel(MODEL, base_url="http://127.0.0.1:9/v1", api_key=KEY)
    prompt = resolve_prompt("summary")
    by_count = batch.write_files(seeded_db, prompt, model, tmp_path / "a" / "requests.jsonl", max_requests=100)
    assert [f.requests for f in by_count.files] == [100, 100, 100, 100, 100, 4]
    assert [f.path.name for f in by_count.files][:2] == ["requests-1.jsonl", "requests-2.jsonl"]
    limit = 60_000
    by_size = batch.write_files(seeded_db, prompt, model, tmp_path / "b" / "requests.jsonl", max_bytes=limit,
                                force=True)
    sizes = [f.path.stat().st_size for f in by_size.files]
    assert all(size <= limit for size in sizes) and sum(f.requests for f in by_size.files) == 504
    assert len(sizes) > 20 and sizes == [f.bytes for f in by_size.files]
    lines = [json.loads(line) for f in by_size.files for line in f.path.read_text().splitlines()]
    recorded = [pid for row in by_size.batches for pid in batch_papers(seeded_db, row.id)]
    assert [line["custom_id"].split(":")[0] for line in lines] == recorded
    assert recorded == [pid for _, pid in paper_order(seeded_db)]  # paper order, each once
    assert not list(tmp_path.rglob("*.part"))
    recorded = seeded_db.execute("SELECT count(*), sum(requests) FROM batches WHERE engine = 'file'").fetchone()
    assert recorded == (len(by_count.files) + len(by_size.files), 1008)


def test_a_disk_that_fills_up_stops_the_request_files_in_one_line_leaving_no_half_file(seeded_db, tmp_path,
                                                                                       monkeypatch):
    """The file is written on a thread of its own (workbench/batch_files.py `_DiskWriter`): its error still
    stops the run, as one line, and the half-written file is removed."""
    import builtins
    import errno

    from workbench import batch, batch_files
    from workbench.errors import WorkbenchError

    class FillsUp:
        def __init__(self, path, *args, **kwargs):
            self.real, self.written = builtins.open(path, *args, **kwargs), 0

        def write(self, text):
            if self.written > 50_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(text)
            return self.real.write(text)

        def close(self):
            self.real.close()

    monkeypatch.setattr(batch_files, "open", FillsUp, raising=False)
    monkeypatch.setattr(batch_files._DiskWriter, "CHUNK_CHARS", 10_000)
    model = OpenAICompatibleModel(MODEL, base_url="http://127.0.0.1:9/v1", api_key=KEY)
    with pytest.raises(WorkbenchError, match=r"requests-1\.jsonl: cannot write \(No space left on device\)"):
        batch.write_files(seeded_db, resolve_prompt("summary"), model, tmp_path / "out" / "requests.jsonl")
    assert list((tmp_path / "out").iterdir()) == []  # neither a half file nor a whole one
    assert seeded_db.execute("SELECT count(*) FROM batches").fetchone()[0] == 0


def test_a_batch_that_fails_validation_shows_the_engines_errors_by_line(env, run_cli, db_path):
    fake = env
    fake.reject_model = "gpt-missing"
    assert run_cli("suggest", "--batch", "--model", "gpt-missing", "--limit", "3").exit_code == 0
    result = run_cli("batch", "collect", "--wait", "--poll", "0.05")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "the engine rejected the batch: nothing was run; see its errors below" in lines[0]
    assert lines[1] == (f"batch_0001 (summary@{resolve_prompt('summary').id[:8]} · gpt-missing) failed validation "
                        f"at {fake.base_url}: 3 errors, nothing was run:")
    assert lines[2] == ("  line 1: model_not_found: The model 'gpt-missing' does not exist or you do not have "
                        "access to it. (param body.model)")
    assert [line.split(":")[0] for line in lines[2:]] == ["  line 1", "  line 2", "  line 3"]
    assert db_rows(db_path, "SELECT count(*) FROM suggestions") == [(0,)]
    status = run_cli("batch", "status").stdout
    assert status.startswith("batch_0001  failed, collected") and "line 3: model_not_found" in status
    # nothing is in flight any more: the papers can be asked again
    assert "3 papers in 1 request file" in run_cli("suggest", "--batch", "--model", "gpt-missing", "--limit", "3").stdout


def test_an_expired_batch_keeps_what_finished(env, run_cli, db_path):
    fake = env
    fake.end_as = "expired"
    ten = [option for (pid,) in db_rows(db_path, "SELECT id FROM papers ORDER BY seq LIMIT 10")
           for option in ("--paper", pid)]
    run_cli("suggest", "--batch", "--model", MODEL, *ten)
    result = run_cli("batch", "collect", "--wait", "--poll", "0.05")
    assert "stored 10 (ok 5; failed: error 5)" in result.stdout and "expired" in result.stdout
    errors = {r[0] for r in db_rows(db_path, "SELECT error FROM suggestions WHERE outcome = 'error'")}
    assert errors == {"batch_expired: This request could not be executed before the completion window expired."}
    assert "5 papers in 1 request file, cached 5" in run_cli("suggest", "--batch", "--model", MODEL, *ten).stdout


def test_cancel_then_the_papers_can_be_asked_again(env, run_cli, db_path):
    fake = env
    fake.finish_after = 10**6
    four = [option for (pid,) in db_rows(db_path, "SELECT id FROM papers ORDER BY seq LIMIT 4")
            for option in ("--paper", pid)]
    run_cli("suggest", "--batch", "--model", MODEL, *four)
    again = run_cli("suggest", "--batch", "--model", MODEL, *four)  # in flight: not asked (nor paid for) twice
    assert "0 papers in 0 request files, cached 0, already in a batch 4" in again.stdout
    assert fake.count("POST", "/batches") == 1
    cancelled = run_cli("batch", "cancel", "batch_0001")
    assert cancelled.exit_code == 0 and cancelled.stdout.startswith("batch_0001  cancelling")
    result = run_cli("batch", "collect", "--wait", "--poll", "0.05")
    assert result.exit_code == 0 and "batch_0001" in result.stdout and "cancelled" in result.stdout
    assert db_rows(db_path, "SELECT count(*) FROM suggestions") == [(0,)]
    assert run_cli("batch", "cancel", "batch_0001").exit_code == 2
    assert "4 papers in 1 request file" in run_cli("suggest", "--batch", "--model", MODEL, *four).stdout


def test_an_ok_suggestion_made_meanwhile_stays_and_the_line_is_history(env, run_cli, db_path):
    from workbench.config import endpoint_settings, load_config
    from workbench.db import open_db
    from workbench.models import get_model
    from workbench.review import ReviewSession, SuggestionFeed

    fake = env
    run_cli("suggest", "--batch", "--model", MODEL, "--limit", "5")
    first = db_rows(db_path, "SELECT id FROM papers ORDER BY seq LIMIT 1")[0][0]
    live = run_cli("suggest", "--model", MODEL, "--paper", first)  # the live path, while the batch runs
    assert "suggested 1 (ok 1)" in live.stdout and fake.count("POST", "/chat/completions") == 1
    assert fake.batches["batch_0001"]["status"] == "validating"  # the batch has not run yet
    before = db_rows(db_path, "SELECT id, created_at, batch_id, raw FROM suggestions WHERE paper_id = ?", [first])
    result = run_cli("batch", "collect", "--wait", "--poll", "0.05")
    assert "stored 5 (ok 5), 1 kept as history (an ok suggestion was there already)" in result.stdout
    assert db_rows(db_path, "SELECT id, created_at, batch_id, raw FROM suggestions WHERE paper_id = ?",
                   [first]) == before  # not replaced, not duplicated
    assert db_rows(db_path, "SELECT batch_id FROM attempts WHERE paper_id = ? ORDER BY id", [first]) == \
        [(None,), ("batch_0001",)]
    assert db_rows(db_path, "SELECT count(*) FROM suggestions") == [(5,)]

    # review shows what the batch made, and asks the model for none of it
    db = open_db(db_path)
    try:
        model = get_model(MODEL, endpoint_settings(load_config()))
        feed = SuggestionFeed(db, resolve_prompt("summary"), model)
        session = ReviewSession(db, "ana", feed, queue="all")
        session.move(1)
        shown = session.view().suggestion
        assert shown.batch_id == "batch_0001" and shown.ok
        assert len(session.upcoming(4)) == 4 and feed.missing(session.upcoming(4)) == []
    finally:
        db.close()


def test_killed_after_submit_and_while_waiting_the_next_collect_finishes(env, run_cli, db_path):
    fake = env
    fake.finish_after = 10**6  # keeps running until the test lets it end
    environment = dict(os.environ, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=KEY, WORKBENCH_DB=str(db_path))
    command = [sys.executable, "-m", "workbench"]
    submit = subprocess.run([*command, "suggest", "--batch", "--model", MODEL, "--limit", "12"], env=environment,
                            capture_output=True, text=True, timeout=60)
    assert submit.returncode == 0 and "submitted batch_0001" in submit.stdout
    waiter = subprocess.Popen([*command, "batch", "collect", "--wait", "--poll", "0.05"], env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while fake.count("GET", "/batches/batch_0001") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        waiter.send_signal(signal.SIGKILL)
        waiter.communicate(timeout=10)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert fake.count("GET", "/batches/batch_0001") >= 3
    assert db_rows(db_path, "SELECT count(*) FROM suggestions") == [(0,)]
    fake.finish_after = 0
    result = run_cli("batch", "collect")
    assert "stored 12 (ok 12)" in result.stdout
    assert fake.count("POST", "/files") == 1 and fake.count("POST", "/batches") == 1  # nothing sent twice
    assert db_rows(db_path, "SELECT count(*), count(DISTINCT paper_id) FROM attempts") == [(12, 12)]


def test_killed_while_creating_the_batch_the_next_submit_finds_it(env, run_cli, db_path):
    fake = env
    fake.hold_create = threading.Event()
    environment = dict(os.environ, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=KEY, WORKBENCH_DB=str(db_path))
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "suggest", "--batch", "--model", MODEL, "--limit", "6"],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while fake.count("POST", "/batches") < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # the engine creates the batch; the client never hears of it
        proc.communicate(timeout=10)
    finally:
        fake.hold_create.set()
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    while not fake.batches and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(fake.batches) == ["batch_0001"]
    assert db_rows(db_path, "SELECT state FROM batches") == [("uploaded",)]
    fake.hold_create = None
    resumed = run_cli("suggest", "--batch", "--model", MODEL, "--limit", "6")
    assert "already in a batch 6" in resumed.stdout and "resumed 1 batch an interrupted run left" in resumed.stdout
    assert "submitted batch_0001 (6 requests, left by an interrupted run)" in resumed.stdout
    assert "submitted batch_0002 (6 requests)" in resumed.stdout  # the next six papers, not the same six again
    assert fake.count("POST", "/files") == 2 and fake.count("POST", "/batches") == 2
    assert "stored 6 (ok 6)" in run_cli("batch", "collect", "--wait", "--poll", "0.05").stdout
    assert db_rows(db_path, "SELECT count(DISTINCT paper_id) FROM suggestions") == [(12,)]


def test_a_round_trip_through_files_alone(store_url, run_cli, seeds_copy, tmp_path):
    """--batch-file, answered by a stand-in for `vllm run-batch`, then collect --file; no endpoint, no key."""
    db_path = store_url  # on both backends
    assert run_cli("ingest").exit_code == 0
    written = run_cli("suggest", "--batch", "--batch-file", str(tmp_path / "requests.jsonl"), "--model", "qwen-7b",
                      "--limit", "30")
    assert written.exit_code == 0, written.stderr
    requests = tmp_path / "requests-1.jsonl"
    assert f"wrote {requests} (30 requests" in written.stdout
    assert f"next: vllm run-batch -i {requests} -o {tmp_path / 'results-1.jsonl'} --model qwen-7b" in written.stdout
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    assert {line["body"]["model"] for line in lines} == {"qwen-7b"} and len(lines) == 30

    results = tmp_path / "results-1.jsonl"
    subprocess.run([sys.executable, str(ROOT / "tests" / "run_batch_like.py"), "-i", str(requests), "-o", str(results),
                    "--fail", "A Multigrid Method"], check=True, timeout=60)
    collected = run_cli("batch", "collect", "--file", str(results))
    assert collected.exit_code == 0, collected.stderr
    assert "stored 30 (ok 29; failed: error 1)" in collected.stdout
    error = db_rows(db_path, "SELECT s.error, a.http_status FROM suggestions s JOIN attempts a ON a.suggestion_id = s.id "
                             "WHERE s.outcome = 'error'")
    assert error == [("HTTP 400: This model's maximum context length is 4096 tokens.", 400)]
    papers = titles(db_path)
    for paper_id, technique in db_rows(db_path, "SELECT paper_id, technique FROM suggestions WHERE outcome = 'ok'"):
        assert technique == extract(*map(as_printed, papers[paper_id])).technique
    assert "collected already (30 lines stored)" in run_cli("batch", "collect", "--file", str(results)).stdout
    assert db_rows(db_path, "SELECT count(*) FROM attempts") == [(30,)]
    status = run_cli("batch", "status").stdout.splitlines()
    assert status[0].split()[:3] == [status[0].split()[0], "written", "30"] and "results-" in status[1]

    stranger = write(tmp_path / "other.jsonl", json.dumps({"custom_id": "0123456789abcdef:fedcba9876543210",
                                                           "response": None, "error": "x"}) + "\n")
    refused = run_cli("batch", "collect", "--file", str(stranger))
    assert refused.exit_code == 2 and "none of its 1 lines answers a request file written from this store" in \
        refused.stderr


def test_batch_needs_a_model_at_an_endpoint_and_batch_file_needs_batch(run_cli, seeds_copy, tmp_path):
    assert run_cli("ingest").exit_code == 0
    offline = run_cli("suggest", "--batch")
    assert offline.exit_code == 2 and "--batch is for a model at an endpoint" in offline.stderr
    alone = run_cli("suggest", "--batch-file", str(tmp_path / "r.jsonl"), "--model", "m")
    assert alone.exit_code == 2 and "--batch-file goes with --batch" in alone.stderr
    nothing = run_cli("batch", "status")
    assert nothing.stdout == "no batches on record; `workbench suggest --batch` submits some\n"


@pytest.mark.parametrize(("option", "value"), [("--price-in", "-1"), ("--price-out", "nan")])
def test_collect_refuses_a_negative_or_nan_price(run_cli, tmp_path, option, value):
    result = run_cli("batch", "collect", "--file", str(tmp_path / "r.jsonl"), option, value)
    assert result.exit_code == 2
    assert result.stderr == f"workbench: {option} must be USD per million tokens from 0 to 1,000,000 (got '{value}')\n"


def test_result_lines_in_every_engines_shape():
    prompt = resolve_prompt("summary")
    body = {"choices": [{"message": {"content": json.dumps(extract("T", "We propose X, 3x faster.").model_dump())},
                         "finish_reason": "stop"}], "usage": {"prompt_tokens": 120, "completion_tokens": 30}}
    ok = reply_from_result({"custom_id": "a:b", "response": {"status_code": 200, "body": body}, "error": None}, prompt)
    assert (ok.outcome, ok.input_tokens, ok.output_tokens, ok.latency_ms) == ("ok", 120, 30, None)
    assert [(c.ask, c.attempt, c.outcome, c.http_status) for c in ok.calls] == [(1, 1, "ok", 200)]
    vllm = reply_from_result({"response": {"status_code": 400, "request_id": "r", "body": None},
                              "error": "bad request"}, prompt)
    assert (vllm.outcome, vllm.error, vllm.calls[0].http_status) == ("error", "HTTP 400: bad request", 400)
    vllm_object = reply_from_result({"response": {"status_code": 500, "body": None},
                                     "error": {"error": {"message": "engine died", "code": 500}}}, prompt)
    assert vllm_object.error == "HTTP 500: engine died"
    openai_error = reply_from_result({"response": None, "error": {"code": "batch_expired", "message": "late"}}, prompt)
    assert (openai_error.outcome, openai_error.error) == ("error", "batch_expired: late")
    empty = reply_from_result({"response": None, "error": None}, prompt)
    assert empty.error == "the engine returned no response for this request"
    key = reply_from_result({"response": {"status_code": 401, "body": {"error": {"message": f"bad key {KEY}"}}}},
                            prompt, redact=lambda text: text.replace(KEY, "[redacted]"))
    assert key.error == "HTTP 401: bad key [redacted]"



def test_compare_costs_batch_made_suggestions_at_the_batch_price(seeded_db, monkeypatch, tmp_path):
    from tests.factories import add_suggestion
    from workbench.prompt_report import compare

    pids = [r[0] for r in seeded_db.execute("SELECT id FROM papers ORDER BY seq LIMIT 2")]
    values = {"technique": "t", "claimed_gain": None, "compute": None}
    add_suggestion(seeded_db, pids[0], "p" * 64, "alpha", MODEL, values, tokens=(1_000_000, 0))
    add_suggestion(seeded_db, pids[1], "p" * 64, "alpha", MODEL, values, tokens=(1_000_000, 1_000_000),
                   batch_id="batch_x")
    (result,) = compare(seeded_db, prices={MODEL: (2.0, 4.0)})
    assert result["cost"] == 2.0 + (1.0 + 2.0)  # live at 2 + 4, the batch's at half
    assert (result["batch_input_tokens"], result["batch_output_tokens"]) == (1_000_000, 1_000_000)


def test_a_results_file_with_repeats_and_junk_stores_each_answer_once(run_cli, seeds_copy, db_path, tmp_path,
                                                                      monkeypatch):
    from workbench import batch

    monkeypatch.setattr(batch, "STORE_CHUNK", 2)  # repeats fall in other transactions than their first
    assert run_cli("ingest").exit_code == 0
    run_cli("suggest", "--batch", "--batch-file", str(tmp_path / "requests.jsonl"), "--model", "m", "--limit", "3")
    subprocess.run([sys.executable, str(ROOT / "tests" / "run_batch_like.py"), "-i", str(tmp_path / "requests-1.jsonl"),
                    "-o", str(tmp_path / "results.jsonl")], check=True, timeout=60)
    first, second, third = (tmp_path / "results.jsonl").read_text().splitlines()
    stranger = json.dumps({"custom_id": "0123456789abcdef:0000000000000000", "response": None, "error": "x"})
    digits = '{"custom_id": ' + "9" * 5_000 + "}"  # Python will not read an integer this long
    messy = write(tmp_path / "messy.jsonl", "\n".join([first, "not json {", second, first, stranger, "", third, third,
                                                       second, digits]) + "\n")
    result = run_cli("batch", "collect", "--file", str(messy))
    assert result.exit_code == 0, result.stderr
    assert ("stored 3 (ok 3), 3 stored before, 1 line not from this batch (line 5), 2 unreadable lines (lines 2, 10)"
            in result.stdout)
    assert db_rows(db_path, "SELECT count(*), count(DISTINCT suggestion_id) FROM attempts") == [(3, 3)]


def _requests_and_results(run_cli, tmp_path, limit: int, prompt: str = "summary", name: str = "requests") -> list[str]:
    """Request lines for the first `limit` papers under `prompt`, answered by the vLLM stand-in: the result lines."""
    written = run_cli("suggest", "--batch", "--batch-file", str(tmp_path / f"{name}.jsonl"), "--model", "m",
                      "--prompt", prompt, "--limit", str(limit))
    assert written.exit_code == 0, written.stderr
    results = tmp_path / f"{name}-results.jsonl"
    subprocess.run([sys.executable, str(ROOT / "tests" / "run_batch_like.py"), "-i", str(tmp_path / f"{name}-1.jsonl"),
                    "-o", str(results)], check=True, timeout=60)
    return results.read_text().splitlines()


def _unasked(line: str, db_path: Path, *, paper_seq: int | None = None, key: str | None = None) -> str:
    """A result line changed to answer a paper (or key) the request file never asked for."""
    record = json.loads(line)
    paper_id, old_key = record["custom_id"].split(":")
    if paper_seq is not None:
        paper_id = db_rows(db_path, "SELECT id FROM papers WHERE seq = ?", [paper_seq])[0][0]
    record["custom_id"] = f"{paper_id}:{key or old_key}"
    return json.dumps(record)


def test_collect_file_stores_only_the_custom_ids_a_request_file_asked_for(run_cli, seeds_copy, db_path, tmp_path):
    assert run_cli("ingest").exit_code == 0
    asked = _requests_and_results(run_cli, tmp_path, 3)
    gains = _requests_and_results(run_cli, tmp_path, 1, prompt="gains", name="gains")
    gains_key = json.loads(gains[0])["custom_id"].split(":")[1]
    planted = [_unasked(asked[0], db_path, paper_seq=40),  # a paper no request file named, under a known key
               _unasked(asked[1], db_path, key=gains_key)]  # a paper asked for, under a key it was not asked with
    results = write(tmp_path / "planted.jsonl", "\n".join(asked + planted) + "\n")
    collected = run_cli("batch", "collect", "--file", str(results))
    assert collected.exit_code == 0, collected.stderr
    assert "stored 3 (ok 3), 2 lines not from this batch (lines 4, 5)" in collected.stdout
    assert db_rows(db_path, "SELECT count(*) FROM suggestions") == [(3,)]
    assert db_rows(db_path, "SELECT count(*) FROM suggestions s JOIN papers p ON p.id = s.paper_id "
                            "WHERE p.seq = 40") == [(0,)]


def test_a_results_file_with_no_readable_line_exits_1_and_stays_uncollected(run_cli, seeds_copy, db_path, tmp_path):
    assert run_cli("ingest").exit_code == 0
    _requests_and_results(run_cli, tmp_path, 2)
    junk = write(tmp_path / "junk.jsonl", "not json\nnor this {\n]\n")
    for _ in range(2):  # and again: still not collected
        result = run_cli("batch", "collect", "--file", str(junk))
        assert result.exit_code == 1
        assert result.stderr == f"workbench: {junk}: no readable result line (lines 1, 2, 3); nothing was stored\n"
    assert db_rows(db_path, "SELECT collected_at FROM batches WHERE id LIKE 'results-%'") == [(None,)]
    assert db_rows(db_path, "SELECT count(*) FROM suggestions") == [(0,)]


def test_a_result_line_with_a_lone_surrogate_or_bad_bytes_is_a_failed_item_also_on_rerun(
        run_cli, seeds_copy, db_path, tmp_path):
    assert run_cli("ingest").exit_code == 0
    first, second, third = _requests_and_results(run_cli, tmp_path, 3)
    surrogate = json.loads(second)
    surrogate["response"]["body"]["choices"][0]["message"]["content"] = "x\ud800y"  # json.dumps escapes it: \ud800
    bad_bytes = third.replace('"request_id"', '"request\xff_id"', 1).encode("latin-1")
    results = tmp_path / "hostile-results.jsonl"
    results.write_bytes(first.encode() + b"\n" + json.dumps(surrogate).encode() + b"\n" + bad_bytes + b"\n")
    for attempt in range(2):
        result = run_cli("batch", "collect", "--file", str(results))
        assert result.exit_code == 0, result.stderr
    assert "collected already (3 lines stored)" in result.stdout
    stored = db_rows(db_path, "SELECT p.seq, s.outcome, s.error FROM suggestions s JOIN papers p ON p.id = s.paper_id "
                              "ORDER BY p.seq")
    assert stored == [(1, "ok", None),
                      (2, "invalid", "the result line is not valid text: an invalid Unicode character (a lone surrogate)"),
                      (3, "invalid", "the result line is not valid text: not UTF-8 text (byte " +
                       str(bad_bytes.index(b"\xff") + 1) + ")")]
    assert db_rows(db_path, "SELECT count(*) FROM attempts") == [(3,)]


def test_a_result_line_nested_deeper_than_any_reader_expects_is_one_failed_paper(run_cli, seeds_copy, db_path,
                                                                                   tmp_path):
    """An error object nested 1,200 deep (json reads it on 3.12+) made the message reader recurse
    out of stack, and the collect stopped at that line on every rerun."""
    assert run_cli("ingest").exit_code == 0
    first, second = _requests_and_results(run_cli, tmp_path, 2)
    nested = json.loads(second)
    error = "deep"
    for _ in range(900):
        error = {"error": error}
    nested["error"], nested["response"] = error, None
    results = write(tmp_path / "nested.jsonl", first + "\n" + json.dumps(nested) + "\n")
    result = run_cli("batch", "collect", "--file", str(results))
    assert result.exit_code == 0, result.stderr
    assert [outcome for _, outcome in db_rows(db_path, "SELECT p.seq, s.outcome FROM suggestions s JOIN papers p "
                                                       "ON p.id = s.paper_id ORDER BY p.seq")] == ["ok", "error"]


def test_an_engines_status_message_with_a_lone_surrogate_or_the_key_is_stored_mended_and_redacted(seeded_db):
    from types import SimpleNamespace

    from workbench.batch_status import record_status
    from workbench.models.transport import redact_key
    from workbench.store import add_batch, get_batch

    key = "sk-batch-0123456789abcdef"
    batch = SimpleNamespace(status="failed", output_file_id=None, error_file_id=None, request_counts=None,
                            errors=SimpleNamespace(data=[SimpleNamespace(line=1, code="bad", param=None,
                                                                         message=f"bad \ud800 from {key}")]))
    from workbench.prompts import resolve_prompt
    from workbench.records import BatchRow
    from workbench.suggest import remember_prompt

    prompt = resolve_prompt("summary")
    remember_prompt(seeded_db, prompt)
    row_id = "batch_hostile"
    add_batch(seeded_db, BatchRow(id=row_id, engine="api", prompt_id=prompt.id, prompt_name=prompt.name, model="m",
                                  params="{}", key="k", requests=1, state="validating", created_at="2026-01-01T00:00:00Z",
                                  updated_at="2026-01-01T00:00:00Z"), [])
    record_status(seeded_db, row_id, batch, lambda text: redact_key(text, key))
    stored = get_batch(seeded_db, row_id).errors
    assert key not in json.dumps(stored) and "\ud800" not in json.dumps(stored, ensure_ascii=False)


def test_a_killed_collect_run_again_counts_every_line_it_stored(run_cli, seeds_copy, db_path, tmp_path, monkeypatch):
    from workbench import batch

    monkeypatch.setattr(batch, "STORE_CHUNK", 2)
    assert run_cli("ingest").exit_code == 0
    lines = _requests_and_results(run_cli, tmp_path, 4)
    results = write(tmp_path / "results.jsonl", "\n".join(lines) + "\n")
    store_chunk = batch.ResultStore._store
    calls = []

    def killed_after_one_chunk(self, chunk):
        if calls:
            raise KeyboardInterrupt
        calls.append(chunk)
        store_chunk(self, chunk)

    monkeypatch.setattr(batch.ResultStore, "_store", killed_after_one_chunk)
    assert run_cli("batch", "collect", "--file", str(results)).exit_code != 0
    monkeypatch.setattr(batch.ResultStore, "_store", store_chunk)
    again = run_cli("batch", "collect", "--file", str(results))
    assert "stored 2 (ok 2), 2 stored before" in again.stdout
    assert db_rows(db_path, "SELECT stored, input_tokens > 0 FROM batches WHERE id LIKE 'results-%'") == [(4, 1)]
    assert "4 lines stored" in run_cli("batch", "status").stdout


def test_collect_in_worker_processes_stores_exactly_what_one_process_stores(run_cli, seeds_copy, db_path, tmp_path,
                                                                             monkeypatch):
    """--workers 3 (lines read and grounded in spawned processes, chunk by chunk) against --workers 1: the
    same report, the same suggestions and attempts rows, line for line, with repeats, junk, a stranger and
    a lone surrogate spread over chunks."""
    from workbench import batch

    monkeypatch.setattr(batch, "STORE_CHUNK", 3)
    assert run_cli("ingest").exit_code == 0
    lines = _requests_and_results(run_cli, tmp_path, 12)
    broken = lines[4].replace('"content": "{', '"content": "\\ud800{', 1)
    assert broken != lines[4]
    stranger = json.dumps({"custom_id": "0123456789abcdef:0000000000000000", "response": None, "error": "x"})
    messy = write(tmp_path / "messy.jsonl", "\n".join(
        lines[:4] + ["not json {", broken, lines[0], stranger, ""] + lines[5:] + [lines[7], "[]"]) + "\n")
    copy = tmp_path / "copy.db"
    with sqlite3.connect(db_path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    one = run_cli("batch", "collect", "--file", str(messy), "--workers", "1")
    three = run_cli("--db", str(copy), "batch", "collect", "--file", str(messy), "--workers", "3")
    assert one.exit_code == three.exit_code == 0, (one.stderr, three.stderr)
    assert one.stdout == three.stdout
    assert ("stored 12 (ok 11; failed: invalid 1), 2 stored before, 2 lines not from this batch (lines 8, 18), "
            "1 unreadable line (line 5)") in one.stdout
    columns = ("id, paper_id, prompt_id, model, params, outcome, error, technique, claimed_gain, compute, evidence, "
               "warnings, raw, input_tokens, output_tokens, attempts, batch_id, content_hash")
    attempt_columns = "suggestion_id, ask, attempt, outcome, http_status, error, raw, input_tokens, output_tokens, batch_id"
    for query in (f"SELECT {columns} FROM suggestions ORDER BY id", f"SELECT {attempt_columns} FROM attempts ORDER BY 1"):
        assert db_rows(db_path, query) == db_rows(copy, query)
    assert len(db_rows(copy, "SELECT id FROM suggestions")) == 12


def test_collect_in_worker_processes_into_postgresql_stores_what_sqlite_stores(run_cli, seeds_copy, db_path, tmp_path,
                                                                                monkeypatch, pg_server):
    """The workers reopen the store by its URL: on PostgreSQL they store, row for row, what SQLite stores."""
    from workbench import batch

    monkeypatch.setattr(batch, "STORE_CHUNK", 3)
    assert run_cli("--db", str(db_path), "ingest").exit_code == 0
    lines = _requests_and_results(run_cli, tmp_path, 12)
    results = write(tmp_path / "all.jsonl", "\n".join(lines) + "\n")
    url = pg_server.create_database("collect_workers")
    assert run_cli("copy", str(db_path), url).exit_code == 0
    here = run_cli("--db", str(db_path), "batch", "collect", "--file", str(results), "--workers", "1")
    there = run_cli("--db", url, "batch", "collect", "--file", str(results), "--workers", "2")
    assert here.exit_code == there.exit_code == 0, (here.stderr, there.stderr)
    assert here.stdout == there.stdout and "stored 12" in here.stdout
    query = ("SELECT id, outcome, technique, claimed_gain, compute, evidence, warnings, raw, batch_id, content_hash "
             "FROM suggestions ORDER BY id")
    assert db_rows(db_path, query) == db_rows(url, query) and len(db_rows(url, query)) == 12


def test_a_collect_writes_short_transactions_so_a_review_waits_on_one_at_most(run_cli, seeds_copy, tmp_path,
                                                                              monkeypatch):
    """Lines are read STORE_CHUNK at a time but written WRITE_CHUNK a transaction; every line still lands."""
    from workbench import batch

    monkeypatch.setattr(batch, "STORE_CHUNK", 10)
    monkeypatch.setattr(batch, "WRITE_CHUNK", 4)
    sizes = []
    real = batch.save_encoded_batch
    monkeypatch.setattr(batch, "save_encoded_batch", lambda db, items: sizes.append(len(items)) or real(db, items))
    assert run_cli("ingest").exit_code == 0
    lines = _requests_and_results(run_cli, tmp_path, 12)
    result = run_cli("batch", "collect", "--file", str(write(tmp_path / "r.jsonl", "\n".join(lines) + "\n")),
                     "--workers", "1")
    assert result.exit_code == 0 and "stored 12 (ok 12)" in result.stdout
    assert sizes == [4, 4, 2, 2]  # chunks of 10 and 2 lines, each written 4 a transaction
