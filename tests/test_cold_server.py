"""`workbench models` against a cold local server: it waits while the model loads, gives each probe
reply as long as a cold server needs, and says in one line to raise --timeout when that was not enough."""

from __future__ import annotations

import json

import pytest

from tests.fake_openai import FakeOpenAI
from tests.local_llm import local_endpoint, running_url
from workbench.endpoint import PROBE_TIMEOUT_SECONDS


def test_models_waits_while_the_server_loads_its_model(run_cli, monkeypatch):
    fake = FakeOpenAI(slots=1, loading=2.5).start()  # 503 "Loading model" first, as llama-server says
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        result = run_cli("models", "--json")
    finally:
        fake.stop()
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["best"] == "json_schema" and found["models"] == ["test-model"] and found["slots"] == 1
    assert 2 <= found["loading_seconds"] <= 5
    assert found["timeout"] == PROBE_TIMEOUT_SECONDS  # not the 60 s a suggestion gets by default


def test_models_says_in_one_line_to_raise_the_timeout_when_every_probe_timed_out(run_cli, monkeypatch):
    fake = FakeOpenAI(latency=3.0).start()  # every reply takes 3 s
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        result = run_cli("models", "--timeout", "1")
    finally:
        fake.stop()
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("workbench: no response format answered model 'test-model' at ")
    assert "within 1 s" in result.stderr and "raise --timeout" in result.stderr
    assert "timed out after 1 s" in result.stdout  # each format's own line says what happened to it
    # two timed out in a row: the server is not answering, and the last two formats are not tried
    assert fake.count("SparseProbe") == 2
    assert [line.split()[:3] for line in result.stdout.splitlines() if "not tried" in line] == [
        ["json_object", "not", "tried:"], ["text", "not", "tried:"]]


def test_models_names_the_formats_that_timed_out_when_another_worked(run_cli, monkeypatch):
    fake = FakeOpenAI(script={"SparseProbe": ["slow"]}).start()  # the first probe takes 3 s, the rest answer
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        result = run_cli("models", "--timeout", "1.5")
    finally:
        fake.stop()
    assert result.exit_code == 0, result.stderr
    assert "best: json_object_schema (remembered: --response-format auto uses it)" in result.stdout
    assert ("json_schema timed out after 1.5 s: a cold or busy server can need longer; raise --timeout to try again"
            in result.stdout.splitlines())


def test_the_opt_in_test_and_the_benchmark_take_a_running_server(monkeypatch):
    monkeypatch.delenv("WORKBENCH_LLAMA_SERVER", raising=False)
    monkeypatch.setenv("WORKBENCH_LLAMA_URL", "http://127.0.0.1:8091")
    assert running_url() == "http://127.0.0.1:8091/v1"
    with local_endpoint() as url:
        assert url == "http://127.0.0.1:8091/v1"  # used as it is: nothing is started
    monkeypatch.setenv("WORKBENCH_LLAMA_URL", "file:///etc/passwd")
    with pytest.raises(RuntimeError, match="WORKBENCH_LLAMA_URL must be an http:// or https:// URL"):
        running_url()
    monkeypatch.delenv("WORKBENCH_LLAMA_URL")
    with local_endpoint() as url:
        assert url is None  # nothing configured: the opt-in test skips, the benchmark says what to set
