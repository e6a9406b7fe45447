"""The OpenAI-compatible path against a real HTTP server on 127.0.0.1 with scripted faults."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.fake_openai import FakeOpenAI
from workbench.errors import AbortedRun
from workbench.models.openai_compat import OpenAICompatibleModel, RetryPolicy
from workbench.prompts import resolve_prompt
from workbench.store import paper_order
from workbench.suggest import run_suggestions

KEY = "sk-test-SECRET0123456789abcdefXYZ"
FAST = RetryPolicy(max_attempts=4, max_total_seconds=30, backoff_base=0.01, backoff_max=0.05)
MULTIGRID = "A Multigrid Method"


@pytest.fixture
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


def model(fake, **options) -> OpenAICompatibleModel:
    options.setdefault("retry", FAST)
    options.setdefault("timeout", 5.0)
    options.setdefault("response_format", "json_schema")
    return OpenAICompatibleModel("test-model", base_url=fake.base_url, api_key=KEY, **options)


def run(db, fake, ids=None, prompt="summary", **options):
    async def go():
        m = model(fake, **options)
        try:
            return await run_suggestions(db, resolve_prompt(prompt), m, paper_ids=ids, concurrency=4)
        finally:
            await m.aclose()
    return asyncio.run(go())


def first_ids(db, n: int) -> list[str]:
    return [pid for _, pid in paper_order(db)[:n]]


def suggestion(db, title_start: str) -> dict:
    return next(db.query("SELECT s.* FROM suggestions s JOIN papers p ON p.id = s.paper_id WHERE p.title LIKE ?",
                         [title_start + "%"]))


def test_ok_replies_are_stored_grounded_with_usage(seeded_db, fake):
    report = run(seeded_db, fake, first_ids(seeded_db, 5))
    assert report.outcomes == {"ok": 5} and fake.count() == 5
    body = fake.requests[0].body
    assert body["response_format"]["type"] == "json_schema" and body["response_format"]["json_schema"]["strict"] is True
    assert body["model"] == "test-model" and body["temperature"] == 0.0
    row = suggestion(seeded_db, MULTIGRID)
    assert row["outcome"] == "ok" and "4.5x faster" in row["claimed_gain"]
    assert json.loads(row["evidence"])["claimed_gain"]["status"] == "exact"
    assert row["input_tokens"] > 100 and row["output_tokens"] > 10 and row["attempts"] == 1
    assert json.loads(row["params"]) == {"temperature": 0.0, "max_tokens": 600, "response_format": "json_schema",
                                         "endpoint": fake.base_url}


def test_429_waits_for_retry_after_then_succeeds(seeded_db, fake):
    fake.script = {MULTIGRID: ["429"]}
    report = run(seeded_db, fake, first_ids(seeded_db, 1))
    assert report.outcomes == {"ok": 1}
    first, second = fake.requests
    assert second.at - first.at >= 0.95  # Retry-After: 1 was honoured
    assert suggestion(seeded_db, MULTIGRID)["attempts"] == 2


def test_a_retry_after_past_the_time_budget_ends_the_retries_at_once(seeded_db, fake):
    """Retry-After in the year 9999 (or 3 s against a 2 s budget): no wait that ends past the
    request's budget is taken; the paper is an error at once, not minutes later."""
    fake.retry_after = "Fri, 31 Dec 9999 23:59:59 GMT"
    fake.script = {MULTIGRID: ["429", "429", "429"]}
    started = time.monotonic()
    run(seeded_db, fake, first_ids(seeded_db, 1), retry=RetryPolicy(max_attempts=4, max_total_seconds=2))
    assert time.monotonic() - started < 10 and fake.count(MULTIGRID) == 1
    assert suggestion(seeded_db, MULTIGRID)["outcome"] == "error"


