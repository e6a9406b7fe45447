"""The command line of the data spine: summaries, exit codes, one-line errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import SEEDS, fixture_path, write


def test_ingest_defaults_to_seeds_and_prints_one_summary_line(run_cli, seeds_copy):
    result = run_cli("ingest")
    assert result.exit_code == 0
    assert result.stdout == "ingested 5 files: 583 papers found, 504 new, 79 duplicates merged, 0 already in the store\n"
    again = run_cli("ingest")
    assert "0 new" in again.stdout and "583 already in the store" in again.stdout


def test_ingest_bad_file_exit_2_names_it_and_still_ingests_the_rest(run_cli, tmp_path):
    bad = write(tmp_path / "bad.txt", b"\x00\x01")
    result = run_cli("ingest", str(bad), str(fixture_path("layout_metadata.txt")))
    assert result.exit_code == 2
    assert result.stderr == f"workbench: {bad}: looks binary (NUL byte at offset 0); expected a text dump or a JSONL file\n"
    assert "5 new" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_stats_counts_papers_and_annotations(run_cli, seeds_copy):
    run_cli("ingest")
    report = json.loads(run_cli("stats", "--json").stdout)
    assert (report["papers"], report["sightings"]) == (504, 583)
    text = run_cli("stats").stdout
    assert text.startswith("papers: 504 (583 sightings in 5 files)")


def test_export_to_file_and_import_round_trip_through_the_cli(run_cli, seeds_copy, tmp_path):
    run_cli("ingest")
    line = '{"title": "A Multigrid Method for Efficiently Training Video Models", "annotator": "ana", "status": "edited", "annotation": {"technique": "multigrid", "claimed_gain": null, "compute": null}}\n'
    src = write(tmp_path / "in.jsonl", line)
    result = run_cli("import", str(src))
    assert (result.exit_code, result.stdout) == (0, f"imported 1 annotation from {src}\n")
    out = tmp_path / "out.jsonl"
    assert run_cli("export", "-o", str(out)).exit_code == 0
    record = json.loads(out.read_text())
    assert (record["annotator"], record["annotation"]["technique"]) == ("ana", "multigrid")
    assert run_cli("export", "--status", "rejected").stdout == ""


def test_import_errors_exit_2_with_the_line(run_cli, seeds_copy, tmp_path):
    run_cli("ingest")
    bad = write(tmp_path / "bad.jsonl", '{"paper_id": "0000", "status": "accepted", "annotation": {"technique": null, "claimed_gain": null, "compute": null}}\n')
    result = run_cli("import", str(bad))
    assert result.exit_code == 2
    assert result.stderr == f"workbench: {bad}:1: unknown paper '0000' (ingest its abstract first)\n"


def test_db_option_and_env_choose_the_store(run_cli, tmp_path, seeds_copy):
    run_cli("--db", str(tmp_path / "other.db"), "ingest", str(fixture_path("layout_blank_lines.txt")))
    assert (tmp_path / "other.db").exists()
    assert not (tmp_path / "annotations" / "workbench.db").exists()


def test_db_is_accepted_after_the_command_name_too(run_cli, tmp_path):
    store = tmp_path / "after.db"
    assert run_cli("ingest", str(fixture_path("layout_metadata.txt")), "--db", str(store)).exit_code == 0
    result = run_cli("stats", "--json", "--db", str(store))
    assert result.exit_code == 0 and json.loads(result.stdout)["papers"] == 5
    assert not (tmp_path / "annotations" / "workbench.db").exists()


@pytest.mark.parametrize("command", [["stats"], ["export"], ["compare"], ["agreement"], ["log"], ["export", "--suggestions"]])
def test_a_read_only_command_on_a_path_with_no_store_says_so_and_creates_nothing(run_cli, tmp_path, command):
    missing = tmp_path / "nowhere" / "none.db"
    result = run_cli(*command, "--db", str(missing))
    assert result.exit_code == 2
    assert result.stderr == (f"workbench: {missing}: there is no store here "
                             "(create one with `workbench ingest`, or check --db)\n")
    assert not missing.exists() and not missing.parent.exists()


def test_the_store_file_alone_holds_everything_after_a_command(run_cli, tmp_path):
    store = tmp_path / "alone.db"
    run_cli("--db", str(store), "ingest", str(fixture_path("layout_metadata.txt")))
    line = '{"title": "SPDF: Sparse Pre-training and Dense Fine-tuning for Large Language Models", "annotator": "ana", "status": "accepted", "annotation": {"technique": null, "claimed_gain": null, "compute": null}}\n'
    run_cli("--db", str(store), "import", str(write(tmp_path / "in.jsonl", line)))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("alone.db")) == ["alone.db"]
    import shutil
    import sqlite3

    copy = shutil.copy(store, tmp_path / "copy.db")
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM annotations").fetchone()[0] == 1


def test_suggest_on_an_empty_store_points_to_ingest(run_cli, tmp_path):
    result = run_cli("--db", str(tmp_path / "empty.db"), "suggest")
    assert result.exit_code == 2 and "has no papers yet; add some with `workbench ingest`" in result.stderr


def test_a_damaged_store_is_one_line_naming_it_not_an_internal_error(run_cli, tmp_path):
    store = tmp_path / "damaged.db"
    assert run_cli("--db", str(store), "ingest", str(SEEDS)).exit_code == 0
    with sqlite3.connect(store) as db:  # leaf pages of papers and of its indexes; the schema opens
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'papers'")]
        pages = [r[0] for name in names for r in db.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno LIMIT 5", [name])]
    data = bytearray(store.read_bytes())
    for page in pages:
        data[(page - 1) * 4096:page * 4096] = b"\xa5" * 4096
    store.write_bytes(bytes(data))
    for command in (["stats"], ["export"]):
        result = run_cli("--db", str(store), *command)
        assert result.exit_code == 2, command
        assert result.stderr == (f"workbench: the store at {store} cannot be read (database disk image is malformed): "
                                 "restore it from a backup (a store copied while open needs its -wal file too)\n")


@pytest.mark.parametrize("damage", ["not a database", "header wrecked"])
def test_a_store_that_is_not_a_database_exits_2_in_one_line(run_cli, tmp_path, damage):
    store = tmp_path / "damaged.db"
    if damage == "not a database":
        store.write_bytes(b"this is a text file, not a store\n" * 200)
    else:
        assert run_cli("--db", str(store), "ingest", str(fixture_path("layout_metadata.txt"))).exit_code == 0
        data = bytearray(store.read_bytes())
        data[:100] = b"\xa5" * 100
        store.write_bytes(bytes(data))
    before = store.read_bytes()
    for command in (["stats"], ["ingest", str(fixture_path("layout_metadata.txt"))]):
        result = run_cli("--db", str(store), *command)
        assert result.exit_code == 2, (command, result.stderr)
        assert result.stderr.startswith(f"workbench: {store}: cannot open the store (file is not a database)")
        assert result.stderr.count("\n") == 1
    assert store.read_bytes() == before


def test_a_store_from_a_newer_workbench_is_refused_in_one_line_and_left_as_it_was(run_cli, tmp_path):
    import sqlite3

    store = tmp_path / "newer.db"
    assert run_cli("--db", str(store), "ingest", str(fixture_path("layout_metadata.txt"))).exit_code == 0
    with sqlite3.connect(store) as db:
        db.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                   "VALUES ('workbench', 'm099_x', '2030-01-01')")
    db.close()
    before = store.read_bytes()
    for command in (["ingest", str(fixture_path("layout_metadata.txt"))], ["stats"], ["export"]):
        result = run_cli("--db", str(store), *command)
        assert result.exit_code == 2, command
        assert result.stderr == (f"workbench: {store}: this store was written by a newer workbench (it records "
                                 "migration m099_x, which this version does not know); upgrade workbench to open it\n")
    assert store.read_bytes() == before
    wal = tmp_path / "newer.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # nothing written, not even to the log


def _chattr(flag: str, path) -> bool:
    import subprocess

    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def test_a_store_in_a_folder_nobody_can_write_is_read_as_it_is_wal_and_all(run_cli, tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "ro"
    store = folder / "s.db"
    assert run_cli("--db", str(store), "ingest", str(fixture_path("layout_metadata.txt"))).exit_code == 0
    if not _chattr("+i", folder):
        pytest.skip("this file system cannot make a folder read-only for root (chattr +i)")
    try:
        result = run_cli("--db", str(store), "stats", "--json")
        assert result.exit_code == 0 and json.loads(result.stdout)["papers"] == 5  # was: cannot open the store
    finally:
        _chattr("-i", folder)
    # A writer killed before folding its log in: the last commit lives only in the -wal file.
    subprocess.run([sys.executable, "-c", "import os, sqlite3; c = sqlite3.connect(os.environ['DB']); "
                    "c.execute('PRAGMA wal_autocheckpoint=0'); c.execute(\"UPDATE papers SET title = 'Changed'\"); "
                    "c.commit(); os._exit(0)"], env={**__import__("os").environ, "DB": str(store)}, check=True)
    assert (folder / "s.db-wal").stat().st_size > 0
    (folder / "s.db-shm").unlink()  # as when a store is copied with its log but not its index
    assert _chattr("+i", folder)
    try:
        result = run_cli("--db", str(store), "stats")
        assert result.exit_code == 1
        assert result.stderr == (f"workbench: {store}: cannot open the store read-only: its s.db-wal file holds "
                                 "commits not yet in the store; open it once where it can be written\n")
    finally:
        _chattr("-i", folder)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("where", ["stdout", "-o"])
def test_export_to_a_full_device_is_one_line_exit_1(run_cli, seeds_copy, db_path, where):
    import os
    import subprocess
    import sys

    assert run_cli("ingest").exit_code == 0 and run_cli("suggest", "--limit", "3").exit_code == 0
    args = [sys.executable, "-m", "workbench", "export", "--suggestions"] + (["-o", "/dev/full"] if where == "-o" else [])
    with open("/dev/full", "w") as full:
        done = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
                              env=dict(os.environ, WORKBENCH_DB=str(db_path)))
    target = "/dev/full" if where == "-o" else "standard output"
    assert (done.returncode, done.stderr) == (1, f"workbench: {target}: cannot write (No space left on device)\n")


def test_export_into_a_reader_that_leaves_early_is_quiet_and_exit_0(run_cli, seeds_copy, db_path):
    """`workbench export --suggestions | head -2`: head closing the pipe is no failure (pipefail scripts)."""
    import os
    import subprocess
    import sys

    assert run_cli("ingest").exit_code == 0 and run_cli("suggest", "--limit", "300").exit_code == 0
    done = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m workbench export --suggestions "
                           "| head -2 > /dev/null; echo ${PIPESTATUS[0]}"], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, WORKBENCH_DB=str(db_path)))
    assert (done.stdout, done.stderr) == ("0\n", "")


@pytest.mark.parametrize("aim", ["the store", "a link to it", "its -wal file", "another store"])
def test_export_never_replaces_a_store_with_jsonl(run_cli, seeds_copy, tmp_path, aim):
    """`export -o annotations/workbench.db` once turned the store into a 2 KB JSONL file, exit 0, while a review
    kept writing into the file it replaced: every decision, event and suggestion gone."""
    store = tmp_path / "s.db"
    assert run_cli("--db", str(store), "ingest", str(seeds_copy)).exit_code == 0
    other = tmp_path / "other.db"
    assert run_cli("--db", str(other), "ingest", str(fixture_path("layout_metadata.txt"))).exit_code == 0
    sqlite3.connect(store).execute("PRAGMA journal_mode=WAL").close()  # the -wal file exists while open
    keep = sqlite3.connect(store)  # a connection open keeps the -wal file there, as a running review does
    assert keep.execute("SELECT count(*) FROM papers").fetchone() == (504,)
    try:
        target = {"the store": store, "another store": other, "its -wal file": Path(f"{store}-wal"),
                  "a link to it": tmp_path / "link.db"}[aim]
        if aim == "a link to it":
            target.symlink_to(store)
        before = target.read_bytes()
        result = run_cli("--db", str(store), "export", "-o", str(target))
        assert result.exit_code == 2
        assert result.stderr == (f"workbench: {target}: is a store (a SQLite database) or a file beside one; not "
                                 "replaced by an export. Name another file\n")
        assert target.read_bytes() == before
    finally:
        keep.close()
    assert sqlite3.connect(store).execute("SELECT count(*) FROM papers").fetchone() == (504,)


def test_export_still_replaces_a_jsonl_file_and_writes_into_a_fifo(run_cli, seeds_copy, tmp_path):
    import os
    import threading

    store = tmp_path / "s.db"
    assert run_cli("--db", str(store), "ingest", str(seeds_copy)).exit_code == 0
    assert run_cli("--db", str(store), "suggest", "--limit", "2").exit_code == 0
    old = write(tmp_path / "old.jsonl", "stale\n")
    assert run_cli("--db", str(store), "export", "--suggestions", "-o", str(old)).exit_code == 0
    assert len(old.read_text().splitlines()) == 2
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()  # the check never opens a FIFO to read it (it would wait for a writer)
    assert run_cli("--db", str(store), "export", "--suggestions", "-o", str(fifo)).exit_code == 0
    reader.join(timeout=30)
    assert len(got[0].decode().splitlines()) == 2
