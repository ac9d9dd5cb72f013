-- The jobs table, as SQLite's migration 0011 describes it.
CREATE TABLE jobs (
    id             BIGSERIAL PRIMARY KEY,
    kind           TEXT    NOT NULL,
    owner          TEXT,
    payload        TEXT    NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts       BIGINT  NOT NULL DEFAULT 0,
    run_at         BIGINT  NOT NULL,
    lease_until    BIGINT,
    worker         TEXT,
    progress_done  BIGINT  NOT NULL DEFAULT 0,
    progress_total BIGINT,
    result         TEXT,
    error          TEXT,
    dedupe         TEXT UNIQUE,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    finished_at    BIGINT
);

CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_owner ON jobs (owner, id);
CREATE INDEX jobs_updated ON jobs (updated_at);

CREATE TABLE blobs (
    id         BIGSERIAL PRIMARY KEY,
    owner      TEXT,
    name       TEXT    NOT NULL,
    bytes      BIGINT  NOT NULL DEFAULT 0,
    complete   BIGINT  NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);

CREATE TABLE blob_chunks (
    blob BIGINT NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
    n    BIGINT NOT NULL,
    data BYTEA  NOT NULL,
    PRIMARY KEY (blob, n)
);

CREATE INDEX blobs_expires ON blobs (expires_at);
