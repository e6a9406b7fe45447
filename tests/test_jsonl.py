"""The JSONL contract: export format, filters, atomic writes, import, round trip."""

from __future__ import annotations

import io
import json
import os

import pytest

from tests.conftest import SEEDS, write
from workbench.db import open_db
from workbench.errors import InputError
from workbench.ingest import ingest
from workbench.jsonl import export_annotation_lines, import_annotations, write_lines
from tests.factories import add_suggestion
from workbench.store import Decision, decide, paper_order, set_flag

MULTIGRID_REF = '{"title": "A Multigrid Method for Efficiently Training Video Models"'
NULLS = '{"technique": null, "claimed_gain": null, "compute": null}'  # an import needs every field, null or not
KEYS = ["paper_id", "title", "annotator", "status", "flagged", "annotation", "edited_fields", "notes",
        "suggestion", "decided_on", "seconds_spent", "created_at", "updated_at"]


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
    edit = decide(seeded_db, Decision(ids[1], "ana", "edited", {"technique": "multigrid training",
                                                                "claimed_gain": "4.5x", "compute": "128 GPUs"},
                                      suggestion=s1, notes="check table 2"))
    set_flag(seeded_db, ids[1], "ana", True, based_on=edit.version)
    set_flag(seeded_db, ids[3], "ana", True, based_on=None)  # flagged but undecided: not exported
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
    assert import_annotations(fresh, path, "nobody").written == 3
    assert "".join(export_annotation_lines(fresh)) == first
    # the imported suggestion snapshot is what the reviewer saw, even with no suggestion rows here
    assert fresh["suggestions"].count == 0
    assert [r[0] for r in fresh.execute("SELECT action FROM events")] == ["import"] * 3


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"paper_id": "nope", "status": "accepted", "annotation": ' + NULLS + '}', "unknown paper 'nope'"),
        ("{not json", "not valid JSON"),
        ('{"title": "a\tb"}', "not valid JSON (Invalid control character at column 13)"),  # "at" once
        ('{"title": "A Multigrid Method for Efficiently Training Video Models", "status": "maybe", "annotation": ' + NULLS + '}',
         "'status' must be one of accepted, edited, rejected, got 'maybe'"),
        ('{"status": "accepted", "annotation": ' + NULLS + '}', "a record needs 'paper_id' or 'title'"),
        ('{"title": "A Multigrid Method for Efficiently Training Video Models", "status": "accepted", "annotation": {"speed": "x"}}',
         "unknown annotation field 'speed'"),
        (MULTIGRID_REF + ', "annotator": "ana", "status": "accepted", "annotation": ' + NULLS + '}',
         "a second record for paper 8237d2d0084122b4 by 'ana' (the first is on line 1)"),
        (MULTIGRID_REF + ', "annotator": "zoe", "status": "accepted", "annotation": ' + NULLS + ', "seconds_spent": NaN}',
         "NaN is not a number JSON allows"),
        (MULTIGRID_REF + ', "annotator": "zoe", "status": "accepted", "annotation": ' + NULLS + ', "seconds_spent": 1e400}',
         "'seconds_spent' must be a number of seconds"),
        (MULTIGRID_REF + ', "annotator": "zoe", "status": "accepted", "annotation": ' + NULLS + ', "created_at": "yesterday"}',
         "'created_at' must be a UTC time to the second as export writes it, such as 2026-11-23T12:00:00Z, "
         "got 'yesterday'"),
        (MULTIGRID_REF + ', "annotator": " zoe ", "status": "accepted", "annotation": ' + NULLS + '}',
         "'annotator' ' zoe ' has blanks around it"),
        (MULTIGRID_REF + ', "annotator": "zoe", "status": "accepted", "annotation": ' + NULLS + ', "score": 3}',
         "unknown key 'score'"),
        (MULTIGRID_REF + ', "annotator": "zoe", "status": "accepted", "annotation": {"technique": "\\ud800"}}',
         "contains an invalid Unicode character (a lone surrogate)"),
        (MULTIGRID_REF + ', "annotator": "zoe", "status": "accepted", "annotation": {"technique": "' + "x" * 2001 + '", "claimed_gain": null, "compute": null}}',
         "'technique' is longer than 2,000 characters"),
        (MULTIGRID_REF + ', "annotator": "zoe", "status": "accepted", "status": "rejected", "annotation": ' + NULLS + '}',
         'not valid JSON (the key "status" appears twice in one object)'),
        (MULTIGRID_REF + ', "annotator": "zoe", "status": "accepted", "annotation": {"technique": "a", "technique": "b"}}',
         'not valid JSON (the key "technique" appears twice in one object)'),
        ('[' * 100_000 + ']' * 100_000, "not valid JSON (nested too deeply)"),
        (MULTIGRID_REF + ', "status": "accepted", "annotation": ' + NULLS + ', "seconds_spent": ' + "9" * 5_000 + "}",
         "not valid JSON (a number of more than 4,300 digits)"),
    ],
)
def test_import_rejects_a_bad_line_and_imports_nothing(seeded_db, tmp_path, bad_line, message):
    good = MULTIGRID_REF + ', "status": "edited", "annotation": {"technique": "x", "claimed_gain": null, "compute": null}}'
    path = write(tmp_path / "in.jsonl", good + "\n" + bad_line + "\n")
    with pytest.raises(InputError) as caught:
        import_annotations(seeded_db, path, "ana")
    assert str(caught.value).startswith(f"{path}:2: ")
    assert message in str(caught.value)
    assert seeded_db["annotations"].count == 0 and seeded_db["events"].count == 0


