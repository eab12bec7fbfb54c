package mongo_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/memkv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
)

// maxRecorded bounds the commands a recorder keeps.
const maxRecorded = 10000

// recorder keeps the commands a client sends while it is on.
type recorder struct {
	mu       sync.Mutex
	on       bool
	cmds     []bson.Raw
	overflow bool
}

func (r *recorder) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.on {
			return
		}
		if len(r.cmds) == maxRecorded {
			r.overflow = true
			return
		}
		r.cmds = append(r.cmds, slices.Clone(e.Command))
	}}
}

// record turns the recorder on, runs f and returns what was sent meanwhile.
func (r *recorder) record(t *testing.T, f func()) []bson.Raw {
	t.Helper()
	r.mu.Lock()
	r.on, r.cmds = true, nil
	r.mu.Unlock()
	f()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	if r.overflow {
		t.Fatalf("more than %d commands recorded", maxRecorded)
	}
	return r.cmds
}

// knownScatter are the reads of a sharded collection on the checked paths
// that do not name the shard key, each with why it is accepted for now:
// command name, collection and the sorted fields of its filter.
var knownScatter = map[string]string{
	"aggregate " + mongo.CollMembers + " [room_identity]": "CountMembers of a group in the conversation list " +
		"(docs/operations.md, Sharded MongoDB): memberships are sharded by user",
}

// emptyDoc is the BSON document {}.
var emptyDoc = bson.Raw{5, 0, 0, 0, 0}

// shardFilters returns the collection a command works on and the filters
// (or, for an insert, the documents) it sends; ok is false for commands
// that read or write no documents of a collection (getMore, listIndexes,
// ping, ...).
func shardFilters(cmd bson.Raw) (name, coll string, filters []bson.Raw, ok bool) {
	elems, err := cmd.Elements()
	if err != nil || len(elems) == 0 {
		return "", "", nil, false
	}
	name = elems[0].Key()
	coll, _ = elems[0].Value().StringValueOK()
	docs := func(array, field string) []bson.Raw {
		var out []bson.Raw
		arr, _ := cmd.Lookup(array).ArrayOK()
		vals, _ := arr.Values()
		for _, v := range vals {
			d, _ := v.DocumentOK()
			if field != "" {
				d, _ = d.Lookup(field).DocumentOK()
			}
			if d == nil {
				d = emptyDoc
			}
			out = append(out, d)
		}
		return out
	}
	doc := func(field string) []bson.Raw {
		d, ok := cmd.Lookup(field).DocumentOK()
		if !ok {
			return []bson.Raw{emptyDoc} // no filter
		}
		return []bson.Raw{bson.Raw(d)}
	}
	switch name {
	case "find":
		return name, coll, doc("filter"), true
	case "count", "distinct", "findAndModify":
		return name, coll, doc("query"), true
	case "update":
		return name, coll, docs("updates", "q"), true
	case "delete":
		return name, coll, docs("deletes", "q"), true
	case "insert":
		return name, coll, docs("documents", ""), true
	case "aggregate":
		arr, _ := cmd.Lookup("pipeline").ArrayOK()
		stages, _ := arr.Values()
		if len(stages) > 0 {
			first, _ := stages[0].DocumentOK()
			if m, ok := first.Lookup("$match").DocumentOK(); ok {
				return name, coll, []bson.Raw{bson.Raw(m)}, true
			}
		}
		return name, coll, doc("none"), true
	}
	return "", "", nil, false
}

// targets reports whether filter pins field to values: an equality, an $eq
// or an $in, at its top level or in one of its $and clauses. For an insert
// the document holds the field.
func targets(filter bson.Raw, field string) bool {
	v, err := filter.LookupErr(field)
	if err == nil {
		d, isDoc := v.DocumentOK()
		if !isDoc {
			return true
		}
		if _, err := d.LookupErr("$eq"); err == nil {
			return true
		}
		_, err := d.LookupErr("$in")
		return err == nil
	}
	and, _ := filter.Lookup("$and").ArrayOK()
	clauses, _ := and.Values()
	for _, c := range clauses {
		if d, ok := c.DocumentOK(); ok && targets(bson.Raw(d), field) {
			return true
		}
	}
	return false
}

// fieldsOf returns the sorted top-level fields of a filter.
func fieldsOf(filter bson.Raw) []string {
	elems, _ := filter.Elements()
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		out = append(out, e.Key())
	}
	slices.Sort(out)
	return out
}

