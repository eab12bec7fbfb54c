package sqlite

import (
	"strings"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Every SQL statement the store runs on its tables is a constant here, so
// that TestQueryPlans can check the query plan of each (no full table
// scan on any path). Pragmas and the migration scripts are not listed.

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
	qCreateUser    = "INSERT INTO users (" + userCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	qUserByID      = "SELECT " + userCols + " FROM users WHERE id = ?"
	qUserByAccount = "SELECT " + userCols + " FROM users WHERE account = ?"
	qUserByEmail   = "SELECT " + userCols + " FROM users WHERE email = ?"
	// qUsersByIDs is completed by usersByIDsQuery with one placeholder per id.
	qUsersByIDs = "SELECT " + userCols + " FROM users WHERE id IN ("
	// A nil argument keeps the column as it is.
	qUpdateProfile = "UPDATE users SET nickname = coalesce(?, nickname), avatar = coalesce(?, avatar)," +
		" sex = coalesce(?, sex), updated_at = ? WHERE id = ? RETURNING " + userCols
	// A compare-and-swap: one statement, and writes are serialised, so of
	// racing changes from one hash exactly one matches the row.
	qSetPasswordHash = "UPDATE users SET password = ?, updated_at = ? WHERE id = ? AND password = ?"
	qUserExists      = "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)"
	qSetEmail        = "UPDATE users SET email = ?, updated_at = ? WHERE id = ?"
	qSetHidePresence = "UPDATE users SET hide_presence = ? WHERE id = ?"
	qSetLastSeen     = "UPDATE users SET last_seen = ? WHERE id = ?"
	// coalesce keeps the first deletion time.
	qMarkDeleted = "UPDATE users SET deleted_at = coalesce(deleted_at, ?) WHERE id = ?"
	// Through the partial index users_to_release: released = 0 must be
	// spelt as in the index; deleted_at < ? implies deleted_at IS NOT NULL.
	qUsersToRelease = "SELECT id FROM users WHERE deleted_at < ? AND released = 0 ORDER BY deleted_at, id LIMIT ?"
	qReleaseUser    = "UPDATE users SET account = ?, email = ?, released = 1 WHERE id = ? AND released = 0"
)

// Rooms and members.
const (
	qCreateRoom       = "INSERT INTO rooms (" + roomCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	qRoomByID         = "SELECT " + roomCols + " FROM rooms WHERE id = ?"
	qRoomByPairKey    = "SELECT " + roomCols + " FROM rooms WHERE pair_key = ?"
	qMarkDisbanded    = "UPDATE rooms SET disbanded = 1, updated_at = ? WHERE id = ?"
	qSetOwner         = "UPDATE rooms SET owner = ?, updated_at = ? WHERE id = ?"
	qAddMember        = "INSERT INTO members (" + memberCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	qRemoveMember     = "DELETE FROM members WHERE room_id = ? AND user_id = ?"
	qRemoveAllMembers = "DELETE FROM members WHERE room_id = ?"
	qMember           = "SELECT " + memberCols + " FROM members WHERE room_id = ? AND user_id = ?"
	qMembers          = "SELECT " + memberCols + " FROM members WHERE room_id = ? ORDER BY created_at, user_id"
	qCountMembers     = "SELECT count(*) FROM members WHERE room_id = ?"
	qMembershipsOf    = "SELECT " + memberCols + " FROM members WHERE user_id = ? ORDER BY created_at, room_id"
	// One statement, so exact under concurrency: it never lowers the
	// value, and it changes (counts) the row even when the value stays.
	qSetReadSeq = "UPDATE members SET read_seq = max(read_seq, ?) WHERE room_id = ? AND user_id = ?"
	// Exact under concurrency like qSetReadSeq; ?3 is a JSON array of user
	// ids. Rows already at or above the seq are left alone.
	qMarkMentioned = "UPDATE members SET mention_seq = ?1 WHERE room_id = ?2" +
		" AND user_id IN (SELECT value FROM json_each(?3)) AND mention_seq < ?1"
	qMarkMentionedAll = "UPDATE members SET mention_seq = ?1 WHERE room_id = ?2 AND mention_seq < ?1"
	// A range of members_room_read: the marks at or past the lowest seq.
	qReadMarks = "SELECT user_id, read_seq FROM members WHERE room_id = ? AND read_seq >= ?"
	// The primary key from the cursor on, filtered by the mark.
	qReaders = "SELECT " + memberCols + " FROM members WHERE room_id = ?1 AND user_id > ?2" +
		" AND read_seq >= ?3 AND user_id <> ?4 ORDER BY user_id LIMIT ?5"
)

