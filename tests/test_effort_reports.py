"""Edit effort in `compare`, `stats` and the stats screen, and `compare --against` a reviewer or a gold file,
through the real CLI on a real store. Every figure below is worked out by hand in the comments."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from tests.factories import add_suggestion
from tests.tui_helpers import running, settle
from workbench.ingest import ingest
from workbench.records import SuggestionKey
from workbench.store import Decision, decide, decisions_started_from, get_suggestion, paper_order

A, B = "a" * 64, "b" * 64
NOTHING = {"technique": None, "claimed_gain": None, "compute": None}
TITLES = ["LoRA adapters for speed", "Sparse attention", "Distillation", "Untouched"]


def _suggestion(db, pid, prompt_id):
    return get_suggestion(db, SuggestionKey(prompt_id, "m", "{}").suggestion_id(pid))


@pytest.fixture
def papers(db, tmp_path):
    """Four papers; prompt alpha (A) and beta (B) on model m; ana decides P1-P3 from alpha, ben P1 from beta."""
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text("".join(json.dumps({"title": t, "abstract": f"Abstract of {t}."}) + "\n" for t in TITLES))
    ingest(db, [corpus])
    p1, p2, p3, p4 = [pid for _, pid in paper_order(db)]
    alpha = {p1: {"technique": "LoRA adapters", "claimed_gain": "2x faster", "compute": None},
             p2: {"technique": "sparse attention", "claimed_gain": "improves accuracy", "compute": "8 GPUs"},
             p3: {"technique": "distillation", "claimed_gain": None, "compute": None}}
    for pid, values in alpha.items():
        add_suggestion(db, pid, A, "alpha", "m", values)
    add_suggestion(db, p1, B, "beta", "m", {"technique": "LoRA", "claimed_gain": "2x faster", "compute": None})
    add_suggestion(db, p2, B, "beta", "m", {}, outcome="error")
    add_suggestion(db, p3, B, "beta", "m", alpha[p3])
    decide(db, Decision(p1, "ana", "accepted", alpha[p1], _suggestion(db, p1, A)))
    decide(db, Decision(p2, "ana", "edited", {**alpha[p2], "claimed_gain": "improves accuracy by 3%"},
                        _suggestion(db, p2, A)))
    decide(db, Decision(p3, "ana", "rejected", NOTHING, _suggestion(db, p3, A)))
    decide(db, Decision(p1, "ben", "edited", alpha[p1], _suggestion(db, p1, B)))
    return db, (p1, p2, p3, p4)


# alpha, decisions that started from it (ana's three):
#   P1 accepted: typed 0 of 13 + 9 = 22 -> saved 1, as is; fields 1 / 1 / 1 (compute null kept: nothing to type)
#   P2 edited: gain + " by 3%" = 6 typed; scratch 16 + 23 + 6 = 45 -> saved 39/45; fields 1 / 17/23 / 1
#   P3 rejected: saved 0; fields 0 / 0 / 0
ALPHA_EFFORT = {"decisions": 3, "accepted_as_is": 0.3333, "saved": round((1 + 39 / 45) / 3, 4),
                "fields": {"technique": 0.6667, "claimed_gain": round((1 + 17 / 23) / 3, 4), "compute": 0.6667},
                "typed_chars": 6, "scratch_chars": 67}
# beta, ben's P1: "LoRA" -> "LoRA adapters" is 9 typed of 22 -> 13/22; technique 4/13
BETA_EFFORT = {"decisions": 1, "accepted_as_is": 0.0, "saved": round(13 / 22, 4),
               "fields": {"technique": round(4 / 13, 4), "claimed_gain": 1.0, "compute": 1.0},
               "typed_chars": 9, "scratch_chars": 22}


@pytest.mark.both_backends
def test_the_store_names_the_suggestion_each_decision_started_from(papers):
    db, (p1, p2, p3, _) = papers
    rows = list(decisions_started_from(db))
    assert [(r.paper_id, r.annotator, r.status) for r in rows] == [
        (p1, "ana", "accepted"), (p1, "ben", "edited"), (p2, "ana", "edited"), (p3, "ana", "rejected")]
    assert rows[1].suggestion_id == SuggestionKey(B, "m", "{}").suggestion_id(p1)
    assert rows[1].suggested["technique"] == "LoRA" and rows[1].title == TITLES[0] and rows[1].model == "m"
    assert [r.annotator for r in decisions_started_from(db, "ben")] == ["ben"]


@pytest.mark.both_backends
def test_compare_json_reports_the_effort_of_decisions_started_from_each_prompt(papers, run_cli):
    out = run_cli("compare", "--json")
    assert out.exit_code == 0, out.stderr
    effort = {r["prompt"]: r["effort"] for r in json.loads(out.stdout)}
    assert effort == {"alpha": ALPHA_EFFORT, "beta": BETA_EFFORT}
    only_ana = {r["prompt"]: r["effort"] for r in json.loads(run_cli("compare", "--json", "--annotator", "ana").stdout)}
    assert only_ana["alpha"] == ALPHA_EFFORT
    assert only_ana["beta"] == {"decisions": 0, "accepted_as_is": None, "saved": None,
                                "fields": {"technique": None, "claimed_gain": None, "compute": None},
                                "typed_chars": 0, "scratch_chars": 0}


def test_compare_table_shows_effort_rows(papers, run_cli):
    out = run_cli("compare", env={"COLUMNS": "160"})
    assert out.exit_code == 0, out.stderr
    lines = out.stdout.splitlines()
    row = lambda label: next(line for line in lines if line.startswith(f"│ {label} "))  # noqa: E731
    assert "33.3%" in row("accepted as is") and "★ 0.0%" not in row("accepted as is")
    assert "62.2%" in row("effort saved") and "★ 62.2%" in row("effort saved") and "59.1%" in row("effort saved")
    assert "★ 66.7%" in row("technique: effort saved") and "30.8%" in row("technique: effort saved")


def test_stats_json_and_table_report_effort_by_the_suggestion_started_from(papers, run_cli):
    out = run_cli("stats", "--json")
    assert out.exit_code == 0, out.stderr
    rates = {r["prompt"]: r for r in json.loads(out.stdout)["rates"]}
    assert rates[f"alpha@{A[:8]}"]["effort"] == ALPHA_EFFORT
    assert rates[f"beta@{B[:8]}"]["effort"] == BETA_EFFORT
    table = run_cli("stats", env={"COLUMNS": "140"}).stdout
    assert "Edit effort by the suggestion it started from" in table
    alpha_line = next(line for line in table.splitlines() if f"alpha@{A[:8]}" in line and "62.2%" in line)
    assert "33.3%" in alpha_line and "67% / 58% / 67%" in alpha_line


# Against ana: her accepted and edited papers (P1, P2) are the gold; P3's rejection is no gold value.
#   gold figures, found in her claimed gains: P1 "2x faster" -> 2; P2 "... by 3%" -> 3
#   alpha: carries 2 on P1, misses 3 on P2 -> recall 0.5; its figures: "2" (right) -> precision 1.0;
#     no paper without a gain -> null rate none; compute 8 of "8 GPUs" -> 1.0; technique F1 1.0;
#     the title alone: "LoRA adapters for speed" vs "LoRA adapters" 2/3, "Sparse attention" 1 -> 0.8333;
#     gain length median of 9 and 17 = 13; effort: P1 saved 1 (as is), P2 39/45
#   beta: P2 failed, so 1 of 2 papers; P1 "LoRA" vs "LoRA adapters" F1 2/3; effort 13/22
def test_compare_against_a_reviewer(papers, run_cli):
    out = run_cli("compare", "--against", "ana", "--json")
    assert out.exit_code == 0, out.stderr
    alpha, beta = json.loads(out.stdout)
    assert alpha["against"] == {"annotator": "ana"} and alpha["gold_papers"] == 2
    assert (alpha["papers"], alpha["coverage"], alpha["figures"], alpha["carried"]) == (2, 1.0, 2, 1)
    assert (alpha["figure_recall"], alpha["figure_precision"], alpha["null_rate"]) == (0.5, 1.0, None)
    assert (alpha["compute_recall"], alpha["technique_f1"], alpha["title_f1"]) == (1.0, 1.0, 0.8333)
    assert (alpha["gain_length"], alpha["gold_gain_length"]) == (13, 16)
    assert alpha["effort"] == {"decisions": 2, "accepted_as_is": 0.5, "saved": round((1 + 39 / 45) / 2, 4),
                               "fields": {"technique": 1.0, "claimed_gain": round((1 + 17 / 23) / 2, 4), "compute": 1.0},
                               "typed_chars": 6, "scratch_chars": 67}
    assert (beta["papers"], beta["coverage"], beta["figure_recall"], beta["technique_f1"]) == (1, 0.5, 1.0, 0.6667)
    assert beta["effort"]["saved"] == round(13 / 22, 4)
    table = run_cli("compare", "--against", "ana", env={"COLUMNS": "160"}).stdout
    assert "Suggestions against reviewer ana: 2 papers" in table
    assert "gain-figure recall" in table and "0.50" in table and "★ 93.3%" in table


def _gold_line(pid, title, figures, technique, gain, compute, **more):
    return json.dumps({"paper_id": pid, "title": title, "gain_figures": figures, "technique": technique,
                       "claimed_gain": gain, "compute": compute, **more}) + "\n"


# A gold file of P1 and P3 (the file's values, not ana's):
#   alpha on P1: "2x faster" carries "2x"; on P3 gain null on a no-gain abstract -> recall 1, null 1, precision 1;
#     compute "one GPU" has no number: nothing to count -> compute recall null (shown as such, not 1.0)
#   effort: P1 gain + " training" = 9 of 13 + 18 = 31 -> 22/31; P3 compute "one GPU" 7 of 12 + 7 -> 12/19
#     fields: technique 1, 1; gain 1 - 9/18 and 1 (null kept) -> 0.75; compute 1 (null kept) and 0 -> 0.5
def test_compare_against_a_gold_file(papers, run_cli, tmp_path):
    _, (p1, _, p3, _) = papers
    gold = tmp_path / "gold.jsonl"
    gold.write_text(_gold_line(p1, TITLES[0], ["2x"], "LoRA adapters", "2x faster training", None, note="n")
                    + "\n" + _gold_line(p3, TITLES[2], [], "distillation", None, "one GPU"))
    out = run_cli("compare", "--against", str(gold), "--prompt", "alpha", "--json")
    assert out.exit_code == 0, out.stderr
    (alpha,) = json.loads(out.stdout)
    assert alpha["against"] == {"file": str(gold)} and alpha["gold_not_in_store"] == 0
    assert (alpha["figure_recall"], alpha["null_rate"], alpha["figure_precision"], alpha["compute_recall"]) == (
        1.0, 1.0, 1.0, None)
    assert (alpha["technique_f1"], alpha["no_gain"], alpha["null_on_no_gain"]) == (1.0, 1, 1)
    assert alpha["effort"] == {"decisions": 2, "accepted_as_is": 0.0, "saved": round((22 / 31 + 12 / 19) / 2, 4),
                               "fields": {"technique": 1.0, "claimed_gain": 0.75, "compute": 0.5},
                               "typed_chars": 16, "scratch_chars": 50}


@pytest.mark.parametrize("content, problem", [
    ('{"paper_id": "x"', ":2: not valid JSON"),
    ('["a list"]', ":2: not a JSON object"),
    ('{"paper_id": "x", "title": "t"}', ":2: missing 'gain_figures'"),
    ('{"paper_id": "x", "title": "t", "gain_figures": [], "gain": "2x"}', ":2: unknown key 'gain'"),
    ('{"paper_id": "x", "title": "t", "gain_figures": "2x"}', ":2: 'gain_figures' must be a list"),
    ('{"paper_id": "x", "title": "t", "gain_figures": [], "compute": 8}', ":2: 'compute' must be a string or null"),
    ('{"paper_id": "P", "title": "t", "gain_figures": []}', ":2: paper 'P' is already on line 1"),
])
def test_a_bad_gold_file_is_one_line_naming_file_and_line(papers, run_cli, tmp_path, content, problem):
    gold = tmp_path / "bad gold.jsonl"
    gold.write_text('{"paper_id": "P", "title": "t", "gain_figures": []}\n' + content + "\n")
    out = run_cli("compare", "--against", str(gold))
    assert out.exit_code == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(f"workbench: {gold}{problem}")  # FILE:LINE: what


def test_a_gold_file_that_is_not_utf8_is_one_line(papers, run_cli, tmp_path):
    gold = tmp_path / "latin1.jsonl"
    gold.write_bytes(b'{"paper_id": "P", "title": "t", "gain_figures": []}\n{"paper_id": "Q", "title": "caf\xe9"}\n')
    out = run_cli("compare", "--against", str(gold))
    assert out.exit_code == 2 and out.stderr == f"workbench: {gold}:2: not UTF-8 text (byte 32)\n"


def test_a_gold_file_that_is_a_fifo_is_refused_not_waited_on(papers, run_cli, tmp_path):
    import os

    fifo = tmp_path / "gold.jsonl"
    os.mkfifo(fifo)  # nobody writes it: reading it would wait forever
    out = run_cli("compare", "--against", str(fifo))
    assert out.exit_code == 2 and out.stderr == f"workbench: gold file {fifo}: not a regular file\n"


def test_against_names_what_it_cannot_use(papers, run_cli, tmp_path):
    missing = run_cli("compare", "--against", str(tmp_path / "nowhere.jsonl"))
    assert missing.exit_code == 2 and "nowhere.jsonl: cannot be read" in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert "no records" in run_cli("compare", "--against", str(empty)).stderr
    nobody = run_cli("compare", "--against", "zoe")
    assert nobody.exit_code == 2 and "'zoe' is neither a gold file nor an annotator" in nobody.stderr
    both = run_cli("compare", "--against", "ana", "--annotator", "ben")
    assert both.exit_code == 2 and "--against does not go with --annotator" in both.stderr


def test_gold_papers_missing_from_the_store_count_against_coverage_and_are_named(papers, run_cli, tmp_path):
    _, (p1, *_) = papers
    gold = tmp_path / "gold.jsonl"
    gold.write_text(_gold_line(p1, TITLES[0], ["2x"], "LoRA adapters", "2x faster", None)
                    + _gold_line("0123456789abcdef", "Elsewhere", [], "x", None, None))
    (alpha, beta) = json.loads(run_cli("compare", "--against", str(gold), "--json").stdout)
    assert (alpha["gold_papers"], alpha["gold_not_in_store"], alpha["papers"], alpha["coverage"]) == (2, 1, 1, 0.5)
    assert (alpha["effort"]["accepted_as_is"], beta["effort"]["saved"]) == (1.0, round(13 / 22, 4))
    out = run_cli("compare", "--against", str(gold))
    assert out.exit_code == 0 and "1 of the 2 gold papers are not in this store" in out.stdout + out.stderr


def test_suggestions_differing_only_in_parameters_keep_their_own_effort(papers, run_cli):
    db, (p1, *_) = papers
    add_suggestion(db, p1, B, "beta", "m", {"technique": "LoRA adapters", "claimed_gain": "2x faster", "compute": None},
                   params='{"temperature": 1}')
    rows = {json.dumps(r["params"]): r["effort"]
            for r in json.loads(run_cli("compare", "--json", "--prompt", "beta").stdout)}
    assert rows == {"{}": BETA_EFFORT, '{"temperature": 1}': {**BETA_EFFORT, "decisions": 0, "accepted_as_is": None,
                                                              "saved": None, "typed_chars": 0, "scratch_chars": 0,
                                                              "fields": dict.fromkeys(BETA_EFFORT["fields"])}}


def test_a_gold_file_named_like_markup_is_shown_as_written(papers, run_cli, tmp_path):
    _, (p1, *_) = papers
    gold = tmp_path / "[bold red]x[red]\x1b[2J.jsonl"
    gold.write_text(_gold_line(p1, "[link=http://e.x]t", ["2x"], "LoRA", "2x", None))
    out = run_cli("compare", "--against", str(gold), env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.stderr
    title = "".join(line.strip() for line in out.stdout.splitlines()[:3])  # the title wraps at the table's width
    assert "[bold red]x[red]␛[2J.jsonl: 1 papers" in title and "\x1b" not in out.stdout
    gold.write_text("{\n")
    bad = run_cli("compare", "--against", str(gold))
    assert bad.exit_code == 2 and "[bold red]x[red]" in bad.stderr and "\x1b" not in bad.stderr


async def test_the_stats_screen_shows_effort_by_the_suggestion_started_from(papers, db_path):
    from workbench.tui.screens.stats import stats_renderable

    db, (_, _, _, p4) = papers
    async with running(db_path) as (app, pilot):
        assert app.session.current_id == p4  # ana's todo: the one paper she has not decided
        await pilot.press("a")  # the offline summary taken as is: saved 1
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        body = app.screen.query_one("#stats-body").content
        console = Console(width=100, record=True)
        console.print(body)
        text = console.export_text()
        narrow = Console(width=80, record=True)
        narrow.print(stats_renderable(app.session.stats(), 80))
        narrow_text = narrow.export_text()
    assert "62.2%" in narrow_text and "saved per field" not in narrow_text  # below 100 columns: no per-field column
    effort = text[text.index("Edit effort by the suggestion it started from"):].splitlines()
    alpha = next(line for line in effort if f"alpha@{A[:8]}" in line)
    assert "33.3%" in alpha and "62.2%" in alpha and "67% / 58% / 67%" in alpha
    summary = next(line for line in effort if "summary@" in line)  # as is, saved, per field: all 100%
    assert summary.count("100.0%") == 2 and "100% / 100% / 100%" in summary
