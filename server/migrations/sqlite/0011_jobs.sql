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