// Blocks.
const (
	blockCols    = "blocker, blocked, created_at"
	qBlockUser   = "INSERT INTO blocks (" + blockCols + ") VALUES (?, ?, ?)"
	qUnblockUser = "DELETE FROM blocks WHERE blocker = ? AND blocked = ?"
	qIsBlocked   = "SELECT count(*) FROM blocks WHERE blocker = ? AND blocked = ?"
	// The blocks made (primary key) and those suffered (blocks_blocked).
	qBlocksOf = "SELECT " + blockCols + " FROM blocks WHERE blocker = ?1" +
		" UNION SELECT " + blockCols + " FROM blocks WHERE blocked = ?1" +
		" ORDER BY created_at, blocker, blocked LIMIT ?2"
)

// Friendships and friend requests.
const (
	qCreateFriendship = "INSERT INTO friendships (" + friendCols + ") VALUES (?, ?, ?, ?)"
	qFriendship       = "SELECT " + friendCols + " FROM friendships WHERE user_a = ? AND user_b = ?"
	qDeleteFriendship = "DELETE FROM friendships WHERE user_a = ? AND user_b = ?"
	// Two index searches (user_a, then user_b) merged; a self-friendship
	// (user_a = user_b) is listed once, as with mongo's $or.
	qFriendshipsOf = "SELECT " + friendCols + " FROM friendships WHERE user_a = ?1" +
		" UNION SELECT " + friendCols + " FROM friendships WHERE user_b = ?1" +
		" ORDER BY created_at, user_a, user_b"
	qCreateFriendRequest  = "INSERT INTO friend_requests (" + requestCols + ") VALUES (?, ?, ?, ?, ?)"
	qFriendRequestByID    = "SELECT " + requestCols + " FROM friend_requests WHERE id = ?"
	qFriendRequestBetween = "SELECT " + requestCols + " FROM friend_requests WHERE from_user = ? AND to_user = ?"
	qDeleteFriendRequest  = "DELETE FROM friend_requests WHERE id = ?"
	qFriendRequestsTo     = "SELECT " + requestCols + " FROM friend_requests WHERE to_user = ? ORDER BY created_at, id"
	qFriendRequestsFrom   = "SELECT " + requestCols + " FROM friend_requests WHERE from_user = ? ORDER BY created_at, id"
)

// Messages.
const (
	qInsertMessage     = "INSERT INTO messages (" + messageCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	qMessageByClientID = "SELECT " + messageCols + " FROM messages WHERE room_id = ? AND sender = ? AND client_msg_id = ?"
	qMessagesAfter     = "SELECT " + messageCols + " FROM messages WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?"
	qMessagesBefore    = "SELECT " + messageCols + " FROM messages WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
	qLastMessage       = "SELECT " + messageCols + " FROM messages WHERE room_id = ? ORDER BY seq DESC LIMIT 1"
	// The unread count: neither holes nor change events.
	qCountAfter = "SELECT count(*) FROM messages WHERE room_id = ? AND seq > ? AND sender <> ? AND hole = 0" +
		" AND kind NOT IN " + eventKinds
	qMessageAt = "SELECT " + messageCols + " FROM messages WHERE room_id = ? AND seq = ?"
	// ?2 is a JSON array of seqs: one statement whatever their number.
	qMessagesAt = "SELECT " + messageCols + " FROM messages WHERE room_id = ?1" +
		" AND seq IN (SELECT value FROM json_each(?2)) ORDER BY seq"
	// Only a message proper (not a hole nor an event), and not recalled:
	// when no row changes, the caller reads the message to tell why.
	qEditMessage = "UPDATE messages SET body = ?, edited_at = ? WHERE room_id = ? AND seq = ?" +
		" AND hole = 0 AND recalled = 0 AND kind NOT IN " + eventKinds
	// Recalling again changes (counts) the row too: idempotent.
	qRecallMessage = "UPDATE messages SET body = '', extra = '', mentions = NULL, recalled = 1" +
		" WHERE room_id = ? AND seq = ? AND hole = 0 AND kind NOT IN " + eventKinds
)

