"""The store's contract on both backends: every test runs on SQLite and on a real PostgreSQL server.

(test_versions, test_search, test_review_session and test_batch run on both as well.)
"""

from __future__ import annotations

import json
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import SEEDS, write
from tests.factories import add_suggestion
from workbench import pg
from workbench.db import open_db
from workbench.errors import InputError, StoreTooNew, WorkbenchError
from workbench.ingest import ingest
from workbench.records import SuggestionKey
from workbench.store import (
    Decision, count_papers, decide, find_papers, get_annotation, get_paper,
    iter_annotations, key_totals, paper_order, remember_format, remember_position, remembered_format,
    remembered_position, save_batch_suggestions, set_flag, store_counts, suggestion_keys, suggestions_for_paper,
    transaction,
)

TIMES = re.compile(r'"(created_at|updated_at|at|decided_at)": "[^"]*"|"latency_ms": \d+')


BOTH_BACKENDS = True  # every test that uses the store runs on both (those that need a server ask for it)


@pytest.fixture
def seeded(any_db):
    ingest(any_db, [SEEDS])
    return any_db


def test_every_command_of_the_spine_works_on_the_backend(run_cli, store_url, seeds_copy, tmp_path):
    """ingest, suggest, review's writes, export, import, stats, compare, agreement, log: the same results."""
    assert run_cli("--db", store_url, "ingest").stdout.startswith("ingested 5 files: 583 papers found, 504 new")
    assert run_cli("--db", store_url, "suggest", "--model", "offline", "--limit", "30").exit_code == 0
    line = ('{"title": "A Multigrid Method for Efficiently Training Video Models", "annotator": "ana", '
            '"status": "edited", "annotation": {"technique": "multigrid", "claimed_gain": null, "compute": null}}\n')
    assert run_cli("--db", store_url, "import", str(write(tmp_path / "in.jsonl", line))).exit_code == 0
    exported = [json.loads(line) for line in run_cli("--db", store_url, "export").stdout.splitlines()]
    assert [r["annotation"]["technique"] for r in exported] == ["multigrid"]
    stats = json.loads(run_cli("--db", store_url, "stats", "--json").stdout)
    assert (stats["papers"], stats["sightings"]) == (504, 583)
    compare = json.loads(run_cli("--db", store_url, "compare", "--json").stdout)
    assert compare and compare[0]["outcomes"]["ok"] + compare[0]["outcomes"].get("invalid", 0) == 30
    second = line.replace('"ana"', '"ben"').replace('"edited"', '"rejected"').replace('"multigrid"', "null")
    assert run_cli("--db", store_url, "import", str(write(tmp_path / "ben.jsonl", second))).exit_code == 0
    agreement = run_cli("--db", store_url, "agreement", "--json")
    assert agreement.exit_code == 0 and json.loads(agreement.stdout)
    log = run_cli("--db", store_url, "log", "--json", "--limit", "5").stdout.splitlines()
    assert [json.loads(line)["model"] for line in log] == ["offline"] * 5
    suggestions = run_cli("--db", store_url, "export", "--suggestions").stdout.splitlines()
    assert len(suggestions) == 30


def test_the_same_work_gives_the_same_export_on_both_backends(run_cli, pg_url, tmp_path, seeds_copy):
    """Text, numbers, JSON and the order of everything agree byte for byte (times aside)."""
    exports = []
    for url in (str(tmp_path / "a.db"), pg_url):
        run_cli("--db", url, "ingest")
        run_cli("--db", url, "suggest", "--model", "offline", "--limit", "40")
        db = open_db(url)
        for seq, pid in paper_order(db)[:25]:
            status = ("accepted", "edited", "rejected")[seq % 3]
            decide(db, Decision(pid, "b\u00e9a" if seq % 2 else "Ana", status, {"technique": f"t{seq} \u00e9\u00df"},
                                seconds=seq / 7))
        db.close()
        exports.append(TIMES.sub("", run_cli("--db", url, "export").stdout)
                       + TIMES.sub("", run_cli("--db", url, "export", "--suggestions").stdout))
    assert exports[0] == exports[1] and exports[0].count("\n") == 25 + 40


