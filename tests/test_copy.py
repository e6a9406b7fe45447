"""`workbench copy`: a whole store between SQLite and PostgreSQL, resumable, verified."""

from __future__ import annotations

import json

import pytest

from tests.conftest import write
from workbench.copying import copy_store
from workbench.db import open_db
from workbench.errors import InputError
from workbench.store import (
    Decision, decide, get_annotation, paper_order, row_counts, search, set_flag, suggestions_for_paper, undo_last,
)


@pytest.fixture
def worked(run_cli, seeds_copy, tmp_path):
    """A SQLite store with every kind of row: revisions, sightings, suggestions with attempts, decisions,
    flags, an undo, a batch, an import."""
    source = str(tmp_path / "source.db")
    assert run_cli("--db", source, "ingest").exit_code == 0
    write(tmp_path / "rev.jsonl", '{"title": "A Multigrid Method for Efficiently Training Video Models", '
                                  '"abstract": "A longer and different text of the multigrid abstract, \\u00e9\\u00df."}\n')
    assert run_cli("--db", source, "ingest", str(tmp_path / "rev.jsonl")).exit_code == 0
    assert run_cli("--db", source, "suggest", "--model", "offline", "--limit", "60").exit_code == 0
    assert run_cli("--db", source, "suggest", "--batch", "--batch-file", str(tmp_path / "req.jsonl"),
                   "--model", "qwen", "--limit", "5").exit_code == 0
    db = open_db(source)
    for seq, pid in paper_order(db)[:40]:
        decide(db, Decision(pid, ("ana", "ben")[seq % 2], ("accepted", "edited", "rejected")[seq % 3],
                            {"technique": f"t{seq}", "compute": None}, seconds=seq / 3, notes="n\u00e9"))
    pid = paper_order(db)[0][1]
    set_flag(db, pid, "ben", True, based_on=get_annotation(db, pid, "ben").version)
    undo_last(db, "ana")
    db.close()
    return source


def _export(run_cli, where: str) -> str:
    return run_cli("--db", where, "export").stdout + run_cli("--db", where, "export", "--suggestions").stdout


def test_sqlite_to_postgresql_to_sqlite_gives_a_byte_identical_export(run_cli, worked, pg_url, tmp_path):
    there = run_cli("copy", worked, pg_url)
    assert there.exit_code == 0, there.stderr
    assert "verified:" in there.stdout and "rows/s" in there.stdout
    back = str(tmp_path / "back.db")
    assert run_cli("copy", pg_url, back).exit_code == 0
    original = _export(run_cli, worked)
    assert original.count("\n") > 90
    assert _export(run_cli, pg_url) == original
    assert _export(run_cli, back) == original
    a, b, c = (open_db(x) for x in (worked, pg_url, back))
    assert row_counts(a) == row_counts(b) == row_counts(c) and row_counts(a)["paper_revisions"] == 2
    first = paper_order(a)[0][1]
    assert [s.id for s in suggestions_for_paper(a, first)] == [s.id for s in suggestions_for_paper(c, first)]
    for db in (b, c):  # the copies are stores that work, not only rows: search, versions, new writes
        assert search(db, "multigrid", annotator="ana", active=None)[0][0].title.startswith("A Multigrid")
        row = get_annotation(db, paper_order(db)[0][1], "ben")
        assert decide(db, Decision(row.paper_id, "ben", "accepted", {}, based_on=row.version)).version > row.version
        db.close()
    a.close()
    assert run_cli("--db", pg_url, "suggest", "--model", "offline", "--limit", "70").exit_code == 0  # ids go on


def test_a_target_with_rows_is_refused_unless_into_existing(run_cli, worked, tmp_path):
    target = str(tmp_path / "t.db")
    assert run_cli("copy", worked, target).exit_code == 0
    again = run_cli("copy", worked, target)
    assert again.exit_code == 2 and "the target store is not empty" in again.stderr and "--into-existing" in again.stderr
    same = run_cli("copy", worked, worked)
    assert same.exit_code == 2 and "the same store" in same.stderr


