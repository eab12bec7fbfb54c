package mongo_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
)

// openRaw returns a Store made by New on a database of the test's own, and
// that database, for reading raw documents with the driver.
func openRaw(t *testing.T) (*mongo.Store, *mdb.Database) {
	t.Helper()
	return openRawWith(t, options.Client())
}

// openRawWith is openRaw with a client made from co (the URI is set here).
func openRawWith(t *testing.T, co *options.ClientOptions) (*mongo.Store, *mdb.Database) {
	t.Helper()
	uri, name := testenv.MongoDB(t)
	client, err := mdb.Connect(co.ApplyURI(uri))
	mustNil(t, "Connect", err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Disconnect(ctx)
	})
	db := client.Database(name)
	s := mongo.New(db, mongo.Options{})
	mustNil(t, "EnsureIndexes", s.EnsureIndexes(testCtx(t)))
	return s, db
}

// field is one element of a stored document: its name and BSON type.
type field struct {
	key string
	typ bson.Type
}

var (
	str  = bson.TypeString
	date = bson.TypeDateTime
	i32  = bson.TypeInt32
	i64  = bson.TypeInt64
	oid  = bson.TypeObjectID
	bl   = bson.TypeBoolean
)

// The on-disk layout of docs/protocol.md §12: field names, order and BSON
// types of every document the store writes.
var (
	userLayout = []field{{"_id", str}, {"account", str}, {"email", str}, {"password", str},
		{"nickname", str}, {"avatar", str}, {"sex", i32}, {"created_at", date}, {"updated_at", date}}
	groupLayout = []field{{"_id", str}, {"room_type", i32}, {"number", str}, {"name", str},
		{"info", str}, {"user_identity", str}, {"created_at", date}, {"updated_at", date}}
	directLayout = []field{{"_id", str}, {"room_type", i32}, {"pair_key", str},
		{"created_at", date}, {"updated_at", date}}
	memberLayout = []field{{"_id", oid}, {"room_identity", str}, {"user_identity", str},
		{"room_type", i32}, {"read_seq", i64}, {"created_at", date}}
	friendshipLayout = []field{{"_id", oid}, {"user_a", str}, {"user_b", str},
		{"room_identity", str}, {"created_at", date}}
	requestLayout = []field{{"_id", str}, {"from", str}, {"to", str}, {"message", str},
		{"created_at", date}}
	messageLayout = []field{{"_id", str}, {"room_identity", str}, {"seq", i64},
		{"user_identity", str}, {"data", str}, {"client_msg_id", str}, {"created_at", date}}
	holeLayout = append(slices.Clip(messageLayout), field{"hole", bl})
	richLayout = append(slices.Clip(messageLayout), field{"kind", str}, field{"reply_to", i64},
		field{"mentions", bson.TypeArray}, field{"extra", str}, field{"edited_at", date})
	eventLayout = append(slices.Clip(messageLayout), field{"kind", str}, field{"extra", str},
		field{"target", i64})
	recalledLayout = append(slices.Clip(messageLayout), field{"kind", str}, field{"reply_to", i64},
		field{"edited_at", date}, field{"recalled", bl})
	reactionLayout = []field{{"_id", oid}, {"room_identity", str}, {"seq", i64}, {"emoji", str},
		{"user_identity", str}, {"created_at", date}}
	hiddenLayout = []field{{"_id", oid}, {"user_identity", str}, {"room_identity", str}, {"seq", i64}}
	fileLayout   = []field{{"_id", str}, {"room_identity", str}, {"user_identity", str}, {"name", str},
		{"size", i64}, {"content_type", str}, {"width", i32}, {"height", i32}, {"blob_key", str},
		{"thumb_key", str}, {"thumb_type", str}, {"created_at", date}, {"message_seq", i64}, {"deleted", bl}}
	tokenLayout = []field{{"_id", str}, {"family", str}, {"user_id", str},
		{"expires_at", date}, {"created_at", date}}
	sessionLayout = []field{{"_id", str}, {"user_id", str}, {"device", str}, {"ip", str},
		{"created_at", date}, {"last_used_at", date}, {"expires_at", date}, {"revoked", bl}}
)

// checkRaw reads the one document of coll matching filter with the driver
// and compares its fields with want.
func checkRaw(t *testing.T, db *mdb.Database, coll string, filter bson.D, want []field) bson.Raw {
	t.Helper()
	raw, err := db.Collection(coll).FindOne(testCtx(t), filter).Raw()
	mustNil(t, "raw "+coll, err)
	elems, err := raw.Elements()
	mustNil(t, "elements of "+coll, err)
	got := make([]field, len(elems))
	for i, e := range elems {
		got[i] = field{e.Key(), e.Value().Type}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s %v: stored fields\n got  %v\n want %v", coll, filter, got, want)
	}
	return raw
}

