-- Files people attach to messages. The bytes are `blobs` (chunked, in the database like jobs'
-- files), so that every node serves every file and a backup holds them. An upload belongs to
-- its uploader alone until a message carries it (`message`), then to whoever may read that
-- message's conversation.
CREATE TABLE uploads (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The person who uploaded it.
    uploader     TEXT    NOT NULL,
    blob         INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    bytes        INTEGER NOT NULL,
    -- Found in its content, never taken from the name or the request.
    content_type TEXT    NOT NULL,
    -- 'none', 'pending', 'ready' or 'failed'.
    thumbnail    TEXT    NOT NULL,
    thumb_blob   INTEGER,
    created_at   INTEGER NOT NULL,
    -- Set together, once, when a message carries it.
    conversation TEXT,
    message      INTEGER
);

CREATE INDEX uploads_message ON uploads (conversation, message);
CREATE INDEX uploads_of_message ON uploads (message);
CREATE INDEX uploads_unattached ON uploads (uploader, created_at) WHERE message IS NULL;

-- A deleted message's files go with it, in the same transaction, whichever path deletes it.
CREATE TRIGGER uploads_go_with_their_message AFTER UPDATE OF kind ON messages
WHEN NEW.kind = 'deleted'
BEGIN
    DELETE FROM blob_chunks WHERE blob IN (
        SELECT blob FROM uploads WHERE message = NEW.id
        UNION ALL
        SELECT thumb_blob FROM uploads WHERE message = NEW.id AND thumb_blob IS NOT NULL
    );
    DELETE FROM blobs WHERE id IN (
        SELECT blob FROM uploads WHERE message = NEW.id
        UNION ALL
        SELECT thumb_blob FROM uploads WHERE message = NEW.id AND thumb_blob IS NOT NULL
    );
    DELETE FROM uploads WHERE message = NEW.id;
END;

CREATE TRIGGER uploads_go_with_their_deleted_message AFTER DELETE ON messages
BEGIN
    DELETE FROM blob_chunks WHERE blob IN (
        SELECT blob FROM uploads WHERE message = OLD.id
        UNION ALL
        SELECT thumb_blob FROM uploads WHERE message = OLD.id AND thumb_blob IS NOT NULL
    );
    DELETE FROM blobs WHERE id IN (
        SELECT blob FROM uploads WHERE message = OLD.id
        UNION ALL
        SELECT thumb_blob FROM uploads WHERE message = OLD.id AND thumb_blob IS NOT NULL
    );
    DELETE FROM uploads WHERE message = OLD.id;
END;
