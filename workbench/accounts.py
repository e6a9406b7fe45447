"""Annotator accounts: tokens, their salted hashes, and signing in with a lock-out.

A token is shown once, when `workbench team add` makes it; the store keeps only a salted scrypt hash
of it. A sign-in hashes the token given and compares in constant time; an unknown name costs the same
hash (so timing does not say which names exist). After `LOCK_AFTER` failed sign-ins in a row a name
is locked for a while that doubles with each further failure (from `LOCK_SECONDS` up to
`MAX_LOCK_SECONDS`); the lock is kept in the store, so opening a new browser tab does not reset it.
"""

from __future__ import annotations

import base64
import calendar
import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from workbench import store
from workbench.errors import InputError
from workbench.records import annotator_problem
from workbench.vocab import ADJUDICATED_SUFFIX, is_adjudication

# scrypt at these costs takes ~50 ms and 16 MiB per check: cheap for a sign-in, dear for a guesser.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
_MAX_N = 2 ** 20  # a stored hash asking for more is refused, not computed (a doctored row cannot stall us)
TOKEN_BYTES = 24  # 192 bits: 32 characters of base64url
MAX_TOKEN_CHARS = 200  # what a sign-in reads of a token at most
LOCK_AFTER = 5
LOCK_SECONDS = 30
MAX_LOCK_SECONDS = 15 * 60


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_token(token: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(token.encode("utf-8", "surrogatepass"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def token_matches(token: str, stored: str) -> bool:
    """Does `token` hash to `stored`? Constant-time compare; a malformed stored hash matches nothing."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        n, r, p = int(n), int(r), int(p)
        if scheme != "scrypt" or not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 4):
            return False
        expected = _unb64(digest)
        got = hashlib.scrypt(token.encode("utf-8", "surrogatepass"), salt=_unb64(salt), n=n, r=r, p=p,
                             dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def _dummy_hash() -> str:
    """What an unknown name is checked against, so it costs one hash too; made on first use (~35 ms and
    16 MiB: not at import, where every command would pay it)."""
    return hash_token("an unknown name still costs one hash", salt=b"\0" * 16)


def check_name(name: str) -> str:
    problem = annotator_problem(name)
    if problem:
        raise InputError(f"annotator name {name!r} {problem}")
    if is_adjudication(name):  # a served session would store adjudications without --adjudicate
        raise InputError(f"annotator name {name!r} is an adjudicator's role, not a person's: add {name[:-len(ADJUDICATED_SUFFIX)]!r}")
    return name


def add(db, name: str) -> str:
    """Make an account (or a new token for a revoked one) and return its token: the only time it is seen."""
    check_name(name)
    token = new_token()
    if not store.add_account(db, name, hash_token(token)):
        raise InputError(f"annotator {name!r} already has an account; `workbench team revoke {name}` first to "
                         "issue a new token")
    return token


def revoke(db, name: str) -> None:
    if not store.revoke_account(db, name):
        raise InputError(f"no active annotator account named {name!r} (see `workbench team list`)")


@dataclass(frozen=True)
class SignInAnswer:
    annotator: str | None  # the signed-in name; None: refused
    message: str  # what the sign-in screen says


WRONG = "That name and token do not match an annotator account."


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _epoch(iso: str) -> float:
    return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))


def lock_seconds(failures: int) -> int:
    """How long a name is locked after its `failures`-th failure in a row (0: not locked)."""
    if failures < LOCK_AFTER:
        return 0
    return min(LOCK_SECONDS * 2 ** min(failures - LOCK_AFTER, 20), MAX_LOCK_SECONDS)


def sign_in(open_store: Callable[[], object], close_store: Callable[[object], None], name: str, token: str, *,
            clock: Callable[[], float] = time.time) -> SignInAnswer:
    """Check a name and token against the store (opened for this check only)."""
    name, token = name.strip(), token.strip()
    if not name or not token or len(token) > MAX_TOKEN_CHARS or annotator_problem(name):
        token_matches(token[:MAX_TOKEN_CHARS], _dummy_hash())  # the same cost as a real check
        return SignInAnswer(None, WRONG)
    db = open_store()
    try:
        secret = store.account_secret(db, name)
        now = clock()
        if secret is not None and secret.locked_until and _epoch(secret.locked_until) > now:
            token_matches(token, _dummy_hash())  # the answer takes as long as any other (no timing tells)
            wait = int(_epoch(secret.locked_until) - now) + 1
            return SignInAnswer(None, f"Too many failed sign-ins for this name: try again in {wait} s.")
        ok = token_matches(token, secret.token_hash if secret else _dummy_hash()) and secret is not None
        if secret is None:
            return SignInAnswer(None, WRONG)
        if ok:
            store.record_sign_in(db, name, ok=True)
            return SignInAnswer(name, f"Signed in as {name}.")
        wait = lock_seconds(secret.failures + 1)
        store.record_sign_in(db, name, ok=False, locked_until=_iso(now + wait) if wait else None)
        return SignInAnswer(None, WRONG + (f" Too many failed sign-ins: this name is locked for {wait} s."
                                           if wait else ""))
    finally:
        close_store(db)


def still_active(open_store: Callable[[], object], close_store: Callable[[object], None], name: str,
                 token: str) -> bool:
    """Is the token a session signed in with still the account's (not revoked, and not replaced by a new
    token after a revoke)? A served session asks now and then."""
    db = open_store()
    try:
        secret = store.account_secret(db, name)
        return secret is not None and token_matches(token, secret.token_hash)
    finally:
        close_store(db)
