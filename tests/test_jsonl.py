"""The JSONL contract: export format, filters, atomic writes, import, round trip."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import SEEDS, write
from workbench.db import open_db
from workbench.errors import InputError
from workbench.ingest import ingest
from workbench.jsonl import export_annotation_lines, import_annotations, write_lines
from tests.factories import add_suggestion
from workbench.store import Decision, decide, paper_order, set_flag

KEYS = ["paper_id", "title", "annotator", "status", "flagged", "annotation", "edited_fields", "notes",
        "suggestion", "seconds_spent", "created_at", "updated_at"]


def _suggestion(db, pid: str, technique="multigrid training", gain="4.5x faster"):
    return add_suggestion(db, pid, "p" * 64, "summary", "offline", {"technique": technique, "claimed_gain": gain},
                          suggestion_id=f"s-{pid}", created_at="2026-01-01T00:00:00Z")


@pytest.fixture
def decided(seeded_db):
    ids = [pid for _, pid in paper_order(seeded_db)]
    s0, s1 = _suggestion(seeded_db, ids[0]), _suggestion(seeded_db, ids[1])
    decide(seeded_db, Decision(ids[2], "ben", "rejected", {}, seconds=1.5))
    decide(seeded_db, Decision(ids[0], "ana", "accepted", dict(s0.values),
                               suggestion=s0, seconds=3.14))
    decide(seeded_db, Decision(ids[1], "ana", "edited", {"technique": "multigrid training", "claimed_gain": "4.5x",
                                                         "compute": "128 GPUs"}, suggestion=s1, notes="check table 2"))
    set_flag(seeded_db, ids[1], "ana", True)
    set_flag(seeded_db, ids[3], "ana", True)  # flagged but undecided: not exported
    return seeded_db, ids


def test_export_lines_follow_the_contract_in_paper_order(decided):
    db, ids = decided
    records = [json.loads(line) for line in export_annotation_lines(db)]
    assert [(r["paper_id"], r["annotator"]) for r in records] == [(ids[0], "ana"), (ids[1], "ana"), (ids[2], "ben")]
    assert all(list(r) == KEYS for r in records)
    accepted, edited, rejected = records
    assert accepted["edited_fields"] == [] and accepted["seconds_spent"] == 3.1
    assert accepted["suggestion"] == {"id": f"s-{ids[0]}", "prompt": "summary", "prompt_hash": "p" * 64,
                                      "model": "offline", "fields": {"technique": "multigrid training",
                                                                     "claimed_gain": "4.5x faster", "compute": None}}
    assert edited["edited_fields"] == ["claimed_gain", "compute"]
    assert edited["flagged"] is True and edited["notes"] == "check table 2"
    assert rejected["suggestion"] is None and rejected["annotation"] == {"technique": None, "claimed_gain": None, "compute": None}


def test_export_filters(decided):
    db, ids = decided
    def pids(**filters):
        return [json.loads(line)["paper_id"] for line in export_annotation_lines(db, **filters)]
    assert pids(status="edited") == [ids[1]]
    assert pids(annotator="ben") == [ids[2]]
    assert pids(flagged=True) == [ids[1]]


def test_a_failed_export_leaves_the_old_file_untouched(decided, tmp_path):
    db, _ = decided
    target = write(tmp_path / "out.jsonl", "previous export\n")

    def broken():
        yield from export_annotation_lines(db)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_lines(broken(), target, io.StringIO())
    assert target.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_export_import_export_is_byte_identical(decided, tmp_path):
    db, _ = decided
    first = "".join(export_annotation_lines(db))
    path = write(tmp_path / "export.jsonl", first)
    fresh = open_db(tmp_path / "fresh.db")
    ingest(fresh, [SEEDS])
    assert import_annotations(fresh, path, "nobody") == 3
    assert "".join(export_annotation_lines(fresh)) == first
    # the imported suggestion snapshot is what the reviewer saw, even with no suggestion rows here
    assert fresh["suggestions"].count == 0
    assert [r[0] for r in fresh.execute("SELECT action FROM events")] == ["import"] * 3


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"paper_id": "nope", "status": "accepted", "annotation": {}}', "unknown paper 'nope'"),
        ("{not json", "not valid JSON"),
        ('{"title": "A Multigrid Method for Efficiently Training Video Models", "status": "maybe", "annotation": {}}',
         "'status' must be one of accepted, edited, rejected, got 'maybe'"),
        ('{"status": "accepted", "annotation": {}}', "a record needs 'paper_id' or 'title'"),
        ('{"title": "A Multigrid Method for Efficiently Training Video Models", "status": "accepted", "annotation": {"speed": "x"}}',
         "unknown annotation field 'speed'"),
    ],
)
def test_import_rejects_a_bad_line_and_imports_nothing(seeded_db, tmp_path, bad_line, message):
    good = '{"title": "A Multigrid Method for Efficiently Training Video Models", "status": "accepted", "annotation": {"technique": "x"}}'
    path = write(tmp_path / "in.jsonl", good + "\n" + bad_line + "\n")
    with pytest.raises(InputError) as caught:
        import_annotations(seeded_db, path, "ana")
    assert str(caught.value).startswith(f"{path}:2: ")
    assert message in str(caught.value)
    assert seeded_db["annotations"].count == 0 and seeded_db["events"].count == 0


def test_import_by_title_uses_the_default_annotator_and_keeps_others(seeded_db, tmp_path):
    path = write(tmp_path / "in.jsonl",
                 '{"title": "a multigrid method for efficiently training video models", "status": "accepted", "annotation": {}}\n'
                 '{"title": "A Multigrid Method for Efficiently Training Video Models", "annotator": "zoe", "status": "rejected", "annotation": {}}\n')
    import_annotations(seeded_db, path, "ana")
    rows = dict(seeded_db.execute("SELECT annotator, status FROM annotations").fetchall())
    assert rows == {"ana": "accepted", "zoe": "rejected"}
