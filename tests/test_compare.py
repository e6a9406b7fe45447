"""`workbench compare`, `agreement` and `stats`: numbers that follow from a store built to know them."""

from __future__ import annotations

import json

import pytest

from workbench.prompt_report import compare
from workbench.prompts import resolve_prompt
from tests.factories import add_suggestion
from workbench.store import Decision, decide, get_suggestion, paper_order
from workbench.records import SuggestionKey

FIELDS = ("technique", "claimed_gain", "compute")


def suggestion_row(db, pid, prompt_id, model):
    return get_suggestion(db, SuggestionKey(prompt_id, model, "{}").suggestion_id(pid))


A, B, FAILING = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture
def store(seeded_db):
    """10 papers: prompt A matches the human decisions exactly; prompt B differs on 4 of them."""
    db = seeded_db
    ids = [pid for _, pid in paper_order(db)[:10]]
    for i, pid in enumerate(ids):
        human = {"technique": f"method {i}", "claimed_gain": f"{i + 2}x faster" if i % 2 else None,
                 "compute": "8 GPUs" if i < 5 else None}
        add_suggestion(db, pid, A, "alpha", "model-x", human,
                       evidence={"technique": {"quote": "q", "start": 0, "end": 1, "status": "exact"}})
        other = dict(human)
        if i < 4:
            other["technique"] = f"another method {i}"
            other["claimed_gain"] = "9x faster"
        add_suggestion(db, pid, B, "beta", "model-x", other, latency=300,
                       evidence={"technique": {"quote": "q", "start": None, "end": None, "status": "ungrounded"}},
                       warnings=[{"field": "claimed_gain", "kind": "number_not_in_abstract", "number": "9"}] if i < 4 else [])
        add_suggestion(db, pid, FAILING, "gamma", "model-x", {}, outcome="error")
        if i < 8:  # 8 decided: 7 kept, 1 rejected
            status = "rejected" if i == 7 else "accepted"
            decide(db, Decision(pid, "ana", status, human if status != "rejected" else {},
                                suggestion_row(db, pid, A, "model-x"), seconds=10.0))
    return db, ids


def test_the_prompt_humans_agree_with_scores_one_and_the_other_less(store):
    db, _ = store
    results = {r["prompt"]: r for r in compare(db)}
    alpha, beta, gamma = results["alpha"], results["beta"], results["gamma"]
    assert (alpha["decided"], alpha["coverage"], alpha["accept_rate"]) == (7, 1.0, 1.0)
    assert all(alpha["fields"][f]["exact"] == 1.0 and alpha["fields"][f]["token_f1"] == 1.0 for f in FIELDS)
    # B differs on technique and claimed gain for papers 0-3 (all four among the 7 kept)
    assert beta["accept_rate"] == round(3 / 7, 4)
    assert beta["fields"]["technique"]["exact"] == round(3 / 7, 4)
    assert beta["fields"]["compute"]["exact"] == 1.0
    # claimed gain numbers: humans state i+2 for odd i in 0..6 -> papers 1,3,5 ; B says 9 on 1 and 3
    assert beta["fields"]["claimed_gain"]["number_recall"] == round(1 / 3, 4)
    assert alpha["rejected"] == 1 and alpha["rejected_total"] == 1
    assert alpha["grounding"]["exact"] == 1.0 and beta["grounding"]["ungrounded"] == 1.0
    assert beta["grounding"]["numbers_not_in_abstract"] == 4
    assert (alpha["median_latency_ms"], beta["median_latency_ms"]) == (100, 300)
    # a prompt with only failed suggestions
    assert (gamma["coverage"], gamma["accept_rate"], gamma["failed"], gamma["outcomes"]) == (0.0, None, 10, {"error": 10})
    assert gamma["fields"]["technique"]["exact"] is None


def test_no_decisions_means_no_ratios(seeded_db):
    pid = paper_order(seeded_db)[0][1]
    add_suggestion(seeded_db, pid, A, "alpha", "model-x", {"technique": "t", "claimed_gain": None, "compute": None})
    (result,) = compare(seeded_db)
    assert (result["decided"], result["coverage"], result["accept_rate"]) == (0, None, None)


def test_compare_cli_json_carries_the_contract_keys(store, run_cli):
    out = run_cli("compare", "--json")
    assert out.exit_code == 0
    rows = json.loads(out.stdout)
    assert [r["prompt"] for r in rows] == ["alpha", "beta", "gamma"]
    for row in rows:
        for key in ("prompt", "prompt_hash", "model", "papers", "coverage", "accept_rate", "fields"):
            assert key in row
        assert set(row["fields"]) == set(FIELDS)
        assert set(row["fields"]["claimed_gain"]) >= {"exact", "token_f1", "number_recall"}
    assert rows[0]["accept_rate"] == 1.0 and rows[1]["accept_rate"] < 1.0
    only = json.loads(run_cli("compare", "--json", "--prompt", "beta").stdout)
    assert [r["prompt"] for r in only] == ["beta"]


