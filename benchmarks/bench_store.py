"""Ingest and export throughput on 100,000 synthetic abstracts, with peak memory; `copy` rows/s;
decisions/s sustained by 8 annotator sessions in parallel processes.

    python benchmarks/bench_store.py [--papers N] [--postgresql]

Targets (issue 2): ingest >= 20,000 abstracts/s, export >= 50,000 annotations/s,
peak memory < 300 MB. Each phase runs in its own process so its peak memory
(ru_maxrss) is its own. --postgresql runs every phase on a PostgreSQL server this script
starts on 127.0.0.1 (PostgreSQL's defaults, fsync on) as well, after SQLite.
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


def location(text: str) -> Path | str:
    return text if text.startswith("postgresql://") else Path(text)


def phase_ingest(db_path: Path, corpus: str) -> dict:
    from workbench.db import open_db
    from workbench.ingest import ingest

    db = open_db(db_path)
    start = time.perf_counter()
    report = ingest(db, [Path(corpus)])
    seconds = time.perf_counter() - start
    assert not report.errors, report.errors
    return {"papers": report.new, "seconds": seconds, "peak_mb": peak_mb()}


def phase_annotate(db_path: Path) -> dict:
    """Fill one annotation per paper (setup for the export phase, not timed as a target)."""
    from workbench.db import open_db, write_transaction
    from workbench.store._base import executemany

    db = open_db(db_path)
    statuses = ("accepted", "edited", "rejected")
    papers = db.execute("SELECT seq, id FROM papers").fetchall()
    with write_transaction(db):
        executemany(
            db, "INSERT INTO annotations (paper_id, annotator, status, flagged, technique, claimed_gain, compute, "
            "seconds_spent, created_at, updated_at) VALUES (?, 'bench', ?, 0, ?, ?, NULL, 4.2, "
            "'2026-11-23T12:00:00Z', '2026-11-23T12:00:00Z')",
            [(pid, statuses[seq % 3], "a technique", "2.5x faster") for seq, pid in papers],
        )
    return {"annotations": db.execute("SELECT count(*) FROM annotations").fetchone()[0]}


def phase_copy(source: Path, target) -> dict:
    from workbench.copying import copy_store
    from workbench.db import open_db

    src, dst = open_db(source), open_db(target)
    report = copy_store(src, dst)
    return {"rows": report.total, "seconds": report.seconds, "peak_mb": peak_mb()}


def phase_sessions(db_path, sessions: str, papers: str) -> dict:
    """`sessions` annotators, each deciding `papers` papers in its own process, all at once."""
    worker = ROOT / "tests" / "session_worker.py"
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(worker), str(db_path), f"bench{n}", papers],
                              stdout=subprocess.PIPE, text=True) for n in range(int(sessions))]
    reports = [json.loads(p.communicate()[0]) for p in procs]
    seconds = time.perf_counter() - start
    written = sum(r["written"] for r in reports)
    return {"decisions": written, "seconds": seconds, "busy": sum(r["busy"] for r in reports)}


def phase_export(db_path: Path, out: str) -> dict:
    out = Path(out)
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
    parser.add_argument("--postgresql", action="store_true", help="also on a PostgreSQL server started here")
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        fn = {"ingest": phase_ingest, "annotate": phase_annotate, "export": phase_export, "copy": phase_copy,
              "sessions": phase_sessions}[name]
        stores = {"ingest": 1, "annotate": 1, "export": 1, "copy": 2, "sessions": 1}[name]  # leading store args
        print(json.dumps(fn(*(location(r) if n < stores else r for n, r in enumerate(rest)))))
        return

    from benchmarks.synthetic import write_corpus

    server = None
    if args.postgresql:
        sys.path.insert(0, str(ROOT))
        from tests.pg_server import Server

        server = Server(durable=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            files = write_corpus(tmp / "corpus", args.papers)
            size_mb = sum(f.stat().st_size for f in files) / 1e6
            print(f"corpus: {args.papers:,} abstracts in {len(files)} files ({size_mb:.0f} MB)")
            sqlite_store = tmp / "bench.db"
            backends = [("SQLite", sqlite_store, tmp / "copy.db")]
            if server:
                backends.append(("PostgreSQL", server.create_database("bench"), server.create_database("copy")))
            for name, store, copy_target in backends:
                measure(name, store, copy_target, sqlite_store, tmp)
    finally:
        if server:
            server.stop()


def measure(name: str, store, copy_target, sqlite_store: Path, tmp: Path) -> None:
    """Every phase on one backend; `copy` goes from the SQLite store into `copy_target`."""
    ingest = run_phase("ingest", str(store), str(tmp / "corpus"))
    run_phase("annotate", str(store))
    export = run_phase("export", str(store), str(tmp / "out.jsonl"))
    copied = run_phase("copy", str(sqlite_store), str(copy_target))
    sessions = run_phase("sessions", str(store), "8", "200")
    ingest_rate = ingest["papers"] / ingest["seconds"]
    export_rate = export["annotations"] / export["seconds"]
    print(f"[{name}] ingest: {ingest['papers']:,} papers in {ingest['seconds']:.2f} s = {ingest_rate:,.0f} abstracts/s "
          f"(target >= 20,000)  peak memory {ingest['peak_mb']:.0f} MB (target < 300, writer + parser processes)")
    print(f"[{name}] export: {export['annotations']:,} annotations in {export['seconds']:.2f} s = "
          f"{export_rate:,.0f} annotations/s (target >= 50,000)  peak memory {export['peak_mb']:.0f} MB (target < 300)")
    print(f"[{name}] copy from SQLite: {copied['rows']:,} rows in {copied['seconds']:.2f} s = "
          f"{copied['rows'] / copied['seconds']:,.0f} rows/s (verified)  peak memory {copied['peak_mb']:.0f} MB")
    print(f"[{name}] 8 annotator sessions at once, 200 decisions each: {sessions['decisions']:,} decisions in "
          f"{sessions['seconds']:.1f} s = {sessions['decisions'] / sessions['seconds']:,.0f} decisions/s "
          f"(processes start-up included), {sessions['busy']} lock errors")


if __name__ == "__main__":
    main()
