"""`workbench compare` over 100,000 papers x 3 prompt versions with 20,000 decisions, each started
from the first version's suggestion (so the edit effort of each is measured).

    python benchmarks/bench_compare.py

Target (issue 5): under 5 s. Prints the whole command's wall time (a fresh
process, as a user runs it) and the time of the computation alone.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import write_corpus  # noqa: E402
from workbench.prompt_report import compare  # noqa: E402
from workbench.db import open_db, write_transaction  # noqa: E402
from workbench.ingest import ingest  # noqa: E402
from workbench.records import SuggestionKey  # noqa: E402
from workbench.store import ensure_prompt  # noqa: E402

PAPERS, VERSIONS, DECISIONS = 100_000, 3, 20_000


def build(folder: Path) -> Path:
    write_corpus(folder / "corpus", PAPERS)
    db_path = folder / "compare.db"
    db = open_db(db_path)
    ingest(db, [folder / "corpus"])
    ids = [r[0] for r in db.execute("SELECT id FROM papers ORDER BY seq")]
    rng = random.Random(3)
    techniques = ["sparse pre-training", "curriculum learning", "low-rank projection", "mixture of experts"]
    gains = ["2.5x faster training", "33% less data", "up to 65.5% less memory", None]
    computes = ["8 A100 GPUs", "1.3B parameters", "300B tokens", None]
    first: dict[str, tuple] = {}  # paper -> (suggestion id, fields) of the first version
    with write_transaction(db):
        for version in range(VERSIONS):
            prompt_id = (f"{version:x}" * 64)[:64]
            ensure_prompt(db, prompt_id, "summary", f"version {version}", "body")
            key = SuggestionKey(prompt_id, "offline", "{}")
            evidence = json.dumps({f: {"quote": "q", "start": 0, "end": 1, "status": rng.choice(["exact", "exact", "fuzzy"])}
                                   for f in ("technique", "claimed_gain", "compute")})
            warnings = json.dumps([{"field": "claimed_gain", "kind": "number_not_in_abstract", "number": "7"}])
            rows = []
            for pid in ids:
                values = (rng.choice(techniques), rng.choice(gains), rng.choice(computes))
                sid = key.suggestion_id(pid)
                if version == 0:
                    first[pid] = (sid, values)
                rows.append((sid, pid, prompt_id, "ok" if rng.random() > 0.02 else "error", *values, evidence,
                             warnings if rng.random() < 0.05 else "[]", rng.randint(100, 900)))
            db.conn.executemany(
                "INSERT INTO suggestions (id, paper_id, prompt_id, model, params, outcome, technique, claimed_gain, "
                "compute, evidence, warnings, input_tokens, output_tokens, latency_ms, attempts, created_at) "
                "VALUES (?, ?, ?, 'offline', '{}', ?, ?, ?, ?, ?, ?, 400, 80, ?, 1, '2026-11-23T00:00:00Z')", rows)
        decisions = []
        for pid in rng.sample(ids, DECISIONS):
            sid, suggested = first[pid]
            status = rng.choice(["accepted", "accepted", "edited", "rejected"])
            values = suggested if status == "accepted" else (None, None, None) if status == "rejected" else \
                (rng.choice(techniques) + " with tuning", rng.choice(gains), rng.choice(computes))
            snapshot = json.dumps({"prompt": "summary", "prompt_hash": "0" * 64, "model": "offline",
                                   "fields": dict(zip(("technique", "claimed_gain", "compute"), suggested))})
            decisions.append((pid, status, *values, sid, snapshot))
        db.conn.executemany(
            "INSERT INTO annotations (paper_id, annotator, status, flagged, technique, claimed_gain, compute, "
            "suggestion_id, suggested, seconds_spent, created_at, updated_at) "
            "VALUES (?, 'ana', ?, 0, ?, ?, ?, ?, ?, 5, 'x', 'x')", decisions)
    db.close()
    return db_path


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_path = build(Path(tmp))
        db = open_db(db_path)
        started = time.perf_counter()
        results = compare(db)
        computation = time.perf_counter() - started
        db.close()
        env = dict(os.environ, WORKBENCH_DB=str(db_path), COLUMNS="160")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "workbench", "compare"], env=env, check=True, capture_output=True)
        command = time.perf_counter() - started
    effort = results[0].get("effort", {})
    print(f"compare over {PAPERS:,} papers x {VERSIONS} prompt versions ({len(results)} rows) with {DECISIONS:,} "
          f"decisions: `workbench compare` {command:.2f} s (target < 5 s); computation alone {computation:.2f} s; "
          f"effort of the first version: {effort.get('decisions')} decisions, saved {effort.get('saved')}")


if __name__ == "__main__":
    main()