def test_500_is_retried_with_backoff_and_gives_up_after_max_attempts(seeded_db, fake):
    fake.script = {MULTIGRID: ["500", "500", "ok"]}
    run(seeded_db, fake, first_ids(seeded_db, 1))
    assert fake.count(MULTIGRID) == 3 and suggestion(seeded_db, MULTIGRID)["outcome"] == "ok"
    fake.script = {MULTIGRID: ["500"] * 10}
    fake.requests.clear()
    run(seeded_db, fake, first_ids(seeded_db, 1), prompt="gains")
    row = next(seeded_db.query("SELECT * FROM suggestions WHERE outcome = 'error'"))
    assert fake.count(MULTIGRID) == FAST.max_attempts
    assert row["attempts"] == FAST.max_attempts and row["error"].startswith("HTTP 500")


def test_slow_reply_past_the_timeout_is_retried(seeded_db, fake):
    fake.script = {MULTIGRID: ["slow", "ok"]}
    run(seeded_db, fake, first_ids(seeded_db, 1), timeout=1.0)
    row = suggestion(seeded_db, MULTIGRID)
    assert (row["outcome"], row["attempts"]) == ("ok", 2)


def test_timeouts_every_time_record_an_error(seeded_db, fake):
    fake.script = {MULTIGRID: ["slow"] * 5}
    run(seeded_db, fake, first_ids(seeded_db, 1), timeout=0.5, retry=RetryPolicy(2, 30, 0.01, 0.02))
    row = suggestion(seeded_db, MULTIGRID)
    assert (row["outcome"], row["error"], row["attempts"]) == ("error", "timed out after 0.5 s", 2)


def test_malformed_json_is_reasked_once_then_recorded_invalid(seeded_db, fake):
    fake.script = {MULTIGRID: ["malformed", "ok"]}
    run(seeded_db, fake, first_ids(seeded_db, 1))
    assert suggestion(seeded_db, MULTIGRID)["outcome"] == "ok"
    reask = fake.requests[-1].body["messages"]
    assert reask[-2]["role"] == "assistant" and "not valid" in reask[-1]["content"]

    fake.script = {MULTIGRID: ["malformed", "malformed"]}
    fake.requests.clear()
    run(seeded_db, fake, first_ids(seeded_db, 1), prompt="gains")
    row = next(seeded_db.query("SELECT * FROM suggestions WHERE outcome = 'invalid'"))
    assert fake.count() == 2 and row["attempts"] == 2
    assert row["raw"] == '{"technique": "half a reply", "claimed_gain": ' and "not valid JSON" in row["error"]
    assert row["technique"] is None  # nothing half-parsed is stored as a field


def test_length_refusal_and_bad_body_outcomes(seeded_db, fake):
    ids = first_ids(seeded_db, 3)
    titles = [next(seeded_db.query("SELECT title FROM papers WHERE id = ?", [pid]))["title"] for pid in ids]
    fake.script = {titles[0]: ["length"], titles[1]: ["refusal"], titles[2]: ["badbody", "badbody"]}
    report = run(seeded_db, fake, ids, retry=RetryPolicy(2, 30, 0.01, 0.02))
    rows = {r["paper_id"]: r for r in seeded_db.query("SELECT * FROM suggestions")}
    assert rows[ids[0]]["outcome"] == "truncated" and rows[ids[0]]["raw"] == '{"technique": "a very long'
    assert rows[ids[1]]["outcome"] == "refused" and "can't help" in rows[ids[1]]["error"]
    assert rows[ids[2]]["outcome"] in ("invalid", "error")
    assert report.failed == 3 and fake.count(titles[0]) == 1 and fake.count(titles[1]) == 1