// checkTargeted fails the test for every command of cmds on a sharded
// collection whose filter does not pin the whole shard key (knownScatter
// aside), and returns how many commands each sharded collection saw, and
// how many times each knownScatter shape was.
func checkTargeted(t *testing.T, path string, cmds []bson.Raw) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, cmd := range cmds {
		name, coll, filters, ok := shardFilters(cmd)
		if !ok || !mongo.ShardKeys[coll].Sharded() {
			continue
		}
		seen[coll]++
		for _, f := range filters {
			for _, field := range mongo.ShardKeys[coll].Key {
				if targets(f, field) {
					continue
				}
				shape := fmt.Sprintf("%s %s %v", name, coll, fieldsOf(f))
				if _, ok := knownScatter[shape]; ok && name != "insert" {
					seen[shape]++
					continue
				}
				t.Errorf("%s: %s on %s does not pin shard key field %q (scatter-gather): filter %v",
					path, name, coll, field, f)
			}
		}
	}
	return seen
}

// TestShardReadyLayout checks the layout of ShardKeys on the live store:
// every collection is classified, every unique index of a sharded
// collection is led by its shard key, and every command the hot paths
// (send with its idempotent retry and seq repair, sync, history, read
// marks, the conversation list with unread counts, the rooms of a user)
// send to a sharded collection pins the whole shard key. Where the server
// answers explain the way MongoDB does, those reads are also checked to
// use an index, not a collection scan.
func TestShardReadyLayout(t *testing.T) {
	rec := &recorder{}
	st, db := openRawWith(t, options.Client().SetMonitor(rec.monitor()))
	ctx := testCtx(t)

	// Users, a group and a direct room, their memberships: not checked.
	mustNil(t, "CreateUser u1", st.CreateUser(ctx, newUser("u1", "alice")))
	mustNil(t, "CreateUser u2", st.CreateUser(ctx, newUser("u2", "bob")))
	mustNil(t, "CreateRoom g1", st.CreateRoom(ctx, newGroup("g1", "100001")))
	mustNil(t, "CreateRoom d1", st.CreateRoom(ctx, newDirect("d1", "u1", "u2")))
	for _, m := range []store.Member{{RoomID: "g1", UserID: "u1", RoomType: store.RoomGroup},
		{RoomID: "g1", UserID: "u2", RoomType: store.RoomGroup},
		{RoomID: "d1", UserID: "u1", RoomType: store.RoomDirect},
		{RoomID: "d1", UserID: "u2", RoomType: store.RoomDirect}} {
		mustNil(t, "AddMember", st.AddMember(ctx, &m))
	}
	kvs := memkv.New()
	t.Cleanup(func() { _ = kvs.Close() })
	svc := service.New(service.Deps{Store: st, KV: kvs})
	t.Cleanup(svc.Close)

	send := func(room, cmid string) (*store.Message, bool) {
		t.Helper()
		m, dup, err := svc.Send(ctx, service.SendInput{UserID: "u1", RoomID: room, Body: "b " + cmid, ClientMsgID: cmid})
		mustNil(t, "Send "+room+" "+cmid, err)
		return m, dup
	}
	seen := map[string]int{}
	count := func(m map[string]int) {
		for k, v := range m {
			seen[k] += v
		}
	}
	var first *store.Message
	count(checkTargeted(t, "send", rec.record(t, func() {
		first, _ = send("g1", "c1")
		again, dup := send("g1", "c1") // the client's retry: the same message
		if !dup || again.Seq != first.Seq || again.ID != first.ID {
			t.Errorf("retry in g1: %+v dup %v, want %+v", again, dup, first)
		}
		other, dup := send("d1", "c1") // the same client id in another room
		if dup || other.ID == first.ID {
			t.Errorf("same client id in d1: %+v dup %v, want a new message", other, dup)
		}
	})))
	count(checkTargeted(t, "send after a seq counter loss", rec.record(t, func() {
		mustNil(t, "Del seq", kvs.Del(ctx, "seq:{g1}")) // Redis lost the counter
		m, _ := send("g1", "c2")
		// The retry's seq (first+1) was closed with a tombstone.
		if m.Seq != first.Seq+2 {
			t.Errorf("seq after repair = %d, want %d", m.Seq, first.Seq+2)
		}
	})))
	syncCmds := rec.record(t, func() {
		p, err := svc.After(ctx, "u2", "g1", 0, 50, true)
		mustNil(t, "After", err)
		if len(p.Messages) != 2 {
			t.Errorf("sync: %d messages, want 2", len(p.Messages))
		}
		_, err = svc.RoomsOf(ctx, "u2")
		mustNil(t, "RoomsOf", err)
	})
	count(checkTargeted(t, "sync", syncCmds))
	histCmds := rec.record(t, func() {
		p, err := svc.Before(ctx, "u2", "g1", 100, 50)
		mustNil(t, "Before", err)
		if len(p.Messages) != 2 {
			t.Errorf("history: %d messages, want 2", len(p.Messages))
		}
	})
	count(checkTargeted(t, "history", histCmds))
	convCmds := rec.record(t, func() {
		cs, err := svc.Conversations(ctx, "u2")
		mustNil(t, "Conversations", err)
		unread := map[string]int64{}
		for _, c := range cs {
			unread[c.RoomID] = c.Unread
		}
		if unread["g1"] != 2 || unread["d1"] != 1 {
			t.Errorf("unread counts %v, want g1:2 d1:1", unread)
		}
		mustNil(t, "MarkRead", svc.MarkRead(ctx, "u2", "g1", first.Seq))
	})
	count(checkTargeted(t, "conversation list and read marks", convCmds))
	// The check is not vacuous: each sharded collection the paths use was
	// seen (reactions and hidden messages are read with sync and history).
	for _, coll := range []string{mongo.CollMessages, mongo.CollMembers} {
		if seen[coll] == 0 {
			t.Errorf("no command on %s recorded: the paths were not exercised", coll)
		}
	}
	// Every known scatter still happens: the list is not stale.
	for shape := range knownScatter {
		if seen[shape] == 0 {
			t.Errorf("known scatter %q was not seen: remove it from knownScatter", shape)
		}
	}
	t.Logf("commands on sharded collections (and known scatters): %v", seen)

	checkUniqueIndexes(t, db)
	ferret, err := mongo.IsFerretDB(ctx, st)
	mustNil(t, "IsFerretDB", err)
	if ferret {
		t.Log("FerretDB: explain is not checked (its v1 answer has another shape)")
		return
	}
	for _, cmds := range [][]bson.Raw{syncCmds, histCmds, convCmds} {
		checkExplain(t, db, cmds)
	}
}

