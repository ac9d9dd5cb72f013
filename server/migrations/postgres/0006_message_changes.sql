-- Edits, deletions and reactions (issue 22): every change to a message is numbered in its
-- conversation's change feed, under the room's row lock, so that a client offline during it
-- gets it replayed on reconnect. `rooms.change_seq` is the conversation's newest change;
-- `messages.changed_seq` the change that last touched the message (0: never changed).
ALTER TABLE rooms ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
-- When its author last edited it; the text is updated in place.
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
-- The message of the same conversation it answers.
ALTER TABLE messages ADD COLUMN reply_to BIGINT;
-- Its reactions as the wire shows them (JSON, `[{emoji, count, names}]`), kept by the writer
-- with `reactions` below, so that reading a message reads one row.
ALTER TABLE messages ADD COLUMN reactions TEXT;
-- Changed messages only: the catch-up reads a conversation's changes after a cursor.
CREATE INDEX messages_room_changed ON messages (room, changed_seq) WHERE changed_seq > 0;

-- Who gave which emoji to which message: one of each per person.
CREATE TABLE reactions (
    message    BIGINT NOT NULL,
    emoji      TEXT   NOT NULL,
    person     TEXT   COLLATE "C" NOT NULL,
    -- Milliseconds since the Unix epoch: emoji and names are listed in the order given.
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message, emoji, person)
);
