"""`workbench suggest`, `prompts` and `export --suggestions` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import write
from tests.fake_openai import FakeOpenAI

KEY = "sk-cli-SECRET-abcdef0123456789"
SUGGESTION_KEYS = ["paper_id", "title", "prompt", "prompt_hash", "model", "outcome", "error", "fields", "evidence",
                   "warnings", "usage", "latency_ms", "created_at"]


@pytest.fixture
def ingested(run_cli, seeds_copy):
    assert run_cli("ingest").exit_code == 0


def test_offline_suggest_then_rerun_is_all_cached(run_cli, ingested):
    first = run_cli("suggest", "--limit", "40")
    assert first.exit_code == 0
    assert first.stdout.startswith("summary@") and "· offline: suggested 40 (ok 40), cached 0" in first.stdout
    second = run_cli("suggest")
    assert "suggested 464 (ok 464), cached 40" in second.stdout
    third = run_cli("suggest")
    assert "suggested 0 (ok 0), cached 504" in third.stdout
    forced = run_cli("suggest", "--force", "--limit", "3")
    assert "suggested 3 (ok 3)" in forced.stdout


def test_another_prompt_adds_beside_and_prompts_lists_counts(run_cli, ingested, db_path):
    run_cli("suggest", "--limit", "10")
    run_cli("suggest", "--prompt", "gains", "--limit", "5")
    listing = run_cli("prompts").stdout.splitlines()
    assert any(l.startswith("summary@") and "[10 suggestions: ok 10]" in l for l in listing)
    assert any(l.startswith("gains@") and "[5 suggestions: ok 5]" in l for l in listing)


def test_editing_a_prompt_keeps_the_old_version_attributed(run_cli, ingested, tmp_path, monkeypatch):
    from tests.conftest import ROOT

    folder = tmp_path / "myprompts"
    folder.mkdir()
    text = (ROOT / "prompts" / "summary.toml").read_text()
    write(folder / "summary.toml", text)
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(folder))
    run_cli("suggest", "--limit", "2")
    write(folder / "summary.toml", text.replace("short phrase", "few words"))
    run_cli("suggest", "--limit", "2")
    listing = run_cli("prompts").stdout
    assert "(older version)" in listing and listing.count("[2 suggestions: ok 2]") == 2



def test_a_prompt_used_from_a_path_is_not_called_an_older_version(run_cli, ingested, tmp_path, db_path):
    """The store keeps no path, so `prompts` says what it can know: a version whose name no file in prompts/
    has came from a path (or its file was removed); one named like a file in prompts/ but first used after
    that file's current version did too (or an edit was undone). A version used before the current one is
    still an older version."""
    from tests.conftest import ROOT
    from workbench.db import open_db
    from workbench.prompts import load_prompt_file, resolve_prompt
    from workbench.store import transaction

    text = (ROOT / "prompts" / "summary.toml").read_text()
    assert 'name = "summary"' in text and "short phrase" in text
    folder = tmp_path / "elsewhere"
    older = write(folder / "older.toml", text.replace("short phrase", "three words"))
    mine = write(folder / "my.toml", text.replace('name = "summary"', 'name = "mine"').replace("short phrase", "few words"))
    copy = write(folder / "copy.toml", text.replace("short phrase", "two words"))
    assert run_cli("suggest", "--prompt", str(older), "--limit", "1").exit_code == 0
    assert run_cli("suggest", "--limit", "2").exit_code == 0  # the file in prompts/
    db = open_db(db_path)
    with transaction(db):  # first used in January and February: the copies below come later
        db.execute("UPDATE prompts SET created_at = '2026-01-01T00:00:00Z' WHERE id = ?", [load_prompt_file(older).id])
        db.execute("UPDATE prompts SET created_at = '2026-02-01T00:00:00Z' WHERE id = ?", [resolve_prompt("summary").id])
    db.close()
    for path in (mine, copy):
        assert run_cli("suggest", "--prompt", str(path), "--limit", "3").exit_code == 0
    listing = run_cli("prompts")
    assert listing.exit_code == 0
    lines = {line.split(" ", 1)[0]: line for line in listing.stdout.splitlines()}
    label = {path: load_prompt_file(path).label for path in (older, mine, copy)}
    assert "(not in prompts/: from a path, or its file was removed)" in lines[label[mine]]
    assert "(not in prompts/: from a path, or an edit since undone)" in lines[label[copy]]
    assert "(older version)" in lines[label[older]] and "[1 suggestion: ok 1]" in lines[label[older]]  # not "1 suggestions"
    current = lines[resolve_prompt("summary").label]
    assert "[2 suggestions: ok 2]" in current and "(" not in current.split("[")[0]
    assert sum("older version" in line for line in lines.values()) == 1

def test_paper_option_and_unknown_paper(run_cli, ingested, db_path):
    result = run_cli("suggest", "--paper", "0000000000000000")
    assert result.exit_code == 2 and "--paper 0000000000000000: no such paper" in result.stderr
    # log says so too: it said "no model calls on record for paper nosuch", exit 0
    for args in (["log", "--paper", "nosuch"], ["log", "--paper", "nosuch", "--json"]):
        logged = run_cli(*args)
        assert (logged.exit_code, logged.stdout) == (2, "")
        assert logged.stderr == f"workbench: --paper nosuch: no such paper in {db_path}\n"
    known = run_cli("log", "--paper", "8237d2d0084122b4")  # a paper with no calls yet: as before
    assert known.exit_code == 0 and known.stdout == "no model calls on record for paper 8237d2d0084122b4\n"


def test_export_suggestions_contract(run_cli, ingested, tmp_path):
    run_cli("suggest", "--limit", "3")
    out = tmp_path / "s.jsonl"
    assert run_cli("export", "--suggestions", "--prompt", "summary", "--model", "offline", "-o", str(out)).exit_code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3 and all(list(r) == SUGGESTION_KEYS for r in records)
    evidence = records[0]["evidence"]["claimed_gain"]
    assert list(evidence)[:4] == ["quote", "start", "end", "status"] and evidence["status"] == "exact"
    assert records[0]["title"] == "A Multigrid Method for Efficiently Training Video Models"
    assert run_cli("export", "--suggestions", "--model", "other").stdout == ""
    bad = run_cli("export", "--suggestions", "--prompt", "nope")
    assert bad.exit_code == 2 and "no stored suggestions come from a prompt 'nope'" in bad.stderr



def test_export_suggestions_carries_the_warnings_each_was_stored_with(run_cli, ingested, db_path, tmp_path):
    """The checks' changes and grounding's marks go out with each suggestion, exactly as stored: what a
    check dropped is hostile model text, written escaped and read back to the same value."""
    from tests.factories import add_suggestion
    from workbench.db import open_db
    from workbench.store import get_suggestion, paper_order

    run_cli("suggest", "--limit", "2")
    db = open_db(db_path)
    first, second = [pid for _, pid in paper_order(db)[:2]]
    hostile = "\x1b]0;owned\x07 impressive \u202e gains"
    changed = [{"field": "claimed_gain", "kind": "figure_not_in_abstract", "numbers": ["9.9"], "dropped": "9.9x faster"},
               {"field": "claimed_gain", "kind": "gain_without_figure", "dropped": hostile},
               {"field": "technique", "kind": "repeated_item", "dropped": "multigrid"},
               {"field": "compute", "kind": "value_not_in_quote"}]
    stored = add_suggestion(db, first, "c" * 64, "checked", "m", {"technique": "multigrid"}, warnings=changed)
    plain = add_suggestion(db, second, "c" * 64, "checked", "m", {"technique": "multigrid"})
    db.close()
    out = tmp_path / "s.jsonl"
    assert run_cli("export", "--suggestions", "--prompt", "checked", "-o", str(out)).exit_code == 0
    text = out.read_text()
    assert "\x1b" not in text and "\u202e" not in text  # escaped (\u001b), never raw
    records = [json.loads(line) for line in text.splitlines()]
    assert [list(r) for r in records] == [SUGGESTION_KEYS, SUGGESTION_KEYS]
    assert records[0]["warnings"] == stored.warnings == changed  # the round trip: as stored, in order
    assert records[1]["warnings"] == plain.warnings == []
    db = open_db(db_path)
    assert get_suggestion(db, stored.id).warnings == records[0]["warnings"]
    db.close()
    offline = [json.loads(line) for line in run_cli("export", "--suggestions", "--prompt", "summary").stdout.splitlines()]
    assert len(offline) == 2 and all(isinstance(r["warnings"], list) for r in offline)

def test_bad_key_exits_1_with_one_line_and_the_key_is_nowhere(run_cli, ingested, monkeypatch, db_path, tmp_path):
    fake = FakeOpenAI(default="401").start()
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        result = run_cli("suggest", "--model", "gpt-test", "--concurrency", "2")
    finally:
        fake.stop()
    assert result.exit_code == 1
    assert result.stderr == (f"workbench: the endpoint {fake.base_url} rejected the API key (401 Unauthorized); "
                             "check OPENAI_API_KEY\n")
    assert fake.count() <= 2  # the requests already in flight, nothing more
    out = tmp_path / "all.jsonl"
    run_cli("export", "--suggestions", "-o", str(out))
    for text in (result.stdout, result.stderr, out.read_text()):
        assert KEY not in text
    for path in db_path.parent.iterdir():
        assert KEY.encode() not in path.read_bytes()


def test_a_hung_server_times_out_retries_and_stops_the_run(run_cli, ingested, monkeypatch, db_path):
    """Time-outs are our own `error: timed out` (never an SDK constructor's AttributeError stored as
    `invalid`), are retried, and 8 unanswered requests in a row end the run with one line, exit 1."""
    fake = FakeOpenAI(default="hang").start()
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        result = run_cli("suggest", "--model", "gpt-test", "--timeout", "1", "--concurrency", "2", "--limit", "30")
    finally:
        fake.stop()
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        f"workbench: the endpoint {fake.base_url} is not answering: 8 requests in a row failed (last: timed out after 1 s)")
    from workbench.db import open_db

    db = open_db(db_path)
    attempts = list(db.query("SELECT paper_id, outcome, error FROM attempts ORDER BY id"))
    outcomes = {row["outcome"] for row in db.query("SELECT outcome FROM suggestions")}
    db.close()
    assert 8 <= len(attempts) < 30 and outcomes <= {"error"}
    assert all(a["outcome"] == "error" and a["error"].startswith("timed out after 1 s") for a in attempts)
    retried = [pid for pid in {a["paper_id"] for a in attempts} if sum(a["paper_id"] == pid for a in attempts) > 1]
    assert retried  # a time-out is retried before it counts as the paper's outcome


def test_server_errors_are_recorded_and_the_run_still_exits_0(run_cli, ingested, monkeypatch):
    fake = FakeOpenAI().start()
    fake.script = {"A Multigrid Method": ["400"]}
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        result = run_cli("suggest", "--model", "gpt-test", "--limit", "4", "--price-in", "1", "--price-out", "2")
    finally:
        fake.stop()
    assert result.exit_code == 0
    assert "suggested 4 (ok 3; failed: error 1)" in result.stdout and "est. cost $0.00" in result.stdout


def test_official_endpoint_without_a_key_is_a_usage_error(run_cli, ingested):
    result = run_cli("suggest", "--model", "gpt-4o-mini")
    assert result.exit_code == 2
    assert result.stderr == ("workbench: model 'gpt-4o-mini' needs OPENAI_API_KEY for https://api.openai.com/v1 "
                             "(or set OPENAI_BASE_URL to a local server)\n")


def test_prices_from_the_config_give_a_cost_and_bad_prices_a_clear_error(run_cli, ingested, monkeypatch, tmp_path):
    from workbench.config import prices

    config = write(tmp_path / "config.toml", '[prices."gpt-test"]\ninput = 1.0\noutput = 2.0\n')
    monkeypatch.setenv("WORKBENCH_CONFIG", str(config))
    from workbench.config import load_config

    assert prices(load_config()) == {"offline": (0.0, 0.0), "gpt-test": (1.0, 2.0)}
    write(config, '[prices."gpt-test"]\ninput = "cheap"\n')
    result = run_cli("suggest", "--limit", "1")
    assert result.exit_code == 2
    assert result.stderr == f"workbench: {config}: [prices.\"gpt-test\"] needs numbers 'input' and 'output'\n"


@pytest.mark.parametrize(("option", "value"), [
    ("--price-in", "-1000000"), ("--price-out", "nan"), ("--price-in", "inf"), ("--price-out", "1000001"),
    ("--price-in", "cheap"),
])
def test_a_price_option_is_a_finite_number_from_0_to_a_million_like_the_configs(run_cli, ingested, option, value):
    """A negative price gave a negative cost ($-30.0000), a NaN one 'est. cost $nan'."""
    result = run_cli("suggest", "--limit", "1", option, value)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"workbench: {option} must be USD per million tokens from 0 to 1,000,000 (got '{value}')\n"


def test_a_price_of_a_million_is_allowed_on_the_command_line_and_in_the_config(run_cli, ingested, monkeypatch,
                                                                                  tmp_path):
    from workbench.config import load_config, prices

    monkeypatch.setenv("WORKBENCH_CONFIG", str(write(tmp_path / "c.toml", '[prices.m]\ninput = 1e6\noutput = 0\n')))
    assert prices(load_config())["m"] == (1e6, 0.0)  # the bound its message names, "from 0 to 1,000,000"
    result = run_cli("suggest", "--limit", "1", "--price-in", "1000000", "--price-out", "0")
    assert result.exit_code == 0 and "est. cost $0.0000" in result.stdout


def test_ctrl_c_stops_promptly_and_keeps_what_finished(seeds_copy, run_cli, db_path, monkeypatch):
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    run_cli("ingest")
    fake = FakeOpenAI(latency=0.3).start()
    env = dict(os.environ, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=KEY, WORKBENCH_DB=str(db_path),
               PYTHONFAULTHANDLER="1")  # a hang shows where it hangs
    # ctrl+c as from a terminal: SIGINT handled by default in the child, whatever this test process has
    # (a child inherits an ignored SIGINT, and Python then keeps ignoring it: seen under pytest-xdist).
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "suggest", "--model", "gpt-test", "--concurrency", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 30
        stored = 0
        while stored < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
            with sqlite3.connect(db_path, timeout=5) as db:
                stored = db.execute("SELECT count(*) FROM suggestions").fetchone()[0]
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)  # it stops (a hang would fail here), without a race on speed
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack on stderr
            out, err = proc.communicate(timeout=10)
            Path("/tmp/workbench-ctrl-c-hang.txt").write_text(out + "\n" + err)  # every thread's stack, whole
            raise AssertionError(f"suggest did not stop after ctrl+c (stored {stored}): {out[-800:]} {err[-1500:]}")
    finally:
        fake.stop()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1 and "interrupted; finished suggestions are kept" in out
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT outcome, technique FROM suggestions").fetchall()
    assert 4 <= len(rows) < 504 and all(outcome == "ok" for outcome, _ in rows)
    assert "Traceback" not in err


def test_models_probes_each_response_format_and_remembers_the_best(run_cli, ingested, monkeypatch, db_path):
    fake = FakeOpenAI(slots=1).start()
    fake.reject_formats = {"json_schema": 400}  # a server without strict schemas
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        result = run_cli("models")
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[:2] == [f"{fake.base_url}: 1 model", "  test-model"]
        assert any(l.startswith("  json_schema ") and "error: HTTP 400" in l for l in lines)
        assert any(l.startswith("  json_object_schema ") and l.split()[1] == "works" for l in lines)
        assert "best: json_object_schema (remembered: --response-format auto uses it)" in lines
        assert "the server works on 1 request at once: suggest runs 1 at a time by default here" in lines
        fake.requests.clear()
        run = run_cli("suggest", "--model", "test-model", "--limit", "3")  # auto, from the first request
        assert "suggested 3 (ok 3)" in run.stdout
        assert {r.body["response_format"]["type"] for r in fake.requests} == {"json_object"}
        assert all("schema" in r.body["response_format"] for r in fake.requests)
    finally:
        fake.stop()
    import sqlite3

    with sqlite3.connect(db_path) as db:
        row = db.execute("SELECT response_format, concurrency, source FROM endpoint_formats").fetchone()
    assert row == ("json_object_schema", 1, "probe")


def test_models_on_an_endpoint_that_serves_several_asks_which_to_probe(run_cli, ingested, monkeypatch):
    fake = FakeOpenAI(models=["alpha", "beta"]).start()
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        result = run_cli("models")
    finally:
        fake.stop()
    assert result.exit_code == 0 and fake.count() == 0
    assert result.stdout.splitlines() == [f"{fake.base_url}: 2 models", "  alpha", "  beta",
                                          "name one with --model to find which response formats it takes"]


def test_offline_suggest_says_once_when_it_ignores_the_prompt(run_cli, ingested, tmp_path):
    bare = write(tmp_path / "bare.toml", 'name = "bare"\ndescription = "d"\nsystem = "Be brief."\n'
                                         'user = "{title} {abstract}"\n')
    result = run_cli("suggest", "--prompt", str(bare), "--limit", "3")
    assert result.exit_code == 0 and "suggested 3 (ok 3)" in result.stdout
    assert result.stderr.count("ignores the text of prompt 'bare'") == 1
    assert "ignores" not in run_cli("suggest", "--limit", "3").stderr  # summary has an [offline] table


@pytest.mark.parametrize("text, message", [
    ('[openai]\nbase_ur = "http://127.0.0.1:8091/v1"\n', "unknown key 'base_ur' in [openai]; did you mean 'base_url'?"),
    ('[review]\nguideline = "g.md"\n', "unknown key 'guideline' in [review]; did you mean 'guidelines'?"),
    ('[prics."gpt-test"]\ninput = 1\n', "unknown key 'prics' in the config file; did you mean 'prices'?"),
    ('[prices."gpt-test"]\ninput = 1.0\noutput = 2.0\ncached = 0.5\n',
     "unknown key 'cached' in [prices.\"gpt-test\"] (known: input, output)"),
    ('[prices]\n"gpt-test" = 1\n', "[prices.\"gpt-test\"] must be a table with 'input' and 'output'"),
    # Known keys with values of the wrong type or range: one line each, never an internal error.
    ('[openai]\nbase_url = 5\n', "[openai] base_url must be a string"),
    ('[openai]\napi_key = 5\n', "[openai] api_key must be a string"),
    ('[openai]\nbase_url = "ftp://127.0.0.1:9/v1"\n', "[openai] base_url must be an http:// or https:// URL"),
    ('[openai]\ntimeout = nan\n', "[openai] timeout must be a number of seconds from 1 to 86,400"),
    ('[openai]\ntimeout = inf\n', "[openai] timeout must be a number of seconds from 1 to 86,400"),
    ('[openai]\ntimeout = 1e-300\n', "[openai] timeout must be a number of seconds from 1 to 86,400"),
    ('[prices."gpt-test"]\ninput = nan\noutput = 1\n',
     "[prices.\"gpt-test\"] 'input' and 'output' must be USD per million tokens from 0 to 1,000,000"),
])
def test_a_mistyped_setting_is_an_error_naming_the_file_the_key_and_the_nearest_one(
        run_cli, ingested, monkeypatch, tmp_path, text, message):
    config = write(tmp_path / "config.toml", text)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(config))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # with a key, base_ur used to send the abstracts to the public API
    result = run_cli("suggest", "--model", "gpt-test", "--limit", "1")
    assert result.exit_code == 2
    assert result.stderr == f"workbench: {config}: {message}\n"


def test_a_huge_guidelines_file_is_read_only_up_to_the_cap_with_a_note(tmp_path, monkeypatch):
    import tracemalloc

    from workbench.config import MAX_GUIDELINES_BYTES, Config, guidelines

    huge = tmp_path / "guidelines.md"
    with open(huge, "wb") as handle:
        handle.write(b"# Guidelines\n" + b"a" * 1000)
        handle.truncate(50_000_000)  # sparse: 50 MB on paper, nothing on disk
    tracemalloc.start()
    try:
        notes = guidelines(Config(), tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * MAX_GUIDELINES_BYTES
    assert notes.text.startswith("# Guidelines\n")
    assert notes.text.endswith(f"… (the guidelines file has 50,000,000 bytes; the first {MAX_GUIDELINES_BYTES:,} "
                               "are shown)\n")


def test_log_at_80_columns_fits_two_lines_a_call(run_cli, ingested, tmp_path):
    long_title = "A " + "very " * 60 + "long title"
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"title": long_title, "abstract": "We train 2x faster on 8 GPUs."}) + "\n")
    assert run_cli("ingest", str(path)).exit_code == 0
    run_cli("suggest", "--limit", "600")
    result = run_cli("log", "--limit", "10", env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert len(lines) <= 1 + 2 * 10 + 1  # a heading, two lines a call (and a blank line)
    assert "very very" in result.stdout and "…" in result.stdout  # the long title is cut, on one line
    wide = run_cli("log", "--limit", "10", env={"COLUMNS": "200"})
    assert "prompt · model" in wide.stdout  # the full table where it fits


def test_models_with_no_server_is_one_line_naming_the_endpoint_and_exit_1(run_cli, ingested, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens on port 9
    result = run_cli("models", "--timeout", "2")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "http://127.0.0.1:9/v1" in result.stderr
    assert result.stderr.startswith("workbench: the model list at http://127.0.0.1:9/v1 is not available")
    as_json = run_cli("models", "--timeout", "2", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["models"] is None


@pytest.mark.parametrize("slots", [10**30, 100_000_000_000, True])
def test_a_server_reporting_absurd_slots_is_not_believed(run_cli, ingested, monkeypatch, slots):
    """/props total_slots is a number from outside: 10**30 ended `models` in an internal error, and
    10**11 became suggest's default concurrency."""
    fake = FakeOpenAI(slots=slots).start()
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        result = run_cli("models")
    finally:
        fake.stop()
    assert result.exit_code == 0, result.stderr
    assert "request at once" not in result.stdout and "requests at once" not in result.stdout