def test_compare_table_marks_the_best_and_diff_shows_differences(store, run_cli):
    out = run_cli("compare", "--diff", "2", "--prompt", "alpha", "--prompt", "beta", env={"COLUMNS": "160"})
    assert out.exit_code == 0
    accept_line = next(line for line in out.stdout.splitlines() if "accept rate" in line)
    assert "★ 100.0%" in accept_line and "42.9%" in accept_line
    assert out.stdout.count("distance") == 2 and "another method" in out.stdout and "human: ana (accepted)" in out.stdout


def test_every_prompt_version_gets_its_own_row(seeded_db, run_cli, tmp_path, monkeypatch):
    from tests.conftest import ROOT, write

    folder = tmp_path / "p"
    folder.mkdir()
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(folder))
    text = (ROOT / "prompts" / "summary.toml").read_text()
    for version in range(3):
        write(folder / "summary.toml", text.replace("short phrase", f"short phrase v{version}"))
        assert run_cli("suggest", "--limit", "2").exit_code == 0
    rows = json.loads(run_cli("compare", "--json").stdout)
    assert len(rows) == 3 and len({r["prompt_hash"] for r in rows}) == 3
    table = run_cli("compare", env={"COLUMNS": "200"}).stdout
    assert table.count("summary@") == 3


def test_compare_without_suggestions_is_a_clear_error(seeded_db, run_cli):
    result = run_cli("compare")
    assert result.exit_code == 2 and "no suggestions match" in result.stderr


def test_agreement_of_identical_annotators_is_perfect(store, run_cli):
    db, ids = store
    for pid in ids[:8]:
        row = next(db.query("SELECT * FROM annotations WHERE paper_id = ? AND annotator = 'ana'", [pid]))
        decide(db, Decision(pid, "ben", row["status"], {f: row[f] for f in FIELDS}))
    team = json.loads(run_cli("agreement", "--json").stdout)  # every annotator; two of them: the pair too
    assert (team["annotators"], team["papers"]) == (["ana", "ben"], 8)
    assert team["fields"]["technique"]["value"]["exact"] == 1.0
    result = team["pair"]
    assert (result["annotators"], result["papers"], result["kappa"], result["status_agreement"]) == (["ana", "ben"], 8, 1.0, 1.0)
    assert result["fields"]["technique"] == {"exact": 1.0, "token_f1": 1.0} and result["disagreements"] == []


def test_agreement_lists_disagreements_and_kappa(store, run_cli):
    db, ids = store
    for i, pid in enumerate(ids[:8]):
        row = next(db.query("SELECT * FROM annotations WHERE paper_id = ? AND annotator = 'ana'", [pid]))
        status = "rejected" if i in (0, 1) else row["status"]  # ben rejects two that ana accepted
        fields = {f: row[f] for f in FIELDS}
        if i == 2:
            fields["technique"] = "something else"
        decide(db, Decision(pid, "ben", status, fields))
    result = json.loads(run_cli("agreement", "--annotators", "ana,ben", "--json").stdout)
    # statuses: ana 7 accepted + 1 rejected; ben 5 accepted + 3 rejected; agree on 6 of 8
    # p_o = 6/8; p_e = (7*5 + 1*3)/64 = 38/64; kappa = (48/64 - 38/64) / (26/64) = 10/26
    assert result["status_agreement"] == 0.75 and result["kappa"] == round(10 / 26, 4)
    assert [d["paper_id"] for d in result["disagreements"]] == ids[:3]
    assert result["fields"]["technique"]["exact"] == round(4 / 5, 4)
    text = run_cli("agreement", env={"COLUMNS": "160"}).stdout
    assert "3 disagreements" in text and "Cohen's kappa 0.385" in text


def test_agreement_needs_two_annotators(seeded_db, run_cli):
    result = run_cli("agreement")
    assert result.exit_code == 2 and "name two with --annotators A,B" in result.stderr
    assert "--annotators: 'ana' has no decisions in this store (known: none)" in run_cli("agreement", "--annotators", "ana,zoe").stderr


