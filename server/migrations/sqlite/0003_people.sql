-- People who claimed a nickname. A person's id is in their signed session token; the name can
-- change, the id cannot. A name stays with its person while their token can still be valid
-- (the session lifetime after they were last seen), so nobody can take an absent person's name
-- and with it their rooms and private messages.
CREATE TABLE people (
    person    TEXT    PRIMARY KEY,
    name      TEXT    NOT NULL,
    -- The name lowercased: names are unique case-insensitively.
    name_key  TEXT    NOT NULL UNIQUE,
    -- Milliseconds since the Unix epoch.
    last_seen INTEGER NOT NULL
);