// Reactions and hidden messages.
const (
	qAddReaction    = "INSERT INTO reactions (" + reactionCols + ") VALUES (?, ?, ?, ?, ?)"
	qRemoveReaction = "DELETE FROM reactions WHERE room_id = ? AND seq = ? AND emoji = ? AND user_id = ?"
	// Counted rows, grouped by message and emoji, through the primary
	// key; ?2 is a JSON array of seqs. first orders a message's emoji.
	qReactionCounts = "SELECT seq, emoji, count(*), max(user_id = ?3), min(created_at) AS first FROM reactions" +
		" WHERE room_id = ?1 AND seq IN (SELECT value FROM json_each(?2))" +
		" GROUP BY seq, emoji ORDER BY seq, first, emoji"
	// The time of Reactors' cursor, then the page after it (a row value
	// comparison, a range of reactions_by_time).
	qReactionTime = "SELECT created_at FROM reactions WHERE room_id = ? AND seq = ? AND emoji = ? AND user_id = ?"
	qReactors     = "SELECT " + reactionCols + " FROM reactions WHERE room_id = ?1 AND seq = ?2 AND emoji = ?3" +
		" AND (created_at, user_id) > (?4, ?5) ORDER BY created_at, user_id LIMIT ?6"
	// ?3 is a JSON array of seqs. (WHERE true: SQLite needs a WHERE
	// before the upsert clause of an INSERT ... SELECT.)
	qHideMessages = "INSERT INTO hidden (user_id, room_id, seq) SELECT ?1, ?2, value FROM json_each(?3)" +
		" WHERE true ON CONFLICT DO NOTHING"
	qHiddenSeqs = "SELECT seq FROM hidden WHERE user_id = ? AND room_id = ? AND seq BETWEEN ? AND ? ORDER BY seq"
)

// Files.
const (
	qCreateFile = "INSERT INTO files (" + fileCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	qFileByID   = "SELECT " + fileCols + " FROM files WHERE id = ?"
	// Once: of racing calls (writes are serialised) one finds message_seq
	// 0; when no row changes, the caller reads the file to tell why.
	qAttachFile      = "UPDATE files SET message_seq = ? WHERE id = ? AND message_seq = 0 AND deleted = 0"
	qMarkFileDeleted = "UPDATE files SET deleted = 1 WHERE id = ?"
	// Through the partial index files_orphans: message_seq = 0 is spelt as
	// in the index.
	qOrphanFiles    = "SELECT " + fileCols + " FROM files WHERE message_seq = 0 AND created_at < ? ORDER BY created_at, id LIMIT ?"
	qDeleteFile     = "DELETE FROM files WHERE id = ?"
	qFilesOfMessage = "SELECT " + fileCols + " FROM files WHERE room_id = ? AND message_seq = ? ORDER BY created_at, id"
)

// Refresh tokens.
const (
	qInsertRefreshToken = "INSERT INTO refresh_tokens (" + tokenCols + ") VALUES (?, ?, ?, ?, ?)"
	qRefreshToken       = "SELECT " + tokenCols + " FROM refresh_tokens WHERE hash = ?"
	qConsumeToken       = "INSERT INTO used_refresh_tokens (hash, used_at) VALUES (?, ?)"
	qRevokeFamily       = "INSERT INTO revoked_families (family, revoked_at) VALUES (?, ?) ON CONFLICT (family) DO NOTHING"
	qDeleteFamilyTokens = "DELETE FROM refresh_tokens WHERE family = ?"
	qFamilyRevoked      = "SELECT EXISTS (SELECT 1 FROM revoked_families WHERE family = ?)"
)