def test_stats_json_has_throughput_and_rates(store, run_cli):
    report = json.loads(run_cli("stats", "--json").stdout)
    assert report["progress"] == {"decided_papers": 8, "share": round(8 / 504, 4)}
    assert report["throughput"]["overall"] == {"decisions": 8, "decisions_per_hour": 360.0,
                                               "median_seconds_per_paper": 10.0}
    (rates,) = report["rates"]
    assert (rates["prompt"], rates["model"], rates["decided"]) == (f"alpha@{A[:8]}", "model-x", 8)
    assert (rates["accepted_rate"], rates["rejected_rate"]) == (0.875, 0.125)
    assert rates["field_edit_rates"] == {"technique": 0.0, "claimed_gain": 0.0, "compute": 0.0}
    text = run_cli("stats", env={"COLUMNS": "140"}).stdout
    assert "overall: 8 decisions, 360.0 per hour, median 10.0 s per paper" in text


ANNOTATOR_COMMANDS = [["stats"], ["stats", "--json"], ["export"], ["export", "--status", "accepted"], ["compare"],
                      ["compare", "--json"]]


@pytest.mark.parametrize("command", ANNOTATOR_COMMANDS)
def test_an_annotator_with_no_decisions_is_one_line_naming_who_has_some(store, run_cli, command):
    """`--annotator nobody` is most likely a typo: stats, export and compare say so the same way, exit 2,
    and print nothing else (it used to be an empty report, exit 0)."""
    db, ids = store
    decide(db, Decision(ids[9], "ben", "rejected", {}))
    result = run_cli(*command, "--annotator", "anna")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["workbench: --annotator: 'anna' has no decisions in this store "
                                          "(known: ana, ben)"]
    assert run_cli(*command, "--annotator", "ana").exit_code == 0  # someone with decisions: as before


@pytest.mark.parametrize("command", [["review"], *ANNOTATOR_COMMANDS, ["export", "--final"], ["export", "--suggestions"]])
@pytest.mark.parametrize("name", ["", "  "])
def test_an_annotator_given_empty_is_refused_never_taken_as_the_default(store, run_cli, monkeypatch, command, name):
    """`review --annotator ''` used to review as the login name; `export --final --annotator ''` ignored it."""
    import workbench.tui.app

    monkeypatch.setattr(workbench.tui.app, "create_app", lambda *a, **k: pytest.fail("the review started"))
    db, ids = store
    decide(db, Decision(ids[9], "ben", "rejected", {}))
    result = run_cli(*command, "--annotator", name)
    assert result.exit_code == 2 and result.stdout == ""
    expected = {"--final": "--final takes no other filter (--status, --annotator, --flagged, --suggestions, ...)",
                "--suggestions": "--status, --annotator and --flagged apply to annotations, not to --suggestions"}
    line = expected.get(command[-1], f"--annotator {name!r} must be a non-empty string")
    assert result.stderr == f"workbench: {line}\n"


def test_every_annotator_option_words_an_unknown_name_alike_bounded_and_safe(seeded_db, run_cli):
    """A hostile name and a crowd of annotators: the line stays one line, bounded, with no control character."""
    pid = paper_order(seeded_db)[0][1]
    for n in range(14):
        decide(seeded_db, Decision(pid, f"reviewer-{n:02d}-" + "x" * 90, "rejected", {}))
    hostile = "\x1b]0;owned\x07" + "\u202e" + "z" * 500
    known = ", ".join(f"reviewer-{n:02d}-" + "x" * 27 + "…" for n in range(10)) + ", and 4 more"
    lines = {
        ("stats", "--annotator", hostile): f"--annotator: '{{}}' has no decisions in this store (known: {known})",
        ("export", "--annotator", hostile): f"--annotator: '{{}}' has no decisions in this store (known: {known})",
        ("compare", "--annotator", hostile): f"--annotator: '{{}}' has no decisions in this store (known: {known})",
        ("agreement", "--annotators", f"reviewer-00-{'x' * 90},{hostile}"):
            f"--annotators: '{{}}' has no decisions in this store (known: {known})",
        ("agreement", "--annotators", f"reviewer-00-{'x' * 90},reviewer-01-{'x' * 90},{hostile}"):
            f"--annotators: '{{}}' has no decisions in this store (known: {known})",
    }
    for args, expected in lines.items():
        result = run_cli(*args)
        assert result.exit_code == 2 and result.stdout == "", args
        [line] = result.stderr.splitlines()
        assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line and len(line) < 900, args
        name = line.split("'")[1]
        assert len(name) == 60 and name.endswith("z…"), args
        assert line == "workbench: " + expected.format(name), args


def test_compare_against_an_unknown_name_lists_who_has_decisions(store, run_cli):
    db, ids = store
    decide(db, Decision(ids[9], "ben", "rejected", {}))
    result = run_cli("compare", "--against", "anna")
    assert result.exit_code == 2 and result.stderr.splitlines() == [
        "workbench: --against: 'anna' is neither a gold file nor an annotator with decisions in this store "
        "(known: ana, ben)"]
