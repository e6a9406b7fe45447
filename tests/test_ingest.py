"""Ingest into a real SQLite store: dedup, provenance, idempotence, per-file transactions."""

from __future__ import annotations

from tests.conftest import SEEDS, fixture_path, write
from workbench.corpus import paper_id
from workbench.ingest import ingest


def test_seeds_ingest_into_distinct_papers_with_every_sighting(db):
    report = ingest(db, [SEEDS])
    assert (report.files, report.found, report.new, report.merged, report.already) == (5, 583, 504, 79, 0)
    assert db["papers"].count == 504
    assert db["sightings"].count == 583
    # paper order is ingest order: the first paper of the first file comes first
    first = next(db.query("SELECT title FROM papers ORDER BY seq LIMIT 1"))
    assert first["title"] == "A Multigrid Method for Efficiently Training Video Models"
    assert report.summary() == (
        "ingested 5 files: 583 papers found, 504 new, 79 duplicates merged, 0 already in the store")


def test_ingest_is_idempotent(db):
    ingest(db, [SEEDS])
    before = list(db.query("SELECT * FROM papers ORDER BY seq"))
    report = ingest(db, [SEEDS])
    assert (report.new, report.merged, report.already) == (0, 0, 583)
    assert list(db.query("SELECT * FROM papers ORDER BY seq")) == before
    assert db["sightings"].count == 583


def test_the_same_paper_in_two_files_is_one_paper_with_two_sightings(db, tmp_path):
    original = fixture_path("layout_blank_lines.txt").read_text()
    copy = write(tmp_path / "windows.txt", ("\ufeff" + original.replace("\n", "  \r\n")).encode())
    ingest(db, [fixture_path("layout_blank_lines.txt"), copy])
    assert db["papers"].count == 2
    sightings = list(db.query("SELECT paper_id, source, position FROM sightings ORDER BY source, position"))
    pid = paper_id("A Multigrid Method for Efficiently Training Video Models")
    assert {"paper_id": pid, "source": "windows.txt", "position": 1} in sightings
    assert {"paper_id": pid, "source": "layout_blank_lines.txt", "position": 1} in sightings


def test_differing_abstracts_keep_the_longer_and_say_so(db, tmp_path):
    short = write(tmp_path / "a.jsonl", '{"title": "Paper X", "abstract": "Short version."}\n')
    longer = write(tmp_path / "b.jsonl", '{"title": "paper  x", "abstract": "A much longer version of it."}\n')
    shorter_again = write(tmp_path / "c.jsonl", '{"title": "Paper X", "abstract": "Tiny."}\n')
    ingest(db, [short])
    report = ingest(db, [longer, shorter_again])
    assert db["papers"].count == 1
    assert db.execute("SELECT abstract FROM papers").fetchone()[0] == "A much longer version of it."
    assert report.differing == 2
    assert "2 abstracts differed between sightings (kept the longer)" in report.summary()


def test_a_later_sighting_fills_missing_metadata(db, tmp_path):
    bare = write(tmp_path / "a.jsonl", '{"title": "Paper X", "abstract": "Text."}\n')
    rich = write(tmp_path / "b.jsonl", '{"title": "Paper X", "abstract": "Text.", "upvotes": 7, "published": "Mar 1"}\n')
    ingest(db, [bare, rich])
    row = next(db.query("SELECT upvotes, published FROM papers"))
    assert row == {"upvotes": 7, "published": "Mar 1"}


def test_a_bad_file_leaves_the_store_unchanged_and_others_still_ingest(db, tmp_path):
    # Two good papers, then a title with no abstract: the whole file must roll back.
    broken = write(tmp_path / "broken.txt", "Good one\n\nAbstract one.\n\nGood two\n\nAbstract two.\n\nOrphan title\n")
    ingest(db, [fixture_path("layout_blank_lines.txt")])
    before = (db["papers"].count, db["sightings"].count)
    report = ingest(db, [broken, fixture_path("layout_no_blank_lines.txt")])
    assert report.errors == [f"{broken}:9: title has no abstract: 'Orphan title'"]
    assert db["papers"].count == before[0] + 3
    assert db.execute("SELECT count(*) FROM papers WHERE title LIKE 'Good%'").fetchone()[0] == 0
    assert db["sightings"].count == before[1] + 3
    # sequence numbers stay dense after the rolled-back file
    assert [r[0] for r in db.execute("SELECT seq FROM papers ORDER BY seq")] == list(range(1, 6))


def test_large_inputs_parse_in_a_worker_process_with_the_same_result(db, tmp_path, monkeypatch):
    import workbench.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "_WORKER_THRESHOLD_BYTES", 0)  # force the worker path
    broken = write(tmp_path / "broken.txt", "Good one\n\nAbstract one.\n\nOrphan title\n")
    report = ingest(db, [SEEDS, broken])
    assert (report.files, report.found, report.new, report.merged) == (5, 583, 504, 79)
    assert report.errors == [f"{broken}:5: title has no abstract: 'Orphan title'"]
    assert db["papers"].count == 504 and db["sightings"].count == 583
    assert not db.conn.in_transaction
