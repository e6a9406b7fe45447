"""What a reviewer's write waits for while `batch collect --file` writes the same store.

    python benchmarks/probe_write_wait.py STORE RESULTS [--interactive]

STORE must hold the request files RESULTS answers and not have collected them yet (e.g. a copy of
`bench_batch.py --keep DIR --review`'s review.db before its collect). Every 100 ms, while the collect
runs, one write transaction as the review makes it (BEGIN IMMEDIATE, one row, COMMIT), timed in two
parts: waiting for the write lock, and the insert with its commit. `--interactive` opens the store as
the review does (`open_db(interactive=True)`: no checkpoint in its commits, and its writes take their
turn before the collect's next transaction: workbench/writer_turns.py), and writes through
`write_transaction` as the review does. The README's "waiting
for the write lock p95 79-97 ms" and "commit 0.1 ms, 16.7 ms median before" are this script's lines.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.db import WriteUnit, close_db, open_db  # noqa: E402


def quantiles(values: list[float]) -> str:
    return (f"p50 {statistics.median(values):.1f} p95 {statistics.quantiles(values, n=20)[18]:.1f} "
            f"max {max(values):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("--interactive", action="store_true")
    args = parser.parse_args()
    db = open_db(args.store, busy_timeout=3.0, interactive=args.interactive)
    collect = subprocess.Popen([sys.executable, "-m", "workbench", "--db", str(args.store), "batch", "collect",
                                "--file", str(args.results)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)  # the collect is writing
    waits, writes, n = [], [], 0
    while collect.poll() is None:
        n += 1
        started = time.perf_counter()
        unit = WriteUnit(db)
        unit.begin()
        begun = time.perf_counter()
        db.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES (?, 'todo', 'p', 'x') "
                   "ON CONFLICT (annotator, queue) DO UPDATE SET at = excluded.at", [f"probe{n % 50}"])
        unit.commit()
        waits.append((begun - started) * 1000)
        writes.append((time.perf_counter() - begun) * 1000)
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - started)))
    close_db(db)
    print(f"{len(waits)} writes during the collect: waiting for the write lock {quantiles(waits)}; "
          f"insert + commit {quantiles(writes)}")


if __name__ == "__main__":
    main()
