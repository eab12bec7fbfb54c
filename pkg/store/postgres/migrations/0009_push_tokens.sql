-- 0009: push tokens (issue #16): a device's FCM, APNs or Web Push token,
-- registered by one session of a user. The primary key (platform,
-- token_hash) makes a token belong to one session: registering it again
-- (an upsert) moves it to the newest session. token_hash is the SHA-256 of
-- the token, set by the store: a token may be 4096 bytes, more than a
-- B-tree entry may hold.
--
-- Scale path (Citus): distributed by token_hash with the key above;
-- PushTokensOf (by user, joined to sessions) and the per-session reads
-- fan out, through the indexes below.
CREATE TABLE push_tokens (
	platform   text COLLATE "C" NOT NULL,
	token_hash bytea            NOT NULL,
	token      text COLLATE "C" NOT NULL,
	user_id    text COLLATE "C" NOT NULL,
	session_id text COLLATE "C" NOT NULL,
	created_at timestamptz      NOT NULL,
	CONSTRAINT push_tokens_pkey PRIMARY KEY (platform, token_hash)
);
-- PushTokensOfSession (oldest first), RemovePushTokensOfSession and the
-- expiry sweep.
CREATE INDEX push_tokens_session ON push_tokens (session_id, created_at);
-- PushTokensOf (the offline recipients of a message).
CREATE INDEX push_tokens_user ON push_tokens (user_id);
