"""Schema migrations. Each one runs in a transaction and is recorded once.

Add new migrations at the end; never edit one that has shipped.
"""

from sqlite_utils import Database, Migrations

migrations = Migrations("workbench")

OUTCOMES = ("ok", "invalid", "refused", "truncated", "error")
STATUSES = ("accepted", "edited", "rejected")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


@migrations()
def m001_initial(db: Database) -> None:
    db.executescript(
        f"""
        CREATE TABLE papers (
            id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE,          -- paper order: first ingest wins
            title TEXT NOT NULL,
            abstract TEXT NOT NULL,
            authors_count INTEGER,
            published TEXT,                       -- as written in the dump
            published_iso TEXT,                   -- when the year is known
            upvotes INTEGER,
            organization TEXT,
            content_hash TEXT NOT NULL,
            added_at TEXT NOT NULL
        );
        CREATE TABLE sightings (
            id INTEGER PRIMARY KEY,
            paper_id TEXT NOT NULL REFERENCES papers(id),
            source TEXT NOT NULL,                 -- file name
            position INTEGER NOT NULL,            -- order within that file
            line INTEGER,
            content_hash TEXT NOT NULL,
            UNIQUE (source, position)
        );
        CREATE INDEX sightings_paper ON sightings(paper_id);
        CREATE TABLE prompts (
            id TEXT PRIMARY KEY,                  -- content hash
            name TEXT NOT NULL,
            description TEXT,
            body TEXT,                            -- NULL when only known from an import
            created_at TEXT NOT NULL
        );
        CREATE TABLE suggestions (
            id TEXT PRIMARY KEY,
            paper_id TEXT NOT NULL REFERENCES papers(id),
            prompt_id TEXT NOT NULL REFERENCES prompts(id),
            model TEXT NOT NULL,
            params TEXT NOT NULL,                 -- canonical JSON of the request parameters
            outcome TEXT NOT NULL CHECK (outcome IN ({_in(OUTCOMES)})),
            error TEXT,
            technique TEXT,
            claimed_gain TEXT,
            compute TEXT,
            evidence TEXT,                        -- JSON: field -> quote, start, end, status
            warnings TEXT,                        -- JSON list, e.g. numbers not in the abstract
            raw TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            latency_ms INTEGER,
            attempts INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (paper_id, prompt_id, model, params)
        );
        CREATE INDEX suggestions_prompt_model ON suggestions(prompt_id, model);
        CREATE TABLE annotations (
            paper_id TEXT NOT NULL REFERENCES papers(id),
            annotator TEXT NOT NULL,
            status TEXT CHECK (status IS NULL OR status IN ({_in(STATUSES)})),
            flagged INTEGER NOT NULL DEFAULT 0,
            technique TEXT,
            claimed_gain TEXT,
            compute TEXT,
            notes TEXT,
            suggestion_id TEXT,                   -- the suggestion it started from
            suggested TEXT,                       -- JSON snapshot of that suggestion as shown
            seconds_spent REAL NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (paper_id, annotator)
        );
        CREATE INDEX annotations_annotator ON annotations(annotator, status);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            paper_id TEXT NOT NULL,
            annotator TEXT NOT NULL,
            action TEXT NOT NULL,
            before TEXT,                          -- JSON annotation row, NULL when none
            after TEXT,
            seconds REAL,
            session TEXT,
            undoes INTEGER REFERENCES events(id),
            at TEXT NOT NULL
        );
        CREATE INDEX events_annotator ON events(annotator, id);
        """
    )


@migrations()
def m002_paper_order_index(db: Database) -> None:
    # Paper order with ids and titles, without touching the rows (each holds a ~2 KB
    # abstract): export, the review queue and compare's titles read only this index.
    db.execute("CREATE INDEX papers_order ON papers(seq, id, title)")
