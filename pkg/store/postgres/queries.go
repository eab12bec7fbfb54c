package postgres

// Every SQL statement the store runs is a constant here, so that
// TestQueryPlans can check the plan of each (no sequential scan on any
// path) and TestQueryListComplete can check that none is missed. The
// migration scripts are in migrations/; the statements of migrate.go (mig*)
// touch only schema_version.

import "github.com/im-websocket-go/im-websocket-go/pkg/store"

// Column lists, in the order of the scan functions.
const (
	userCols = "id, account, email, password, nickname, avatar, sex, created_at, updated_at, deleted_at, hide_presence, last_seen"
	roomCols = "id, type, number, name, info, owner, pair_key, disbanded, created_at, updated_at," +
		" mute_all, announcement, announcement_by, announcement_at"
	memberCols  = "room_id, user_id, room_type, read_seq, mention_seq, created_at, role, muted_until"
	friendCols  = "user_a, user_b, room_id, created_at"
	requestCols = "id, from_user, to_user, message, created_at"
	messageCols = "id, room_id, seq, sender, body, client_msg_id, created_at, hole," +
		" kind, reply_to, mentions, extra, target, edited_at, recalled"
	tokenCols    = "hash, family, user_id, expires_at, created_at"
	sessionCols  = "id, user_id, device, ip, created_at, last_used_at, expires_at, revoked"
	reactionCols = "room_id, seq, user_id, emoji, created_at"
	fileCols     = "id, room_id, uploader_id, name, size, content_type, width, height, blob_key, thumb_key," +
		" thumb_type, created_at, message_seq, deleted"
)

// eventKinds lists the kinds of change events (store.IsEventKind), for
// "kind NOT IN eventKinds".
const eventKinds = "('" + store.KindEdit + "', '" + store.KindRecall + "', '" + store.KindReact + "', '" + store.KindUnreact + "')"

// Users.
const (
	qCreateUser    = "INSERT INTO users (" + userCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
	qUserByID      = "SELECT " + userCols + " FROM users WHERE id = $1"
	qUserByAccount = "SELECT " + userCols + " FROM users WHERE account = $1"
	qUserByEmail   = "SELECT " + userCols + " FROM users WHERE email = $1"
	// One statement whatever the number of ids: $1 is a text[].
	qUsersByIDs = "SELECT " + userCols + " FROM users WHERE id = ANY($1::text[])"
	// A NULL argument keeps the column as it is.
	qUpdateProfile = "UPDATE users SET nickname = coalesce($1, nickname), avatar = coalesce($2, avatar)," +
		" sex = coalesce($3, sex), updated_at = $4 WHERE id = $5 RETURNING " + userCols
	// A compare-and-swap in one statement: racing changes queue on the row
	// lock, and each re-checks password against the row the one before it
	// committed, so of racing changes from one hash exactly one matches.
	qSetPasswordHash = "UPDATE users SET password = $1, updated_at = $2 WHERE id = $3 AND password = $4"
	qUserExists      = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)"
	qSetEmail        = "UPDATE users SET email = $1, updated_at = $2 WHERE id = $3"
	qSetHidePresence = "UPDATE users SET hide_presence = $1 WHERE id = $2"
	qSetLastSeen     = "UPDATE users SET last_seen = $1 WHERE id = $2"
	// coalesce keeps the first deletion time.
	qMarkDeleted = "UPDATE users SET deleted_at = coalesce(deleted_at, $1) WHERE id = $2"
	// Through the partial index users_to_release: NOT released is spelt as
	// in the index; deleted_at < $1 implies deleted_at IS NOT NULL.
	qUsersToRelease = "SELECT id FROM users WHERE deleted_at < $1 AND NOT released ORDER BY deleted_at, id LIMIT $2"
	qReleaseUser    = "UPDATE users SET account = $1, email = $2, released = true WHERE id = $3 AND NOT released"
)

