-- 0003: rich messages: kinds, replies, mentions, edit and recall, change
-- events, reactions, delete-for-me and file attachments. Applied in one
-- transaction by migrate.go, which then sets PRAGMA user_version = 3.
--
-- The new columns have constant defaults, so adding them rewrites no row:
-- a message stored before reads as kind '' (text), no reply, no mentions,
-- no extra, no target, never edited, not recalled; a membership as never
-- mentioned.

-- kind: store.Kind*, '' for text. mentions: a JSON array of user ids (or
-- "@all"), NULL when none. extra: a JSON object as text, '' when none.
-- target: the seq a change event (kind edit, recall, react, unreact)
-- changes, 0 otherwise. edited_at: NULL when never edited.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN reply_to INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN mentions TEXT;
ALTER TABLE messages ADD COLUMN extra TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN target INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN recalled INTEGER NOT NULL DEFAULT 0 CHECK (recalled IN (0, 1));

-- The highest seq that mentioned the member (store.Member.MentionSeq).
ALTER TABLE members ADD COLUMN mention_seq INTEGER NOT NULL DEFAULT 0;

-- One row a reaction: counts are counted, never kept, so they are exact
-- under concurrency. The primary key is the uniqueness rule (one emoji of
-- a user on a message, once) and serves RemoveReaction and ReactionCounts
-- (room, seqs); Reactors pages through reactions_by_time.
CREATE TABLE reactions (
	room_id    TEXT    NOT NULL,
	seq        INTEGER NOT NULL,
	emoji      TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (room_id, seq, emoji, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX reactions_by_time ON reactions (room_id, seq, emoji, created_at, user_id);

-- Delete-for-me: the seqs a user hid in a room.
CREATE TABLE hidden (
	user_id TEXT    NOT NULL,
	room_id TEXT    NOT NULL,
	seq     INTEGER NOT NULL,
	PRIMARY KEY (user_id, room_id, seq)
) STRICT, WITHOUT ROWID;

-- Uploaded attachments. message_seq is 0 until the message that carries
-- the file is sent (AttachFile); deleted is set when access is removed.
-- Looked up by id (downloads, AttachFile); FilesOfMessage by (room,
-- message seq); the sweep of OrphanFiles through files_orphans, a partial
-- index holding only the files never attached.
CREATE TABLE files (
	id           TEXT    NOT NULL PRIMARY KEY,
	room_id      TEXT    NOT NULL,
	uploader_id  TEXT    NOT NULL,
	name         TEXT    NOT NULL,
	size         INTEGER NOT NULL,
	content_type TEXT    NOT NULL,
	width        INTEGER NOT NULL,
	height       INTEGER NOT NULL,
	blob_key     TEXT    NOT NULL,
	thumb_key    TEXT    NOT NULL,
	thumb_type   TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	message_seq  INTEGER NOT NULL DEFAULT 0,
	deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
) STRICT, WITHOUT ROWID;
CREATE INDEX files_message ON files (room_id, message_seq, created_at, id);
CREATE INDEX files_orphans ON files (created_at, id) WHERE message_seq = 0;
