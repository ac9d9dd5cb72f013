-- Mentions (issue 22): whom a message mentions (`@name`), among the people who could read it
-- when it was sent; by person id, so that a rename keeps them.
CREATE TABLE mentions (
    message INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    person  TEXT    NOT NULL,
    PRIMARY KEY (person, message)
);
CREATE INDEX mentions_message ON mentions (message);

-- Each person's notification level per conversation, where they chose one: 'all', 'mentions'
-- or 'none'. Conversations without a row have their kind's default.
CREATE TABLE notify_levels (
    person TEXT NOT NULL REFERENCES people (person) ON DELETE CASCADE,
    room   TEXT NOT NULL,
    level  TEXT NOT NULL CHECK (level IN ('all', 'mentions', 'none')),
    PRIMARY KEY (person, room)
);
