-- 0003: rich messages: kinds, replies, mentions, edit and recall, change
-- events, reactions, delete-for-me and file attachments. Applied by
-- migrate.go in one transaction under the advisory lock, which then
-- records version 3 in schema_version.
--
-- The new columns of messages and members have constant defaults (or none,
-- for the nullable ones), which only changes the catalog: no row is
-- rewritten, and a message stored before reads as kind '' (text), no
-- reply, no mentions, no extra, no target, never edited, not recalled; a
-- membership as never mentioned. The new tables are empty, so their
-- indexes cost nothing to build.
--
-- Scale path (Citus), continuing the tables of 0001 and 0002:
--
--   reactions  distributed by room_id  PK (room_id, seq, emoji, user_id)
--   hidden     distributed by user_id  PK (user_id, room_id, seq)
--   files      distributed by id       PK (id)
--
-- reactions is co-located with messages and members: every statement on
-- it names the room (ReactionCounts, Reactors, RemoveReaction) and runs on
-- one shard. hidden is per user: HideMessages and HiddenSeqs name the
-- user. files is the exception to "leads with the room or the user": its
-- hot path is the lookup by id alone (every download reads the file's room
-- from the record before checking the membership; AttachFile and
-- MarkFileDeleted are given the id), so files is distributed by id, as
-- sessions are in 0002, and those run on one shard. Leading the primary key
-- with room_id instead would make every one of them a lookup by the other
-- side through an index of its own on id, fanned out to every shard, and
-- make file ids unique per room only. FilesOfMessage (a recall) fans out
-- through files_message, and OrphanFiles (the background sweep, bounded by
-- its limit) through files_orphans.

-- kind: store.Kind*, '' for text. mentions: a JSON array of user ids (or
-- "@all"), NULL when none; jsonb rather than text[], because the group
-- commit (batch.go) passes a column of messages as one array, and an array
-- of text[] of different lengths is not a PostgreSQL array.
-- extra: a JSON object kept as the client's text, '' when none (jsonb
-- would reformat it). target: the seq a change event (kind edit, recall,
-- react, unreact) changes, 0 otherwise. edited_at: NULL when never edited.
ALTER TABLE messages ADD COLUMN kind text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN reply_to bigint NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN mentions jsonb;
ALTER TABLE messages ADD COLUMN extra text NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN target bigint NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN edited_at timestamptz;
ALTER TABLE messages ADD COLUMN recalled boolean NOT NULL DEFAULT false;

-- The highest seq that mentioned the member (store.Member.MentionSeq).
ALTER TABLE members ADD COLUMN mention_seq bigint NOT NULL DEFAULT 0;

-- One row a reaction: counts are counted, never kept, so they are exact
-- under concurrency. The primary key is the uniqueness rule (one emoji of
-- a user on a message, once) and serves RemoveReaction and ReactionCounts
-- (room, seqs); Reactors pages through reactions_by_time.
CREATE TABLE reactions (
	room_id       text COLLATE "C" NOT NULL,
	seq           bigint           NOT NULL,
	emoji         text COLLATE "C" NOT NULL,
	user_id       text COLLATE "C" NOT NULL,
	created_at    timestamptz      NOT NULL,
	CONSTRAINT reactions_pkey PRIMARY KEY (room_id, seq, emoji, user_id)
);
CREATE INDEX reactions_by_time ON reactions (room_id, seq, emoji, created_at, user_id);

-- Delete-for-me: the seqs a user hid in a room.
CREATE TABLE hidden (
	user_id       text COLLATE "C" NOT NULL,
	room_id       text COLLATE "C" NOT NULL,
	seq           bigint           NOT NULL,
	CONSTRAINT hidden_pkey PRIMARY KEY (user_id, room_id, seq)
);

-- Uploaded attachments. message_seq is 0 until the message that carries
-- the file is sent (AttachFile); deleted is set when access is removed.
CREATE TABLE files (
	id            text COLLATE "C" NOT NULL,
	room_id       text COLLATE "C" NOT NULL,
	uploader_id   text COLLATE "C" NOT NULL,
	name          text             NOT NULL,
	size          bigint           NOT NULL,
	content_type  text             NOT NULL,
	width         integer          NOT NULL,
	height        integer          NOT NULL,
	blob_key      text             NOT NULL,
	thumb_key     text             NOT NULL,
	thumb_type    text             NOT NULL,
	created_at    timestamptz      NOT NULL,
	message_seq   bigint           NOT NULL DEFAULT 0,
	deleted       boolean          NOT NULL DEFAULT false,
	CONSTRAINT files_pkey PRIMARY KEY (id)
);
-- FilesOfMessage.
CREATE INDEX files_message ON files (room_id, message_seq, created_at, id);
-- OrphanFiles: partial, so it holds only the files never attached.
CREATE INDEX files_orphans ON files (created_at, id) WHERE message_seq = 0;
