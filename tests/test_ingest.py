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
    assert {"paper_id": pid, "source": str(copy), "position": 1} in sightings
    assert {"paper_id": pid, "source": str(fixture_path("layout_blank_lines.txt")), "position": 1} in sightings


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


def test_ingesting_the_seeds_keeps_every_papers_metadata(db):
    """End to end: the store after ingesting the seeds, not the parser's list."""
    ingest(db, [SEEDS])
    with_authors = db.execute("SELECT count(*) FROM papers WHERE authors_count IS NOT NULL").fetchone()[0]
    assert with_authors == 119
    row = next(db.query("SELECT authors_count, published, published_iso, upvotes FROM papers "
                        "WHERE title LIKE 'SPDF: Sparse Pre-training%'"))
    assert row == {"authors_count": 8, "published": "Mar 18, 2023", "published_iso": "2023-03-18", "upvotes": None}
    assert db.execute("SELECT count(*) FROM papers WHERE organization IS NOT NULL").fetchone()[0] > 0


def test_files_with_the_same_name_in_two_folders_keep_their_own_sightings(db, tmp_path):
    first = write(tmp_path / "d1" / "papers.jsonl", '{"title": "Paper X", "abstract": "Text."}\n'
                                                     '{"title": "Paper Y", "abstract": "Text."}\n')
    second = write(tmp_path / "d2" / "papers.jsonl", '{"title": "Paper Z", "abstract": "Text."}\n'
                                                      '{"title": "Paper X", "abstract": "Text."}\n')
    report = ingest(db, [first, second])
    assert (report.found, report.new, report.merged, report.already) == (4, 3, 1, 0)
    assert "1 duplicate merged" in report.summary() and "-" not in report.summary()
    sources = [r[0] for r in db.execute("SELECT source FROM sightings ORDER BY id")]
    assert sources == [str(first), str(first), str(second), str(second)]
    again = ingest(db, [tmp_path / "d2" / ".." / "d1" / "papers.jsonl"])  # the same file by another path
    assert (again.new, again.merged, again.already) == (0, 0, 2)


def test_a_bad_value_fails_its_file_and_the_other_files_still_go_in(db, tmp_path):
    bad_lines = {
        "huge.jsonl": '{"title": "T", "abstract": "A", "upvotes": 123456789012345678901234567890}\n',
        "surrogate.jsonl": '{"title": "T\\ud800", "abstract": "A"}\n',
        "nested.jsonl": '{"title": "T", "abstract": "A", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
        "long.jsonl": '{"title": "T", "abstract": "' + "a" * 100_001 + '"}\n',
        "digits.jsonl": '{"title": "T", "abstract": "A", "extra": ' + "9" * 5_000 + "}\n",
    }
    files = [write(tmp_path / name, text) for name, text in bad_lines.items()]
    report = ingest(db, [*files, fixture_path("layout_metadata.txt")])
    assert report.new == 5 and len(report.errors) == 5
    assert report.errors[0] == f"{files[0]}:1: 'upvotes' 123456789012345678901234567890 is out of range (0 to 1,000,000,000)"
    assert report.errors[1] == f"{files[1]}:1: contains an invalid Unicode character (a lone surrogate)"
    assert report.errors[2] == f"{files[2]}:1: not valid JSON (nested too deeply)"
    assert report.errors[3] == f"{files[3]}:1: 'abstract' has 100,001 characters (the limit is 100,000)"
    assert report.errors[4] == f"{files[4]}:1: not valid JSON (a number of more than 4,300 digits)"


def test_a_number_too_long_to_read_in_the_worker_process_is_one_line_too(db, tmp_path, monkeypatch):
    import workbench.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "_WORKER_THRESHOLD_BYTES", 0)
    digits = write(tmp_path / "digits.jsonl", '{"title": "T", "abstract": "A", "upvotes": ' + "9" * 5_000 + "}\n")
    report = ingest(db, [digits, fixture_path("layout_metadata.txt")])
    assert report.errors == [f"{digits}:1: not valid JSON (a number of more than 4,300 digits)"] and report.new == 5


def test_jsonl_is_recognised_by_its_content_and_a_json_array_is_refused(db, tmp_path):
    as_text = write(tmp_path / "papers.txt", '{"title": "Paper X", "abstract": "Text of X."}\n')
    as_json = write(tmp_path / "papers.json", '[{"title": "Paper Y", "abstract": "Text of Y."}]\n')
    report = ingest(db, [as_text, as_json])
    assert db.execute("SELECT title, abstract FROM papers").fetchall() == [("Paper X", "Text of X.")]
    assert report.errors == [f"{as_json}:1: a JSON array; expected one JSON object a line (JSONL) or a text dump"]


def test_a_txt_file_whose_first_line_is_a_malformed_json_object_is_refused_not_read_as_a_dump(db, tmp_path):
    broken = write(tmp_path / "papers.txt", '{"title": "Paper X", "abstract": \n'
                                            '{"title": "Paper Y", "abstract": "Text of Y."}\n')
    report = ingest(db, [broken])
    assert report.new == 0 and db.execute("SELECT count(*) FROM papers").fetchone()[0] == 0
    assert len(report.errors) == 1 and report.errors[0].startswith(f"{broken}:1: not valid JSON (")


def test_a_key_given_twice_in_one_object_fails_the_file_naming_the_line(db, tmp_path):
    twice = write(tmp_path / "twice.jsonl", '{"title": "Paper X", "abstract": "Text."}\n'
                                            '{"title": "Paper Y", "abstract": "Text.", "title": "Paper Z"}\n')
    report = ingest(db, [twice])
    assert report.new == 0
    assert report.errors == [f'{twice}:2: not valid JSON (the key "title" appears twice in one object)']


def test_a_fifo_among_the_inputs_is_skipped_with_one_line_and_the_rest_go_in(db, tmp_path):
    import os
    import threading

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    good = write(tmp_path / "papers.jsonl", '{"title": "Paper X", "abstract": "Text."}\n')
    result = {}
    worker = threading.Thread(target=lambda: result.update(report=ingest(db, [fifo, good, tmp_path])), daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader so the test process can end
        with open(fifo, "w"):
            pass
        raise AssertionError("ingest hung on a FIFO")
    report = result["report"]
    assert report.new == 1 and report.errors == []
    assert report.warnings == [f"{fifo}: not a regular file (a FIFO, device or socket); skipped"]
