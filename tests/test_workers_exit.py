"""Worker processes end with their parent (workbench/workers.py): a `batch collect` or `suggest --workers`
killed with -9 leaves no worker holding the store's files or the terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT


def record_pid(folder: str) -> None:  # a worker's setup (spawned workers import it from here)
    Path(folder, str(os.getpid())).write_text("")


def nap(chunk: int) -> int:
    time.sleep(60)
    return chunk


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ")[-1].startswith("Z"))  # a zombie has ended


def test_workers_end_when_their_parent_is_killed(tmp_path):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from workbench.workers import ordered_map; "
            "from tests.test_workers_exit import nap, record_pid; "
            "list(ordered_map(nap, range(8), 2, record_pid, (sys.argv[2],)))")
    parent = subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(tmp_path)], stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = [int(p.name) for p in tmp_path.iterdir()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []
    assert parent.stdout.read() == b""  # the pipe ends: nobody holds it open any more