def test_a_body_that_is_not_a_completion_is_an_invalid_reply_with_its_reason(seeded_db, fake):
    # The reply is read from its JSON by us, not by the SDK's typed object: each malformed shape is that
    # paper's invalid outcome with a reason, logged once (not retried: the server answered), never a crash.
    ids = first_ids(seeded_db, 3)
    titles = [next(seeded_db.query("SELECT title FROM papers WHERE id = ?", [pid]))["title"] for pid in ids]
    fake.script = {titles[0]: ["badbody"] * 4, titles[1]: ["listbody"] * 4, titles[2]: ["oddchoices"] * 4}
    report = run(seeded_db, fake, ids, retry=RetryPolicy(2, 30, 0.01, 0.02))
    rows = {r["paper_id"]: r for r in seeded_db.query("SELECT * FROM suggestions")}
    assert rows[ids[0]]["outcome"] == "invalid" and rows[ids[0]]["error"].startswith("unreadable response: JSONDecode")
    assert "<html>" not in rows[ids[0]]["error"]
    for pid in ids[1:]:
        assert rows[pid]["outcome"] == "invalid" and rows[pid]["error"] == "the response has no message in its first choice"
    attempts = list(seeded_db.query("SELECT paper_id, outcome, http_status FROM attempts ORDER BY id"))
    assert sorted(a["paper_id"] for a in attempts) == sorted(ids) and {a["outcome"] for a in attempts} == {"invalid"}
    assert report.failed == 3 and [fake.count(t) for t in titles] == [1, 1, 1]


def test_400_is_not_retried(seeded_db, fake):
    fake.script = {MULTIGRID: ["400"]}
    run(seeded_db, fake, first_ids(seeded_db, 1))
    row = suggestion(seeded_db, MULTIGRID)
    assert fake.count(MULTIGRID) == 1 and row["outcome"] == "error" and row["error"].startswith("HTTP 400")


def test_text_mode_for_servers_without_structured_output(seeded_db, fake):
    run(seeded_db, fake, first_ids(seeded_db, 1), response_format="text")
    body = fake.requests[0].body
    assert "response_format" not in body and "JSON Schema" in body["messages"][0]["content"]
    row = suggestion(seeded_db, MULTIGRID)
    assert row["outcome"] == "ok" and row["raw"].startswith("Here is the summary")


def test_instructions_inside_an_abstract_cannot_change_what_is_stored(seeded_db, fake):
    fake.script = {MULTIGRID: ["injected", "injected"]}
    run(seeded_db, fake, first_ids(seeded_db, 1))
    row = suggestion(seeded_db, MULTIGRID)
    assert row["outcome"] == "invalid" and row["technique"] is None
    assert "hacked" not in (row["evidence"] or "") and set(json.loads(row["warnings"] or "[]")) == set()


def test_bad_key_stops_the_run_at_once_and_is_never_kept(seeded_db, fake, db_path, capsys):
    fake.default = "401"
    with pytest.raises(AbortedRun) as caught:
        async def go():
            m = model(fake)
            try:
                report = await run_suggestions(seeded_db, resolve_prompt("summary"), m, concurrency=1)
            finally:
                await m.aclose()
            if report.aborted:
                raise AbortedRun(report.aborted)
        asyncio.run(go())
    assert str(caught.value) == (f"the endpoint {fake.base_url} rejected the API key (401 Unauthorized); "
                                 "check OPENAI_API_KEY")
    assert fake.count() == 1  # no retry, no further papers
    assert fake.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent...
    for path in db_path.parent.iterdir():  # ...and is nowhere in the store files
        assert KEY.encode() not in path.read_bytes()


def test_rerun_fills_the_gaps_and_a_cached_rerun_makes_no_request(seeded_db, fake):
    ids = first_ids(seeded_db, 6)
    fake.script = {MULTIGRID: ["500"] * 4}
    first = run(seeded_db, fake, ids)
    assert first.outcomes == {"ok": 5, "error": 1}
    fake.requests.clear()
    second = run(seeded_db, fake, ids)
    assert (second.cached, second.outcomes, fake.count()) == (5, {"ok": 1}, 1)
    fake.requests.clear()
    third = run(seeded_db, fake, ids)
    assert (third.cached, third.done, fake.count()) == (6, 0, 0)
    # a different prompt adds suggestions beside the old ones
    run(seeded_db, fake, ids, prompt="gains")
    assert seeded_db["suggestions"].count == 12


