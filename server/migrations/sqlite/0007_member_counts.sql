-- Each room's member count, kept by triggers on `members` so that no code path can forget it.
-- Counting the lobby's members row by row cost every connect and every join a scan of
-- everyone who ever claimed a name: gathering 10,000 people was quadratic.
ALTER TABLE rooms ADD COLUMN members INTEGER NOT NULL DEFAULT 0;

UPDATE rooms SET members = (SELECT COUNT(*) FROM members m WHERE m.room = rooms.name);

CREATE TRIGGER members_added AFTER INSERT ON members
BEGIN
    UPDATE rooms SET members = members + 1 WHERE name = NEW.room;
END;

CREATE TRIGGER members_removed AFTER DELETE ON members
BEGIN
    UPDATE rooms SET members = members - 1 WHERE name = OLD.room;
END;
