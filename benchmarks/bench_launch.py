"""Launch -> first paper on screen at 100,000 papers, against the bare `python -c 'import textual'`.

    python benchmarks/bench_launch.py [--papers 100000] [--runs 3] [--keep DIR]

Both sides are whole processes measured in the same run, interleaved (baseline, launch, baseline,
launch, ...), with the bytecode cache warm as after `pip install`:
- baseline: spawning `python -c 'import textual'` until it exits;
- launch: spawning `python -m workbench review` in a pseudo-terminal until the first paper's title is
  written to it (target <= 0.5 s).
It also prints which of the packages the review's first frame does not need (pydantic, openai, httpx2,
tenacity) were imported before it: none should be.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_review import build_store, child_env, spawn, warm_bytecode_cache  # noqa: E402

# What the review of an already-migrated store with the offline model must not import before the first frame.
LAZY = ("pydantic", "pydantic_core", "openai", "tenacity", "httpx2", "httpx")


def baseline_s() -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import textual"], env=env, check=True)
    return time.perf_counter() - started


def launch_s(db_path: Path, first_title: str) -> float:
    started = time.perf_counter()
    child = spawn(db_path)
    child.expect(re.escape(first_title[:40]), timeout=60)
    seconds = time.perf_counter() - started
    child.kill(signal.SIGKILL)
    child.close()
    return seconds


def modules_at_first_frame(db_path: Path, first_title: str) -> set[str]:
    """The top-level packages loaded once the first frame's content is built (the same hook as
    tests/test_review_pty.py: ReviewScreen.show_current(first=True) has returned)."""
    import pexpect

    from tests.test_review_pty import _RECORD_FIRST_FRAME

    out = db_path.parent / "modules.txt"
    out.unlink(missing_ok=True)
    child = pexpect.spawn(sys.executable, ["-c", _RECORD_FIRST_FRAME, str(out)], env=child_env(db_path),
                          dimensions=(30, 100), encoding="utf-8", timeout=30, cwd=str(db_path.parent))
    child.expect(re.escape(first_title[:40]), timeout=60)
    child.kill(signal.SIGKILL)
    child.close()
    return set(out.read_text().split()) if out.exists() else set()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="Work in this folder and keep the store.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-launch-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        warm_bytecode_cache()
        marker = work / f"review_{args.papers}.title"
        db_path = work / f"review_{args.papers}.db"
        if marker.exists() and db_path.exists():
            first_title = marker.read_text()
        else:
            db_path, first_title = build_store(work, args.papers)
            marker.write_text(first_title)
        launch_s(db_path, first_title)  # one unmeasured launch: the store's pages into the page cache
        baselines, launches = [], []
        for _ in range(args.runs):
            baselines.append(baseline_s())
            launches.append(launch_s(db_path, first_title))
        loaded = modules_at_first_frame(db_path, first_title)
        fmt = ", ".join
        print(f"{args.papers:,} papers: launch -> first paper {fmt(f'{t:.3f}' for t in launches)} s "
              f"(median {statistics.median(launches):.3f} s, target <= 0.5 s)")
        print(f"bare `python -c 'import textual'`, same run: {fmt(f'{t:.3f}' for t in baselines)} s "
              f"(median {statistics.median(baselines):.3f} s)")
        print(f"ratio launch / bare import, medians: {statistics.median(launches) / statistics.median(baselines):.2f}")
        eager = sorted(name for name in LAZY if name in loaded)
        print("imported before the first frame that it does not need: " + (", ".join(eager) if eager else "none"))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
