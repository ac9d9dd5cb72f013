-- Imported messages' authors claimed by people (issue 20): `claimed_by` is the person whose
-- messages they became. The index serves the list of authors left to claim, and the claim.
ALTER TABLE messages ADD COLUMN claimed_by TEXT;

CREATE INDEX messages_imported_author ON messages (author) WHERE sender = 'import';