// checkUniqueIndexes lists the indexes of every collection from the live
// store and fails for a collection ShardKeys does not classify and for a
// unique index of a sharded collection its shard key does not lead.
func checkUniqueIndexes(t *testing.T, db *mdb.Database) {
	t.Helper()
	ctx := testCtx(t)
	names, err := db.ListCollectionNames(ctx, bson.D{})
	mustNil(t, "ListCollectionNames", err)
	for _, coll := range names {
		if _, ok := mongo.ShardKeys[coll]; !ok {
			t.Errorf("collection %s has no entry in ShardKeys", coll)
		}
	}
	checked := 0
	for coll, key := range mongo.ShardKeys {
		if !key.Sharded() || !slices.Contains(names, coll) {
			continue
		}
		cur, err := db.Collection(coll).Indexes().List(ctx)
		mustNil(t, "list indexes of "+coll, err)
		var specs []bson.Raw
		mustNil(t, "read indexes of "+coll, cur.All(ctx, &specs))
		for _, sp := range specs {
			if u, ok := sp.Lookup("unique").BooleanOK(); !ok || !u {
				continue
			}
			checked++
			elems, err := sp.Lookup("key").Document().Elements()
			mustNil(t, "index keys", err)
			fields := make([]string, len(elems))
			for i, e := range elems {
				fields[i] = e.Key()
			}
			if len(fields) < len(key.Key) || !slices.Equal(fields[:len(key.Key)], key.Key) {
				t.Errorf("%s: unique index %v is not led by the shard key %v", coll, fields, key.Key)
			}
		}
	}
	if checked == 0 {
		t.Error("no unique index of a sharded collection found")
	}
}

// explainable are the fields of a read command that explain takes.
var explainable = []string{"find", "filter", "sort", "limit", "projection",
	"aggregate", "pipeline", "cursor", "count", "query"}

