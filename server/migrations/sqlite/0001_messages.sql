-- AUTOINCREMENT: ids are never reused, even after deletes, so a client's "last id seen"
-- (the tutorial's serverOffset) stays a valid cursor forever.
CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    room          TEXT    NOT NULL,
    author        TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    -- Client-chosen id of a send; makes retries idempotent.
    client_offset TEXT    UNIQUE,
    -- Milliseconds since the Unix epoch.
    created_at    INTEGER NOT NULL
);

CREATE INDEX messages_room_id ON messages (room, id);
