"""Ingest and export throughput on 100,000 synthetic abstracts, with peak memory.

    python benchmarks/bench_store.py [--papers N]

Targets (issue 2): ingest >= 20,000 abstracts/s, export >= 50,000 annotations/s,
peak memory < 300 MB. Each phase runs in its own process so its peak memory
(ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_mb() -> float:
    """Peak resident memory of this process plus its largest finished child.

    Ingest parses in a second process while this one writes, so both count.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def phase_ingest(db_path: Path, corpus: Path) -> dict:
    from workbench.db import open_db
    from workbench.ingest import ingest

    db = open_db(db_path)
    start = time.perf_counter()
    report = ingest(db, [corpus])
    seconds = time.perf_counter() - start
    assert not report.errors, report.errors
    return {"papers": report.new, "seconds": seconds, "peak_mb": peak_mb()}


def phase_annotate(db_path: Path) -> dict:
    """Fill one annotation per paper (setup for the export phase, not timed as a target)."""
    from workbench.db import open_db, write_transaction

    db = open_db(db_path)
    statuses = ("accepted", "edited", "rejected")
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO annotations (paper_id, annotator, status, flagged, technique, claimed_gain, compute, "
            "seconds_spent, created_at, updated_at) VALUES (?, 'bench', ?, 0, ?, ?, NULL, 4.2, "
            "'2026-11-23T12:00:00Z', '2026-11-23T12:00:00Z')",
            ((pid, statuses[seq % 3], "a technique", "2.5x faster") for seq, pid in db.execute("SELECT seq, id FROM papers")),
        )
    return {"annotations": db["annotations"].count}


def phase_export(db_path: Path, out: Path) -> dict:
    from workbench.db import open_db
    from workbench.jsonl import export_annotation_lines, write_lines

    db = open_db(db_path)
    start = time.perf_counter()
    count = write_lines(export_annotation_lines(db), out, sys.stdout)
    seconds = time.perf_counter() - start
    return {"annotations": count, "seconds": seconds, "peak_mb": peak_mb(), "bytes": out.stat().st_size}


def run_phase(*args: str, script: str = __file__) -> dict:
    """Run `script --phase ARGS...` in a process of its own (its own peak memory); its last line is JSON."""
    result = subprocess.run([sys.executable, script, "--phase", *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--phase", nargs="+")
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        fn = {"ingest": phase_ingest, "annotate": phase_annotate, "export": phase_export}[name]
        print(json.dumps(fn(*map(Path, rest))))
        return

    from benchmarks.synthetic import write_corpus

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = write_corpus(tmp / "corpus", args.papers)
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        db_path = tmp / "bench.db"
        ingest = run_phase("ingest", str(db_path), str(tmp / "corpus"))
        run_phase("annotate", str(db_path))
        export = run_phase("export", str(db_path), str(tmp / "out.jsonl"))

    ingest_rate = ingest["papers"] / ingest["seconds"]
    export_rate = export["annotations"] / export["seconds"]
    print(f"corpus: {args.papers:,} abstracts in {len(files)} files ({size_mb:.0f} MB)")
    print(f"ingest: {ingest['papers']:,} papers in {ingest['seconds']:.2f} s = {ingest_rate:,.0f} abstracts/s "
          f"(target >= 20,000)  peak memory {ingest['peak_mb']:.0f} MB (target < 300, writer + parser processes)")
    print(f"export: {export['annotations']:,} annotations in {export['seconds']:.2f} s = {export_rate:,.0f} annotations/s "
          f"(target >= 50,000)  peak memory {export['peak_mb']:.0f} MB (target < 300)")


if __name__ == "__main__":
    main()
