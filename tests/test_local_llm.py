"""Opt-in: the whole path against a real small model behind llama.cpp's server.

    WORKBENCH_LLAMA_SERVER=... WORKBENCH_LLAMA_MODEL=... .venv/bin/python -m pytest -m local_llm

Skipped when the server or the model is not there; not part of the default run (it takes
minutes on two cores). Asserts what the issue asks: at least 90% ok over 10 seed abstracts
with the default prompt.
"""

from __future__ import annotations

import json

import pytest

from tests.local_llm import MODEL_NAME, configured, llama_server

pytestmark = pytest.mark.local_llm


@pytest.fixture(scope="module")
def endpoint():
    found = configured()
    if found is None:
        pytest.skip("set WORKBENCH_LLAMA_SERVER and WORKBENCH_LLAMA_MODEL (see the README) to run the real model")
    with llama_server(*found) as base_url:
        yield base_url


def test_a_real_small_model_suggests_for_ten_seed_abstracts(endpoint, run_cli, seeds_copy, monkeypatch, db_path):
    monkeypatch.setenv("OPENAI_BASE_URL", endpoint)
    assert run_cli("ingest").exit_code == 0
    probe = run_cli("models", "--model", MODEL_NAME, "--timeout", "300", "--json")
    assert probe.exit_code == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["best"] is not None and found["slots"] == 1
    result = run_cli("suggest", "--model", MODEL_NAME, "--limit", "10", "--timeout", "300")
    assert result.exit_code == 0, result.stderr
    import sqlite3

    with sqlite3.connect(db_path) as db:
        outcomes = [r[0] for r in db.execute("SELECT outcome FROM suggestions WHERE model = ?", [MODEL_NAME])]
        grounded = db.execute("SELECT evidence FROM suggestions WHERE model = ? AND outcome = 'ok'",
                              [MODEL_NAME]).fetchall()
    assert len(outcomes) == 10 and outcomes.count("ok") >= 9, outcomes
    assert any('"exact"' in (e or "") for (e,) in grounded)  # its quotes are found in the abstracts