def test_rate_limit_spaces_requests(seeded_db, fake):
    started = time.monotonic()
    run(seeded_db, fake, first_ids(seeded_db, 3), rpm=120)  # one every 0.5 s
    assert time.monotonic() - started >= 0.95


def attempts(db, title_start: str = "") -> list[dict]:
    return list(db.query("SELECT a.* FROM attempts a JOIN papers p ON p.id = a.paper_id WHERE p.title LIKE ? "
                         "ORDER BY a.id", [title_start + "%"]))


def test_timeout_bounds_a_request_that_trickles_its_reply(seeded_db, fake):
    """One byte every 0.2 s never trips a read timeout; the deadline is on the whole request."""
    fake.script = {MULTIGRID: ["trickle", "trickle"]}
    report = run(seeded_db, fake, first_ids(seeded_db, 1), timeout=1.0, retry=RetryPolicy(2, 30, 0.01, 0.02))
    row = suggestion(seeded_db, MULTIGRID)
    # Two attempts, each ended by the deadline: the reply would have taken ~400 s.
    assert (row["outcome"], row["error"], row["attempts"]) == ("error", "timed out after 1 s", 2)
    assert report.failed == 1 and fake.count(MULTIGRID) == 2


def test_a_reply_cut_off_mid_body_is_that_papers_failure_not_a_server_down(seeded_db, fake):
    """200 and a Content-Length, then half the body and the connection closes: the server answered. Each
    such paper fails on its own (retried first), the run goes on, and the log says what happened."""
    fake.default = "cutoff"
    report = run(seeded_db, fake, first_ids(seeded_db, 10), timeout=5.0, retry=RetryPolicy(2, 30, 0.01, 0.02))
    assert report.aborted is None and report.failed == 10  # 10 > the 8 failures in a row that stop a run
    row = suggestion(seeded_db, MULTIGRID)
    assert row["outcome"] == "error" and row["attempts"] == 2
    assert row["error"].startswith("the reply was cut off: the server closed the connection before its end "
                                   "(received ") and "cannot connect" not in row["error"]
    assert {a["error"] for a in attempts(seeded_db, MULTIGRID)} == {row["error"]}


def test_a_server_that_never_answers_stops_the_run_early(seeded_db, fake):
    fake.default = "hang"
    report = run(seeded_db, fake, first_ids(seeded_db, 40), timeout=1.0, retry=RetryPolicy(3, 30, 0.01, 0.02))
    assert report.aborted is not None and "is not answering: 8 requests in a row failed" in report.aborted
    stored = seeded_db.execute("SELECT count(*) FROM attempts").fetchone()[0]
    assert 8 <= stored < 16  # it gave up long before asking for all 40 papers
    # Every request is on record, the one that stopped the run included (on a loaded machine a
    # request can time out before the server has even read it: on record here, unseen there).
    assert stored >= fake.count()


def test_a_huge_reply_is_capped_in_the_store_and_in_the_reask(seeded_db, fake):
    from workbench.models.base import MAX_RAW_CHARS, MAX_REASK_CHARS

    fake.script = {MULTIGRID: ["huge", "huge"]}
    run(seeded_db, fake, first_ids(seeded_db, 1))
    row = suggestion(seeded_db, MULTIGRID)
    assert row["outcome"] == "invalid" and len(row["raw"]) < MAX_RAW_CHARS + 100
    reask = fake.requests[-1].body["messages"][-2]
    assert reask["role"] == "assistant" and len(reask["content"]) < MAX_REASK_CHARS + 100
    logged = attempts(seeded_db, MULTIGRID)
    assert [a["raw_chars"] for a in logged] == [50_000_017, 50_000_017]
    assert all(len(a["raw"]) < MAX_RAW_CHARS + 100 for a in logged)


def test_a_reply_without_a_message_is_invalid_and_the_run_goes_on(seeded_db, fake):
    fake.script = {MULTIGRID: ["nomessage"]}
    report = run(seeded_db, fake, first_ids(seeded_db, 3))
    assert report.outcomes == {"ok": 2, "invalid": 1}
    assert suggestion(seeded_db, MULTIGRID)["error"] == "the response has no message in its first choice"


