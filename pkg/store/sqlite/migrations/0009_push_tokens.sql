-- 0009: push tokens (issue #16): a device's FCM, APNs or Web Push token,
-- registered by one session of a user. The unique (platform, token) makes
-- a token belong to one session: registering it again (an upsert) moves it
-- to the newest session. A rowid table: a token may be 4096 bytes, too big
-- for the rows of a WITHOUT ROWID table.
CREATE TABLE push_tokens (
	platform   TEXT    NOT NULL,
	token      TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (platform, token)
) STRICT;
-- PushTokensOfSession (oldest first), RemovePushTokensOfSession and the
-- expiry sweep.
CREATE INDEX push_tokens_session ON push_tokens (session_id, created_at);
-- PushTokensOf (the offline recipients of a message).
CREATE INDEX push_tokens_user ON push_tokens (user_id);