def test_search_finds_words_phrases_and_prefixes_alike(seeded):
    def found(text):
        from workbench.store import search

        return [h.title for h in search(seeded, text, annotator="ana", active=None, limit=None)[0]]

    assert found("Kinetics-400 SlowFast") == ["A Multigrid Method for Efficiently Training Video Models"]
    assert "A Multigrid Method for Efficiently Training Video Models" == found("multigrid")[0]  # title first
    assert len(found('"mixture of experts"')) >= 10
    assert set(found("mixtur")) >= set(found('"mixture of experts"'))  # the last word is a prefix
    assert found("zzzznotaword") == []
    assert [h.title for h in find_papers(seeded, "MULTIGRID")] == ["A Multigrid Method for Efficiently Training Video Models"]


def test_grounding_counts_and_keys_are_read_alike(seeded):
    pid = paper_order(seeded)[0][1]
    span = {"quote": "x\x00y", "start": 0, "end": 1, "status": "fuzzy"}  # a NUL in a reply's quote too
    add_suggestion(seeded, pid, "p1", "summary", "m", {"technique": "t"}, evidence={"technique": span},
                   warnings=[{"kind": "number_not_in_abstract", "field": "claimed_gain"}])
    key = SuggestionKey("p1", "m", "{}")
    totals = key_totals(seeded, key)
    assert (totals.fuzzy, totals.exact, totals.quotes, totals.numbers_not_in_abstract) == (1, 0, 1, 1)
    assert [k.prompt for k in suggestion_keys(seeded)] == ["summary"]


def test_a_batch_keeps_an_ok_suggestion_made_meanwhile(seeded):
    pid = paper_order(seeded)[0][1]
    kept = add_suggestion(seeded, pid, "p1", "summary", "m", {"technique": "live"})
    again = add_suggestion(seeded, paper_order(seeded)[1][1], "p1", "summary", "m", {"technique": "x"},
                           outcome="error")
    kept.values["technique"], again.values["technique"] = "batch", "batch"
    again.outcome = "ok"
    assert save_batch_suggestions(seeded, [(kept, []), (again, [])]) == {kept.id}
    assert suggestions_for_paper(seeded, pid)[0].values["technique"] == "live"
    assert suggestions_for_paper(seeded, again.paper_id)[0].values["technique"] == "batch"


def test_flags_positions_formats_and_counts(seeded):
    pid = paper_order(seeded)[3][1]
    set_flag(seeded, pid, "ana", True, based_on=None)
    decide(seeded, Decision(pid, "ana", "rejected", {}, based_on=get_annotation(seeded, pid, "ana").version))
    assert [a.annotation.flagged for a in iter_annotations(seeded, flagged=True)] == [True]
    assert store_counts(seeded).flagged == 1
    remember_position(seeded, "ana", "todo", pid)
    remember_position(seeded, "ana", "todo", paper_order(seeded)[4][1])
    assert remembered_position(seeded, "ana", "todo") == paper_order(seeded)[4][1]
    remember_format(seeded, "http://h/v1", "m", "json_schema", source="probe", concurrency=4)
    remember_format(seeded, "http://h/v1", "m", "json_object", source="fallback")
    assert remembered_format(seeded, "http://h/v1", "m")[2:4] == ("json_object", 4)


def test_text_with_a_nul_is_stored_alike_on_both_and_its_export_imports_back(any_db, tmp_path):
    """PostgreSQL text cannot hold NUL: both stores keep U+FFFD for it in a paper's text, so its id and exported
    title are the same on either; a value keeps it on SQLite, and a record imported twice is unchanged on both.
    (PostgreSQL once exported a title that no longer named its paper, and called the second import a conflict.)"""
    from workbench.jsonl import export_annotation_lines, import_annotations

    write(tmp_path / "p.jsonl", '{"title": "T\\u0000x", "abstract": "An abstract with a NUL \\u0000 inside."}\n')
    assert ingest(any_db, [tmp_path / "p.jsonl"]).new == 1
    paper = get_paper(any_db, paper_order(any_db)[0][1])
    assert (paper.title, paper.abstract) == ("T\ufffdx", "An abstract with a NUL \ufffd inside.")
    record = {"title": "T\x00x", "annotator": "ana", "status": "edited",
              "annotation": {"technique": "nul\x00here", "claimed_gain": None, "compute": None}}
    decision = write(tmp_path / "d.jsonl", json.dumps(record) + "\n")
    assert import_annotations(any_db, decision, None).written == 1
    assert import_annotations(any_db, decision, None).unchanged == 1
    exported = write(tmp_path / "e.jsonl", "".join(export_annotation_lines(any_db)))
    technique = json.loads(exported.read_text())["annotation"]["technique"]
    assert technique in ("nul\x00here", "nul\ufffdhere") and (technique == "nul\ufffdhere") == pg.is_handle(any_db)
    assert import_annotations(any_db, exported, None).unchanged == 1


