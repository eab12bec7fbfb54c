-- 0010: the idempotency rule of messages is room-scoped (issue #17): a
-- client_msg_id is unique per (room_id, sender, client_msg_id), not per
-- (sender, client_msg_id). A client's retry is always in the same room, so
-- a repeated client_msg_id from the same user in the same room is still the
-- same message; the same client_msg_id in another room is another message.
-- The rule now starts with the room, like the key of every other message
-- read (and the shard key of MongoDB's message_basic).
--
-- SQLite cannot drop a table constraint: the table is rebuilt, same
-- columns in the same order, WITHOUT ROWID and clustered on (room_id, seq)
-- as before. Nothing references messages, and it has no other index.
CREATE TABLE messages_0010 (
	room_id       TEXT    NOT NULL,
	seq           INTEGER NOT NULL,
	id            TEXT    NOT NULL UNIQUE,
	sender        TEXT    NOT NULL,
	body          TEXT    NOT NULL,
	client_msg_id TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	hole          INTEGER NOT NULL DEFAULT 0 CHECK (hole IN (0, 1)),
	kind          TEXT    NOT NULL DEFAULT '',
	reply_to      INTEGER NOT NULL DEFAULT 0,
	mentions      TEXT,
	extra         TEXT    NOT NULL DEFAULT '',
	target        INTEGER NOT NULL DEFAULT 0,
	edited_at     INTEGER,
	recalled      INTEGER NOT NULL DEFAULT 0 CHECK (recalled IN (0, 1)),
	PRIMARY KEY (room_id, seq),
	UNIQUE (room_id, sender, client_msg_id)
) STRICT, WITHOUT ROWID;
INSERT INTO messages_0010 (room_id, seq, id, sender, body, client_msg_id, created_at, hole,
		kind, reply_to, mentions, extra, target, edited_at, recalled)
	SELECT room_id, seq, id, sender, body, client_msg_id, created_at, hole,
		kind, reply_to, mentions, extra, target, edited_at, recalled
	FROM messages;
DROP TABLE messages;
ALTER TABLE messages_0010 RENAME TO messages;