def _stop_copy_after(source, target, chunks: int) -> None:
    """A copy of 100-row chunks stopped as ctrl+c would stop it, after `chunks` chunks have landed."""
    landed = []

    def stop(table, done, total):
        landed.append(table)
        if len(landed) == chunks:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_store(source, target, chunk=100, on_rows=stop)


def test_a_copy_that_stopped_resumes_with_into_existing(worked, pg_url):
    source, target = open_db(worked), open_db(pg_url)
    _stop_copy_after(source, target, 3)
    partial = row_counts(target)
    assert 0 < sum(partial.values()) < sum(row_counts(source).values())
    with pytest.raises(InputError):
        copy_store(source, target)
    report = copy_store(source, target, into_existing=True, chunk=100)
    assert report.verified and row_counts(target) == row_counts(source)
    assert report.rows["papers"] == row_counts(source)["papers"] - partial["papers"]
    source.close()
    target.close()


def test_a_target_that_holds_other_rows_under_the_same_keys_is_said_to_differ(worked, tmp_path, run_cli):
    other = str(tmp_path / "other.db")
    assert run_cli("copy", worked, other).exit_code == 0
    db = open_db(other)
    pid = paper_order(db)[0][1]
    row = get_annotation(db, pid, "ben")
    decide(db, Decision(pid, "ben", "rejected", {"technique": "changed"}, based_on=row.version))
    db.execute("DELETE FROM review_positions")
    db.close()
    result = run_cli("copy", "--into-existing", worked, other)
    assert result.exit_code == 1 and "the target has events of its own" in result.stderr
    kept = [json.loads(line) for line in run_cli("--db", other, "export", "--annotator", "ben").stdout.splitlines()]
    assert [(r["status"], r["annotation"]["technique"]) for r in kept if r["paper_id"] == pid] == [("rejected", "changed")]


def test_into_existing_finds_what_changed_in_any_table_not_only_in_the_exports(run_cli, worked, pg_url, tmp_path):
    """A revoked account, a changed team setting or a new abstract text left behind in the target would
    be a store that differs while the exports agree: the copy says so."""
    assert run_cli("--db", worked, "team", "add", "ben").exit_code == 0
    assert run_cli("copy", worked, pg_url).exit_code == 0
    assert run_cli("--db", worked, "team", "revoke", "ben").exit_code == 0
    again = run_cli("copy", "--into-existing", worked, pg_url)
    assert again.exit_code == 1 and "differ in annotator_accounts" in again.stderr and "verified" not in again.stdout


def test_text_with_a_nul_copies_to_postgresql_and_verifies(run_cli, pg_url, tmp_path):
    source = str(tmp_path / "nul.db")
    write(tmp_path / "p.jsonl", '{"title": "T\\u0000x", "abstract": "An abstract with a NUL \\u0000 inside it."}\n')
    assert run_cli("--db", source, "ingest", str(tmp_path / "p.jsonl")).exit_code == 0
    result = run_cli("copy", source, pg_url)
    assert result.exit_code == 0 and "verified" in result.stdout, result.stderr


def test_one_store_under_two_spellings_is_the_same_store(run_cli, worked, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "link.db"
    link.symlink_to(worked)
    for target in ("./source.db", str(link)):
        result = run_cli("copy", worked, target, "--into-existing")
        assert result.exit_code == 2 and "the same store" in result.stderr


def test_a_half_copied_store_written_to_is_refused_in_one_line_not_copied_with_gaps(worked, pg_url, tmp_path):
    from workbench.errors import WorkbenchError
    from workbench.ingest import ingest

    source, target = open_db(worked), open_db(pg_url)
    _stop_copy_after(source, target, 2)
    write(tmp_path / "mine.jsonl", '{"title": "A paper of the target alone", "abstract": "Written meanwhile."}\n')
    ingest(target, [tmp_path / "mine.jsonl"])  # takes the number the next source paper has
    with pytest.raises(WorkbenchError) as caught:
        copy_store(source, target, into_existing=True, chunk=100, target_name="t")
    assert "papers of its own" in str(caught.value) and "\n" not in str(caught.value)
    source.close()
    target.close()