def test_a_failed_unit_of_work_leaves_nothing(seeded):
    pid = paper_order(seeded)[0][1]
    with pytest.raises(RuntimeError):
        with transaction(seeded):
            decide(seeded, Decision(pid, "ana", "accepted", {}))
            raise RuntimeError("stop")
    assert get_annotation(seeded, pid, "ana") is None
    assert decide(seeded, Decision(pid, "ana", "accepted", {})).version == 1


# --------------------------------------------------------------------------- PostgreSQL only


def test_a_password_in_the_url_is_refused_and_never_printed(run_cli, pg_server):
    url = pg_server.url("x").replace("postgres@", "postgres:hunter2@")
    result = run_cli("--db", url, "stats")
    assert result.exit_code == 2 and "hunter2" not in result.output and "PGPASSWORD" in result.output
    with pytest.raises(InputError) as caught:
        open_db(pg_server.url("x") + "?password=hunter2")
    assert "hunter2" not in str(caught.value)


def test_a_server_that_cannot_be_reached_is_one_line_naming_host_and_database(run_cli):
    result = run_cli("--db", "postgresql://ana@127.0.0.1:9/teamstore", "stats")
    assert result.exit_code == 1
    assert result.stderr.startswith("workbench: postgresql://ana@127.0.0.1:9/teamstore: cannot connect to the store (")
    assert result.stderr.count("\n") == 1


def test_a_database_with_no_store_is_not_made_one_by_a_reading_command(run_cli, pg_url):
    result = run_cli("--db", pg_url, "stats")
    assert result.exit_code == 2 and "there is no store here" in result.stderr
    with pytest.raises(InputError):
        open_db(pg_url, create=False)


def test_a_postgresql_store_from_a_newer_workbench_is_refused(pg_url, seeds_copy):
    db = open_db(pg_url)
    db.execute("INSERT INTO workbench_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
               ["workbench", "m999_from_the_future", "2027-01-01"])
    db.close()
    with pytest.raises(StoreTooNew):
        open_db(pg_url)


def test_the_postgresql_migrations_stand_for_every_sqlite_one():
    """A migration added to one backend and not the other would make their stores differ."""
    from sqlite_utils import Database

    from workbench import migrations_pg
    from workbench.migrations import migrations

    sqlite_names = [m.name for m in migrations.pending(Database(memory=True))]
    pg_names = [name for names, _ in migrations_pg.MIGRATIONS for name in names]
    assert pg_names == sqlite_names


def test_the_first_open_by_two_processes_at_once_makes_the_tables_once(pg_url):
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        handles = list(pool.map(lambda _: open_db(pg_url), range(4)))
    assert all(count_papers(h) == 0 for h in handles)
    for h in handles:
        h.close()


def test_the_url_in_messages_never_carries_credentials():
    assert pg.describe("postgresql://ana:pw@db.example:6543/team?sslmode=require") == \
        "postgresql://ana@db.example:6543/team"  # the user, never the password
    with pytest.raises(WorkbenchError):
        pg.check_url("postgresql://ana@db.example:6543/")


# --------------------------------------------------------------------------- PostgreSQL's search words


def test_postgresql_search_splits_and_folds_words_as_fts5_does(pg_url, tmp_path):
    from workbench.store import search

    write(tmp_path / "p.jsonl", "".join(json.dumps(record) + "\n" for record in (
        {"title": "Kinetics-400 état-of-the-art", "abstract": "Über 2.3x fäster; e.g. x@y.com 'quoted' \\\\ back"},
        {"title": "O'Brien: a * & | ! ( ) <-> :* title", "abstract": "Words with 'quotes' and \\\\backslashes\\\\."},
    )))
    db = open_db(pg_url)
    ingest(db, [tmp_path / "p.jsonl"])

    def found(text):
        return [h.title[:8] for h in search(db, text, annotator="a", active=None)[0]]

    assert found("kinetics 400") == found("etat") == found("uber faster") == found("com") == ["Kinetics"]
    assert found("brien") == found('"o brien"') == found("backslashes") == ["O'Brien:"]
    for hostile in ("'", "\\", ":*", "&", "|", "!", "<->", "'a' | 'b'", "x:*A", "()", "\x00", "a" * 3000):
        search(db, hostile, annotator="a", active=None)  # never a syntax error from PostgreSQL
    db.close()


