"""Checks every reply goes through (workbench/checks.py), declared per prompt in its [checks] table: through
the live path (the fake OpenAI server on 127.0.0.1), a batch collected from a results file, and the offline
model. The stored suggestion is the checked one; the raw reply stays in the attempts log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, write
from tests.fake_openai import endpoint_env
from workbench.checks import Checks, has_figure as _has_figure
from workbench.checks import check_values as _check_values
from workbench.models.figures import figure_numbers
from workbench.db import open_db
from workbench.errors import InputError
from workbench.prompts import prompt_from_text, resolve_prompt
from workbench.store import suggestions_for_paper
from workbench.vocab import FIGURE_NOT_IN_ABSTRACT, GAIN_WITHOUT_FIGURE, REPEATED_ITEM

KEY = "sk-checks-SECRET-0123456789abcdef"
def check_values(values, abstract, checks):
    """The checks as the product runs them: a figure is what the offline finder reads as one."""
    return _check_values(values, abstract, checks, figures_of=figure_numbers)


def has_figure(value, abstract):
    return _has_figure(value, abstract, figure_numbers)


ALL = Checks(figures_in_abstract=True, gain_needs_figure=True, evidence_in_abstract=True, no_repeats=True)

# A paper whose abstract ends in "\%" and holds inline math; one that claims no gain; one for a runaway reply.
LATEX = ("PercentNet: Sparse Schedules for Cheaper Pre-Training",
         "We propose PercentNet, a sparse training schedule. PercentNet trains a 1.3B-parameter model on 64 A100 GPUs "
         "and reaches 12.5\\% lower perplexity than the dense baseline at $2\\times$ the speed, with memory savings of 5\\%")
NO_GAIN = ("What Do Code Models Memorise?",
           "We study how code language models reproduce their training data. We build a probe set from public "
           "repositories and discuss implications for deduplication.")
RUNAWAY = ("Runaway Replies in Practice", "We describe a model that never stops talking about 3 things.")

HOSTILE_LATEX_REPLY = {
    "technique": "PercentNet: sparse training schedule",
    # a figure the abstract lacks (planted in the evidence as well), control characters, a repeat
    "claimed_gain": "12.5% lower perplexity than the dense baseline; 99% less memory\x1b[2J\x07; "
                    "12.5%  lower perplexity than the Dense baseline",
    "compute": "64 A100 GPUs; 4096 TPUs; 64 A100 GPUs",
    "evidence": {"technique": "We propose PercentNet, a sparse training schedule.",
                 "claimed_gain": "reaches 12.5% lower perplexity than the dense baseline at 2× the speed",
                 "compute": "PercentNet uses 99% less memory on 4096 TPUs"},
}
NO_GAIN_REPLY = {
    "technique": "study of verbatim recall in code language models",
    "claimed_gain": "impressive performance across diverse benchmark tasks",
    "compute": None,
    "evidence": {"technique": "We study how code language models reproduce their training data.",
                 "claimed_gain": "impressive performance across diverse benchmark tasks", "compute": None},
}


def _corpus(tmp_path: Path) -> Path:
    lines = [json.dumps({"title": t, "abstract": a}) for t, a in (LATEX, NO_GAIN, RUNAWAY)]
    return write(tmp_path / "papers.jsonl", "\n".join(lines) + "\n")


def _stored(db_path, title: str):
    db = open_db(db_path)
    try:
        (paper_id,), = db.execute("SELECT id FROM papers WHERE title = ?", [title]).fetchall()
        suggestions = suggestions_for_paper(db, paper_id)
        attempts = [tuple(r) for r in db.execute("SELECT raw, raw_chars, outcome FROM attempts WHERE paper_id = ? "
                                                 "ORDER BY id", [paper_id]).fetchall()]
        return suggestions, attempts
    finally:
        db.close()


def _kinds(suggestion) -> list[tuple]:
    return [(w["field"], w["kind"]) for w in suggestion.warnings]


# --------------------------------------------------------------------------- the checks themselves


def test_a_hostile_reply_keeps_only_what_the_abstract_backs():
    values = {f: HOSTILE_LATEX_REPLY[f] for f in ("technique", "claimed_gain", "compute")}
    checked, warnings = check_values(values, LATEX[1], ALL)
    assert checked == {"technique": "PercentNet: sparse training schedule",
                       "claimed_gain": "12.5% lower perplexity than the dense baseline", "compute": "64 A100 GPUs"}
    assert warnings == [
        {"field": "claimed_gain", "kind": FIGURE_NOT_IN_ABSTRACT, "numbers": ["99"],
         "dropped": "99% less memory\x1b[2J\x07"},
        {"field": "compute", "kind": FIGURE_NOT_IN_ABSTRACT, "numbers": ["4096"], "dropped": "4096 TPUs"},
        {"field": "claimed_gain", "kind": REPEATED_ITEM, "dropped": "12.5%  lower perplexity than the Dense baseline"},
        {"field": "compute", "kind": REPEATED_ITEM, "dropped": "64 A100 GPUs"},
    ]


def test_a_gain_whose_only_figure_is_invented_becomes_null_naming_both_drops():
    checked, warnings = check_values({"technique": "x", "claimed_gain": "37% faster", "compute": None},
                                     "We make training faster.", ALL)
    assert checked["claimed_gain"] is None
    assert [w["kind"] for w in warnings] == [FIGURE_NOT_IN_ABSTRACT]  # the figure check left nothing to null


def test_a_figure_word_counts_only_when_the_abstract_uses_it_too():
    assert has_figure("doubles the throughput", "FooNet doubling throughput on 8 GPUs")
    assert has_figure("an order of magnitude faster", "is orders of magnitude faster")
    assert has_figure("3-fold fewer steps", "three fold ... no") is False
    assert has_figure("three-fold fewer steps", "a three fold reduction")
    assert not has_figure("twice as fast", "a faster schedule")
    assert not has_figure("impressive gains", "impressive gains of the method")


def test_bare_numbers_a_noun_of_change_governs_are_figures():
    """The offline model's own gain on a seed paper: "improvements of 32.17 and 32.72 on the cosine distance
    metric" has no unit, but the improvement is the claim: it stays (the finder alone nulled it)."""
    abstract = ("Our method demonstrates significant gains in all metrics, particularly noteworthy are the "
                "improvements of 32.17 and 32.72 on the cosine distance metric for the two datasets.")
    gain = "improvements of 32.17 and 32.72 on the cosine distance metric"
    assert check_values({"technique": "x", "claimed_gain": gain, "compute": None}, abstract, ALL) == (
        {"technique": "x", "claimed_gain": gain, "compute": None}, [])
    assert figure_numbers("32.17 and 32.72 improvement; a gain of 3.1 BLEU") == {"32.72", "3.1"}
    assert figure_numbers("3 lower layers, 50 tasks, 8B parameters, GPT-2") == set()


