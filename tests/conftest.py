"""Shared fixtures. Every test gets its own store, config and working folder."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli import cli
from workbench.db import open_db
from workbench.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test sees the user's store, config, keys or endpoint."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "annotations" / "workbench.db"))
    monkeypatch.setenv("WORKBENCH_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(ROOT / "prompts"))
    # COLUMNS and LINES: pytest-xdist's workers set them to 80x24, and a child process in a pty
    # would take them over the pty's own size.
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "WORKBENCH_ANNOTATOR", "COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path


@pytest.fixture(scope="session")
def pg_server():
    """One real PostgreSQL server per test process (see tests/pg_server.py)."""
    from tests.pg_server import Server

    server = Server().start()
    yield server
    server.stop()


_databases = itertools.count(1)


@pytest.fixture
def pg_url(pg_server, monkeypatch) -> str:
    """A fresh, empty PostgreSQL database on the test server; WORKBENCH_DB names it."""
    url = pg_server.create_database(f"t{os.getpid()}_{next(_databases)}")
    monkeypatch.setenv("WORKBENCH_DB", url)
    return url


@pytest.fixture
def backend(request) -> str:
    """Which store the test's `db` / `db_path` / `store_url` is: SQLite, unless parametrized below."""
    return getattr(request, "param", "sqlite")


def pytest_generate_tests(metafunc):
    """The store's contract runs on both backends: every test of a module that sets BOTH_BACKENDS = True
    and uses the store, every test marked both_backends, and every test that asks for `store_url`, runs
    on SQLite and on PostgreSQL."""
    both = (getattr(metafunc.module, "BOTH_BACKENDS", False) or "store_url" in metafunc.fixturenames
            or metafunc.definition.get_closest_marker("both_backends") is not None)
    if both and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def store_url(db_path) -> str:
    return str(db_path)


@pytest.fixture
def any_db(db):
    return db


@pytest.fixture
def db_path(tmp_path, backend, request) -> Path | str:
    """The store's location: a SQLite file, or (backend "postgresql") a fresh database's URL."""
    if backend == "postgresql":
        return request.getfixturevalue("pg_url")
    return tmp_path / "annotations" / "workbench.db"


@pytest.fixture
def db(db_path):
    database = open_db(db_path)
    yield database
    database.close()


@pytest.fixture
def seeded_db(db):
    ingest(db, [SEEDS])
    return db


@pytest.fixture
def seeds_copy(tmp_path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def run_cli():
    """Invoke the CLI in-process; returns click's Result (stdout and stderr apart)."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict | None = None):
        return runner.invoke(cli, list(args), input=input, env=env, obj={}, catch_exceptions=False)

    return run


def fixture_path(name: str) -> Path:
    return FIXTURES / name


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def steady_cursor(monkeypatch):
    """A text cursor that does not blink, so screens and snapshots are the same every run."""
    from workbench.tui.widgets.form import FieldArea

    monkeypatch.setattr(FieldArea, "blink_cursor", False)


os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture
def notices(monkeypatch) -> list[str]:
    """Every notification the app shows, in order (App.notify is Textual's public way in)."""
    from textual.app import App

    shown: list[str] = []
    original = App.notify

    def record(self, message, *args, **kwargs):
        shown.append(str(message))
        return original(self, message, *args, **kwargs)

    monkeypatch.setattr(App, "notify", record)
    return shown
