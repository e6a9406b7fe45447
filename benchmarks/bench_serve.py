"""`workbench serve` measured with real browsers (Debian's chromium through Selenium).

    python benchmarks/bench_serve.py [SESSIONS ...]      # default: 1 5 10

For each count N: a fresh store (the seeds, 504 papers), N annotator accounts, `workbench serve` on a
free port, N headless chromium started first (their start-up is not counted); then all N at once:
- load -> sign-in: from `driver.get(url)` until the sign-in screen's text arrives on the socket;
- sign-in -> first paper: from sending name and token until the review's top line arrives;
- load -> first paper: the two added (the human's typing left out);
- memory of one served session: the PSS and RSS (/proc/PID/smaps_rollup) of every process of the
  sessions (textual-serve's `sh -c` and the app) once every session shows its first paper, divided
  by N (RSS counts shared pages once per process: the pessimistic figure); the serve process apart.
From the per-session PSS at the largest N: how many sessions fit in 24 GiB (2 GiB kept for the
system and the server). Each load runs in its own thread; the machine has 2 cores.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import served  # noqa: E402

GIB = 1024 ** 3


def _descendants(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        path = task / "children"
        if path.exists():
            children += [int(c) for c in path.read_text().split()]
    return [d for c in children for d in [c, *_descendants(c)]]


def _memory(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) * 1024
    return fields["Pss"], fields["Rss"]


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def run(count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "workbench.db"
        tokens = {f"ann{n}": served.workbench(db, "team", "add", f"ann{n}").stdout.strip() for n in range(count)}
        served.workbench(db, "ingest", str(ROOT / "seeds"))
        server = served.Served(db, "--max-sessions", str(max(count, 1)))
        drivers = [served.browser() for _ in range(count)]
        results: dict[str, tuple[float, float]] = {}
        errors: list[BaseException] = []

        def session(driver, name: str) -> None:
            try:
                to_sign_in = served.open_page(driver, server.url)
                started = time.monotonic()
                served.sign_in(driver, name, tokens[name])
                served.wait_for(driver, served.REVIEW_SHOWN.search, timeout=120, what="the first paper")
                results[name] = (to_sign_in, time.monotonic() - started)
            except BaseException as exc:  # reported after the run
                errors.append(exc)

        try:
            threads = [threading.Thread(target=session, args=(d, name)) for d, name in zip(drivers, tokens)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise errors[0]
            time.sleep(1.0)  # the first paper's suggestions prefetched, as a reviewer would find it
            apps = [p for p in _descendants(server.process.pid) if "serve-session" in _cmdline(p)]
            memory = [_memory(p) for p in apps]
            base_pss, base_rss = _memory(server.process.pid)
        finally:
            for d in drivers:
                d.quit()
            server.close()
    loads = [a for a, _ in results.values()]
    signs = [b for _, b in results.values()]
    totals = [a + b for a, b in results.values()]
    return {"sessions": count, "apps": len(apps), "load_to_sign_in": loads, "sign_in_to_paper": signs,
            "load_to_paper": totals, "pss_per_session": sum(m[0] for m in memory) / count,
            "rss_per_session": sum(m[1] for m in memory) / count, "server_pss": base_pss,
            "server_rss": base_rss}


def main(counts: list[int]) -> None:
    last = None
    for count in counts:
        r = run(count)
        last = r
        print(f"{count:>2} sessions ({r['apps']} app processes): load -> sign-in median "
              f"{statistics.median(r['load_to_sign_in']):.2f} s max {max(r['load_to_sign_in']):.2f} s; "
              f"sign-in -> first paper median {statistics.median(r['sign_in_to_paper']):.2f} s "
              f"max {max(r['sign_in_to_paper']):.2f} s; load -> first paper median "
              f"{statistics.median(r['load_to_paper']):.2f} s max {max(r['load_to_paper']):.2f} s; "
              f"per session PSS {r['pss_per_session'] / 2**20:.0f} MiB, RSS {r['rss_per_session'] / 2**20:.0f} MiB; "
              f"server PSS {r['server_pss'] / 2**20:.0f} MiB", flush=True)
    if last:
        fit = int((24 * GIB - 2 * GIB - last["server_pss"]) // last["pss_per_session"])
        print(f"sessions that fit in 24 GiB (2 GiB kept for the system, PSS at {last['sessions']} sessions): {fit}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 5, 10])
