"""Papers, their revisions and sightings: reading them, and writing what ingest parsed."""

from __future__ import annotations

from typing import Iterable, Iterator

from workbench.records import PAPER_METADATA, PaperRow, ParsedRow, SearchHit
from workbench import pg
from workbench.store import pg_words
from workbench.store._base import Handle, change_marker, executemany, guarded, marks
from workbench.db import WriteUnit
from workbench.vocab import utc_now

_PAPER_COLUMNS = ", ".join(("id", "seq", "title", "abstract", *PAPER_METADATA, "content_hash"))


@guarded
def count_papers(db: Handle) -> int:
    return db.execute("SELECT count(*) FROM papers").fetchone()[0]


@guarded
def get_paper(db: Handle, paper_id: str) -> PaperRow | None:
    row = db.execute(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id = ?", [paper_id]).fetchone()
    return PaperRow(*row) if row else None


@guarded
def get_papers(db: Handle, paper_ids: list[str]) -> dict[str, PaperRow]:
    rows = db.execute(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id IN ({marks(paper_ids)})", paper_ids)
    return {r[0]: PaperRow(*r) for r in rows}


@guarded
def iter_papers(db: Handle, paper_ids: list[str], chunk: int = 256) -> Iterator[PaperRow]:
    """The papers in the order given (unknown ids skipped), read `chunk` at a time: one query per
    chunk, not per paper, and memory flat for any number of ids."""
    for start in range(0, len(paper_ids), chunk):
        part = paper_ids[start:start + chunk]
        found = get_papers(db, part)
        yield from (found[pid] for pid in part if pid in found)


@guarded
def paper_order(db: Handle) -> list[tuple[int, str]]:
    """(seq, id) of every paper in paper order: small, so a queue can hold it all."""
    return db.execute("SELECT seq, id FROM papers ORDER BY seq").fetchall()


@guarded
def papers_after(db: Handle, seq: int) -> list[tuple[int, str]]:
    """(seq, id) of the papers numbered after `seq`, in paper order: those ingested since a reader looked."""
    return db.execute("SELECT seq, id FROM papers WHERE seq > ? ORDER BY seq", [seq]).fetchall()


@guarded
def paper_seq(db: Handle, paper_id: str) -> int | None:
    row = db.execute("SELECT seq FROM papers WHERE id = ?", [paper_id]).fetchone()
    return row[0] if row else None


@guarded
def paper_with_number(db: Handle, number: int) -> str | None:
    """The id of paper #`number` (its fixed number: the order it was first ingested in)."""
    row = db.execute("SELECT id FROM papers WHERE seq = ?", [number]).fetchone()
    return row[0] if row else None


@guarded
def unknown_paper_ids(db: Handle, paper_ids: Iterable[str]) -> list[str]:
    return [pid for pid in paper_ids if paper_seq(db, pid) is None]


@guarded
def known_paper_ids(db: Handle) -> set[str]:
    return {r[0] for r in db.execute("SELECT id FROM papers")}


@guarded
def paper_title(db: Handle, paper_id: str) -> str | None:
    row = db.execute("SELECT title FROM papers WHERE id = ?", [paper_id]).fetchone()
    return row[0] if row else None


def current_text(db: Handle, paper_id: str) -> str | None:
    """The content hash of the paper's current text (its revision)."""
    row = db.execute("SELECT content_hash FROM papers WHERE id = ?", [paper_id]).fetchone()
    return row[0] if row else None


def current_texts(db: Handle, paper_ids: list[str]) -> dict[str, str]:
    return dict(db.execute(f"SELECT id, content_hash FROM papers WHERE id IN ({marks(paper_ids)})",
                           paper_ids).fetchall())


@guarded
def find_papers(db: Handle, text: str, limit: int = 50) -> list[SearchHit]:
    """Papers whose title contains `text` (case-insensitive), or whose id starts with it."""
    text = text.strip()
    if not text:
        return []
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = db.execute(  # lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not
        "SELECT id, seq, title FROM papers WHERE id LIKE ? ESCAPE '\\' OR lower(title) LIKE ? ESCAPE '\\' "
        "ORDER BY (id LIKE ? ESCAPE '\\') DESC, seq LIMIT ?",
        [text.lower() + "%", pattern, text.lower() + "%", limit],
    )
    return [SearchHit(*r) for r in rows]


# --------------------------------------------------------------------------- ingest's writes


@guarded
def refresh_statistics(db: Handle) -> None:
    """After a large ingest: PostgreSQL's planner counts the new papers at once (until autovacuum
    analyses them, a search of a common word could plan as if the table were small: 170 ms, not 10).
    SQLite plans without statistics here: nothing to do."""
    if pg.is_handle(db):
        db.execute("ANALYZE papers, sightings, paper_revisions")


class FileCounts:
    """What one file's rows did to the store."""

    __slots__ = ("found", "new", "already", "differing", "revised")

    def __init__(self) -> None:
        self.found = self.new = self.already = self.differing = self.revised = 0


class PaperWriter:
    """Parsed papers into the store, one file per transaction: `begin`, `add` its rows as they arrive
    (chunks), `commit` at its end or `rollback`. A paper seen before gets a sighting; a new text of it
    becomes a revision (the longer text is the current one); metadata fills gaps only."""

    def __init__(self, db: Handle):
        self.db = db
        self.unit = WriteUnit(db)
        self.version: int | None = None
        self.path: str | None = None
        self.known: dict[str, tuple[str, int]] = {}  # id -> (content hash, abstract length)

    def _refresh(self) -> None:
        """Reload if another connection committed since (cheap: PRAGMA data_version, or counts)."""
        version = change_marker(self.db)
        if version == self.version:
            return
        rows = self.db.execute("SELECT id, content_hash, length(abstract) FROM papers")
        self.known = {r[0]: (r[1], r[2]) for r in rows}
        self.next_seq = (self.db.execute("SELECT max(seq) FROM papers").fetchone()[0] or 0) + 1
        self.version = version

    @guarded
    def begin(self, source: str, digest: str) -> None:
        self.path, self.digest = source, digest
        self.unit.begin()
        self._refresh()  # another process may have ingested meanwhile
        self.seq = self.next_seq
        self.added: dict[str, tuple[str, int]] = {}  # merged into `known` on commit
        self.counts = FileCounts()
        self.now = utc_now()

    @guarded
    def add(self, rows: list[ParsedRow]) -> None:
        papers: list[tuple] = []
        sightings: list[tuple] = []
        counts, added, known = self.counts, self.added, self.known
        source = self.path
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
                        self._replace_text(pid, row.title, abstract, chash)
                        added[pid] = (chash, len(abstract))
                if any(v is not None for v in row.metadata):
                    self._write(papers, sightings)
                    # A later sighting may carry metadata the first one lacked: fill the gaps only.
                    self.db.execute(_FILL_METADATA, [*row.metadata, pid])
            sightings.append((pid, source, self.digest, row.position, row.line, chash))
        self._write(papers, sightings)

    def _replace_text(self, pid: str, title: str, abstract: str, chash: str) -> None:
        if pg.is_handle(self.db):  # the search index is a column there, written with the text
            self.db.execute("UPDATE papers SET abstract = ?, content_hash = ?, search = ?::tsvector WHERE id = ?",
                            [abstract, chash, pg_words.tsvector(self._title(pid, title), abstract), pid])
        else:
            self.db.execute("UPDATE papers SET abstract = ?, content_hash = ? WHERE id = ?", [abstract, chash, pid])

    def _title(self, pid: str, title: str) -> str:
        """The stored title (the first one seen is kept)."""
        row = self.db.execute("SELECT title FROM papers WHERE id = ?", [pid]).fetchone()
        return row[0] if row else title

    def _write(self, papers: list[tuple], sightings: list[tuple]) -> None:
        if papers and pg.is_handle(self.db):
            executemany(self.db, _INSERT_PAPER_PG, [(*p, pg_words.tsvector(p[2], p[3])) for p in papers])
            papers.clear()
        if papers:
            # One prepared statement: sqlite-utils' insert_all sniffs types and
            # JSON-encodes value by value, which cost a third of ingest time.
            executemany(self.db, _INSERT_PAPER, papers)
            # The search index, in one statement for the chunk (a per-row trigger cost 5x
            # more). Before any later update of these rows: the index must hold them first.
            # (PostgreSQL's is a generated column: nothing to do.)
            if not pg.is_handle(self.db):
                self.db.execute(_INDEX_FOR_SEARCH, [papers[0][1], papers[-1][1]])
            papers.clear()
        if sightings:
            self.counts.already += len(sightings) - executemany(self.db, _INSERT_SIGHTING, sightings)
            sightings.clear()

    @guarded
    def commit(self) -> FileCounts:
        if pg.is_handle(self.db):
            # PostgreSQL's marker (counts) moves with our own writes too: read it while this file's
            # transaction still holds the write lock, so only another writer's commit makes the next
            # file reload every paper (which reads every abstract's length: 20 s at 100,000 papers).
            marker = change_marker(self.db)
        self.unit.commit()
        if pg.is_handle(self.db):
            self.version = marker
        # Only now, with the file committed, do its papers count as known.
        self.known.update(self.added)
        self.next_seq = self.seq
        self.path = None
        return self.counts

    @guarded
    def rollback(self) -> None:
        if self.path is not None:
            self.unit.rollback()
        self.path = None


_INDEX_FOR_SEARCH = (
    "INSERT INTO papers_fts (rowid, title, abstract) SELECT rowid, title, abstract FROM papers WHERE seq BETWEEN ? AND ?"
)
_INSERT_SIGHTING = (
    "INSERT INTO sightings (paper_id, source, source_hash, position, line, content_hash) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
# A paper's first text is kept apart only once a second one arrives (until then it is in papers).
_KEEP_FIRST_TEXT = (
    "INSERT INTO paper_revisions (paper_id, revision, abstract, content_hash, added_at) "
    "SELECT id, 1, abstract, content_hash, added_at FROM papers WHERE id = ? "
    "AND NOT EXISTS (SELECT 1 FROM paper_revisions WHERE paper_id = ?)"
)
# A text not seen before for this paper becomes its next revision (one seen before changes nothing).
_ADD_REVISION = (
    "INSERT INTO paper_revisions (paper_id, revision, abstract, content_hash, added_at) "
    "SELECT ?, max(revision) + 1, ?, ?, ? FROM paper_revisions WHERE paper_id = ? ON CONFLICT DO NOTHING"
)
_FILL_METADATA = (
    "UPDATE papers SET " + ", ".join(f"{k} = coalesce({k}, ?)" for k in PAPER_METADATA) + " WHERE id = ?"
)
_INSERT_COLUMNS = ("id", "seq", "title", "abstract", *PAPER_METADATA, "content_hash", "added_at")
_INSERT_PAPER = (
    f"INSERT INTO papers ({', '.join(_INSERT_COLUMNS)}) VALUES ({marks(_INSERT_COLUMNS)})"
)
_INSERT_PAPER_PG = (  # PostgreSQL: the search index is a column, written with the paper
    f"INSERT INTO papers ({', '.join(_INSERT_COLUMNS)}, search) VALUES ({marks(_INSERT_COLUMNS)}, ?::tsvector)"
)
