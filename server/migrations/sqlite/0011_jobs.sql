-- Work done outside the request that asked for it: imports, exports, webhook deliveries,
-- backups. A row is the job's whole record (what, whose, how far, how it ended), read by the
-- person's tabs and by /admin; workers claim a due row for a while (`lease_until`), so a job
-- whose worker died is claimed again once its lease runs out.
CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT    NOT NULL,
    -- The person it is for; NULL for the server's own (deliveries, scheduled backups).
    owner          TEXT,
    -- What to do, as JSON of the kind's own.
    payload        TEXT    NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    -- Claims so far; a job claimed too often without ending is dead.
    attempts       INTEGER NOT NULL DEFAULT 0,
    -- Milliseconds since the Unix epoch: not before (retries wait their backoff).
    run_at         INTEGER NOT NULL,
    lease_until    INTEGER,
    worker         TEXT,
    progress_done  INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER,
    -- The kind's own JSON: how far a resumed job got, or what a finished one made.
    result         TEXT,
    error          TEXT,
    -- At most one unfinished job per key (say, one delivery run per webhook); cleared at the end.
    dedupe         TEXT UNIQUE,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    finished_at    INTEGER
);

CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_owner ON jobs (owner, id);
CREATE INDEX jobs_updated ON jobs (updated_at);

-- Files that jobs take in and give out (an import's archive, an export's ZIP), in the
-- database so that any node's worker can read what another node received, and any node can
-- serve what another's worker made. Stored in chunks, read and written one at a time.
CREATE TABLE blobs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner      TEXT,
    name       TEXT    NOT NULL,
    bytes      INTEGER NOT NULL DEFAULT 0,
    -- 0 while it is being written.
    complete   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    -- Deleted after this (milliseconds since the Unix epoch).
    expires_at INTEGER NOT NULL
);

CREATE TABLE blob_chunks (
    blob INTEGER NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
    n    INTEGER NOT NULL,
    data BLOB    NOT NULL,
    PRIMARY KEY (blob, n)
);

CREATE INDEX blobs_expires ON blobs (expires_at);