// Rooms and members.
const (
	qCreateRoom       = "INSERT INTO rooms (" + roomCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
	qRoomByID         = "SELECT " + roomCols + " FROM rooms WHERE id = $1"
	qRoomByPairKey    = "SELECT " + roomCols + " FROM rooms WHERE pair_key = $1"
	qMarkDisbanded    = "UPDATE rooms SET disbanded = true, updated_at = $1 WHERE id = $2"
	qSetOwner         = "UPDATE rooms SET owner = $1, updated_at = $2 WHERE id = $3"
	qAddMember        = "INSERT INTO members (" + memberCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	qRemoveMember     = "DELETE FROM members WHERE room_id = $1 AND user_id = $2"
	qRemoveAllMembers = "DELETE FROM members WHERE room_id = $1"
	qMember           = "SELECT " + memberCols + " FROM members WHERE room_id = $1 AND user_id = $2"
	qMembers          = "SELECT " + memberCols + " FROM members WHERE room_id = $1 ORDER BY created_at, user_id"
	qCountMembers     = "SELECT count(*) FROM members WHERE room_id = $1"
	qMembershipsOf    = "SELECT " + memberCols + " FROM members WHERE user_id = $1 ORDER BY created_at, room_id"
	// One statement, so exact under concurrency: the row lock orders the
	// updates and each sees the committed value of the one before. It
	// never lowers the value, and it counts the row even when the value
	// stays.
	qSetReadSeq = "UPDATE members SET read_seq = GREATEST(read_seq, $3) WHERE room_id = $1 AND user_id = $2"
	// Exact under concurrency: a row another transaction updated meanwhile
	// is re-checked (mention_seq < $1) against its committed version
	// before it is updated. Rows at or above the seq are left alone. The
	// rows are locked first, in user_id order: two marks of overlapping
	// members then wait for each other instead of deadlocking (an UPDATE
	// alone locks in its scan's order, which the re-checks can change).
	qMarkMentioned = "UPDATE members SET mention_seq = $1 FROM (SELECT user_id FROM members WHERE room_id = $2" +
		" AND user_id = ANY($3::text[]) AND mention_seq < $1 ORDER BY user_id FOR UPDATE) locked" +
		" WHERE members.room_id = $2 AND members.user_id = locked.user_id AND members.mention_seq < $1"
	qMarkMentionedAll = "UPDATE members SET mention_seq = $1 FROM (SELECT user_id FROM members WHERE room_id = $2" +
		" AND mention_seq < $1 ORDER BY user_id FOR UPDATE) locked" +
		" WHERE members.room_id = $2 AND members.user_id = locked.user_id AND members.mention_seq < $1"
	// A range of members_room_read: the marks at or past the lowest seq.
	qReadMarks = "SELECT user_id, read_seq FROM members WHERE room_id = $1 AND read_seq >= $2"
	// The primary key from the cursor on, filtered by the mark.
	qReaders = "SELECT " + memberCols + " FROM members WHERE room_id = $1 AND user_id > $2" +
		" AND read_seq >= $3 AND user_id <> $4 ORDER BY user_id LIMIT $5"
)

// Blocks.
const (
	blockCols    = "blocker, blocked, created_at"
	qBlockUser   = "INSERT INTO blocks (" + blockCols + ") VALUES ($1, $2, $3)"
	qUnblockUser = "DELETE FROM blocks WHERE blocker = $1 AND blocked = $2"
	qIsBlocked   = "SELECT count(*) FROM blocks WHERE blocker = $1 AND blocked = $2"
	// The blocks made (primary key) and those suffered (blocks_blocked).
	qBlocksOf = "SELECT " + blockCols + " FROM blocks WHERE blocker = $1" +
		" UNION SELECT " + blockCols + " FROM blocks WHERE blocked = $1" +
		" ORDER BY created_at, blocker, blocked LIMIT $2"
)

// Friendships and friend requests.
const (
	qCreateFriendship = "INSERT INTO friendships (" + friendCols + ") VALUES ($1, $2, $3, $4)"
	qFriendship       = "SELECT " + friendCols + " FROM friendships WHERE user_a = $1 AND user_b = $2"
	qDeleteFriendship = "DELETE FROM friendships WHERE user_a = $1 AND user_b = $2"
	// Two index searches (user_a, then user_b) merged; a self-friendship
	// (user_a = user_b) is listed once, as with mongo's $or.
	qFriendshipsOf = "SELECT " + friendCols + " FROM friendships WHERE user_a = $1" +
		" UNION SELECT " + friendCols + " FROM friendships WHERE user_b = $1" +
		" ORDER BY created_at, user_a, user_b"
	qCreateFriendRequest  = "INSERT INTO friend_requests (" + requestCols + ") VALUES ($1, $2, $3, $4, $5)"
	qFriendRequestByID    = "SELECT " + requestCols + " FROM friend_requests WHERE id = $1"
	qFriendRequestBetween = "SELECT " + requestCols + " FROM friend_requests WHERE from_user = $1 AND to_user = $2"
	qDeleteFriendRequest  = "DELETE FROM friend_requests WHERE id = $1"
	qFriendRequestsTo     = "SELECT " + requestCols + " FROM friend_requests WHERE to_user = $1 ORDER BY created_at, id"
	qFriendRequestsFrom   = "SELECT " + requestCols + " FROM friend_requests WHERE from_user = $1 ORDER BY created_at, id"
)