def test_every_request_in_a_faults_run_is_on_record(seeded_db, fake):
    ids = first_ids(seeded_db, 6)
    titles = [next(seeded_db.query("SELECT title FROM papers WHERE id = ?", [pid]))["title"] for pid in ids]
    fake.script = {titles[0]: ["429", "ok"], titles[1]: ["500", "500", "ok"], titles[2]: ["malformed", "ok"],
                   titles[3]: ["length"], titles[4]: ["400"]}
    run(seeded_db, fake, ids, prompt="gains")
    logged = attempts(seeded_db)
    assert len(logged) == fake.count() == 2 + 3 + 2 + 1 + 1 + 1
    by_paper = {}
    for a in logged:
        by_paper.setdefault(a["paper_id"], []).append((a["ask"], a["attempt"], a["outcome"], a["http_status"]))
    assert by_paper[ids[0]] == [(1, 1, "error", 429), (1, 2, "ok", 200)]
    assert by_paper[ids[1]] == [(1, 1, "error", 500), (1, 2, "error", 500), (1, 3, "ok", 200)]
    assert by_paper[ids[2]] == [(1, 1, "invalid", 200), (2, 1, "ok", 200)]
    assert by_paper[ids[3]] == [(1, 1, "truncated", 200)]
    assert by_paper[ids[4]] == [(1, 1, "error", 400)]
    assert all(KEY not in (a["raw"] or "") + (a["error"] or "") for a in logged)


def test_a_rerun_adds_attempts_and_keeps_the_earlier_replies(seeded_db, fake):
    ids = first_ids(seeded_db, 1)
    run(seeded_db, fake, ids)

    async def forced():
        m = model(fake)
        try:
            return await run_suggestions(seeded_db, resolve_prompt("summary"), m, paper_ids=ids, force=True)
        finally:
            await m.aclose()
    asyncio.run(forced())
    logged = attempts(seeded_db, MULTIGRID)
    assert len(logged) == 2 and all(a["raw"] and a["outcome"] == "ok" for a in logged)
    assert seeded_db.execute("SELECT count(*) FROM suggestions").fetchone()[0] == 1  # the current view


@pytest.mark.parametrize("status", [400, 500])
def test_auto_falls_back_once_when_the_server_rejects_json_schema_and_remembers(seeded_db, fake, status):
    from workbench.store import remembered_format

    fake.reject_formats = {"json_schema": status}
    report = run(seeded_db, fake, first_ids(seeded_db, 4), response_format="auto")
    assert report.outcomes == {"ok": 4} and report.learned_format == "json_object_schema"
    modes = [r.body.get("response_format", {}) for r in fake.requests]
    assert sum(m.get("type") == "json_schema" for m in modes) <= 4  # each at most once, never retried
    assert modes[-1] == {"type": "json_object", "schema": modes[-1]["schema"]}
    assert remembered_format(seeded_db, fake.base_url, "test-model").response_format == "json_object_schema"
    params = {json.loads(r["params"])["response_format"] for r in seeded_db.query("SELECT params FROM suggestions")}
    assert params == {"json_object_schema"}
    fake.requests.clear()
    run(seeded_db, fake, first_ids(seeded_db, 6), response_format="auto")  # the next run starts there
    assert [r.body["response_format"]["type"] for r in fake.requests] == ["json_object", "json_object"]


def test_an_explicit_format_the_server_rejects_is_an_error_not_a_switch(seeded_db, fake):
    fake.reject_formats = {"json_schema": 400}
    report = run(seeded_db, fake, first_ids(seeded_db, 2), response_format="json_schema")
    assert report.outcomes == {"error": 2} and fake.count() == 2
    assert suggestion(seeded_db, MULTIGRID)["error"] == "HTTP 400: response_format json_schema is not supported"