// Sessions, and the expiry sweep of tokens and sessions.
const (
	qCreateSession = "INSERT INTO sessions (" + sessionCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	qSession       = "SELECT " + sessionCols + " FROM sessions WHERE id = ?"
	qSessionsOf    = "SELECT " + sessionCols + " FROM sessions WHERE user_id = ? AND revoked = 0 ORDER BY created_at, id"
	// A NULL ip keeps the column as it is.
	qTouchSession  = "UPDATE sessions SET last_used_at = ?, expires_at = ?, ip = coalesce(?, ip) WHERE id = ?"
	qRevokeSession = "UPDATE sessions SET revoked = 1 WHERE id = ?"
	// PurgeExpired runs the four (and qPurgePushTokens) in one
	// transaction: with writes serialised, the two subqueries on each table pick the same rows.
	// The used records go first, while their tokens still name them.
	qPurgeUsedTokens = "DELETE FROM used_refresh_tokens WHERE hash IN" +
		" (SELECT hash FROM refresh_tokens WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)"
	qPurgeTokens = "DELETE FROM refresh_tokens WHERE hash IN" +
		" (SELECT hash FROM refresh_tokens WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)"
	qPurgeRevokedFamilies = "DELETE FROM revoked_families WHERE family IN" +
		" (SELECT id FROM sessions WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)"
	qPurgeSessions = "DELETE FROM sessions WHERE id IN" +
		" (SELECT id FROM sessions WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)"
)

// Maintenance.
const (
	qBackup = "VACUUM INTO ?"
)

// maxIDsPerQuery bounds the placeholders of one UsersByIDs query, well
// below SQLite's limit on bound parameters.
const maxIDsPerQuery = 500

// Group administration.
const (
	pinCols         = "room_id, seq, slot, by_user, created_at"
	joinRequestCols = "room_id, user_id, message, created_at"
	linkCols        = "id, room_id, token_hash, created_by, created_at, expires_at, max_uses, revoked"
	useCols         = "link_id, n, user_id, created_at"

	qRoomByNumber    = "SELECT " + roomCols + " FROM rooms WHERE number = ?"
	qSetMemberRole   = "UPDATE members SET role = ? WHERE room_id = ? AND user_id = ?"
	qSetMemberMute   = "UPDATE members SET muted_until = ? WHERE room_id = ? AND user_id = ?"
	qSetMuteAll      = "UPDATE rooms SET mute_all = ?, updated_at = ? WHERE id = ?"
	qSetAnnouncement = "UPDATE rooms SET announcement = ?, announcement_by = ?, announcement_at = ?, updated_at = ? WHERE id = ?"
	qMembersPage     = "SELECT " + memberCols + " FROM members WHERE room_id = ? AND user_id > ? ORDER BY user_id LIMIT ?"

	qAddPin    = "INSERT INTO pins (" + pinCols + ") VALUES (?, ?, ?, ?, ?)"
	qRemovePin = "DELETE FROM pins WHERE room_id = ? AND seq = ?"
	qPins      = "SELECT " + pinCols + " FROM pins WHERE room_id = ? ORDER BY created_at DESC, seq"

	qCreateJoinRequest = "INSERT INTO join_requests (" + joinRequestCols + ") VALUES (?, ?, ?, ?)"
	qJoinRequest       = "SELECT " + joinRequestCols + " FROM join_requests WHERE room_id = ? AND user_id = ?"
	qJoinRequests      = "SELECT " + joinRequestCols + " FROM join_requests WHERE room_id = ? ORDER BY created_at, user_id LIMIT ?"
	qDeleteJoinRequest = "DELETE FROM join_requests WHERE room_id = ? AND user_id = ?"

	qCreateInviteLink = "INSERT INTO invite_links (" + linkCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	qInviteLinkByID   = "SELECT " + linkCols + " FROM invite_links WHERE id = ?"
	qInviteLinkByHash = "SELECT " + linkCols + " FROM invite_links WHERE token_hash = ?"
	qInviteLinks      = "SELECT " + linkCols + " FROM invite_links WHERE room_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
	qRevokeInviteLink = "UPDATE invite_links SET revoked = 1 WHERE id = ?"
	qAddInviteUse     = "INSERT INTO invite_uses (" + useCols + ") VALUES (?, ?, ?, ?)"
	qCountInviteUses  = "SELECT count(*) FROM invite_uses WHERE link_id = ?"
	qInviteUseBy      = "SELECT " + useCols + " FROM invite_uses WHERE link_id = ? AND user_id = ?"
)

