-- What a message is when it is not a person's own: 'announcement' (from /admin). NULL for people.
ALTER TABLE messages ADD COLUMN kind TEXT;
