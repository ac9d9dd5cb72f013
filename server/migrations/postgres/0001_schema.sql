-- The schema of SQLite's migrations 0001 to 0010, as one: Postgres databases start here.
-- Names and keys compare byte by byte ("C"), as SQLite's do, so that rooms sort and page
-- the same on both backends.

CREATE TABLE rooms (
    name       TEXT    COLLATE "C" PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('room', 'dm')),
    -- The person who created it; NULL for the lobby.
    created_by TEXT,
    -- Milliseconds since the Unix epoch.
    created_at BIGINT  NOT NULL,
    members    BIGINT  NOT NULL DEFAULT 0
);

INSERT INTO rooms (name, kind, created_at) VALUES ('lobby', 'room', 0);

CREATE TABLE messages (
    id            BIGSERIAL PRIMARY KEY,
    room          TEXT    COLLATE "C" NOT NULL,
    author        TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    client_offset TEXT    COLLATE "C",
    -- Milliseconds since the Unix epoch.
    created_at    BIGINT  NOT NULL,
    -- Its place in its room, from 1, without holes: numbered under the room's row lock.
    seq           BIGINT  NOT NULL,
    kind          TEXT,
    deleted_at    BIGINT,
    sender        TEXT    COLLATE "C"
);

CREATE UNIQUE INDEX messages_room_seq ON messages (room, seq);
CREATE UNIQUE INDEX messages_offset_sender ON messages (client_offset, sender);

CREATE TABLE people (
    person    TEXT    COLLATE "C" PRIMARY KEY,
    name      TEXT    NOT NULL,
    -- The name lowercased: names are unique case-insensitively.
    name_key  TEXT    COLLATE "C" NOT NULL UNIQUE,
    -- Milliseconds since the Unix epoch.
    last_seen BIGINT  NOT NULL,
    banned_at BIGINT
);

CREATE TABLE members (
    room      TEXT    COLLATE "C" NOT NULL REFERENCES rooms (name),
    person    TEXT    COLLATE "C" NOT NULL,
    joined_at BIGINT  NOT NULL,
    -- The newest seq of the room the person has seen: unread counts start after it.
    read_seq  BIGINT  NOT NULL DEFAULT 0,
    invited   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room, person)
);

CREATE INDEX members_person ON members (person);

CREATE FUNCTION members_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE rooms SET members = members + 1 WHERE name = NEW.room;
    ELSE
        UPDATE rooms SET members = members - 1 WHERE name = OLD.room;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER members_count AFTER INSERT OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION members_count();

-- Settings that every node must agree on, such as the key that signs session tokens: the
-- first node to start makes them, the others read them.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