// The record types of package mongo must write exactly the field names the
// domain types' bson tags used to write.
func TestOnDiskLayout(t *testing.T) {
	s, db := openRaw(t)
	ctx := testCtx(t)
	mustNil(t, "CreateUser", s.CreateUser(ctx, newUser("u1", "alice")))
	mustNil(t, "CreateRoom group", s.CreateRoom(ctx, newGroup("g1", "100001")))
	mustNil(t, "CreateRoom direct", s.CreateRoom(ctx, newDirect("d1", "u1", "u2")))
	mustNil(t, "AddMember", s.AddMember(ctx, &store.Member{RoomID: "g1", UserID: "u1", RoomType: store.RoomGroup}))
	mustNil(t, "SetReadSeq", s.SetReadSeq(ctx, "g1", "u1", 7))
	mustNil(t, "CreateFriendship", s.CreateFriendship(ctx, &store.Friendship{UserA: "u2", UserB: "u1", RoomID: "d1"}))
	mustNil(t, "CreateFriendRequest", s.CreateFriendRequest(ctx,
		&store.FriendRequest{ID: "fr1", From: "u1", To: "u3", Message: "hi"}))
	mustNil(t, "InsertMessage", s.InsertMessage(ctx, newMessage("g1", 1, "u1")))
	hole := &store.Message{ID: "h2", RoomID: "g1", Seq: 2, From: "u1", ClientMsgID: "hole-2", Hole: true}
	mustNil(t, "InsertMessage hole", s.InsertMessage(ctx, hole))
	mustNil(t, "InsertRefreshToken", s.InsertRefreshToken(ctx, &store.RefreshToken{
		Hash: "h", Family: "f", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)}))

	byID := func(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }
	raw := checkRaw(t, db, mongo.CollUsers, byID("u1"), userLayout)
	if v := raw.Lookup("password").StringValue(); v != "hash-u1" {
		t.Errorf("password = %q", v)
	}
	checkRaw(t, db, mongo.CollRooms, byID("g1"), groupLayout)
	checkRaw(t, db, mongo.CollRooms, byID("d1"), directLayout)
	raw = checkRaw(t, db, mongo.CollMembers, bson.D{{Key: "room_identity", Value: "g1"}}, memberLayout)
	if v := raw.Lookup("read_seq").Int64(); v != 7 {
		t.Errorf("read_seq = %d, want 7", v)
	}
	raw = checkRaw(t, db, mongo.CollFriendships, bson.D{{Key: "room_identity", Value: "d1"}}, friendshipLayout)
	if a, b := raw.Lookup("user_a").StringValue(), raw.Lookup("user_b").StringValue(); a != "u1" || b != "u2" {
		t.Errorf("friendship stored as %s, %s", a, b)
	}
	checkRaw(t, db, mongo.CollFriendRequests, byID("fr1"), requestLayout)
	raw = checkRaw(t, db, mongo.CollMessages, byID("m-g1-1"), messageLayout)
	if v := raw.Lookup("data").StringValue(); v != "body 1" {
		t.Errorf("data = %q", v)
	}
	checkRaw(t, db, mongo.CollMessages, byID("h2"), holeLayout)
	checkRaw(t, db, mongo.CollRefreshTokens, byID("h"), tokenLayout)

	mustNil(t, "MarkDisbanded", s.MarkDisbanded(ctx, "g1"))
	raw = checkRaw(t, db, mongo.CollRooms, byID("g1"), append(slices.Clip(groupLayout), field{"disbanded", bl}))
	if !raw.Lookup("disbanded").Boolean() {
		t.Error("disbanded not true")
	}

	mustNil(t, "CreateSession", s.CreateSession(ctx, &store.Session{ID: "f", UserID: "u1", Device: "phone",
		IP: "192.0.2.1", ExpiresAt: time.Now().Add(time.Hour)}))
	raw = checkRaw(t, db, mongo.CollSessions, byID("f"), sessionLayout)
	if raw.Lookup("revoked").Boolean() {
		t.Error("new session revoked")
	}
	mustNil(t, "RevokeFamily", s.RevokeFamily(ctx, "f"))
	if raw = checkRaw(t, db, mongo.CollSessions, byID("f"), sessionLayout); !raw.Lookup("revoked").Boolean() {
		t.Error("revoked not true")
	}

	// A deleted user carries deleted_at, and release_pending until
	// ReleaseDeleted frees its account name and email.
	deleted := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	mustNil(t, "MarkDeleted", s.MarkDeleted(ctx, "u1", deleted))
	raw = checkRaw(t, db, mongo.CollUsers, byID("u1"),
		append(slices.Clip(userLayout), field{"deleted_at", date}, field{"release_pending", date}))
	if !raw.Lookup("release_pending").Time().Equal(deleted) {
		t.Errorf("release_pending = %v, want %v", raw.Lookup("release_pending").Time(), deleted)
	}
	n, err := s.ReleaseDeleted(ctx, deleted.Add(time.Second), 10)
	mustNil(t, "ReleaseDeleted", err)
	if n != 1 {
		t.Fatalf("ReleaseDeleted released %d, want 1", n)
	}
	raw = checkRaw(t, db, mongo.CollUsers, byID("u1"), append(slices.Clip(userLayout), field{"deleted_at", date}))
	if v := raw.Lookup("account").StringValue(); v != store.ReleasedAccount("u1") {
		t.Errorf("released account = %q", v)
	}
}

