-- Client offsets are unique per sender, not across the server: with one global offset space,
-- a message sent under someone else's offset was silently not stored, and its sender was told
-- the other message's id. `sender` is the person id, `guest` for guests (who have no stable
-- id, and whose retries after a reconnect must still find their message), NULL for messages
-- without an offset (announcements, notices).
--
-- SQLite cannot drop a column's UNIQUE constraint, so the table is rebuilt.
CREATE TABLE messages_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    room          TEXT    NOT NULL,
    author        TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    client_offset TEXT,
    created_at    INTEGER NOT NULL,
    seq           INTEGER NOT NULL DEFAULT 0,
    kind          TEXT,
    deleted_at    INTEGER,
    sender        TEXT
);

-- Older rows name their author only: the sender is the person holding that name now, when
-- there is one (a retry in flight across the upgrade then still finds its message).
INSERT INTO messages_new
    (id, room, author, text, client_offset, created_at, seq, kind, deleted_at, sender)
SELECT id, room, author, text, client_offset, created_at, seq, kind, deleted_at,
       CASE
           WHEN client_offset IS NULL THEN NULL
           WHEN author = 'anonymous' THEN 'guest'
           ELSE (SELECT person FROM people WHERE name_key = lower(messages.author))
       END
FROM messages;

-- Ids are never reused: the new table carries on from the old one's high-water mark.
DELETE FROM sqlite_sequence WHERE name = 'messages_new';
UPDATE sqlite_sequence SET name = 'messages_new' WHERE name = 'messages';

DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;

CREATE UNIQUE INDEX messages_room_seq ON messages (room, seq);
-- The offset first: offsets that start with the time (UUIDv7, as the browser sends) then grow
-- the index at its end, as they did before, rather than at one place per sender.
CREATE UNIQUE INDEX messages_offset_sender ON messages (client_offset, sender);
