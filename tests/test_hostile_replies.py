"""Replies that cannot stop a run: lone surrogates in a reply or an error body, a key echoed back.

Against the real fake server on 127.0.0.1 (tests/fake_openai.py): one bad reply is one failed
paper, what was fetched is stored, and the API key never reaches the store, an export or the log.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fake_openai import endpoint_env
from workbench.models.openai_compat import OpenAICompatibleModel, RetryPolicy
from workbench.prompts import resolve_prompt
from workbench.store import paper_order
from workbench.suggest import remember_prompt, run_suggestions

KEY = "sk-hostile-SECRET-0123456789abcdef"
FAST = RetryPolicy(max_attempts=3, max_total_seconds=30, backoff_base=0.01, backoff_max=0.05)


@pytest.fixture
def fake(monkeypatch):
    yield from endpoint_env(monkeypatch, KEY)


@pytest.fixture
def ingested(run_cli, seeds_copy):
    assert run_cli("ingest").exit_code == 0


def titles(db_path, n: int) -> list[str]:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        return [r[0] for r in conn.execute("SELECT title FROM papers ORDER BY seq LIMIT ?", [n])]


def rows(db_path, sql: str) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql).fetchall()


def test_a_lone_surrogate_in_one_reply_is_one_invalid_paper_and_the_other_nine_are_stored(
        run_cli, ingested, fake, db_path):
    third = titles(db_path, 10)[2]
    fake.script = {third: ["surrogate", "surrogate"]}  # the re-ask gets the same
    result = run_cli("suggest", "--model", "gpt-test", "--limit", "10", "--concurrency", "4")
    assert result.exit_code == 0, result.stderr
    assert "suggested 10 (ok 9; failed: invalid 1)" in result.stdout
    outcomes = rows(db_path, "SELECT p.title, s.outcome, s.error, s.technique FROM suggestions s "
                             "JOIN papers p ON p.id = s.paper_id")
    assert len(outcomes) == 10
    bad = [r for r in outcomes if r[0] == third]
    assert bad == [(third, "invalid", "the reply is not valid JSON (contains an invalid Unicode character "
                                      "(a lone surrogate))", None)]
    assert rows(db_path, "SELECT count(DISTINCT paper_id) FROM attempts") == [(10,)]
    assert rows(db_path, "SELECT outcome, count(*) FROM attempts GROUP BY outcome") == [("invalid", 2), ("ok", 9)]
    again = run_cli("suggest", "--model", "gpt-test", "--limit", "10")  # a rerun asks again, and goes on
    assert again.exit_code == 0 and "cached 9" in again.stdout


def test_a_reply_text_holding_a_lone_surrogate_is_invalid_and_kept_mended(run_cli, ingested, fake, db_path):
    first = titles(db_path, 1)[0]
    fake.script = {first: ["surrogate-raw", "surrogate-raw"]}
    result = run_cli("suggest", "--model", "gpt-test", "--limit", "2")
    assert result.exit_code == 0, result.stderr
    (outcome, error, raw), = rows(db_path, "SELECT s.outcome, s.error, s.raw FROM suggestions s "
                                           "JOIN papers p ON p.id = s.paper_id WHERE p.seq = 1")
    assert (outcome, error) == ("invalid", "the reply is not valid Unicode: an invalid Unicode character "
                                           "(a lone surrogate)")
    assert raw == '{"technique": "x\ufffdy", "claimed_gain": null}'
    assert rows(db_path, "SELECT raw FROM attempts a JOIN papers p ON p.id = a.paper_id WHERE p.seq = 1") == \
        [(raw,), (raw,)]


def test_a_500_whose_message_holds_a_lone_surrogate_is_an_error_outcome_with_the_message_mended(seeded_db, fake):
    ids = [pid for _, pid in paper_order(seeded_db)[:3]]
    first = seeded_db.execute("SELECT title FROM papers WHERE id = ?", [ids[0]]).fetchone()[0]
    fake.script = {first: ["500-surrogate"] * 3}

    async def go():
        model = OpenAICompatibleModel("test-model", base_url=fake.base_url, api_key=KEY, retry=FAST, timeout=5.0,
                                      response_format="json_schema")
        try:
            return await run_suggestions(seeded_db, resolve_prompt("summary"), model, paper_ids=ids, concurrency=2)
        finally:
            await model.aclose()

    report = asyncio.run(go())
    assert report.outcomes == {"ok": 2, "error": 1}
    row = seeded_db.execute("SELECT outcome, error FROM suggestions WHERE paper_id = ?", [ids[0]]).fetchone()
    assert row == ("error", "HTTP 500: upstream said x\ufffdy")
    errors = seeded_db.execute("SELECT error FROM attempts WHERE paper_id = ?", [ids[0]]).fetchall()
    assert errors == [("HTTP 500: upstream said x\ufffdy",)] * 3


def test_a_key_echoed_in_fields_evidence_and_error_text_in_any_case_is_stored_nowhere(
        run_cli, ingested, fake, db_path, tmp_path):
    first, second, third = titles(db_path, 3)
    fake.script = {first: ["echo-key"], second: ["400-echo-key"], third: ["echo-key-escaped"]}
    result = run_cli("suggest", "--model", "gpt-test", "--limit", "3")
    assert result.exit_code == 0, result.stderr
    escaped = rows(db_path, "SELECT s.technique, s.raw FROM suggestions s JOIN papers p ON p.id = s.paper_id "
                            "WHERE p.seq = 3")[0]
    assert escaped[0] == "[redacted] training" and "\\u0073\\u006b" not in escaped[1]  # \u escapes decoded too
    technique, evidence = rows(db_path, "SELECT s.technique, s.evidence FROM suggestions s "
                                        "JOIN papers p ON p.id = s.paper_id WHERE p.seq = 1")[0]
    assert technique == "[redacted] training" and json.loads(evidence)["technique"]["quote"] == "[redacted]"
    assert rows(db_path, "SELECT s.error FROM suggestions s JOIN papers p ON p.id = s.paper_id WHERE p.seq = 2") == \
        [("HTTP 400: bad request from [redacted]",)]
    out = tmp_path / "suggestions.jsonl"
    assert run_cli("export", "--suggestions", "-o", str(out)).exit_code == 0
    log_text = run_cli("log", "--json", "--limit", "50").stdout + run_cli("log", "--limit", "50").stdout
    texts = [out.read_text(), log_text, result.stdout, result.stderr]
    texts += [path.read_bytes().decode("utf-8", "replace") for path in db_path.parent.iterdir() if path.is_file()]
    for text in texts:
        assert KEY.lower() not in text.lower()


def test_token_counts_no_integer_column_can_hold_are_dropped_not_a_crash(run_cli, ingested, fake, db_path):
    fake.script = {titles(db_path, 1)[0]: ["huge-usage"]}
    result = run_cli("suggest", "--model", "gpt-test", "--limit", "3")
    assert result.exit_code == 0, result.stderr
    assert "suggested 3 (ok 3)" in result.stdout
    assert rows(db_path, "SELECT s.input_tokens, s.output_tokens FROM suggestions s JOIN papers p "
                         "ON p.id = s.paper_id WHERE p.seq = 1") == [(None, None)]


def test_the_store_never_receives_a_lone_surrogate(seeded_db):
    from workbench.records import Call, no_values
    from workbench.store import get_paper, save_suggestion
    from workbench.suggest import NewSuggestion, record_from_reply
    from workbench.models.base import Reply

    paper = get_paper(seeded_db, paper_order(seeded_db)[0][1])
    reply = Reply(outcome="error", error="x\ud800", raw="y\udfff", calls=[Call(ask=1, attempt=1, outcome="error",
                                                                              error="z\ud800", raw="\ud800")])
    remember_prompt(seeded_db, resolve_prompt("summary"))
    new: NewSuggestion = record_from_reply(paper, resolve_prompt("summary"), "m", reply, "{}")
    new.suggestion.values = {**no_values(), "technique": "t\ud800"}
    save_suggestion(seeded_db, new.suggestion, new.calls)
    assert seeded_db.execute("SELECT error, raw, technique FROM suggestions").fetchone() == ("x\ufffd", "y\ufffd",
                                                                                            "t\ufffd")
    assert seeded_db.execute("SELECT error, raw FROM attempts").fetchone() == ("z\ufffd", "\ufffd")


def test_a_result_the_store_refuses_is_stored_as_that_papers_error_and_the_group_is_kept(seeded_db):
    from workbench.models.base import Reply
    from workbench.store import get_paper
    from workbench.suggest import _GroupWriter, record_from_reply
    from workbench.records import Call

    prompt = resolve_prompt("summary")
    remember_prompt(seeded_db, prompt)
    writer = _GroupWriter(seeded_db)
    papers = [get_paper(seeded_db, pid) for _, pid in paper_order(seeded_db)[:3]]
    for number, paper in enumerate(papers):
        tokens = 2 ** 70 if number == 1 else 5  # more than SQLite's INTEGER holds: OverflowError
        reply = Reply(outcome="ok", input_tokens=tokens, calls=[Call(ask=1, attempt=1, outcome="ok")])
        new = record_from_reply(paper, prompt, "m", reply, "{}")
        writer.pending.append((new.suggestion, new.calls))
    writer.flush()
    stored = seeded_db.execute("SELECT paper_id, outcome, error, input_tokens FROM suggestions ORDER BY rowid").fetchall()
    assert [r[0] for r in stored] == [p.id for p in papers]
    assert stored[1][1:] == ("error", "the result could not be stored (OverflowError: Python int too large to "
                                      "convert to SQLite INTEGER)", None)
    assert [r[1] for r in (stored[0], stored[2])] == ["ok", "ok"]
    assert seeded_db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 3


def test_a_reply_that_grounding_cannot_handle_fails_that_paper_not_the_run(seeded_db, monkeypatch):
    """A bug met while grounding one reply is that paper's error outcome; the other papers are stored."""
    import asyncio

    from workbench import suggest
    from workbench.models import get_model
    from workbench.prompts import resolve_prompt
    from workbench.store import paper_order

    ids = [pid for _, pid in paper_order(seeded_db)[:5]]
    real = suggest.ground_summary

    def flaky(values, quotes, abstract):
        if abstract == seeded_db.execute("SELECT abstract FROM papers WHERE id = ?", [ids[2]]).fetchone()[0]:
            raise IndexError("a bug in grounding")
        return real(values, quotes, abstract)

    monkeypatch.setattr(suggest, "ground_summary", flaky)
    report = asyncio.run(suggest.run_suggestions(seeded_db, resolve_prompt("summary"), get_model("offline"),
                                                 paper_ids=ids))
    rows = {r["paper_id"]: (r["outcome"], r["error"]) for r in seeded_db.query("SELECT * FROM suggestions")}
    assert report.outcomes == {"ok": 4, "error": 1}
    assert rows[ids[2]] == ("error", "could not ground the reply: IndexError: a bug in grounding")
    assert all(rows[pid][0] == "ok" for pid in ids if pid != ids[2])