// checkExplain asks the server to explain each read of a sharded
// collection in cmds and fails when the winning plan scans the collection.
func checkExplain(t *testing.T, db *mdb.Database, cmds []bson.Raw) {
	t.Helper()
	ctx := testCtx(t)
	for _, cmd := range cmds {
		name, coll, _, ok := shardFilters(cmd)
		if !ok || !mongo.ShardKeys[coll].Sharded() || !slices.Contains([]string{"find", "aggregate", "count"}, name) {
			continue
		}
		var q bson.D
		elems, _ := cmd.Elements()
		for _, e := range elems {
			if slices.Contains(explainable, e.Key()) {
				q = append(q, bson.E{Key: e.Key(), Value: e.Value()})
			}
		}
		var out bson.Raw
		err := db.RunCommand(ctx, bson.D{{Key: "explain", Value: q}, {Key: "verbosity", Value: "queryPlanner"}}).Decode(&out)
		mustNil(t, fmt.Sprintf("explain %v", q), err)
		if plan := out.String(); strings.Contains(plan, "COLLSCAN") {
			t.Errorf("%s on %s scans the collection: %v\nplan %s", name, coll, cmd, plan)
		}
	}
}

// A database made by an earlier version has the unique indexes that are not
// led by the shard key; EnsureIndexes drops them, and the rules hold by the
// room-scoped ones.
func TestEnsureIndexesDropsObsolete(t *testing.T) {
	_, db := openRaw(t) // indexes of this version
	ctx := testCtx(t)
	// Back to the earlier layout: the old unique indexes, no new ones.
	mustNil(t, "drop new", db.Collection(mongo.CollMessages).Indexes().DropOne(ctx,
		"room_identity_1_user_identity_1_client_msg_id_1"))
	mustNil(t, "drop new", db.Collection(mongo.CollMembers).Indexes().DropOne(ctx, "user_identity_1_room_identity_1"))
	mustNil(t, "drop new", db.Collection(mongo.CollMembers).Indexes().DropOne(ctx, "room_identity_1_user_identity_1"))
	for coll, keys := range map[string]bson.D{
		mongo.CollMessages: {{Key: "user_identity", Value: 1}, {Key: "client_msg_id", Value: 1}},
		mongo.CollMembers:  {{Key: "room_identity", Value: 1}, {Key: "user_identity", Value: 1}},
	} {
		_, err := db.Collection(coll).Indexes().CreateOne(ctx, mdb.IndexModel{Keys: keys, Options: options.Index().SetUnique(true)})
		mustNil(t, "old index of "+coll, err)
	}

	s := mongo.New(db, mongo.Options{})
	mustNil(t, "EnsureIndexes", s.EnsureIndexes(ctx))
	checkUniqueIndexes(t, db)
	// The same client id in two rooms is two messages now.
	a, b := newMessage("r1", 1, "u1"), newMessage("r2", 1, "u1")
	b.ID, b.ClientMsgID = "other", a.ClientMsgID
	mustNil(t, "InsertMessage r1", s.InsertMessage(ctx, a))
	mustNil(t, "InsertMessage r2", s.InsertMessage(ctx, b))
	mustNil(t, "AddMember", s.AddMember(ctx, &store.Member{RoomID: "r1", UserID: "u1", RoomType: store.RoomGroup}))
	wantErr(t, "AddMember twice", s.AddMember(ctx, &store.Member{RoomID: "r1", UserID: "u1", RoomType: store.RoomGroup}),
		store.ErrDuplicate)
}

// Open applies the write concern and read preference, majority and
// primary by default, and refuses unknown ones before connecting.
func TestOpenConsistency(t *testing.T) {
	uri, name := testenv.MongoDB(t)
	ctx := testCtx(t)
	for _, c := range []struct {
		opts   mongo.Options
		w      any
		rpMode string
	}{
		{mongo.Options{}, "majority", "primary"},
		{mongo.Options{WriteConcern: "1", ReadPreference: "secondaryPreferred"}, 1, "secondaryPreferred"},
		{mongo.Options{WriteConcern: "majority", ReadPreference: "nearest"}, "majority", "nearest"},
	} {
		w, rp, err := mongo.Consistency(c.opts)
		mustNil(t, fmt.Sprintf("client options %+v", c.opts), err)
		if w != c.w || rp != c.rpMode {
			t.Errorf("Open %+v: w %v, read preference %s; want %v, %s", c.opts, w, rp, c.w, c.rpMode)
		}
		s, err := mongo.Open(ctx, uri, name, c.opts)
		mustNil(t, fmt.Sprintf("Open %+v", c.opts), err)
		mustNil(t, "Close", s.Close(ctx))
	}
	for _, o := range []mongo.Options{{WriteConcern: "2"}, {ReadPreference: "secondary"}} {
		if _, err := mongo.Open(ctx, uri, name, o); err == nil ||
			!strings.Contains(err.Error(), o.WriteConcern+o.ReadPreference) {
			t.Errorf("Open %+v: error %v, want one naming the value", o, err)
		}
	}
}
