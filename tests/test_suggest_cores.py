"""`suggest --model offline --workers N`: the offline model on every core, one writer, the live path's rule."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.synthetic import write_corpus
from workbench import suggest_cores
from workbench.db import open_db
from workbench.ingest import ingest
from workbench.models import get_model
from workbench.prompts import resolve_prompt
from workbench.store import WRITE_CHUNK
from workbench.suggest import run_suggestions
from workbench.suggest_cores import run_on_cores

ROOT = Path(__file__).resolve().parent.parent

COLUMNS = "id, paper_id, prompt_id, model, params, outcome, error, technique, claimed_gain, compute, evidence, " \
          "warnings, raw, content_hash"


def stored(db) -> list[tuple]:
    return [tuple(r.values()) for r in db.query(f"SELECT {COLUMNS} FROM suggestions ORDER BY id")]


@pytest.mark.both_backends
def test_two_workers_store_exactly_what_one_process_and_the_event_loop_store(seeded_db, monkeypatch):
    monkeypatch.setattr(suggest_cores, "CHUNK", 100)  # 6 chunks for 504 papers: several in flight at once
    monkeypatch.setattr(suggest_cores, "MIN_PAPERS_FOR_WORKERS", 0)  # worker processes even for 504
    prompt, model = resolve_prompt("summary"), get_model("offline")
    report = run_on_cores(seeded_db, prompt, model, workers=2)
    on_cores = stored(seeded_db)
    assert report.done == report.outcomes["ok"] == len(on_cores) == 504 and report.cached == 0
    run_on_cores(seeded_db, prompt, model, workers=1, force=True)
    assert stored(seeded_db) == on_cores
    asyncio.run(run_suggestions(seeded_db, prompt, model, force=True))
    assert stored(seeded_db) == on_cores
    # Every run appended its calls: three runs, one attempt a paper each.
    assert seeded_db.execute("SELECT count(*), count(DISTINCT suggestion_id) FROM attempts").fetchone() == (1512, 504)
    again = run_on_cores(seeded_db, prompt, model, workers=2)
    assert (again.done, again.cached) == (0, 504)


def test_a_paper_the_model_fails_on_is_that_papers_error_and_the_run_goes_on(seeded_db, monkeypatch):
    from workbench.models import offline

    victim = seeded_db.execute("SELECT title FROM papers ORDER BY seq LIMIT 1 OFFSET 7").fetchone()[0]
    real = offline.extract

    def flaky(title, abstract, settings=offline.DEFAULT_SETTINGS):
        if title == victim:
            raise RuntimeError("a rule met something it never saw \x1b[31m")
        return real(title, abstract, settings)

    monkeypatch.setattr(offline, "extract", flaky)
    report = run_on_cores(seeded_db, resolve_prompt("summary"), get_model("offline"), workers=1)
    assert report.outcomes == {"ok": 503, "error": 1}
    row = next(seeded_db.query("SELECT s.outcome, s.error FROM suggestions s JOIN papers p ON p.id = s.paper_id "
                               "WHERE p.title = ?", [victim]))
    assert row["outcome"] == "error" and row["error"].startswith("RuntimeError: a rule met something")


def test_workers_is_for_the_offline_model_only(run_cli, seeds_copy, tmp_path):
    db = tmp_path / "w.db"
    assert run_cli("--db", str(db), "ingest", str(seeds_copy)).exit_code == 0
    result = run_cli("--db", str(db), "suggest", "--model", "some-model", "--workers", "2")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "workbench: --workers is for the offline model; a model at an endpoint takes --concurrency"]
    assert run_cli("--db", str(db), "suggest", "--workers", "0").exit_code == 2


def test_ctrl_c_keeps_every_chunk_written_and_a_rerun_does_the_rest(tmp_path):
    store = tmp_path / "big.db"
    db = open_db(store)
    ingest(db, write_corpus(tmp_path / "corpus", 12_000))
    db.close()
    env = dict(os.environ, WORKBENCH_CONFIG=str(tmp_path / "none.toml"), PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "workbench", "--db", str(store), "suggest", "--model", "offline", "--workers", "2"]
    # As from a terminal: ctrl+c not ignored (a shell's background job inherits SIGINT ignored, and so would
    # the child, which Python then leaves ignored).
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        reader = open_db(store, create=False)
        written = reader.execute("SELECT count(*) FROM suggestions").fetchone()[0]
        reader.close()
        if written >= 1000:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's ctrl+c does: the whole process group
    out, err = process.communicate(timeout=60)
    reader = open_db(store, create=False)
    kept, attempts = reader.execute("SELECT count(*) FROM suggestions").fetchone()[0], \
        reader.execute("SELECT count(*) FROM attempts").fetchone()[0]
    reader.close()
    assert process.returncode == 1 and "Traceback" not in err, err
    assert "interrupted; finished suggestions are kept" in out and f"suggested {kept} (ok {kept})" in out
    assert 1000 <= kept < 12_000 and kept % WRITE_CHUNK == 0 and attempts == kept  # whole transactions only
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0 and f"suggested {12_000 - kept} (ok {12_000 - kept}), cached {kept}" in rerun.stdout


def _niceness(_chunk) -> int:
    return os.nice(0)


def test_bulk_workers_run_below_the_review_and_leave_ctrl_c_to_the_parent():
    from workbench.workers import BULK_NICE, ordered_map

    own, handler = os.nice(0), signal.getsignal(signal.SIGINT)
    assert list(ordered_map(_niceness, [1, 2, 3], 2, nice=BULK_NICE)) == [min(19, own + BULK_NICE)] * 3
    assert list(ordered_map(_niceness, [1, 2], 2)) == [own] * 2
    assert signal.getsignal(signal.SIGINT) is handler and os.nice(0) == own  # the parent's own are untouched


def test_a_small_run_stays_in_one_process(seeded_db, monkeypatch):
    """Below MIN_PAPERS_FOR_WORKERS no worker is started: starting one costs more than it saves."""
    from workbench import workers

    started = []
    monkeypatch.setattr(suggest_cores, "ordered_map", lambda *a, **k: started.append(1) or workers.ordered_map(*a, **k))
    report = run_on_cores(seeded_db, resolve_prompt("summary"), get_model("offline"), workers=2)
    assert report.outcomes == {"ok": 504} and started == []


@pytest.mark.parametrize(("args", "line"), [
    (["suggest", "--workers", "0"], "workbench: --workers must be a whole number from 1 to 64 (got '0')"),
    (["suggest", "--workers", "-3"], "workbench: --workers must be a whole number from 1 to 64 (got '-3')"),
    (["suggest", "--workers", "65"], "workbench: --workers must be a whole number from 1 to 64 (got '65')"),
    (["suggest", "--workers", "two"], "workbench: --workers must be a whole number from 1 to 64 (got 'two')"),
    (["suggest", "--workers", "\x1b[2J" + "9" * 300],
     "workbench: --workers must be a whole number from 1 to 64 (got '␛[2J" + "9" * 35 + "…')"),
    (["suggest", "--concurrency", "0"], "workbench: --concurrency must be a whole number from 1 to 256 (got '0')"),
    (["suggest", "--limit", "-1"], "workbench: --limit must be a whole number from 1 up (got '-1')"),
    (["batch", "collect", "--file", "x.jsonl", "--workers", "0"],
     "workbench: --workers must be a whole number from 1 to 64 (got '0')"),
])
def test_a_bad_count_is_one_line_naming_the_option_and_what_is_allowed(run_cli, tmp_path, args, line):
    result = run_cli("--db", str(tmp_path / "w.db"), *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [line]  # not click's usage block
    assert result.stdout == "" and not (tmp_path / "w.db").exists()  # refused before the store is opened


def test_a_good_count_still_works(run_cli, seeds_copy, tmp_path):
    db = tmp_path / "w.db"
    assert run_cli("--db", str(db), "ingest", str(seeds_copy)).exit_code == 0
    result = run_cli("--db", str(db), "suggest", "--workers", "1", "--limit", "3")
    assert result.exit_code == 0 and "suggested 3 (ok 3)" in result.stdout


@pytest.mark.parametrize(("command", "option", "value"), [
    ("suggest", "--concurrency", "2"), ("suggest", "--timeout", "30"), ("suggest", "--rpm", "60"),
    ("suggest", "--response-format", "json_object"), ("review", "--timeout", "30"),
])
def test_an_endpoint_setting_with_the_offline_model_is_refused_not_ignored(run_cli, seeds_copy, tmp_path, command,
                                                                             option, value):
    db = tmp_path / "w.db"
    assert run_cli("--db", str(db), "ingest", str(seeds_copy)).exit_code == 0
    result = run_cli("--db", str(db), command, option, value)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"workbench: {option} is for a model at an endpoint (--model NAME); the offline model "
        + ("takes --workers" if option == "--concurrency" else "sends nothing")]
    with sqlite3.connect(db) as conn:  # nothing was run
        assert conn.execute("SELECT count(*) FROM suggestions").fetchone() == (0,)


@pytest.mark.parametrize(("args", "line"), [
    (["suggest", "--timeout", "0"], "workbench: --timeout must be a number of seconds from 1 to 86,400 (got '0')"),
    (["suggest", "--rpm", "0"], "workbench: --rpm must be a number of requests a minute from 0.1 up (got '0')"),
    (["review", "--queue", "bogus\x1b[2J"], "workbench: Invalid value for '--queue': 'bogus\\x1b[2J' is not one of "),
    (["log", "--limit", "0"], "workbench: Invalid value for '--limit': 0 is not in the range x>=1."),
    (["serve", "--port", "0"], "workbench: Invalid value for '--port': 0 is not in the range 1<=x<=65535."),
    (["export", "--status", "nope"], "workbench: Invalid value for '--status': 'nope' is not one of 'accepted', "),
])
def test_any_bad_option_value_is_one_line_not_the_usage_block(run_cli, tmp_path, args, line):
    result = run_cli("--db", str(tmp_path / "w.db"), *args)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(line), result.stderr
    assert "\x1b" not in result.stderr and "Usage:" not in result.stderr
    assert not (tmp_path / "w.db").exists()  # refused before the store is opened


TIMEOUT_LINE = "workbench: --timeout must be a number of seconds from 1 to 86,400 (got '{}')"


@pytest.mark.parametrize(("args", "line"), [
    (["suggest", "--model", "offline", "--timeout", "nan"], TIMEOUT_LINE.format("nan")),
    (["suggest", "--model", "m", "--timeout", "nan"], TIMEOUT_LINE.format("nan")),
    (["suggest", "--model", "m", "--timeout", "-inf"], TIMEOUT_LINE.format("-inf")),
    (["models", "--timeout", "nan"], TIMEOUT_LINE.format("nan")),
    (["review", "--model", "x", "--timeout", "nan"], TIMEOUT_LINE.format("nan")),
    (["serve", "--model", "x", "--timeout", "NaN"], TIMEOUT_LINE.format("NaN")),
    (["suggest", "--model", "m", "--rpm", "nan"], "workbench: --rpm must be a number of requests a minute from 0.1 up (got 'nan')"),
    (["suggest", "--model", "m", "--rpm", "inf"], "workbench: --rpm must be a number of requests a minute from 0.1 up (got 'inf')"),
    (["batch", "collect", "--poll", "nan"], "workbench: --poll must be a number of seconds from 0.05 up (got 'nan')"),
    (["batch", "collect", "--timeout", "infinity"],
     "workbench: --timeout must be a number of seconds from 1 up (got 'infinity')"),
])
def test_nan_or_infinity_is_refused_by_the_option_itself(run_cli, tmp_path, args, line):
    """float() takes 'nan' and 'inf', and click's FloatRange let NaN through (no comparison with it is true):
    it was then blamed on a config file that did not exist, or ran as if nothing were wrong."""
    result = run_cli("--db", str(tmp_path / "w.db"), *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == "" and not (tmp_path / "w.db").exists()  # refused before the store is opened