def test_import_by_title_uses_the_default_annotator_and_keeps_others(seeded_db, tmp_path):
    path = write(tmp_path / "in.jsonl",
                 '{"title": "a multigrid method for efficiently training video models", "status": "accepted", "annotation": ' + NULLS + '}\n'
                 '{"title": "A Multigrid Method for Efficiently Training Video Models", "annotator": "zoe", "status": "rejected", "annotation": ' + NULLS + '}\n')
    import_annotations(seeded_db, path, "ana")
    rows = dict(seeded_db.execute("SELECT annotator, status FROM annotations").fetchall())
    assert rows == {"ana": "accepted", "zoe": "rejected"}


# --------------------------------------------------------------------------- export -o: what is at the path stays what it is


def test_export_through_a_symlink_writes_its_target_and_keeps_the_link(decided, tmp_path):
    db, _ = decided
    target = write(tmp_path / "real" / "target.jsonl", "old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    write_lines(export_annotation_lines(db), link, io.StringIO())
    assert link.is_symlink() and len(target.read_text().splitlines()) == 3


def test_export_keeps_an_existing_files_mode_and_a_new_one_gets_the_umask(decided, tmp_path):
    import stat

    db, _ = decided
    shared = write(tmp_path / "shared.jsonl", "old\n")
    shared.chmod(0o644)
    write_lines(export_annotation_lines(db), shared, io.StringIO())
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644
    old = os.umask(0o022)
    try:
        write_lines(export_annotation_lines(db), tmp_path / "new.jsonl", io.StringIO())
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.jsonl").stat().st_mode) == 0o644


def test_export_to_a_fifo_streams_to_its_reader(decided, tmp_path):
    import threading

    db, _ = decided
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo, encoding="utf-8").read()))
    reader.start()
    write_lines(export_annotation_lines(db), fifo, io.StringIO())
    reader.join(timeout=30)
    assert len(received[0].splitlines()) == 3 and fifo.exists() and stat_is_fifo(fifo)


def stat_is_fifo(path) -> bool:
    import stat

    return stat.S_ISFIFO(os.stat(path).st_mode)


def test_a_full_disk_is_one_line_naming_the_file(decided, run_cli):
    result = run_cli("export", "-o", "/dev/full")
    assert result.exit_code == 1
    assert result.stderr == "workbench: /dev/full: cannot write (No space left on device)\n"


def test_export_to_dev_stdout_writes_the_lines(decided, run_cli, tmp_path):
    import subprocess
    import sys

    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-m", "workbench", "export", "-o", "/dev/stdout"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3


def test_a_rejection_lists_no_edited_fields(seeded_db):
    import asyncio

    from workbench.jsonl import export_annotation_lines
    from workbench.models import get_model
    from workbench.prompts import resolve_prompt
    from workbench.store import Decision, decide, paper_order, suggestions_for_paper
    from workbench.suggest import run_suggestions

    pid = paper_order(seeded_db)[0][1]
    asyncio.run(run_suggestions(seeded_db, resolve_prompt("summary"), get_model("offline"), paper_ids=[pid]))
    (suggestion,) = suggestions_for_paper(seeded_db, pid)
    decide(seeded_db, Decision(pid, "ana", "rejected", {"technique": None}, suggestion=suggestion))
    (line,) = list(export_annotation_lines(seeded_db))
    record = json.loads(line)
    assert record["status"] == "rejected" and record["suggestion"]["fields"]["technique"] and record["edited_fields"] == []
