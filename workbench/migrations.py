"""Schema migrations. Each one runs in a transaction and is recorded once.

Add new migrations at the end; never edit one that has shipped. Each holds
literal DDL (no names imported from elsewhere), so a shipped migration builds
the same tables forever; a change of vocabulary (a new status or outcome) is a
new migration.
"""

from sqlite_utils import Database, Migrations

migrations = Migrations("workbench")


@migrations()
def m001_initial(db: Database) -> None:
    db.executescript(
        """
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
            outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'invalid', 'refused', 'truncated', 'error')),
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
            status TEXT CHECK (status IS NULL OR status IN ('accepted', 'edited', 'rejected')),
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


@migrations()
def m003_attempts(db: Database) -> None:
    # Every model call, append-only (like llm's logs): retries, re-asks, --force and
    # ctrl+r add rows; `suggestions` stays the current view of each key.
    db.executescript(
        """
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            suggestion_id TEXT NOT NULL,          -- the key: paper, prompt version, model, params
            paper_id TEXT NOT NULL REFERENCES papers(id),
            prompt_id TEXT NOT NULL REFERENCES prompts(id),
            model TEXT NOT NULL,
            params TEXT NOT NULL,
            request_hash TEXT,                    -- sha256 of the messages; the prompt version holds the text
            ask INTEGER NOT NULL,                 -- 1, or 2 for the re-ask after an invalid reply
            attempt INTEGER NOT NULL,             -- the HTTP call within that ask (retries)
            outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'invalid', 'refused', 'truncated', 'error')),
            http_status INTEGER,
            error TEXT,
            raw TEXT,                             -- the reply as received, capped
            raw_chars INTEGER,                    -- its length before capping
            input_tokens INTEGER,
            output_tokens INTEGER,
            latency_ms INTEGER,
            batch_id TEXT,                        -- set when the reply came from a batch job
            at TEXT NOT NULL
        );
        CREATE INDEX attempts_paper ON attempts(paper_id, id);
        CREATE INDEX attempts_suggestion ON attempts(suggestion_id, id);
        """
    )


@migrations()
def m004_annotation_field_sources(db: Database) -> None:
    # JSON {field: source} when a decision takes fields from different sources
    # (a suggestion, another annotator); NULL when they all come from one.
    db.execute("ALTER TABLE annotations ADD COLUMN field_sources TEXT")


@migrations()
def m005_sightings_by_file(db: Database) -> None:
    # Sightings were keyed by file name: d1/papers.jsonl and d2/papers.jsonl collided.
    # Now by a hash of the file's bytes (the same file by any path is known), keeping
    # the path as given for people. Older rows get their name as a stand-in hash.
    db.executescript(
        """
        CREATE TABLE sightings_by_file (
            id INTEGER PRIMARY KEY,
            paper_id TEXT NOT NULL REFERENCES papers(id),
            source TEXT NOT NULL,                 -- the file's path as given
            source_hash TEXT NOT NULL,            -- sha1 of the file's bytes
            position INTEGER NOT NULL,            -- order within that file
            line INTEGER,
            content_hash TEXT NOT NULL,
            UNIQUE (source_hash, position)
        );
        INSERT INTO sightings_by_file (id, paper_id, source, source_hash, position, line, content_hash)
            SELECT id, paper_id, source, 'name:' || source, position, line, content_hash FROM sightings;
        DROP TABLE sightings;
        ALTER TABLE sightings_by_file RENAME TO sightings;
        CREATE INDEX sightings_paper ON sightings(paper_id);
        """
    )


@migrations()
def m006_endpoint_formats(db: Database) -> None:
    # What each (endpoint, model) supports, learned by `workbench models` or by a fallback
    # during a run, so --response-format auto asks the right way from the first request.
    db.executescript(
        """
        CREATE TABLE endpoint_formats (
            endpoint TEXT NOT NULL,               -- base URL without credentials
            model TEXT NOT NULL,
            response_format TEXT NOT NULL,        -- the best mode that worked
            concurrency INTEGER,                  -- requests the server serves at once, when it says
            source TEXT NOT NULL,                 -- probe | fallback
            detail TEXT,                          -- JSON: per-mode results of the probe
            learned_at TEXT NOT NULL,
            PRIMARY KEY (endpoint, model)
        );
        """
    )


@migrations()
def m007_papers_fts(db: Database) -> None:
    # Full-text search over titles and abstracts (FTS5, external content: the text stays in
    # papers). The DDL is what sqlite-utils' enable_fts(fts_version="FTS5") makes, frozen here.
    # Ingest adds each file's new papers in one bulk insert (per-row triggers cost 5x more);
    # the update trigger keeps a replaced abstract in step.
    db.executescript(
        """
        CREATE VIRTUAL TABLE papers_fts USING FTS5 (title, abstract, content="papers");
        CREATE TRIGGER papers_au AFTER UPDATE OF title, abstract ON papers BEGIN
          INSERT INTO papers_fts (papers_fts, rowid, title, abstract)
            VALUES ('delete', old.rowid, old.title, old.abstract);
          INSERT INTO papers_fts (rowid, title, abstract) VALUES (new.rowid, new.title, new.abstract);
        END;
        CREATE TRIGGER papers_ad AFTER DELETE ON papers BEGIN
          INSERT INTO papers_fts (papers_fts, rowid, title, abstract)
            VALUES ('delete', old.rowid, old.title, old.abstract);
        END;
        INSERT INTO papers_fts (rowid, title, abstract) SELECT rowid, title, abstract FROM papers;
        """
    )


@migrations()
def m008_batches(db: Database) -> None:
    # Suggestions made by a batch engine (the OpenAI Batch API, `vllm run-batch`): every batch
    # submitted or request file written, and which batch each suggestion came from (attempts have
    # had batch_id since m003). No index on attempts.batch_id: "is this line stored already" looks
    # the key up in attempts_suggestion, and one index fewer to write is a collect ~20% faster.
    db.executescript(
        """
        CREATE TABLE batches (
            id TEXT PRIMARY KEY,                  -- the engine's batch id; 'pending-...' until it has one;
                                                  -- 'file-...' for a request file, 'results-...' for a results file
            engine TEXT NOT NULL CHECK (engine IN ('api', 'file')),
            endpoint TEXT,                        -- base URL without credentials (api)
            input_file TEXT,                      -- the request file written (or the results file collected)
            input_file_id TEXT,                   -- its id once uploaded (api)
            output_file_id TEXT,
            error_file_id TEXT,
            prompt_id TEXT NOT NULL REFERENCES prompts(id),
            model TEXT NOT NULL,
            params TEXT NOT NULL,                 -- canonical JSON of the request parameters
            key TEXT NOT NULL,                    -- hash of prompt_id, model, params: the end of every custom_id
            papers TEXT NOT NULL,                 -- JSON list of the paper ids requested, in file order
            requests INTEGER NOT NULL,
            bytes INTEGER,
            state TEXT NOT NULL,                  -- written, uploaded, or the engine's status (validating,
                                                  -- in_progress, finalizing, completed, failed, expired,
                                                  -- cancelling, cancelled); collected once stored
            completed INTEGER,                    -- the engine's request counts
            failed INTEGER,
            errors TEXT,                          -- JSON list of the engine's validation errors
            stored INTEGER NOT NULL DEFAULT 0,    -- result lines stored by collect
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            submitted_at TEXT,
            ended_at TEXT,
            collected_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX batches_key ON batches(key, collected_at);
        ALTER TABLE suggestions ADD COLUMN batch_id TEXT;  -- the batch that made it; NULL for a live request
        """
    )


@migrations()
def m009_annotation_versions(db: Database) -> None:
    # Every annotation carries the id of the event that made it: a decision names the version it
    # was based on, and a stale one is a conflict, never an overwrite. Rows made before this get
    # the id of their latest event (0 when the log has none).
    db.executescript(
        """
        ALTER TABLE annotations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
        UPDATE annotations SET version = coalesce((SELECT max(e.id) FROM events e
            WHERE e.paper_id = annotations.paper_id AND e.annotator = annotations.annotator), 0);
        """
    )


@migrations()
def m010_paper_revisions(db: Database) -> None:
    # A changed abstract is a new revision; the old text is kept. `papers` holds the current one
    # (ingest keeps the longer text current); paper_revisions holds every text of a paper whose
    # text has changed (none for a paper with one text: writing each abstract twice cost ingest a
    # fifth of its speed). Suggestions and decisions name the text they were made on by its content
    # hash: a suggestion made before this on the current text is taken as made on it; a decision
    # made before this is NULL (not known).
    db.executescript(
        """
        CREATE TABLE paper_revisions (
            paper_id TEXT NOT NULL REFERENCES papers(id),
            revision INTEGER NOT NULL,            -- 1, 2, ... in the order the texts were first seen
            abstract TEXT NOT NULL,
            content_hash TEXT NOT NULL,           -- as papers.content_hash
            added_at TEXT NOT NULL,
            PRIMARY KEY (paper_id, revision),
            UNIQUE (paper_id, content_hash)
        );
        ALTER TABLE suggestions ADD COLUMN content_hash TEXT;  -- the text it was made from
        UPDATE suggestions SET content_hash = (SELECT p.content_hash FROM papers p WHERE p.id = suggestions.paper_id);
        ALTER TABLE annotations ADD COLUMN decided_on TEXT;   -- content hash of the text decided on
        """
    )


@migrations()
def m011_review_positions(db: Database) -> None:
    # Where each annotator was in each queue, so a restart resumes at that paper (a skip leaves no
    # event to find it by).
    db.executescript(
        """
        CREATE TABLE review_positions (
            annotator TEXT NOT NULL,
            queue TEXT NOT NULL,
            paper_id TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (annotator, queue)
        );
        """
    )


@migrations()
def m012_annotator_accounts(db: Database) -> None:
    # Annotators who sign in to `workbench serve`: a salted hash of each one's token (never the
    # token), and the failed sign-ins that lock a name out for a while.
    db.executescript(
        """
        CREATE TABLE annotator_accounts (
            name TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL,             -- scrypt$N$r$p$salt$hash (base64): never the token
            created_at TEXT NOT NULL,             -- when this token was issued
            revoked_at TEXT,                      -- NULL while the account may sign in
            failures INTEGER NOT NULL DEFAULT 0,  -- failed sign-ins in a row
            locked_until TEXT,                    -- no sign-in is tried before this time
            last_sign_in_at TEXT
        );
        """
    )


@migrations()
def m013_team_distribution(db: Database) -> None:
    # Work split across a team. team_distribution: one row (or none: every annotator's todo holds
    # every paper): each paper needs per_paper decisions, or, with overlap, a stable share of the
    # papers (chosen by a hash of the paper id) needs per_paper and the rest one. leases: a paper
    # shown to an annotator holds one of its open slots until expires_at (unix seconds); an expired
    # one is back in the pool. Decisions counted are those of annotators, not adjudicators.
    db.executescript(
        """
        CREATE TABLE team_distribution (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            per_paper INTEGER NOT NULL CHECK (per_paper >= 1),
            overlap REAL CHECK (overlap IS NULL OR (overlap >= 0 AND overlap <= 1)),
            lease_seconds INTEGER NOT NULL CHECK (lease_seconds > 0),
            updated_at TEXT NOT NULL
        );
        CREATE TABLE leases (
            paper_id TEXT NOT NULL REFERENCES papers(id),
            annotator TEXT NOT NULL,
            session TEXT NOT NULL,
            expires_at REAL NOT NULL,
            taken_at TEXT NOT NULL,
            PRIMARY KEY (paper_id, annotator)
        );
        CREATE INDEX leases_expiry ON leases(paper_id, expires_at);
        """
    )