def test_a_gain_of_bare_quantities_or_names_is_not_a_claim():
    """Replies of a 1.5B model to abstracts that claim no gain (held-out sample): sizes, counts, names."""
    abstract = ("We release Foo-8B, an 8B parameters speech model trained on 1.4 million hours of speech, and "
                "compare it with GPT-2 on 50 tasks in 2024, where it improves WER by 3 points (12.1 vs. 15.4).")
    for no_claim in ("8B parameters; 1.4 million hours of diverse speech data", "outperforms GPT-2",
                     "strong results on 50 tasks", "state of the art in 2024"):
        checked, warnings = check_values({"technique": "x", "claimed_gain": no_claim, "compute": None}, abstract, ALL)
        assert checked["claimed_gain"] is None, no_claim
        assert warnings == [{"field": "claimed_gain", "kind": GAIN_WITHOUT_FIGURE, "dropped": no_claim}]
    for claim in ("improves WER by 3 points", "12.1 vs. 15.4 WER", "lower WER (12.1 vs. 15.4)",
                  "improvements of 12.1 and 15.4 in WER", "a 3 point gain"):
        assert check_values({"technique": "x", "claimed_gain": claim, "compute": None}, abstract, ALL) == (
            {"technique": "x", "claimed_gain": claim, "compute": None}, []), claim


def test_without_the_table_only_evidence_is_marked_and_switches_are_honoured():
    values = {f: HOSTILE_LATEX_REPLY[f] for f in ("technique", "claimed_gain", "compute")}
    assert check_values(values, LATEX[1], Checks()) == (values, [])
    checked, warnings = check_values(values, LATEX[1], Checks(no_repeats=True))
    assert {w["kind"] for w in warnings} == {REPEATED_ITEM} and "99% less memory" in checked["claimed_gain"]


