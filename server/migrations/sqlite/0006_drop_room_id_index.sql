-- Within a room, seq grows with id (the one writer numbers a room's messages in id order), so
-- `messages_room_seq` orders a room as well as `messages_room_id` did, and reads now go through
-- it. Every stored message updated both; with one index less, a message dirties one page less
-- at commit, and commits are what bounds acknowledged sends.
DROP INDEX messages_room_id;