def test_one_bad_prompt_file_is_named_and_the_good_ones_are_still_listed(run_cli, ingested, tmp_path, monkeypatch):
    from tests.conftest import ROOT

    folder = tmp_path / "myprompts"
    folder.mkdir()
    text = (ROOT / "prompts" / "summary.toml").read_text()
    write(folder / "summary.toml", text)
    write(folder / "broken.toml", text.replace("[checks]", "[checks]\nbogus_check = true", 1))
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(folder))
    result = run_cli("prompts")
    assert result.exit_code == 2
    assert [line.split()[0].split("@")[0] for line in result.stdout.splitlines()] == ["summary"]
    (problem,) = result.stderr.splitlines()
    assert problem.startswith(f"workbench: {folder / 'broken.toml'}") and "bogus_check" in problem


def test_stored_version_notes_say_no_more_than_the_store_knows():
    """A tie in time (the store counts seconds) and a current file never used both leave "older version"."""
    from types import SimpleNamespace as V

    from workbench.prompts import FROM_A_PATH, NO_FILE, OLDER_VERSION, resolve_prompt, stored_version_notes

    summary = resolve_prompt("summary")
    stored = [V(id="old", name="summary", created_at="2026-01-01T00:00:00Z"),
              V(id=summary.id, name="summary", created_at="2026-01-02T00:00:00Z"),
              V(id="same-second", name="summary", created_at="2026-01-02T00:00:00Z"),
              V(id="later", name="summary", created_at="2026-01-03T00:00:00Z"),
              V(id="gone", name="\x1b[31mmine", created_at="2026-01-01T00:00:00Z")]
    assert stored_version_notes([summary], stored) == {
        "old": OLDER_VERSION, "same-second": OLDER_VERSION, "later": FROM_A_PATH, "gone": NO_FILE}
    never_used = [v for v in stored if v.id != summary.id]
    assert stored_version_notes([summary], never_used) == {
        "old": OLDER_VERSION, "same-second": OLDER_VERSION, "later": OLDER_VERSION, "gone": NO_FILE}
    assert stored_version_notes([], stored)[summary.id] == NO_FILE