def test_a_checks_table_with_an_unknown_key_or_a_non_boolean_is_a_one_line_error(run_cli, tmp_path):
    shipped = (ROOT / "prompts" / "summary.toml").read_text()
    bad = write(tmp_path / "bad.toml", shipped.replace("[checks]", "[checks]\nrepeats = false"))
    with pytest.raises(InputError, match=r"bad\.toml: unknown key 'repeats' in \[checks\] \(expected "
                                         r"figures_in_abstract, gain_needs_figure, evidence_in_abstract, no_repeats\)"):
        resolve_prompt(str(bad))
    assert run_cli("ingest", str(_corpus(tmp_path))).exit_code == 0
    result = run_cli("suggest", "--prompt", str(bad), "--model", "offline")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "bad.toml: unknown key 'repeats'" in result.stderr
    with pytest.raises(InputError, match=r"x\.toml: \[checks\] no_repeats must be true or false"):
        prompt_from_text(shipped.replace("[checks]", "[checks]\nno_repeats = 1").replace(
            "no_repeats = true", ""), "x.toml")
    with pytest.raises(InputError, match=r"x\.toml: key 'latex_as_text' must be true or false"):
        prompt_from_text(shipped.replace("latex_as_text = true", 'latex_as_text = "yes"'), "x.toml")


def test_the_shipped_prompts_turn_every_check_on_and_send_latex_as_it_prints():
    for name in ("summary", "gains"):
        prompt = resolve_prompt(name)
        assert prompt.checks == ALL and prompt.latex_as_text
        message = prompt.user_message(*LATEX)
        assert "12.5% lower perplexity" in message and "at 2× the speed, with memory savings of 5%\n" in message
        assert "\\%" not in message and "$" not in message
    switched = prompt_from_text(resolve_prompt("summary").body.replace("no_repeats = true", "no_repeats = false"), "x")
    assert switched.id != resolve_prompt("summary").id and not switched.checks.no_repeats


# --------------------------------------------------------------------------- the live path


@pytest.fixture
def fake(monkeypatch):
    yield from endpoint_env(monkeypatch, KEY)


@pytest.mark.both_backends
def test_live_replies_are_stored_checked_and_the_raw_reply_stays_in_the_attempts_log(
        run_cli, tmp_path, fake, db_path, backend):
    assert run_cli("ingest", str(_corpus(tmp_path))).exit_code == 0
    runaway = json.dumps({"technique": "y" * 30_000, "claimed_gain": None, "compute": None,
                          "evidence": {"technique": "3 things", "claimed_gain": None, "compute": None}})
    fake.script = {LATEX[0]: ["reply:" + json.dumps(HOSTILE_LATEX_REPLY)],
                   NO_GAIN[0]: ["reply:" + json.dumps(NO_GAIN_REPLY)],
                   RUNAWAY[0]: ["reply:" + runaway, "reply:" + runaway]}
    result = run_cli("suggest", "--model", "gpt-test", "--concurrency", "1")
    assert result.exit_code == 0, result.stderr
    assert "suggested 3 (ok 2; failed: invalid 1)" in result.stdout

    sent = next(r.body for r in fake.requests if r.title == LATEX[0])["messages"][-1]["content"]
    assert "reaches 12.5% lower perplexity than the dense baseline at 2× the speed, with memory savings of 5%" in sent

    (suggestion,), attempts = _stored(db_path, LATEX[0])
    assert suggestion.values == {"technique": "PercentNet: sparse training schedule",
                                 "claimed_gain": "12.5% lower perplexity than the dense baseline",
                                 "compute": "64 A100 GPUs"}
    assert _kinds(suggestion) == [("compute", "ungrounded_quote"), ("claimed_gain", FIGURE_NOT_IN_ABSTRACT),
                                  ("compute", FIGURE_NOT_IN_ABSTRACT), ("claimed_gain", REPEATED_ITEM),
                                  ("compute", REPEATED_ITEM)]
    span = suggestion.evidence["claimed_gain"]
    assert (span.status, span.method) == ("exact", "printed")  # the printed quote, exactly on the stored text
    assert LATEX[1][span.start:span.end] == "reaches 12.5\\% lower perplexity than the dense baseline at $2\\times$ the speed"
    assert json.loads(suggestion.raw) == HOSTILE_LATEX_REPLY  # the reply as received, control characters and all
    assert [json.loads(raw) for raw, _, _ in attempts] == [HOSTILE_LATEX_REPLY]

    (nothing,), _ = _stored(db_path, NO_GAIN[0])
    assert nothing.values["claimed_gain"] is None and nothing.evidence["claimed_gain"] is None
    assert nothing.warnings == [{"field": "claimed_gain", "kind": GAIN_WITHOUT_FIGURE,
                                 "dropped": "impressive performance across diverse benchmark tasks"}]

    (runaway_row,), runaway_attempts = _stored(db_path, RUNAWAY[0])
    assert runaway_row.outcome == "invalid" and "technique: Value error, longer than 600 characters" in runaway_row.error
    assert [(chars, outcome) for _, chars, outcome in runaway_attempts] == [(len(runaway), "invalid")] * 2
    assert all(len(raw) < 20_100 and raw.endswith("more characters not kept]") for raw, _, _ in runaway_attempts)


