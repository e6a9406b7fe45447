"""Ingest dumps and JSONL files into the store: dedup by title, keep every sighting.

Each file is one transaction: a file that fails to parse leaves the store as it
was, and the other files of the same call still go in.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

from sqlite_utils import Database

from workbench.corpus import expand_paths, read_source
from workbench.errors import InputError, WorkbenchError
from workbench.vocab import utc_now

_META = ("authors_count", "published", "published_iso", "upvotes", "organization")


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


class _Known:
    """id -> (content hash, abstract length) of the papers in the store."""

    def __init__(self, db: Database):
        self.db = db
        self.version: int | None = None
        self.refresh()

    def refresh(self) -> None:
        """Reload if another connection committed since (cheap: PRAGMA data_version)."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if version == self.version:
            return
        rows = self.db.execute("SELECT id, content_hash, length(abstract) FROM papers")
        self.papers = {r[0]: (r[1], r[2]) for r in rows}
        self.next_seq = (self.db.execute("SELECT max(seq) FROM papers").fetchone()[0] or 0) + 1
        self.version = version


class ParsedRow(NamedTuple):
    """One parsed paper on its way to the store (a tuple: cheap to pickle from the parser process)."""

    id: str
    content_hash: str
    title: str
    abstract: str
    authors_count: int | None
    published: str | None
    published_iso: str | None
    upvotes: int | None
    organization: str | None
    position: int
    line: int

    @property
    def metadata(self) -> tuple:
        return self.authors_count, self.published, self.published_iso, self.upvotes, self.organization


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
                chunk.append(ParsedRow(pid, chash, paper.title, paper.abstract, *(getattr(paper, k) for k in _META),
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


def ingest(db: Database, paths: list[Path]) -> IngestReport:
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
    batch = _FileBatch(db, _Known(db))
    failed: Path | None = None  # a file whose rows the store refused: skip the rest of its messages
    try:
        for kind, path, payload in messages:
            if kind == "error":
                batch.rollback()
                report.errors.append(payload)
                continue
            if kind == "begin":
                failed = None
                batch.begin(path, payload)
                continue
            if path == failed:
                continue
            try:
                if kind == "rows":
                    batch.add(payload)
                else:
                    batch.commit(report, payload)
            except (sqlite3.IntegrityError, sqlite3.InterfaceError, OverflowError, UnicodeError, ValueError) as exc:
                batch.rollback()  # one bad value fails its file, not the call
                failed = path
                report.errors.append(f"{path}: could not store it ({type(exc).__name__}: {exc}); nothing from it was kept")
    except BaseException:
        batch.rollback()  # Ctrl-C or a store error: the files committed so far stay
        raise
    finally:
        messages.close()
    return report


class _FileBatch:
    """One file's transaction: rows are added as they arrive, committed at its end."""

    def __init__(self, db: Database, known: "_Known"):
        self.db, self.known = db, known
        self.path: Path | None = None

    def begin(self, path: Path, digest: str) -> None:
        self.path, self.digest = path, digest
        self.db.execute("BEGIN IMMEDIATE")  # waits for another writer (busy timeout)
        self.known.refresh()  # another process may have ingested meanwhile
        self.seq = self.known.next_seq
        self.added: dict[str, tuple[str, int]] = {}  # merged into `known` on commit
        self.counts = IngestReport()
        self.now = utc_now()

    def add(self, rows: list[ParsedRow]) -> None:
        papers: list[tuple] = []
        sightings: list[tuple] = []
        counts, added, known = self.counts, self.added, self.known.papers
        source = str(self.path)
        for row in rows:
            pid, chash, abstract = row.id, row.content_hash, row.abstract
            counts.found += 1
            stored = added.get(pid) or known.get(pid)
            if stored is None:
                papers.append((pid, self.seq, row.title, abstract, *row.metadata, chash, self.now))
                added[pid] = (chash, len(abstract))
                self.seq += 1
                counts.new += 1
            else:
                if stored[0] != chash:
                    counts.differing += 1
                    self._write(papers, sightings)
                    self.db.execute(_KEEP_FIRST_TEXT, [pid, pid])
                    counts.revised += self.db.execute(_ADD_REVISION, [pid, abstract, chash, self.now, pid]).rowcount
                    if len(abstract) > stored[1]:
                        self.db.execute("UPDATE papers SET abstract = ?, content_hash = ? WHERE id = ?", [abstract, chash, pid])
                        added[pid] = (chash, len(abstract))
                if any(v is not None for v in row.metadata):
                    self._write(papers, sightings)
                    # A later sighting may carry metadata the first one lacked: fill the gaps only.
                    self.db.execute(_FILL_METADATA, [*row.metadata, pid])
            sightings.append((pid, source, self.digest, row.position, row.line, chash))
        self._write(papers, sightings)

    def _write(self, papers: list[tuple], sightings: list[tuple]) -> None:
        if papers:
            # One prepared statement: sqlite-utils' insert_all sniffs types and
            # JSON-encodes value by value, which cost a third of ingest time.
            self.db.conn.executemany(_INSERT_PAPER, papers)
            # The search index, in one statement for the chunk (a per-row trigger cost 5x
            # more). Before any later update of these rows: the index must hold them first.
            self.db.execute(_INDEX_FOR_SEARCH, [papers[0][1], papers[-1][1]])
            papers.clear()
        if sightings:
            cursor = self.db.conn.executemany(_INSERT_SIGHTING, sightings)
            self.counts.already += len(sightings) - cursor.rowcount
            sightings.clear()

    def commit(self, report: IngestReport, warning: str | None) -> None:
        self.db.execute("COMMIT")
        # Only now, with the file committed, do its papers count as known.
        self.known.papers.update(self.added)
        self.known.next_seq = self.seq
        counts = self.counts
        report.files += 1
        report.found += counts.found
        report.new += counts.new
        report.merged += counts.found - counts.new - counts.already
        report.already += counts.already
        report.differing += counts.differing
        report.revised += counts.revised
        if warning:
            report.warnings.append(warning)
        self.path = None

    def rollback(self) -> None:
        if self.path is not None:
            self.db.rollback()
        self.path = None


_INDEX_FOR_SEARCH = (
    "INSERT INTO papers_fts (rowid, title, abstract) SELECT rowid, title, abstract FROM papers WHERE seq BETWEEN ? AND ?"
)
_INSERT_SIGHTING = (
    "INSERT OR IGNORE INTO sightings (paper_id, source, source_hash, position, line, content_hash) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# A paper's first text is kept apart only once a second one arrives (until then it is in papers).
_KEEP_FIRST_TEXT = (
    "INSERT INTO paper_revisions (paper_id, revision, abstract, content_hash, added_at) "
    "SELECT id, 1, abstract, content_hash, added_at FROM papers WHERE id = ? "
    "AND NOT EXISTS (SELECT 1 FROM paper_revisions WHERE paper_id = ?)"
)
# A text not seen before for this paper becomes its next revision (one seen before changes nothing).
_ADD_REVISION = (
    "INSERT OR IGNORE INTO paper_revisions (paper_id, revision, abstract, content_hash, added_at) "
    "SELECT ?, max(revision) + 1, ?, ?, ? FROM paper_revisions WHERE paper_id = ?"
)
_FILL_METADATA = (
    "UPDATE papers SET " + ", ".join(f"{k} = coalesce({k}, ?)" for k in _META) + " WHERE id = ?"
)
_PAPER_COLUMNS = ("id", "seq", "title", "abstract", *_META, "content_hash", "added_at")
_INSERT_PAPER = (
    f"INSERT INTO papers ({', '.join(_PAPER_COLUMNS)}) VALUES ({', '.join('?' for _ in _PAPER_COLUMNS)})"
)


if __name__ == "__main__":  # the parser process of _parsed_elsewhere
    # Parse through the module imported by its real name, so rows unpickle as workbench.ingest.ParsedRow.
    from workbench import ingest as by_name

    out = sys.stdout.buffer
    for parsed in by_name._parse_messages([Path(p) for p in sys.argv[1:]]):
        pickle.dump(parsed, out, protocol=pickle.HIGHEST_PROTOCOL)
    pickle.dump(None, out)
    out.flush()