// Messages.
const (
	// InsertMessage's group commit (batch.go): a batch of messages in one
	// autocommit statement, one array a column in the order of
	// messageCols, of equal lengths. With no conflict target, every unique
	// index is an arbiter: a message that collides with a stored one is
	// skipped, not an error, and RETURNING lists the rows written, so the
	// ones missing are the duplicates. The arrays are unnested in the
	// select list (a ProjectSet node, which steps through them in
	// lockstep), not with unnest(…) in FROM: a function in FROM is
	// materialised into a tuplestore first, whose allocation and release
	// each statement made the server's malloc grow and trim its heap (two
	// brk calls and a TLB flush per statement).
	qInsertMessages = "INSERT INTO messages (" + messageCols + ")" +
		" SELECT unnest($1::text[]), unnest($2::text[]), unnest($3::bigint[]), unnest($4::text[])," +
		" unnest($5::text[]), unnest($6::text[]), unnest($7::timestamptz[]), unnest($8::boolean[])," +
		" unnest($9::text[]), unnest($10::bigint[]), unnest($11::text[])::jsonb, unnest($12::text[])," +
		" unnest($13::bigint[]), unnest($14::timestamptz[]), unnest($15::boolean[])" +
		" ON CONFLICT DO NOTHING RETURNING room_id, seq"
	qMessageByClientID = "SELECT " + messageCols + " FROM messages WHERE room_id = $1 AND sender = $2 AND client_msg_id = $3"
	qMessagesAfter     = "SELECT " + messageCols + " FROM messages WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
	qMessagesBefore    = "SELECT " + messageCols + " FROM messages WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
	qLastMessage       = "SELECT " + messageCols + " FROM messages WHERE room_id = $1 ORDER BY seq DESC LIMIT 1"
	// The unread count: neither holes nor change events.
	qCountAfter = "SELECT count(*) FROM messages WHERE room_id = $1 AND seq > $2 AND sender <> $3 AND NOT hole" +
		" AND kind NOT IN " + eventKinds
	qMessageAt  = "SELECT " + messageCols + " FROM messages WHERE room_id = $1 AND seq = $2"
	qMessagesAt = "SELECT " + messageCols + " FROM messages WHERE room_id = $1 AND seq = ANY($2::bigint[]) ORDER BY seq"
	// Only a message proper (not a hole nor an event), and not recalled;
	// a recall committed meanwhile is seen (the row is re-checked). When
	// no row changes, the caller reads the message to tell why.
	qEditMessage = "UPDATE messages SET body = $1, edited_at = $2 WHERE room_id = $3 AND seq = $4" +
		" AND NOT hole AND NOT recalled AND kind NOT IN " + eventKinds
	// Recalling again matches (counts) the row too: idempotent.
	qRecallMessage = "UPDATE messages SET body = '', extra = '', mentions = NULL, recalled = true" +
		" WHERE room_id = $1 AND seq = $2 AND NOT hole AND kind NOT IN " + eventKinds
)