# --------------------------------------------------------------------------- a batch, collected


def test_a_collected_batch_is_checked_like_a_live_reply(run_cli, tmp_path, db_path):
    assert run_cli("ingest", str(_corpus(tmp_path))).exit_code == 0
    written = run_cli("suggest", "--batch", "--batch-file", str(tmp_path / "requests.jsonl"), "--model", "m")
    assert written.exit_code == 0, written.stderr
    requests = [json.loads(line) for line in (tmp_path / "requests-1.jsonl").read_text().splitlines()]
    assert all("\\%" not in r["body"]["messages"][-1]["content"] for r in requests)  # sent as it prints
    replies = {LATEX[0]: HOSTILE_LATEX_REPLY, NO_GAIN[0]: NO_GAIN_REPLY}
    lines = []
    for request in requests:
        user = request["body"]["messages"][-1]["content"]
        title = next(t for t in (LATEX[0], NO_GAIN[0], RUNAWAY[0]) if t in user)
        if title in replies:
            body = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": json.dumps(replies[title])}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10}}
            lines.append(json.dumps({"custom_id": request["custom_id"],
                                     "response": {"status_code": 200, "body": body}, "error": None}))
    results = write(tmp_path / "results.jsonl", "\n".join(lines) + "\n")
    collected = run_cli("batch", "collect", "--file", str(results))
    assert collected.exit_code == 0, collected.stderr
    (suggestion,), attempts = _stored(db_path, LATEX[0])
    assert suggestion.values["compute"] == "64 A100 GPUs" and suggestion.batch_id is not None
    assert suggestion.values["claimed_gain"] == "12.5% lower perplexity than the dense baseline"
    assert [w["kind"] for w in suggestion.warnings if w["field"] == "claimed_gain"] == \
        [FIGURE_NOT_IN_ABSTRACT, REPEATED_ITEM]
    assert [json.loads(raw) for raw, _, _ in attempts] == [HOSTILE_LATEX_REPLY]
    (nothing,), _ = _stored(db_path, NO_GAIN[0])
    assert nothing.values["claimed_gain"] is None and nothing.warnings[0]["kind"] == GAIN_WITHOUT_FIGURE


# --------------------------------------------------------------------------- the offline model


