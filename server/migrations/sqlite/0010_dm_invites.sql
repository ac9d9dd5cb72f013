-- The other person of a direct conversation someone opened with them: 1 until its first
-- message. Until then it is not in their list, nor are they told of it, so that a stranger
-- cannot fill anyone's list by opening conversations with them. Opening it oneself clears it.
ALTER TABLE members ADD COLUMN invited INTEGER NOT NULL DEFAULT 0;