// Reactions and hidden messages.
const (
	qAddReaction    = "INSERT INTO reactions (" + reactionCols + ") VALUES ($1, $2, $3, $4, $5)"
	qRemoveReaction = "DELETE FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3 AND user_id = $4"
	// Counted rows, grouped by message and emoji; first orders a
	// message's emoji.
	qReactionCounts = "SELECT seq, emoji, count(*), bool_or(user_id = $3), min(created_at) AS first FROM reactions" +
		" WHERE room_id = $1 AND seq = ANY($2::bigint[]) GROUP BY seq, emoji ORDER BY seq, first, emoji"
	// The time of Reactors' cursor, then the page after it (a row
	// comparison, a range of reactions_by_time).
	qReactionTime = "SELECT created_at FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3 AND user_id = $4"
	qReactors     = "SELECT " + reactionCols + " FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3" +
		" AND (created_at, user_id) > ($4, $5) ORDER BY created_at, user_id LIMIT $6"
	qHideMessages = "INSERT INTO hidden (user_id, room_id, seq) SELECT $1, $2, unnest($3::bigint[]) ON CONFLICT DO NOTHING"
	qHiddenSeqs   = "SELECT seq FROM hidden WHERE user_id = $1 AND room_id = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq"
)

// Files.
const (
	qCreateFile = "INSERT INTO files (" + fileCols + ")" +
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
	qFileByID = "SELECT " + fileCols + " FROM files WHERE id = $1"
	// Once: racing calls queue on the row lock, and each re-checks
	// message_seq = 0 against the version the one before committed. When
	// no row changes, the caller reads the file to tell why.
	qAttachFile      = "UPDATE files SET message_seq = $1 WHERE id = $2 AND message_seq = 0 AND NOT deleted"
	qMarkFileDeleted = "UPDATE files SET deleted = true WHERE id = $1"
	// Through the partial index files_orphans: message_seq = 0 is spelt as
	// in the index.
	qOrphanFiles = "SELECT " + fileCols + " FROM files WHERE message_seq = 0 AND created_at < $1" +
		" ORDER BY created_at, id LIMIT $2"
	qDeleteFile     = "DELETE FROM files WHERE id = $1"
	qFilesOfMessage = "SELECT " + fileCols + " FROM files WHERE room_id = $1 AND message_seq = $2 ORDER BY created_at, id"
)

// Refresh tokens.
const (
	qInsertRefreshToken = "INSERT INTO refresh_tokens (" + tokenCols + ") VALUES ($1, $2, $3, $4, $5)"
	qRefreshToken       = "SELECT " + tokenCols + " FROM refresh_tokens WHERE hash = $1"
	qConsumeToken       = "INSERT INTO used_refresh_tokens (hash, used_at) VALUES ($1, $2)"
	qRevokeFamily       = "INSERT INTO revoked_families (family, revoked_at) VALUES ($1, $2) ON CONFLICT (family) DO NOTHING"
	qDeleteFamilyTokens = "DELETE FROM refresh_tokens WHERE family = $1"
	qFamilyRevoked      = "SELECT EXISTS (SELECT 1 FROM revoked_families WHERE family = $1)"
)

// Sessions, and the expiry sweep of tokens and sessions.
const (
	qCreateSession = "INSERT INTO sessions (" + sessionCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	qSession       = "SELECT " + sessionCols + " FROM sessions WHERE id = $1"
	qSessionsOf    = "SELECT " + sessionCols + " FROM sessions WHERE user_id = $1 AND NOT revoked ORDER BY created_at, id"
	// A NULL ip keeps the column as it is.
	qTouchSession  = "UPDATE sessions SET last_used_at = $1, expires_at = $2, ip = coalesce($3, ip) WHERE id = $4"
	qRevokeSession = "UPDATE sessions SET revoked = true WHERE id = $1"
	// PurgeExpired, in one transaction: pick the expired rows through the
	// expires_at indexes, then delete them by key ($1 is a text[]). A
	// session touched since it was picked is no longer expired and stays,
	// and only the revoked-family records of deleted sessions go.
	qExpiredTokens    = "SELECT hash FROM refresh_tokens WHERE expires_at < $1 ORDER BY expires_at LIMIT $2"
	qDeleteUsedTokens = "DELETE FROM used_refresh_tokens WHERE hash = ANY($1::text[])"
	qDeleteTokens     = "DELETE FROM refresh_tokens WHERE hash = ANY($1::text[])"
	qExpiredSessions  = "SELECT id FROM sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2"
	qDeleteSessions   = "DELETE FROM sessions WHERE id = ANY($1::text[]) AND expires_at < $2 RETURNING id"
	qDeleteRevoked    = "DELETE FROM revoked_families WHERE family = ANY($1::text[])"
)

// Health.
const (
	qPing = "SELECT 1"
)