def test_json_object_mode_spells_out_the_shape_and_keeps_values_without_evidence(seeded_db, fake):
    fake.omit_evidence = True
    report = run(seeded_db, fake, first_ids(seeded_db, 3), response_format="json_object")
    assert report.outcomes == {"ok": 3}
    system = fake.requests[0].body["messages"][0]["content"]
    assert '"evidence": {"technique": <quote or null>' in system and "JSON Schema" in system
    row = suggestion(seeded_db, MULTIGRID)
    assert "4.5x faster" in row["claimed_gain"]
    evidence, warnings = json.loads(row["evidence"]), json.loads(row["warnings"])
    # The offline rules' technique is the title's phrase, which this abstract does not repeat word for word.
    assert (evidence["technique"]["method"], evidence["technique"]["status"]) == ("value", "ungrounded")
    assert (evidence["compute"]["method"], evidence["compute"]["status"]) == ("value", "fuzzy")  # "128 GPUs or 1 GPU"
    assert {"field": "claimed_gain", "kind": "evidence_missing"} in warnings


def test_strict_schema_replies_without_evidence_are_still_invalid_only_when_values_are_bad(seeded_db, fake):
    fake.script = {MULTIGRID: ["injected", "injected"]}  # extra keys, missing fields: nothing to keep
    run(seeded_db, fake, first_ids(seeded_db, 1))
    row = suggestion(seeded_db, MULTIGRID)
    assert row["outcome"] == "invalid" and row["technique"] is None


def test_time_outs_in_the_servers_queue_narrow_our_concurrency_and_are_not_failures(seeded_db):
    """A one-slot server (llama-server -np 1) that takes 0.4 s a request, asked 4 at a time with a
    1 s deadline: the 3rd and 4th wait too long in its queue. They are asked again, 2 then 1 at a
    time, and every paper ends ok; the endpoint is not declared down."""
    fake = FakeOpenAI(latency=0.4, slots=1).start()
    try:
        report = run(seeded_db, fake, first_ids(seeded_db, 8), timeout=1.0)
    finally:
        fake.stop()
    assert report.outcomes == {"ok": 8} and report.aborted is None
    queued = [r[0] for r in seeded_db.execute("SELECT error FROM attempts WHERE error LIKE '%server''s queue%'")]
    assert queued and all("at a time" in e for e in queued)


@pytest.mark.parametrize("reply, reason", [
    ('{"technique": ' + "9" * 5_000 + "}", "a number of more than 4,300 digits"),
    ('Sure! {"technique": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ('{"technique": "x",}', "Expecting property name enclosed in double quotes at column 19"),
    ('{"technique": "abc}', "Unterminated string starting at column 15"),  # Python's message ends in "at": once
    ("no object here", "no JSON object in it"),
])
def test_a_reply_python_cannot_read_is_an_invalid_reply_with_the_reason(reply, reason):
    from workbench.models.replies import Invalid as _Invalid, parse_summary

    with pytest.raises(_Invalid) as caught:
        parse_summary(reply)
    assert str(caught.value) == f"the reply is not valid JSON ({reason})"


def test_a_wave_of_queued_time_outs_narrows_the_gate_once_not_once_each():
    """A four-slot server asked eight at a time: the four beyond its slots time out together in its
    queue. That is one sign (four slots), not four: the gate halves once, to 4, and every paper ends ok."""
    fake = FakeOpenAI(latency=0.6, slots=4).start()  # the queued four would answer at 1.2 s: past the deadline
    prompt = resolve_prompt("summary")

    async def go():
        m = model(fake, timeout=1.0)
        try:
            first = await m.summarise("T", "A first abstract.", prompt)  # the server has answered before
            replies = await asyncio.gather(*(m.summarise(f"T{i}", "An abstract.", prompt) for i in range(8)))
            return first, replies, m.gate.width
        finally:
            await m.aclose()

    try:
        first, replies, width = asyncio.run(go())
    finally:
        fake.stop()
    assert first.outcome == "ok" and [r.outcome for r in replies] == ["ok"] * 8
    assert width == 4
