-- Webhooks and bots (issue 20), as SQLite's migration 0012. Tokens are kept as the SHA-256 of
-- the token (hex): the token itself is shown once, when it is made. Times are milliseconds
-- since the Unix epoch.

CREATE TABLE incoming_webhooks (
    id         TEXT    COLLATE "C" PRIMARY KEY,
    room       TEXT    COLLATE "C" NOT NULL REFERENCES rooms (name),
    name       TEXT    NOT NULL,
    token_hash TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX incoming_webhooks_room ON incoming_webhooks (room);

CREATE TABLE bot_tokens (
    id         TEXT    COLLATE "C" PRIMARY KEY,
    name       TEXT    NOT NULL,
    token_hash TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE outgoing_webhooks (
    id              TEXT    COLLATE "C" PRIMARY KEY,
    room            TEXT    COLLATE "C" NOT NULL REFERENCES rooms (name),
    url             TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    removed_at      BIGINT,
    delivered_up_to BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX outgoing_webhooks_room ON outgoing_webhooks (room);

CREATE TABLE outgoing_dead_letters (
    hook       TEXT    COLLATE "C" NOT NULL REFERENCES outgoing_webhooks (id),
    message    BIGINT  NOT NULL,
    attempts   BIGINT  NOT NULL,
    last_error TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    PRIMARY KEY (hook, message)
);