// Migrations (migrate.go). The lock key is a constant of this schema:
// every process migrating the database takes the same lock.
const (
	migLockKey = int64(0x696d2d7363686d61) // "im-schma"
	// migLock waits for the other migrating processes; the lock is
	// released when the transaction ends.
	migLock = "SELECT pg_advisory_xact_lock($1)"
	// migNoTimeout lifts the pool's statement timeout for the migration:
	// a schema change on a large table takes what it takes, and the wait
	// for the lock is bounded by Open's context.
	migNoTimeout          = "SET LOCAL statement_timeout = 0"
	migCreateVersionTable = "CREATE TABLE IF NOT EXISTS schema_version (" +
		"version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
	migVersion       = "SELECT coalesce(max(version), 0) FROM schema_version"
	migRecordVersion = "INSERT INTO schema_version (version, name) VALUES ($1, $2)"
)

// Group administration.
const (
	pinCols         = "room_id, seq, slot, by_user, created_at"
	joinRequestCols = "room_id, user_id, message, created_at"
	linkCols        = "id, room_id, token_hash, created_by, created_at, expires_at, max_uses, revoked"
	useCols         = "link_id, n, user_id, created_at"

	qRoomByNumber    = "SELECT " + roomCols + " FROM rooms WHERE number = $1"
	qSetMemberRole   = "UPDATE members SET role = $1 WHERE room_id = $2 AND user_id = $3"
	qSetMemberMute   = "UPDATE members SET muted_until = $1 WHERE room_id = $2 AND user_id = $3"
	qSetMuteAll      = "UPDATE rooms SET mute_all = $1, updated_at = $2 WHERE id = $3"
	qSetAnnouncement = "UPDATE rooms SET announcement = $1, announcement_by = $2, announcement_at = $3, updated_at = $4 WHERE id = $5"
	qMembersPage     = "SELECT " + memberCols + " FROM members WHERE room_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3"

	qAddPin    = "INSERT INTO pins (" + pinCols + ") VALUES ($1, $2, $3, $4, $5)"
	qRemovePin = "DELETE FROM pins WHERE room_id = $1 AND seq = $2"
	qPins      = "SELECT " + pinCols + " FROM pins WHERE room_id = $1 ORDER BY created_at DESC, seq"

	qCreateJoinRequest = "INSERT INTO join_requests (" + joinRequestCols + ") VALUES ($1, $2, $3, $4)"
	qJoinRequest       = "SELECT " + joinRequestCols + " FROM join_requests WHERE room_id = $1 AND user_id = $2"
	qJoinRequests      = "SELECT " + joinRequestCols + " FROM join_requests WHERE room_id = $1 ORDER BY created_at, user_id LIMIT $2"
	qDeleteJoinRequest = "DELETE FROM join_requests WHERE room_id = $1 AND user_id = $2"

	qCreateInviteLink = "INSERT INTO invite_links (" + linkCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	qInviteLinkByID   = "SELECT " + linkCols + " FROM invite_links WHERE id = $1"
	qInviteLinkByHash = "SELECT " + linkCols + " FROM invite_links WHERE token_hash = $1"
	qInviteLinks      = "SELECT " + linkCols + " FROM invite_links WHERE room_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
	qRevokeInviteLink = "UPDATE invite_links SET revoked = true WHERE id = $1"
	qAddInviteUse     = "INSERT INTO invite_uses (" + useCols + ") VALUES ($1, $2, $3, $4)"
	qCountInviteUses  = "SELECT count(*) FROM invite_uses WHERE link_id = $1"
	qInviteUseBy      = "SELECT " + useCols + " FROM invite_uses WHERE link_id = $1 AND user_id = $2"
)

// The admin API (migration 0007): bans, pages of users and rooms.
const (
	qPutBan = "INSERT INTO bans (user_id, reason, created_at) VALUES ($1, $2, $3)" +
		" ON CONFLICT (user_id) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at"
	qDeleteBan  = "DELETE FROM bans WHERE user_id = $1"
	qBanOf      = "SELECT user_id, reason, created_at FROM bans WHERE user_id = $1"
	qBansOf     = "SELECT user_id, reason, created_at FROM bans WHERE user_id = ANY($1)"
	qUsersPage  = "SELECT " + userCols + " FROM users WHERE id > $1 ORDER BY id LIMIT $2"
	qRoomsPage  = "SELECT " + roomCols + " FROM rooms WHERE id > $1 ORDER BY id LIMIT $2"
	qGroupsPage = "SELECT " + roomCols + " FROM rooms WHERE id > $1 AND type <> 1 ORDER BY id LIMIT $2"
)