// usersByIDsQuery returns qUsersByIDs with n placeholders.
func usersByIDsQuery(n int) string {
	return qUsersByIDs + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// The admin API (migration 0007): bans, pages of users and rooms.
const (
	qPutBan = "INSERT INTO bans (user_id, reason, created_at) VALUES (?, ?, ?)" +
		" ON CONFLICT (user_id) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at"
	qDeleteBan  = "DELETE FROM bans WHERE user_id = ?"
	qBanOf      = "SELECT user_id, reason, created_at FROM bans WHERE user_id = ?"
	qBansOf     = "SELECT user_id, reason, created_at FROM bans WHERE user_id IN ("
	qUsersPage  = "SELECT " + userCols + " FROM users WHERE id > ? ORDER BY id LIMIT ?"
	qRoomsPage  = "SELECT " + roomCols + " FROM rooms WHERE id > ? ORDER BY id LIMIT ?"
	qGroupsPage = "SELECT " + roomCols + " FROM rooms WHERE id > ? AND type <> 1 ORDER BY id LIMIT ?"
)

// Bring your own identity (migration 0008): links of external identities.
const (
	identityCols       = "issuer, subject, user_id, created_at"
	qInsertIdentity    = "INSERT INTO identities (" + identityCols + ") VALUES (?, ?, ?, ?)"
	qIdentityBySubject = "SELECT " + identityCols + " FROM identities WHERE issuer = ? AND subject = ?"
)

// Push tokens (migration 0009). Of racing registrations of one token the
// upsert keeps one row, the last write's.
const (
	pushTokenCols = "push_tokens.platform, push_tokens.token, push_tokens.user_id, push_tokens.session_id, push_tokens.created_at"
	qAddPushToken = "INSERT INTO push_tokens (platform, token, user_id, session_id, created_at) VALUES (?, ?, ?, ?, ?)" +
		" ON CONFLICT (platform, token) DO UPDATE SET user_id = excluded.user_id, session_id = excluded.session_id," +
		" created_at = excluded.created_at"
	qRemovePushToken           = "DELETE FROM push_tokens WHERE platform = ? AND token = ? AND user_id = ?"
	qRemovePushTokensOfSession = "DELETE FROM push_tokens WHERE session_id = ?"
	qPushTokensOfSession       = "SELECT " + pushTokenCols + " FROM push_tokens WHERE session_id = ?" +
		" ORDER BY created_at, platform, token"
	// qPushTokensOf is completed by pushTokensOfQuery with one placeholder
	// per user id: the tokens of live sessions only.
	qPushTokensOf = "SELECT " + pushTokenCols + " FROM push_tokens JOIN sessions ON sessions.id = push_tokens.session_id" +
		" WHERE sessions.revoked = 0 AND sessions.expires_at > ? AND push_tokens.user_id IN ("
	// PurgeExpired: the tokens of the sessions it deletes (run before
	// qPurgeSessions, in its transaction).
	qPurgePushTokens = "DELETE FROM push_tokens WHERE session_id IN" +
		" (SELECT id FROM sessions WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)"
)

// pushTokensOfQuery returns qPushTokensOf with n placeholders.
func pushTokensOfQuery(n int) string {
	return qPushTokensOf + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// queries returns every statement the store runs on its tables, by name;
// a statement built at run time is given in a representative form.
func queries() map[string]string {
	return map[string]string{
		"CreateUser":                qCreateUser,
		"CreateIdentity":            qInsertIdentity,
		"IdentityBySubject":         qIdentityBySubject,
		"AddPushToken":              qAddPushToken,
		"RemovePushToken":           qRemovePushToken,
		"RemovePushTokensOfSession": qRemovePushTokensOfSession,
		"PushTokensOfSession":       qPushTokensOfSession,
		"PushTokensOf":              qPushTokensOf + "?, ?, ?)",
		"PurgePushTokens":           qPurgePushTokens,
		"PutBan":                    qPutBan,
		"DeleteBan":                 qDeleteBan,
		"BanOf":                     qBanOf,
		"BansOf":                    qBansOf + "?, ?)",
		"UsersPage":                 qUsersPage,
		"RoomsPage":                 qRoomsPage,
		"GroupsPage":                qGroupsPage,
		"UserByID":                  qUserByID,
		"UserByAccount":             qUserByAccount,
		"UserByEmail":               qUserByEmail,
		"UsersByIDs":                usersByIDsQuery(3),
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
		"InsertMessage":             qInsertMessage,
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
		"PurgeUsedTokens":           qPurgeUsedTokens,
		"PurgeTokens":               qPurgeTokens,
		"PurgeRevokedFamilies":      qPurgeRevokedFamilies,
		"PurgeSessions":             qPurgeSessions,
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
