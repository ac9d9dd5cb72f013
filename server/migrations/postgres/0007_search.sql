-- Full-text search (issue 22): each message's words as a tsvector, kept by Postgres itself
-- (a generated column follows every insert, edit and deletion), with a GIN index. Notices
-- (joined, left) and tombstones have none, so they are never found. The `simple`
-- configuration lowercases and does not stem: a team's chat mixes languages, and a stemmer
-- for one of them mangles the others' words.
ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
    CASE WHEN kind IS NULL OR kind IN ('announcement', 'bot')
         THEN to_tsvector('simple', text) END
) STORED;

CREATE INDEX messages_search ON messages USING GIN (search);
