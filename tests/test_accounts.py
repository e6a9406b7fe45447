"""Annotator accounts: `workbench team add|revoke|list`, hashes only, sign-in with a lock-out."""

from __future__ import annotations

import sqlite3

import pytest

from workbench import accounts
from workbench.db import close_db, open_db


def _rows(db_path):
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT * FROM annotator_accounts ORDER BY name").fetchall()


def _sign_in(db_path, name, token, **kw):
    return accounts.sign_in(lambda: open_db(db_path), close_db, name, token, **kw)


def test_team_add_prints_a_token_once_and_stores_only_a_salted_hash(run_cli, db_path):
    first = run_cli("team", "add", "ana")
    second = run_cli("team", "add", "ben")
    assert first.exit_code == second.exit_code == 0
    ana_token, ben_token = first.stdout.strip(), second.stdout.strip()
    assert len(ana_token) >= 32 and ana_token != ben_token
    stored = _rows(db_path)
    text = repr(stored)
    assert ana_token not in text and ben_token not in text
    hashes = [row[1] for row in stored]
    assert all(h.startswith("scrypt$") for h in hashes)
    assert hashes[0].split("$")[4] != hashes[1].split("$")[4]  # each its own salt
    listed = run_cli("team", "list")
    assert "ana\tactive" in listed.stdout and "ben\tactive" in listed.stdout
    assert "scrypt" not in listed.stdout and ana_token not in listed.stdout
    assert _sign_in(db_path, "ana", ana_token).annotator == "ana"
    assert _sign_in(db_path, "ana", ben_token).annotator is None  # another's token is not yours


@pytest.mark.parametrize("name", ["", " ana", "an\x1b[2Ja", "x" * 500])
def test_team_add_refuses_a_bad_name_in_one_line(run_cli, db_path, name):
    result = run_cli("team", "add", name)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "\x1b" not in result.stderr
    assert not db_path.exists() or _rows(db_path) == []


def test_adding_a_name_twice_keeps_the_first_token(run_cli, db_path):
    token = run_cli("team", "add", "ana").stdout.strip()
    again = run_cli("team", "add", "ana")
    assert again.exit_code == 2 and "already has an account" in again.stderr and again.stdout == ""
    assert _sign_in(db_path, "ana", token).annotator == "ana"


def test_revoke_stops_sign_in_and_add_again_issues_a_new_token(run_cli, db_path):
    old = run_cli("team", "add", "ana").stdout.strip()
    assert run_cli("team", "revoke", "ana").exit_code == 0
    assert _sign_in(db_path, "ana", old).annotator is None
    assert not accounts.still_active(lambda: open_db(db_path), close_db, "ana", old)
    assert "ana\trevoked" in run_cli("team", "list").stdout
    assert run_cli("team", "revoke", "ana").exit_code == 2  # nothing active to revoke
    new = run_cli("team", "add", "ana").stdout.strip()
    assert new != old
    assert _sign_in(db_path, "ana", old).annotator is None
    assert _sign_in(db_path, "ana", new).annotator == "ana"
    assert not accounts.still_active(lambda: open_db(db_path), close_db, "ana", old)  # a session on the old one ends
    assert accounts.still_active(lambda: open_db(db_path), close_db, "ana", new)


def test_team_list_on_no_store_is_an_error_not_a_new_store(run_cli, db_path):
    result = run_cli("team", "list")
    assert result.exit_code == 2 and not db_path.exists()


@pytest.mark.parametrize("name, token", [
    ("ana", ""), ("", "x"), ("nobody", "x" * 32), ("ana", "y" * 10_000), ("ana\x00", "x"), ("ana", "tok\udc80en"),
])
def test_a_wrong_or_hostile_sign_in_gets_nothing(run_cli, db_path, name, token):
    run_cli("team", "add", "ana")
    answer = _sign_in(db_path, name, token)
    assert answer.annotator is None and answer.message == accounts.WRONG


def test_failures_lock_the_name_in_the_store_and_a_success_clears_them(run_cli, db_path):
    token = run_cli("team", "add", "ana").stdout.strip()
    now = [1_800_000_000.0]
    clock = lambda: now[0]  # noqa: E731
    for _ in range(accounts.LOCK_AFTER - 1):
        assert _sign_in(db_path, "ana", "wrong", clock=clock).annotator is None
    assert _sign_in(db_path, "ana", token, clock=clock).annotator == "ana"  # 4 failures: not locked yet
    assert _rows(db_path)[0][4] == 0  # the success cleared them
    for _ in range(accounts.LOCK_AFTER):
        last = _sign_in(db_path, "ana", "wrong", clock=clock)
    assert f"locked for {accounts.LOCK_SECONDS} s" in last.message
    locked = _sign_in(db_path, "ana", token, clock=clock)  # the right token, while locked: refused
    assert locked.annotator is None and "try again in" in locked.message
    now[0] += accounts.LOCK_SECONDS + 1
    assert "locked for 60 s" in _sign_in(db_path, "ana", "wrong", clock=clock).message  # it doubles
    now[0] += 61
    assert _sign_in(db_path, "ana", token, clock=clock).annotator == "ana"
    assert accounts.lock_seconds(10 ** 6) == accounts.MAX_LOCK_SECONDS


def test_a_doctored_stored_hash_matches_nothing_and_costs_no_more_than_a_check(run_cli, db_path):
    run_cli("team", "add", "ana")
    for doctored in ["plain", "scrypt$1$8$1$AA$AA", f"scrypt${2 ** 30}$8$1$AA$AA", "scrypt$16384$8$1$!!$AA",
                     "md5$16384$8$1$AA$AA"]:
        with sqlite3.connect(db_path) as conn:
            conn.execute("UPDATE annotator_accounts SET token_hash = ?, failures = 0, locked_until = NULL", [doctored])
        assert _sign_in(db_path, "ana", "anything").annotator is None


def test_the_store_functions_are_portable_sql(db):
    """The account table's rows round-trip through the surface (the SQL is checked on PostgreSQL by the lead)."""
    from workbench import store

    assert store.add_account(db, "ana", "h1") and not store.add_account(db, "ana", "h2")
    assert store.count_active_accounts(db) == 1
    assert store.revoke_account(db, "ana") and not store.revoke_account(db, "ana")
    assert store.count_active_accounts(db) == 0 and store.account_secret(db, "ana") is None
    assert store.add_account(db, "ana", "h3")
    assert store.account_secret(db, "ana").token_hash == "h3"
    [row] = store.list_accounts(db)
    assert row.active and row.failures == 0


def test_an_account_cannot_take_an_adjudicators_role(run_cli, seeds_copy):
    """A served session under `ana@adjudicated` would store adjudications without --adjudicate."""
    result = run_cli("team", "add", "ana@adjudicated")
    assert result.exit_code == 2 and "adjudicator's role" in result.stderr and result.stdout == ""
