"""`workbench agreement` for three annotators, and the `team` commands (workbench/cli_team_work.py)."""

from __future__ import annotations

import json

from workbench.db import open_db
from workbench.ingest import ingest
from workbench.store import Decision, decide, paper_order
from workbench.vocab import ACCEPTED, REJECTED, adjudicator_role
from tests.test_leases import papers_file


def _store(db_path, tmp_path, count=6):
    db = open_db(db_path)
    ingest(db, [papers_file(tmp_path, count)])
    return db, [pid for _, pid in paper_order(db)]


def _say(db, pid, who, technique, gain=None, status=ACCEPTED):
    decide(db, Decision(pid, who, status, {"technique": technique, "claimed_gain": gain, "compute": None}))


def test_agreement_of_three_annotators_per_field(db_path, tmp_path, run_cli):
    db, ids = _store(db_path, tmp_path)
    for pid in ids[:4]:  # all three give the same technique on four papers
        for who in ("ana", "ben", "cleo"):
            _say(db, pid, who, "Layer dropping.", "3x faster")
    _say(db, ids[4], "ana", "layer dropping", "3x faster")  # a fifth: cleo differs, ben says nothing
    _say(db, ids[4], "ben", None, status=REJECTED)
    _say(db, ids[4], "cleo", "token merging", "2.5x faster")
    _say(db, ids[4], adjudicator_role("dora"), "layer dropping", "3x faster")
    db.close()
    result = json.loads(run_cli("agreement", "--json").stdout)
    assert result["annotators"] == ["ana", "ben", "cleo"] and result["papers"] == 5
    technique = result["fields"]["technique"]
    # presence: 14 "stated" and 1 "none" over 5 papers: pa = 4/5 + (1/5) * (1/3) = 13/15
    assert technique["presence"]["ac1"]["observed"] == round(13 / 15, 4)
    assert technique["presence"]["ac1"]["ci95"] is not None and technique["presence"]["alpha"]["units"] == 5
    # values: 4 papers x 3 pairs identical after normalisation, + 1 pair (ana, cleo) that differs
    assert technique["value"] == {"papers": 5, "pairs": 13, "token_f1": round(12 / 13, 4), "exact": round(12 / 13, 4)}
    assert result["fields"]["claimed_gain"]["value"]["same_numbers"] == round(12 / 13, 4)
    # cleo against the others' consensus: 4 papers agree; on the fifth ana and ben disagree (no majority)
    assert result["against_consensus"]["cleo"]["technique"] == {"papers": 4, "exact": 1.0, "token_f1": 1.0}
    assert result["against_adjudicated"]["ana"]["technique"] == {"papers": 1, "exact": 1.0, "token_f1": 1.0}
    assert result["against_adjudicated"]["cleo"]["technique"]["exact"] == 0.0
    assert "dora@adjudicated" not in result["annotators"]
    text = run_cli("agreement", env={"COLUMNS": "200"}).stdout
    assert "3 annotators (ana, ben, cleo)" in text and "presence AC1" in text
    pair = json.loads(run_cli("agreement", "--annotators", "ana,cleo", "--json").stdout)
    assert pair["annotators"] == ["ana", "cleo"] and "kappa" in pair  # the two-annotator report, as before
    one = run_cli("agreement", "--annotators", "ana")  # the store has three: the problem is that one was named
    assert one.exit_code == 2 and one.stderr == (
        "workbench: --annotators names 1; agreement is between two or more (--annotators A,B)\n")


def test_team_per_paper_show_and_status(db_path, tmp_path, run_cli):
    db, ids = _store(db_path, tmp_path)
    db.close()
    assert "no distribution set" in run_cli("team", "show").stdout
    assert run_cli("team", "per-paper", "0").exit_code == 2
    bad = run_cli("team", "per-paper", "2", "--overlap", "1.5")
    assert bad.exit_code == 2 and "--overlap" in bad.stderr
    assert run_cli("team", "per-paper", "1", "--overlap", "0.5").exit_code == 2
    for share in ("nan", "inf", "-0.1"):  # NaN was stored as NULL: every paper needed 2
        bad = run_cli("team", "per-paper", "2", "--overlap", share)
        assert (bad.exit_code, bad.stdout) == (2, "")
        assert bad.stderr == f"workbench: --overlap must be a share of the papers from 0 to 1 (got '{share}')\n"
    assert "no distribution set" in run_cli("team", "show").stdout
    out = run_cli("team", "per-paper", "2", "--lease-minutes", "10").stdout
    assert "every paper needs 2 decisions; a lease lasts 10 min" in out
    assert "every paper needs 2 decisions" in run_cli("team", "show").stdout
    db = open_db(db_path)
    from workbench.store import claim
    for who in ("ana", "ben"):
        _say(db, ids[0], who, "layer dropping")  # agree: complete
        _say(db, ids[1], who, "layer dropping" if who == "ana" else "pruning")  # differ: waiting
    _say(db, ids[2], "ana", "pruning", status=REJECTED)  # one of two: in progress
    claim(db, ids[3], "ben", "s1")  # held: in progress
    db.close()
    report = json.loads(run_cli("team", "status", "--json").stdout)
    assert report["papers"] == {"complete": 1, "in_progress": 2, "not_started": 2, "awaiting_adjudication": 1}
    ana, ben = report["annotators"]
    assert (ana["annotator"], ana["decisions"], ana["rates"]["rejected"], ana["live_leases"]) == ("ana", 3, round(1 / 3, 4), 0)
    assert (ben["decisions"], ben["live_leases"], ben["agreement_with_consensus"]) == (2, 1, round(5 / 6, 4))
    assert report["distribution"] == {"per_paper": 2, "overlap": None, "lease_seconds": 600}
    text = run_cli("team", "status", env={"COLUMNS": "200"}).stdout
    assert "1 waiting for adjudication" in text and "live leases" in text


def test_team_per_paper_off_undoes_the_split_and_gives_back_every_hold(db_path, tmp_path, run_cli):
    from workbench.store import claim, get_distribution, live_leases

    db, ids = _store(db_path, tmp_path)
    db.close()
    assert run_cli("team", "per-paper", "2").exit_code == 0
    db = open_db(db_path)
    claim(db, ids[0], "ben", "s1")
    claim(db, ids[1], "cleo", "s2")  # on her first paper: no decision yet, but at work
    db.close()
    cleo = [a for a in json.loads(run_cli("team", "status", "--json").stdout)["annotators"] if a["annotator"] == "cleo"]
    assert [(a["decisions"], a["live_leases"]) for a in cleo] == [(0, 1)]
    assert run_cli("team", "per-paper", "off", "--overlap", "0.5").exit_code == 2
    off = run_cli("team", "per-paper", "off")
    assert off.exit_code == 0 and "no distribution set" in off.stdout
    db = open_db(db_path)
    assert get_distribution(db) is None and live_leases(db) == []
    db.close()
    assert "no distribution set" in run_cli("team", "show").stdout
