-- A per-room sequence, 1, 2, 3… with no holes, so a client can tell that it missed a message
-- (ids are shared by all rooms, so they have holes within one room).
ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;

UPDATE messages SET seq = (
    SELECT COUNT(*) FROM messages AS earlier
    WHERE earlier.room = messages.room AND earlier.id <= messages.id
);

CREATE UNIQUE INDEX messages_room_seq ON messages (room, seq);
