"""Annotator accounts for `workbench serve`: who may sign in, the salted hash of each one's token
(never the token), and the failed sign-ins that lock a name out for a while. Hashing and the
lock-out rule are `workbench.accounts`'s; this module only keeps the rows."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.store._base import Handle, guarded, one, transaction
from workbench.vocab import utc_now


@dataclass(frozen=True)
class Account:
    """An account as `team list` shows it (no hash)."""
    name: str
    created_at: str
    revoked_at: str | None
    failures: int
    locked_until: str | None
    last_sign_in_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class AccountSecret:
    """What a sign-in is checked against: an active account's hash and its lock-out state."""
    name: str
    token_hash: str
    failures: int
    locked_until: str | None


@guarded
def add_account(db: Handle, name: str, token_hash: str) -> bool:
    """A new account, or a new token for a revoked one. False (nothing written): `name` is active."""
    with transaction(db):
        row = one(db, "SELECT revoked_at FROM annotator_accounts WHERE name = ?", [name])
        if row is not None and row["revoked_at"] is None:
            return False
        db.execute("INSERT INTO annotator_accounts (name, token_hash, created_at, failures) VALUES (?, ?, ?, 0) "
                   "ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash, "
                   "created_at = excluded.created_at, revoked_at = NULL, failures = 0, locked_until = NULL",
                   [name, token_hash, utc_now()])
    return True


@guarded
def revoke_account(db: Handle, name: str) -> bool:
    """The account can no longer sign in (its decisions stay its own). False: no active account of that name."""
    with transaction(db):
        cursor = db.execute("UPDATE annotator_accounts SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                            [utc_now(), name])
        return cursor.rowcount == 1


@guarded
def list_accounts(db: Handle) -> list[Account]:
    return [Account(*row) for row in db.execute(
        "SELECT name, created_at, revoked_at, failures, locked_until, last_sign_in_at FROM annotator_accounts "
        "ORDER BY name")]


@guarded
def count_active_accounts(db: Handle) -> int:
    return db.execute("SELECT count(*) FROM annotator_accounts WHERE revoked_at IS NULL").fetchone()[0]


@guarded
def account_secret(db: Handle, name: str) -> AccountSecret | None:
    """An active account's hash and lock-out state (None: no such account, or revoked)."""
    row = db.execute("SELECT name, token_hash, failures, locked_until FROM annotator_accounts "
                     "WHERE name = ? AND revoked_at IS NULL", [name]).fetchone()
    return AccountSecret(*row) if row else None


@guarded
def record_sign_in(db: Handle, name: str, *, ok: bool, locked_until: str | None = None) -> None:
    """A sign-in's outcome: success clears the failures; a failure counts one more (and may lock the name)."""
    with transaction(db):
        if ok:
            db.execute("UPDATE annotator_accounts SET failures = 0, locked_until = NULL, last_sign_in_at = ? "
                       "WHERE name = ?", [utc_now(), name])
        else:
            db.execute("UPDATE annotator_accounts SET failures = failures + 1, locked_until = ? WHERE name = ?",
                       [locked_until, name])