@settings(max_examples=int(os.environ.get("WORKBENCH_PROPERTY_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(min_size=1, max_size=60), abstract=st.text(max_size=400))
def test_any_text_makes_a_tsvector_postgresql_takes_and_finds_by_its_words(pg_server, title, abstract):
    from workbench.store.pg_words import tsquery, tsvector, words

    conn = _conn(pg_server)
    literal = tsvector(title, abstract)
    for word in words(title)[:5]:
        assert conn.execute("SELECT %s::tsvector @@ %s::tsquery", [literal, tsquery([([word], False)])]).fetchone()[0]


def _conn(server, cache={}):  # noqa: B006 (one connection for every example)
    import psycopg

    if server.port not in cache:
        cache[server.port] = psycopg.connect(server.url(), autocommit=True)
    return cache[server.port]


@pytest.mark.parametrize("typo", ["postgresql:/ana@127.0.0.1:5432/team", "PostgreSQL://ana@h/team", "pg://h/team",
                                  "postgresql+psycopg://h/team", "sqlite:///tmp/x.db", "postgres ql://h/team"])
def test_a_mistyped_url_is_refused_never_made_a_private_sqlite_file(run_cli, typo, tmp_path):
    result = run_cli("--db", typo, "ingest")
    assert result.exit_code == 2 and "postgresql://user@host:port/dbname" in result.output
    assert list(tmp_path.iterdir()) == [] or not any(p.is_dir() and p.name.lower().startswith(("postgres", "pg", "sqlite"))
                                                    for p in tmp_path.iterdir())
    copied = run_cli("copy", str(tmp_path / "none.db"), typo)
    assert copied.exit_code == 2 and "verified" not in copied.output


def test_a_folder_as_the_store_says_so(run_cli, tmp_path):
    (tmp_path / "annotations").mkdir(exist_ok=True)
    for args in (("--db", str(tmp_path / "annotations"), "stats"), ("--db", str(tmp_path / "annotations"), "ingest"),
                 ("--db", str(tmp_path / "newdir") + "/", "ingest")):
        result = run_cli(*args)
        assert result.exit_code == 2 and "is a folder; --db names the store's file" in result.output, result.output
    assert not (tmp_path / "newdir").exists()


def test_a_lost_connection_fails_one_write_and_the_next_try_saves(pg_url, seeds_copy):
    import psycopg

    from workbench.errors import StoreBusy

    db = open_db(pg_url)
    ingest(db, [seeds_copy])
    pid = paper_order(db)[0][1]
    with psycopg.connect(pg_url, autocommit=True) as admin:  # as a server restart would
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND pid != pg_backend_pid()")
    with pytest.raises(StoreBusy):
        decide(db, Decision(pid, "ana", "accepted", {}))
    assert decide(db, Decision(pid, "ana", "accepted", {})).version == 1  # "try again" works
    db.close()


@pytest.mark.parametrize("url", ["postgresql://wb@127.0.0.1:9/x#?dbname=wb&password=S3cret",
                                 "postgresql://wb@127.0.0.1:9/x?passfile=/tmp/p", "postgresql://wb@[::1:9/wb",
                                 "postgresql://wb@127.0.0.1:9/x?PASSWORD=S3cret"])
def test_a_url_that_hides_a_password_or_cannot_be_read_is_one_line(run_cli, url):
    for result in (run_cli("--db", url, "stats"), run_cli("stats", env={"WORKBENCH_DB": url})):
        assert result.exit_code == 2 and "S3cret" not in result.output and "Traceback" not in result.output
        assert "internal error" not in result.output


def test_messages_name_the_database_libpq_connects_to():
    assert pg.describe("postgresql://wb@127.0.0.1:5432/wb2?dbname=wb3&host=db.lab") == "postgresql://wb@db.lab:5432/wb3"


@pytest.mark.parametrize("text", ["𝛢", "İstanbul", "ǅ", "ﬀ", "Ⅻ", "㎒", "ẞ"])
def test_a_words_words_are_its_own(text):
    """The query's words are made from the index's words again: the making must give them back as they are
    (NFKD once turned '𝛢' into 'Α', which a second lower-casing made 'α': the paper was never found)."""
    from workbench.store.pg_words import words

    assert all(words(word) == [word] for word in words(text))


@settings(max_examples=int(os.environ.get("WORKBENCH_PROPERTY_EXAMPLES", "40")) * 10, deadline=None)
@given(text=st.text(max_size=80))
def test_any_texts_words_are_their_own_words(text):
    from workbench.store.pg_words import MAX_WORD_BYTES, words

    assert all(words(word) == [word] and len(word.encode()) < MAX_WORD_BYTES for word in words(text))
