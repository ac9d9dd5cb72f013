-- Rooms and direct conversations, and who belongs to them. A message's `room` names one of
-- these. Direct conversations are named `dm:<person>:<person>` (ids sorted), so the name alone
-- says who may read them.
CREATE TABLE rooms (
    name       TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('room', 'dm')),
    -- The person who created it; NULL for the lobby.
    created_by TEXT,
    -- Milliseconds since the Unix epoch.
    created_at INTEGER NOT NULL
);

INSERT INTO rooms (name, kind, created_at) VALUES ('lobby', 'room', 0);

CREATE TABLE members (
    room      TEXT    NOT NULL REFERENCES rooms (name),
    person    TEXT    NOT NULL,
    joined_at INTEGER NOT NULL,
    -- The newest seq of the room the person has seen: unread counts start after it.
    read_seq  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room, person)
);

CREATE INDEX members_person ON members (person);

-- Everyone who has a name is in the lobby, having read it up to now.
INSERT INTO members (room, person, joined_at, read_seq)
SELECT 'lobby', person, last_seen,
       (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room = 'lobby')
FROM people;

-- When a moderator deleted it. Its text is gone; the row stays so the room's seq has no hole.
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
