-- Accounts (issue 21): a name with a password signs in on any number of devices. A person
-- without a password still holds their name by their browser's token, until they set one.
-- argon2id, in the PHC string format (algorithm, parameters, salt and hash together).
ALTER TABLE people ADD COLUMN password_hash TEXT;
-- 'member', 'moderator' or 'admin'. The first account to be made is the administrator.
ALTER TABLE people ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('member', 'moderator', 'admin'));

-- One signed-in device each. The cookie holds the id and a secret; only the secret's SHA-256
-- is kept, so a copy of the database signs nobody in.
CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    secret_hash TEXT    NOT NULL,
    person      TEXT    NOT NULL REFERENCES people (person) ON DELETE CASCADE,
    -- "Firefox on Linux": what its User-Agent said when it signed in.
    device      TEXT    NOT NULL,
    -- Milliseconds since the Unix epoch.
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    -- When it was signed out; NULL while it works.
    ended_at    INTEGER
);
CREATE INDEX sessions_person ON sessions (person);

-- Join links. The code is `<id>.<secret>`; only the secret's SHA-256 is kept.
CREATE TABLE invites (
    id          TEXT    PRIMARY KEY,
    secret_hash TEXT    NOT NULL,
    -- The person who made it; NULL for the admin token.
    created_by  TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    max_uses    INTEGER,
    uses        INTEGER NOT NULL DEFAULT 0,
    revoked_at  INTEGER
);

-- One-time password reset codes, made by an administrator: `<id>.<secret>` like invites.
CREATE TABLE password_resets (
    id          TEXT    PRIMARY KEY,
    secret_hash TEXT    NOT NULL,
    person      TEXT    NOT NULL REFERENCES people (person) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

-- Holds one row while the server's first account may still become its administrator: on a
-- fresh install only. An install that had people before accounts came gets its administrator
-- from the admin token (`set role` on /admin), not from whoever sets a password first.
CREATE TABLE first_admin (open INTEGER PRIMARY KEY);
INSERT INTO first_admin (open) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM people);

-- Rooms' settings. A private room is seen, read and joined by its members alone, who add
-- others by name; an unlisted room is not shown when browsing, but anyone may join it by
-- name; `posting` is 'members' (everyone in it) or 'managers' (its owner and the server's
-- moderators: announcement rooms).
ALTER TABLE rooms ADD COLUMN is_private INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN listed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE rooms ADD COLUMN posting TEXT NOT NULL DEFAULT 'members'
    CHECK (posting IN ('members', 'managers'));

-- Profiles: shown on messages and in lists besides the unique name, which messages' `author`
-- holds. NULL: none chosen.
ALTER TABLE people ADD COLUMN display_name TEXT;
ALTER TABLE people ADD COLUMN status TEXT;

-- Uploaded pictures, one per person at most; `avatar_at` (when it was set, NULL without one)
-- names its version in its URL, so that browsers may keep it.
ALTER TABLE people ADD COLUMN avatar_at INTEGER;
CREATE TABLE avatars (
    person       TEXT PRIMARY KEY REFERENCES people (person) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL
);
