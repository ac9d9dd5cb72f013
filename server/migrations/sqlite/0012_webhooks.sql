-- Webhooks and bots (issue 20). Tokens are kept as the SHA-256 of the token (hex): the token
-- itself is shown once, when it is made. Times are milliseconds since the Unix epoch.

-- A URL that posts to one room: `/hooks/<id>/<token>`.
CREATE TABLE incoming_webhooks (
    id         TEXT    PRIMARY KEY,
    room       TEXT    NOT NULL REFERENCES rooms (name),
    -- The author of its messages when a post names none.
    name       TEXT    NOT NULL,
    token_hash TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE INDEX incoming_webhooks_room ON incoming_webhooks (room);

-- A token of the bot API (`Authorization: Bearer <token>`).
CREATE TABLE bot_tokens (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    token_hash TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- A URL that each new message of one room is POSTed to, signed with `secret` (which the
-- server needs in clear to sign).
CREATE TABLE outgoing_webhooks (
    id              TEXT    PRIMARY KEY,
    room            TEXT    NOT NULL REFERENCES rooms (name),
    url             TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    removed_at      INTEGER,
    -- The id of the last message of the room delivered (or given up on); the room's newest
    -- when the hook was made, so that it starts with the messages after it.
    delivered_up_to INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX outgoing_webhooks_room ON outgoing_webhooks (room);

-- Messages an outgoing webhook gave up on, after its last attempt.
CREATE TABLE outgoing_dead_letters (
    hook       TEXT    NOT NULL REFERENCES outgoing_webhooks (id),
    message    INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (hook, message)
);
