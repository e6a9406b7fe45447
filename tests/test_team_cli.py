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