def test_offline_suggestions_go_through_the_same_checks(run_cli, tmp_path, db_path):
    """The offline rules answer one paper with a gain item that a longer one repeats: the stored value is the
    checked one. On every seed paper what is stored passes the checks again, and is the raw answer checked."""
    abstract = ("We propose FooNet, a sparse schedule. FooNet trains 2x faster than the baseline. Again, FooNet "
                "uses 8 A100 GPUs and trains 2x faster than the baseline on 8 A100 GPUs.")
    write(tmp_path / "foo.jsonl", json.dumps({"title": "FooNet: a Sparse Schedule", "abstract": abstract}) + "\n")
    assert run_cli("ingest", str(tmp_path / "foo.jsonl"), str(ROOT / "seeds")).exit_code == 0
    result = run_cli("suggest", "--model", "offline")
    assert result.exit_code == 0, result.stderr
    (foo,), _ = _stored(db_path, "FooNet: a Sparse Schedule")
    assert json.loads(foo.raw)["claimed_gain"] == "2x faster than the baseline; 2x faster than the baseline on 8 A100 GPUs"
    assert foo.values["claimed_gain"] == "2x faster than the baseline on 8 A100 GPUs"
    assert [w for w in foo.warnings if w["kind"] == REPEATED_ITEM] == [
        {"field": "claimed_gain", "kind": REPEATED_ITEM, "dropped": "2x faster than the baseline"}]
    db = open_db(db_path)
    try:
        rows = [tuple(r) for r in db.execute("SELECT p.abstract, s.claimed_gain, s.compute, s.warnings, s.raw "
                                             "FROM suggestions s JOIN papers p ON p.id = s.paper_id "
                                             "WHERE s.outcome = 'ok'").fetchall()]
    finally:
        db.close()
    assert len(rows) == 505
    for abstract_text, gain, compute, warnings, raw in rows:
        if gain is not None:
            assert has_figure(gain, abstract_text)
        assert check_values({"technique": None, "claimed_gain": gain, "compute": compute}, abstract_text, ALL)[1] == []
        model_said = json.loads(raw)
        replayed, expected = check_values({f: model_said[f] for f in ("technique", "claimed_gain", "compute")},
                                          abstract_text, ALL)
        assert (replayed["claimed_gain"], replayed["compute"]) == (gain, compute)
        assert [w for w in json.loads(warnings) if w["kind"] in (FIGURE_NOT_IN_ABSTRACT, GAIN_WITHOUT_FIGURE,
                                                                  REPEATED_ITEM)] == expected


# --------------------------------------------------------------------------- evidence before the values


def test_evidence_first_asks_for_the_quotes_before_the_values_and_reads_either_order(fake, run_cli, tmp_path):
    """`evidence_first = true`: the schema (strict and in the prompt) and the example turns put `evidence` first,
    so a model writes its quotes before it summarises; a reply in either order is read the same."""
    shipped = resolve_prompt("summary")
    first = prompt_from_text(shipped.body.replace("latex_as_text = true", "latex_as_text = true\nevidence_first = true"),
                             tmp_path / "first.toml")
    assert first.evidence_first and first.id != shipped.id
    with pytest.raises(InputError, match=r"x\.toml: key 'evidence_first' must be true or false"):
        prompt_from_text(shipped.body.replace("latex_as_text = true", "evidence_first = 1"), "x.toml")
    write(tmp_path / "first.toml", first.body)
    assert run_cli("ingest", str(_corpus(tmp_path))).exit_code == 0
    reply = {"evidence": HOSTILE_LATEX_REPLY["evidence"], **{f: HOSTILE_LATEX_REPLY[f] for f in
                                                             ("technique", "claimed_gain", "compute")}}
    fake.script = {LATEX[0]: ["reply:" + json.dumps(reply)] * 2}
    for mode in ("json_schema", "json_object"):
        result = run_cli("suggest", "--model", "gpt-test", "--prompt", str(tmp_path / "first.toml"), "--force",
                         "--paper", _paper_id(LATEX[0]), "--response-format", mode)
        assert result.exit_code == 0 and "ok 1" in result.stdout, result.stdout + result.stderr
    strict, in_prompt = fake.requests[-2].body, fake.requests[-1].body
    schema = strict["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"])[0] == "evidence" and schema["required"][0] == "evidence"
    system = in_prompt["messages"][0]["content"]
    assert system.index('"evidence"') < system.index('"technique"')
    example_answer = json.loads(in_prompt["messages"][2]["content"])
    assert list(example_answer)[0] == "evidence"
    suggestions, _ = _stored(Path("annotations/workbench.db"), LATEX[0])  # one per response format
    assert [s.values["compute"] for s in suggestions] == ["64 A100 GPUs"] * 2  # read, then checked, as any reply
    assert list(json.loads(shipped.render(*LATEX)[2]["content"]))[0] == "technique"  # without the flag: as before


def _paper_id(title: str) -> str:
    from workbench.corpus import paper_id

    return paper_id(title)
