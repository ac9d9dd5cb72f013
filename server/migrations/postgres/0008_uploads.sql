-- Files people attach to messages: see SQLite's 0017_uploads.sql.
CREATE TABLE uploads (
    id           BIGSERIAL PRIMARY KEY,
    uploader     TEXT    NOT NULL,
    blob         BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    bytes        BIGINT  NOT NULL,
    content_type TEXT    NOT NULL,
    thumbnail    TEXT    NOT NULL,
    thumb_blob   BIGINT,
    created_at   BIGINT  NOT NULL,
    conversation TEXT,
    message      BIGINT
);

CREATE INDEX uploads_message ON uploads (conversation, message);
CREATE INDEX uploads_of_message ON uploads (message);
CREATE INDEX uploads_unattached ON uploads (uploader, created_at) WHERE message IS NULL;

-- A deleted message's files go with it, in the same transaction, whichever path deletes it.
CREATE FUNCTION uploads_go_with_their_message() RETURNS trigger AS $$
DECLARE
    gone BIGINT := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
BEGIN
    DELETE FROM blobs WHERE id IN (
        SELECT blob FROM uploads WHERE message = gone
        UNION ALL
        SELECT thumb_blob FROM uploads WHERE message = gone AND thumb_blob IS NOT NULL
    );
    DELETE FROM uploads WHERE message = gone;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER uploads_go_with_their_message AFTER UPDATE OF kind ON messages
FOR EACH ROW WHEN (NEW.kind = 'deleted')
EXECUTE FUNCTION uploads_go_with_their_message();

CREATE TRIGGER uploads_go_with_their_deleted_message AFTER DELETE ON messages
FOR EACH ROW EXECUTE FUNCTION uploads_go_with_their_message();
