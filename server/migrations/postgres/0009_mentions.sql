-- Mentions (issue 22): whom a message mentions (`@name`), among the people who could read it
-- when it was sent; by person id, so that a rename keeps them.
CREATE TABLE mentions (
    message BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    person  TEXT   COLLATE "C" NOT NULL,
    PRIMARY KEY (person, message)
);
CREATE INDEX mentions_message ON mentions (message);

-- Each person's notification level per conversation, where they chose one: 'all', 'mentions'
-- or 'none'. Conversations without a row have their kind's default.
CREATE TABLE notify_levels (
    person TEXT COLLATE "C" NOT NULL REFERENCES people (person) ON DELETE CASCADE,
    room   TEXT COLLATE "C" NOT NULL,
    level  TEXT NOT NULL CHECK (level IN ('all', 'mentions', 'none')),
    PRIMARY KEY (person, room)
);