// The documents of rich messages: the fields of a plain text message stay
// as they were (TestOnDiskLayout); the others are added when set.
func TestOnDiskLayoutRich(t *testing.T) {
	s, db := openRaw(t)
	ctx := testCtx(t)
	byID := func(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

	rich := newMessage("g1", 1, "u1")
	rich.Kind, rich.ReplyTo, rich.Mentions, rich.Extra = store.KindImage, 7, []string{"u2", store.MentionAll}, `{"w":1}`
	rich.EditedAt = time.Now()
	mustNil(t, "InsertMessage rich", s.InsertMessage(ctx, rich))
	raw := checkRaw(t, db, mongo.CollMessages, byID(rich.ID), richLayout)
	if v := raw.Lookup("mentions", "1").StringValue(); v != store.MentionAll {
		t.Errorf("mentions.1 = %q", v)
	}
	event := newMessage("g1", 2, "u1")
	event.Body, event.Kind, event.Target, event.Extra = "", store.KindReact, 1, `{"emoji":"👍"}`
	mustNil(t, "InsertMessage event", s.InsertMessage(ctx, event))
	checkRaw(t, db, mongo.CollMessages, byID(event.ID), eventLayout)
	mustNil(t, "RecallMessage", s.RecallMessage(ctx, "g1", 1))
	raw = checkRaw(t, db, mongo.CollMessages, byID(rich.ID), recalledLayout)
	if v := raw.Lookup("data").StringValue(); v != "" {
		t.Errorf("data of a recalled message = %q", v)
	}

	mustNil(t, "AddMember", s.AddMember(ctx, &store.Member{RoomID: "g1", UserID: "u1", RoomType: store.RoomGroup}))
	mustNil(t, "MarkMentioned", s.MarkMentioned(ctx, "g1", nil, 3))
	raw = checkRaw(t, db, mongo.CollMembers, bson.D{{Key: "room_identity", Value: "g1"}},
		append(slices.Clip(memberLayout), field{"mention_seq", i64}))
	if v := raw.Lookup("mention_seq").Int64(); v != 3 {
		t.Errorf("mention_seq = %d, want 3", v)
	}

	mustNil(t, "AddReaction", s.AddReaction(ctx, &store.Reaction{RoomID: "g1", Seq: 1, UserID: "u1", Emoji: "👍"}))
	checkRaw(t, db, mongo.CollReactions, bson.D{{Key: "room_identity", Value: "g1"}}, reactionLayout)
	mustNil(t, "HideMessages", s.HideMessages(ctx, "u1", "g1", []int64{1}))
	checkRaw(t, db, mongo.CollHidden, bson.D{{Key: "user_identity", Value: "u1"}}, hiddenLayout)
	mustNil(t, "CreateFile", s.CreateFile(ctx, &store.File{ID: "f1", RoomID: "g1", UploaderID: "u1", Name: "a.png",
		Size: 10, ContentType: "image/png", Width: 2, Height: 3, Key: "k"}))
	raw = checkRaw(t, db, mongo.CollFiles, byID("f1"), fileLayout)
	if v := raw.Lookup("message_seq").Int64(); v != 0 {
		t.Errorf("message_seq = %d, want 0", v)
	}
}

// TestExpiryIndexes: refresh tokens and sessions are indexed on
// expires_at, a TTL index (deleting TTLGrace after expiry) but on
// FerretDB, which has no TTL monitor.
func TestExpiryIndexes(t *testing.T) {
	s, db := openRaw(t)
	ctx := testCtx(t)
	ferret, err := mongo.IsFerretDB(ctx, s)
	mustNil(t, "IsFerretDB", err)
	for _, coll := range []string{mongo.CollRefreshTokens, mongo.CollSessions} {
		cur, err := db.Collection(coll).Indexes().List(ctx)
		mustNil(t, "list indexes of "+coll, err)
		var specs []bson.Raw
		mustNil(t, "read indexes of "+coll, cur.All(ctx, &specs))
		var found bson.Raw
		for _, sp := range specs {
			keys, err := sp.Lookup("key").Document().Elements()
			mustNil(t, "index keys", err)
			if len(keys) == 1 && keys[0].Key() == "expires_at" {
				found = sp
			}
		}
		if found == nil {
			t.Fatalf("%s: no index on expires_at in %v", coll, specs)
		}
		ttl, err := found.LookupErr("expireAfterSeconds")
		want := int64(mongo.TTLGrace / time.Second)
		switch {
		case ferret && err == nil:
			t.Errorf("%s: TTL index on FerretDB: %v", coll, found)
		case !ferret && (err != nil || ttl.AsInt64() != want):
			t.Errorf("%s: index %v, want expireAfterSeconds %d", coll, found, want)
		}
	}
}

// InsertMany writes the same documents as the one-by-one methods, leaves
// its arguments alone and keeps the unique indexes.
func TestInsertMany(t *testing.T) {
	s, db := openRaw(t)
	ctx := testCtx(t)
	u := newUser("u1", "alice")
	g, d := newGroup("g1", "100001"), newDirect("d1", "u1", "u2")
	m := &store.Member{RoomID: "g1", UserID: "u1", RoomType: store.RoomGroup, CreatedAt: at(3)}
	f := &store.Friendship{UserA: "u2", UserB: "u1", RoomID: "d1", CreatedAt: at(4)}
	before := []any{*u, *g, *d, *m, *f}
	mustNil(t, "InsertMany", s.InsertMany(ctx, []any{f, m, d, g, u}))
	if after := []any{*u, *g, *d, *m, *f}; !slices.EqualFunc(before, after, func(a, b any) bool { return a == b }) {
		t.Fatalf("InsertMany changed its arguments:\n %+v\n %+v", before, after)
	}

	byID := func(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }
	checkRaw(t, db, mongo.CollUsers, byID("u1"), userLayout)
	checkRaw(t, db, mongo.CollRooms, byID("g1"), groupLayout)
	checkRaw(t, db, mongo.CollRooms, byID("d1"), directLayout)
	checkRaw(t, db, mongo.CollMembers, bson.D{{Key: "room_identity", Value: "g1"}}, memberLayout)
	checkRaw(t, db, mongo.CollFriendships, bson.D{{Key: "room_identity", Value: "d1"}}, friendshipLayout)

	got, err := s.UserByID(ctx, "u1")
	mustNil(t, "UserByID", err)
	sameTime(t, "user CreatedAt", got.CreatedAt, at(1).Truncate(time.Millisecond))
	fs, err := s.FriendshipsOf(ctx, "u1")
	mustNil(t, "FriendshipsOf", err)
	if len(fs) != 1 || fs[0].UserA != "u1" || fs[0].UserB != "u2" {
		t.Fatalf("friendships %+v, want u1-u2 sorted", fs)
	}
	ms, err := s.Members(ctx, "g1")
	mustNil(t, "Members", err)
	if len(ms) != 1 || ms[0].UserID != "u1" || ms[0].RoomType != store.RoomGroup {
		t.Fatalf("members %+v", ms)
	}

	other := newUser("u3", "carol")
	err = s.InsertMany(ctx, []any{newUser("u2", "alice"), other})
	wantErr(t, "InsertMany duplicate account", err, store.ErrDuplicate)
	_, err = s.UserByID(ctx, "u3")
	mustNil(t, "unordered: the rest is inserted", err)
	if err := s.InsertMany(ctx, []any{newUser("u4", "dave"), &store.Message{ID: "m1"}}); err == nil {
		t.Fatal("InsertMany of a message: no error")
	}
	_, err = s.UserByID(ctx, "u4")
	wantErr(t, "nothing written after a bad element", err, store.ErrNotFound)
}
