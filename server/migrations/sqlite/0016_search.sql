-- Full-text search (issue 22): an FTS5 index of the text of people's messages, announcements
-- and programs' posts. External content: the text stays in `messages` only, the index holds
-- tokens. Notices (joined, left) and tombstones are never indexed. Triggers keep it in step
-- with every insert, edit (text updated in place) and deletion (the text blanked into a
-- tombstone), so that no code path can forget it. `remove_diacritics 2`: "cafe" finds "café".
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO messages_fts (rowid, text)
SELECT id, text FROM messages WHERE kind IS NULL OR kind IN ('announcement', 'bot');

-- An external-content index must be told the old text to forget: exactly what it was given.
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN NEW.kind IS NULL OR NEW.kind IN ('announcement', 'bot')
BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (NEW.id, NEW.text);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN OLD.kind IS NULL OR OLD.kind IN ('announcement', 'bot')
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', OLD.id, OLD.text);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, kind ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
    SELECT 'delete', OLD.id, OLD.text
    WHERE OLD.kind IS NULL OR OLD.kind IN ('announcement', 'bot');
    INSERT INTO messages_fts (rowid, text)
    SELECT NEW.id, NEW.text
    WHERE NEW.kind IS NULL OR NEW.kind IN ('announcement', 'bot');
END;