// Bring your own identity (migration 0008): links of external identities.
const (
	identityCols       = "issuer, subject, user_id, created_at"
	qInsertIdentity    = "INSERT INTO identities (" + identityCols + ") VALUES ($1, $2, $3, $4)"
	qIdentityBySubject = "SELECT " + identityCols + " FROM identities WHERE issuer = $1 AND subject = $2"
)

// Push tokens (migration 0009), keyed by (platform, sha256(token)). Of
// racing registrations of one token the upsert keeps one row, the last
// write's.
const (
	pushTokenCols = "push_tokens.platform, push_tokens.token, push_tokens.user_id, push_tokens.session_id, push_tokens.created_at"
	qAddPushToken = "INSERT INTO push_tokens (platform, token_hash, token, user_id, session_id, created_at)" +
		" VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (platform, token_hash) DO UPDATE SET token = excluded.token," +
		" user_id = excluded.user_id, session_id = excluded.session_id, created_at = excluded.created_at"
	qRemovePushToken           = "DELETE FROM push_tokens WHERE platform = $1 AND token_hash = $2 AND user_id = $3"
	qRemovePushTokensOfSession = "DELETE FROM push_tokens WHERE session_id = $1"
	qPushTokensOfSession       = "SELECT " + pushTokenCols + " FROM push_tokens WHERE session_id = $1" +
		" ORDER BY created_at, platform, token"
	// The tokens of live sessions only ($1 is a text[]).
	qPushTokensOf = "SELECT " + pushTokenCols + " FROM push_tokens JOIN sessions ON sessions.id = push_tokens.session_id" +
		" WHERE push_tokens.user_id = ANY($1::text[]) AND NOT sessions.revoked AND sessions.expires_at > $2"
	// PurgeExpired: the tokens of the sessions it deleted.
	qDeleteSessionsPushTokens = "DELETE FROM push_tokens WHERE session_id = ANY($1::text[])"
)

