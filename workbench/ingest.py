"""Ingest dumps and JSONL files into the store: dedup by title, keep every sighting.

Each file is one transaction: a file that fails to parse leaves the store as it
was, and the other files of the same call still go in.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from workbench.corpus import expand_paths, read_source
from workbench.errors import InputError, StoreRefused, WorkbenchError, refusal
from workbench.records import PAPER_METADATA, ParsedRow
from workbench.store import Handle, PaperWriter, refresh_statistics


@dataclass
class IngestReport:
    files: int = 0
    found: int = 0  # sightings parsed
    new: int = 0  # papers added
    merged: int = 0  # new sightings of a paper already known
    already: int = 0  # sightings already in the store (same file ingested before)
    differing: int = 0  # sightings whose abstract differs from the stored one
    revised: int = 0  # abstracts not seen before for a known paper: new revisions (the old text is kept)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"ingested {_n(self.files, 'file')}: {_n(self.found, 'paper')} found, "
            f"{self.new} new, {_n(self.merged, 'duplicate')} merged, {self.already} already in the store"
        )
        if self.differing:
            text += f"; {_n(self.differing, 'abstract')} differed between sightings (kept the longer)"
        if self.revised:
            text += f"; {_n(self.revised, 'new abstract revision')} (the older text is kept)"
        if self.errors:
            text += f"; {_n(len(self.errors), 'file')} failed"
        return text


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


_CHUNK = 2000
# Below this many input bytes, spawning a parser process costs more than it saves.
_WORKER_THRESHOLD_BYTES = 8 << 20


def _parse_messages(files: list[Path]) -> Iterator[tuple]:
    """("begin", path, file digest), ("rows", path, [ParsedRow]) chunks, then ("end", path, warning)
    or ("error", path, message)."""
    for path in files:
        try:
            source = read_source(path)
            yield ("begin", path, source.digest)
            chunk: list[ParsedRow] = []
            for paper in source.papers:
                pid, chash = paper.keys()
                chunk.append(ParsedRow(pid, chash, paper.title, paper.abstract, *(getattr(paper, k) for k in PAPER_METADATA),
                                       paper.position, paper.line))
                if len(chunk) >= _CHUNK:
                    yield ("rows", path, chunk)
                    chunk = []
            yield ("rows", path, chunk)
            yield ("end", path, source.warning)
        except InputError as exc:
            yield ("error", path, str(exc))


def _parsed_elsewhere(files: list[Path]) -> Iterator[tuple]:
    """The same messages, parsed in a second process while this one writes.

    Parsing is pure Python and so is most of a write; threads cannot overlap
    them (measured: no gain), processes can. The child is `python -m
    workbench.ingest FILE...` streaming pickled messages on a pipe, whose
    buffer bounds how far it runs ahead. (multiprocessing's spawn re-imports
    the caller's __main__, which breaks scripts without a main guard.)
    """
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    child = subprocess.Popen([sys.executable, "-m", "workbench.ingest", *map(str, files)],
                             stdout=subprocess.PIPE, env=env)
    try:
        while True:
            try:
                message = pickle.load(child.stdout)
            except EOFError:
                raise WorkbenchError(f"the ingest parser process stopped (exit code {child.wait()})") from None
            if message is None:
                return
            yield message
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.wait()


def ingest(db: Handle, paths: list[Path]) -> IngestReport:
    report = IngestReport()
    files: list[Path] = []
    for path in paths:
        try:
            found = expand_paths([path])
        except InputError as exc:
            report.errors.append(str(exc))
            continue
        for file in found:
            if file.is_file():
                files.append(file)
            else:  # reading a FIFO would wait for a writer forever
                report.warnings.append(f"{file}: not a regular file (a FIFO, device or socket); skipped")
    if not files:
        return report
    big = sum(f.stat().st_size for f in files) > _WORKER_THRESHOLD_BYTES
    messages = _parsed_elsewhere(files) if big else _parse_messages(files)
    batch = PaperWriter(db)
    failed: Path | None = None  # a file whose rows the store refused: skip the rest of its messages
    try:
        for kind, path, payload in messages:
            if kind == "error":
                batch.rollback()
                report.errors.append(payload)
                continue
            if kind == "begin":
                failed = None
                batch.begin(str(path), payload)
                continue
            if path == failed:
                continue
            try:
                if kind == "rows":
                    batch.add(payload)
                else:
                    _count(report, batch.commit(), payload)
            except (StoreRefused, OverflowError, UnicodeError, ValueError) as exc:
                batch.rollback()  # one bad value fails its file, not the call
                failed = path
                report.errors.append(f"{path}: could not store it ({refusal(exc)}); nothing from it was kept")
    except BaseException:
        batch.rollback()  # Ctrl-C or a store error: the files committed so far stay
        raise
    finally:
        messages.close()
    if report.new >= 1_000:
        refresh_statistics(db)  # the planner learns the new papers now, not when autovacuum gets to them
    return report


def _count(report: IngestReport, counts, warning: str | None) -> None:
    report.files += 1
    report.found += counts.found
    report.new += counts.new
    report.merged += counts.found - counts.new - counts.already
    report.already += counts.already
    report.differing += counts.differing
    report.revised += counts.revised
    if warning:
        report.warnings.append(warning)


if __name__ == "__main__":  # the parser process of _parsed_elsewhere
    # Parse through the module imported by its real name, not as __main__ (ParsedRow itself is workbench.records.ParsedRow).
    from workbench import ingest as by_name

    out = sys.stdout.buffer
    for parsed in by_name._parse_messages([Path(p) for p in sys.argv[1:]]):
        pickle.dump(parsed, out, protocol=pickle.HIGHEST_PROTOCOL)
    pickle.dump(None, out)
    out.flush()
