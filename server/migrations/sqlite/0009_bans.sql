-- When a moderator banned the person (`ban` on /admin); NULL while they are not banned. A
-- banned person's tokens are refused at connect, and their name stays theirs.
ALTER TABLE people ADD COLUMN banned_at INTEGER;