// queries returns every statement the store runs on its tables, by name.
func queries() map[string]string {
	return map[string]string{
		"CreateUser":                qCreateUser,
		"CreateIdentity":            qInsertIdentity,
		"IdentityBySubject":         qIdentityBySubject,
		"AddPushToken":              qAddPushToken,
		"RemovePushToken":           qRemovePushToken,
		"RemovePushTokensOfSession": qRemovePushTokensOfSession,
		"PushTokensOfSession":       qPushTokensOfSession,
		"PushTokensOf":              qPushTokensOf,
		"DeleteSessionsPushTokens":  qDeleteSessionsPushTokens,
		"PutBan":                    qPutBan,
		"DeleteBan":                 qDeleteBan,
		"BanOf":                     qBanOf,
		"BansOf":                    qBansOf,
		"UsersPage":                 qUsersPage,
		"RoomsPage":                 qRoomsPage,
		"GroupsPage":                qGroupsPage,
		"UserByID":                  qUserByID,
		"UserByAccount":             qUserByAccount,
		"UserByEmail":               qUserByEmail,
		"UsersByIDs":                qUsersByIDs,
		"UpdateProfile":             qUpdateProfile,
		"SetPasswordHash":           qSetPasswordHash,
		"UserExists":                qUserExists,
		"SetEmail":                  qSetEmail,
		"SetHidePresence":           qSetHidePresence,
		"SetLastSeen":               qSetLastSeen,
		"MarkDeleted":               qMarkDeleted,
		"UsersToRelease":            qUsersToRelease,
		"ReleaseUser":               qReleaseUser,
		"CreateRoom":                qCreateRoom,
		"RoomByID":                  qRoomByID,
		"RoomByPairKey":             qRoomByPairKey,
		"MarkDisbanded":             qMarkDisbanded,
		"SetOwner":                  qSetOwner,
		"AddMember":                 qAddMember,
		"RemoveMember":              qRemoveMember,
		"RemoveAllMembers":          qRemoveAllMembers,
		"Member":                    qMember,
		"Members":                   qMembers,
		"CountMembers":              qCountMembers,
		"MembershipsOf":             qMembershipsOf,
		"SetReadSeq":                qSetReadSeq,
		"ReadMarks":                 qReadMarks,
		"Readers":                   qReaders,
		"BlockUser":                 qBlockUser,
		"UnblockUser":               qUnblockUser,
		"IsBlocked":                 qIsBlocked,
		"BlocksOf":                  qBlocksOf,
		"CreateFriendship":          qCreateFriendship,
		"Friendship":                qFriendship,
		"DeleteFriendship":          qDeleteFriendship,
		"FriendshipsOf":             qFriendshipsOf,
		"CreateFriendRequest":       qCreateFriendRequest,
		"FriendRequestByID":         qFriendRequestByID,
		"FriendRequestBetween":      qFriendRequestBetween,
		"DeleteFriendRequest":       qDeleteFriendRequest,
		"FriendRequestsTo":          qFriendRequestsTo,
		"FriendRequestsFrom":        qFriendRequestsFrom,
		"InsertMessages":            qInsertMessages,
		"MessageByClientID":         qMessageByClientID,
		"MessagesAfter":             qMessagesAfter,
		"MessagesBefore":            qMessagesBefore,
		"LastMessage":               qLastMessage,
		"CountAfter":                qCountAfter,
		"MessageAt":                 qMessageAt,
		"MessagesAt":                qMessagesAt,
		"EditMessage":               qEditMessage,
		"RecallMessage":             qRecallMessage,
		"MarkMentioned":             qMarkMentioned,
		"MarkMentionedAll":          qMarkMentionedAll,
		"AddReaction":               qAddReaction,
		"RemoveReaction":            qRemoveReaction,
		"ReactionCounts":            qReactionCounts,
		"ReactionTime":              qReactionTime,
		"Reactors":                  qReactors,
		"HideMessages":              qHideMessages,
		"HiddenSeqs":                qHiddenSeqs,
		"CreateFile":                qCreateFile,
		"FileByID":                  qFileByID,
		"AttachFile":                qAttachFile,
		"MarkFileDeleted":           qMarkFileDeleted,
		"OrphanFiles":               qOrphanFiles,
		"DeleteFile":                qDeleteFile,
		"FilesOfMessage":            qFilesOfMessage,
		"InsertRefreshToken":        qInsertRefreshToken,
		"RefreshToken":              qRefreshToken,
		"ConsumeRefreshToken":       qConsumeToken,
		"RevokeFamily":              qRevokeFamily,
		"DeleteFamilyTokens":        qDeleteFamilyTokens,
		"FamilyRevoked":             qFamilyRevoked,
		"CreateSession":             qCreateSession,
		"Session":                   qSession,
		"SessionsOf":                qSessionsOf,
		"TouchSession":              qTouchSession,
		"RevokeSession":             qRevokeSession,
		"ExpiredTokens":             qExpiredTokens,
		"DeleteUsedTokens":          qDeleteUsedTokens,
		"DeleteTokens":              qDeleteTokens,
		"ExpiredSessions":           qExpiredSessions,
		"DeleteSessions":            qDeleteSessions,
		"DeleteRevoked":             qDeleteRevoked,
		"Ping":                      qPing,
		"RoomByNumber":              qRoomByNumber,
		"SetMemberRole":             qSetMemberRole,
		"SetMemberMute":             qSetMemberMute,
		"SetMuteAll":                qSetMuteAll,
		"SetAnnouncement":           qSetAnnouncement,
		"MembersPage":               qMembersPage,
		"AddPin":                    qAddPin,
		"RemovePin":                 qRemovePin,
		"Pins":                      qPins,
		"CreateJoinRequest":         qCreateJoinRequest,
		"JoinRequest":               qJoinRequest,
		"JoinRequests":              qJoinRequests,
		"DeleteJoinRequest":         qDeleteJoinRequest,
		"CreateInviteLink":          qCreateInviteLink,
		"InviteLinkByID":            qInviteLinkByID,
		"InviteLinkByHash":          qInviteLinkByHash,
		"InviteLinks":               qInviteLinks,
		"RevokeInviteLink":          qRevokeInviteLink,
		"AddInviteUse":              qAddInviteUse,
		"CountInviteUses":           qCountInviteUses,
		"InviteUseBy":               qInviteUseBy,
	}
}
