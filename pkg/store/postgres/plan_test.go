package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/postgres"
)

// The tables of the schema.
var tables = []string{"users", "rooms", "members", "friendships", "friend_requests",
	"messages", "refresh_tokens", "used_refresh_tokens", "revoked_families", "sessions",
	"reactions", "hidden", "files", "pins", "join_requests", "invite_links", "invite_uses",
	"push_tokens"}

// seedRows is the number of rows seedPlanData puts in the smaller tables;
// members and messages get more. With a few thousand rows and fresh
// statistics the planner has no reason to prefer a sequential scan on a
// path that has an index: a plan that still has one is missing an index.
const seedRows = 5000

// seedPlanData fills every table with realistic data and runs ANALYZE.
func seedPlanData(ctx context.Context, t *testing.T, s *postgres.Store) {
	t.Helper()
	const n = seedRows
	for _, q := range []string{
		// One user in a hundred deleted, half of those released.
		`INSERT INTO users (id, account, email, password, nickname, avatar, sex, created_at, updated_at, deleted_at, released)
		 SELECT 'u' || i, 'acct' || i, 'u' || i || '@example.com', 'hash', 'nick', '', i % 3, now(), now(),
		        CASE WHEN i % 100 = 0 THEN now() - (i || ' s')::interval END, i % 200 = 0
		 FROM generate_series(1, $1) i`,
		`INSERT INTO rooms (id, type, number, name, info, owner, pair_key, disbanded, created_at, updated_at)
		 SELECT 'r' || i, CASE WHEN i % 2 = 0 THEN 1 ELSE 2 END,
		        CASE WHEN i % 2 = 0 THEN NULL ELSE 'n' || i END, 'room', '', 'u' || i,
		        CASE WHEN i % 2 = 0 THEN 'u' || i || ':u' || (i + 1) ELSE NULL END, false, now(), now()
		 FROM generate_series(1, $1) i`,
		// Rooms of 4 members; each user in 4 rooms.
		`INSERT INTO members (room_id, user_id, room_type, read_seq, created_at)
		 SELECT 'r' || i, 'u' || ((i + k * 997) % $1), 2, 0, now() - (k || ' s')::interval
		 FROM generate_series(1, $1) i, generate_series(0, 3) k`,
		`INSERT INTO friendships (user_a, user_b, room_id, created_at)
		 SELECT 'u' || i, 'u' || (i + 1 + k), 'r' || i, now()
		 FROM generate_series(1, $1) i, generate_series(0, 1) k`,
		`INSERT INTO friend_requests (id, from_user, to_user, message, created_at)
		 SELECT 'q' || i, 'u' || i, 'u' || (i + 7), 'hi', now()
		 FROM generate_series(1, $1) i`,
		// 100 rooms of 200 messages.
		`INSERT INTO messages (room_id, seq, id, sender, body, client_msg_id, created_at, hole)
		 SELECT 'r' || (i % 100), i / 100 + 1, 'm' || i, 'u' || (i % 50), 'body', 'c' || i, now(), i % 97 = 0
		 FROM generate_series(0, $1 * 4 - 1) i`,
		`INSERT INTO refresh_tokens (hash, family, user_id, expires_at, created_at)
		 SELECT 'h' || i, 'f' || (i / 3), 'u' || i, now() + (i || ' s')::interval, now()
		 FROM generate_series(1, $1) i`,
		`INSERT INTO used_refresh_tokens (hash, used_at) SELECT 'h' || i, now() FROM generate_series(1, $1) i`,
		`INSERT INTO revoked_families (family, revoked_at) SELECT 'f' || i, now() FROM generate_series(1, $1) i`,
		// 4 reactions on each of the first 50 messages of every room, one
		// emoji in four.
		`INSERT INTO reactions (room_id, seq, emoji, user_id, created_at)
		 SELECT 'r' || (i % 100), i / 100 % 50 + 1, (ARRAY['👍', '❤️', '😂', '🎉'])[i % 4 + 1], 'u' || i,
		        now() - (i || ' s')::interval
		 FROM generate_series(0, $1 * 4 - 1) i`,
		// Every user hid a few messages in a room.
		`INSERT INTO hidden (user_id, room_id, seq)
		 SELECT 'u' || (i % 1000), 'r' || (i % 100), i / 100 + 1 FROM generate_series(0, $1 - 1) i`,
		// Files, one in fifty never attached.
		`INSERT INTO files (id, room_id, uploader_id, name, size, content_type, width, height, blob_key,
		                    thumb_key, thumb_type, created_at, message_seq, deleted)
		 SELECT 'f' || i, 'r' || (i % 100), 'u' || i, 'a.png', 1000, 'image/png', 10, 10, 'b' || i,
		        '', '', now() - (i || ' s')::interval, CASE WHEN i % 50 = 0 THEN 0 ELSE i / 100 + 1 END, i % 7 = 0
		 FROM generate_series(0, $1 - 1) i`,
		// Each user blocked two others.
		`INSERT INTO blocks (blocker, blocked, created_at)
		 SELECT 'u' || i, 'u' || (i + 3 + k), now() - (i || ' s')::interval
		 FROM generate_series(1, $1) i, generate_series(0, 1) k`,
		// Two sessions a user, one in ten revoked.
		`INSERT INTO sessions (id, user_id, device, ip, created_at, last_used_at, expires_at, revoked)
		 SELECT 'f' || i, 'u' || (i / 2), 'phone', '192.0.2.1', now(), now(), now() + (i || ' s')::interval, i % 10 = 0
		 FROM generate_series(1, $1) i`,
		// Group administration: pins in 100 rooms, requests and links in
		// 1000 rooms, 5 uses a link.
		`INSERT INTO pins (room_id, seq, slot, by_user, created_at)
		 SELECT 'r' || (i % 100), i / 100 + 1, i / 100, 'u1', now() - (i || ' s')::interval
		 FROM generate_series(0, $1 - 1) i`,
		`INSERT INTO join_requests (room_id, user_id, message, created_at)
		 SELECT 'r' || (i % 1000), 'u' || i, 'hi', now() - (i || ' s')::interval FROM generate_series(0, $1 - 1) i`,
		`INSERT INTO invite_links (id, room_id, token_hash, created_by, created_at, expires_at, max_uses, revoked)
		 SELECT 'l' || i, 'r' || (i % 1000), 'h' || i, 'u1', now() - (i || ' s')::interval, now() + interval '1 day', 10, i % 10 = 0
		 FROM generate_series(0, $1 - 1) i`,
		`INSERT INTO invite_uses (link_id, n, user_id, created_at)
		 SELECT 'l' || (i % 1000), i / 1000 + 1, 'u' || i, now() FROM generate_series(0, $1 - 1) i`,
		// The admin API: bans (as many as users, for the planner's sake).
		`INSERT INTO bans (user_id, reason, created_at)
		 SELECT 'u' || i, 'spam', now() FROM generate_series(0, $1 - 1) i`,
		// Bring your own identity: a link a user, from two providers.
		`INSERT INTO identities (issuer, subject, user_id, created_at)
		 SELECT 'https://idp' || (i % 2) || '.example', 's' || i, 'u' || i, now() FROM generate_series(0, $1 - 1) i`,
		// Push tokens: one a session (the sessions above), on three
		// platforms.
		`INSERT INTO push_tokens (platform, token_hash, token, user_id, session_id, created_at)
		 SELECT (ARRAY['fcm', 'apns', 'web'])[i % 3 + 1], sha256(('tok' || i)::bytea), 'tok' || i, 'u' || (i / 2),
		        'f' || i, now() - (i || ' s')::interval
		 FROM generate_series(1, $1) i`,
	} {
		mustNil(t, "seed", s.Exec(ctx, q, n))
	}
	mustNil(t, "ANALYZE", s.Exec(ctx, "ANALYZE"))
}

// TestQueryPlans checks that no statement the store runs reads a whole
// table: the generic plan of each (the plan of a cached prepared
// statement, whatever its arguments) on a seeded, analysed database must
// have no Seq Scan node. Sequential scans are not disabled for this: the
// planner's own choice must be an index.
func TestQueryPlans(t *testing.T) {
	// Seeding and ANALYZE are setup, not the store's statements: on a
	// loaded machine they outlast the default 5 s statement timeout.
	s, ctx := openAt(t, testenv.PostgresURL(t), postgres.Options{StatementTimeout: 2 * time.Minute}), testCtx(t)
	seedPlanData(ctx, t, s)
	qs := postgres.Queries()
	names := make([]string, 0, len(qs))
	for name := range qs {
		names = append(names, name)
	}
	sort.Strings(names)
	searched := make(map[string]bool)
	for _, name := range names {
		q := qs[name]
		plan, err := s.GenericPlan(ctx, q)
		if err != nil {
			t.Errorf("%s: EXPLAIN: %v\n%s", name, err, q)
			continue
		}
		b, _ := json.MarshalIndent(plan, "\t", "  ")
		nodes := planNodes(plan)
		t.Logf("%s: %v", name, nodes)
		for _, n := range nodes {
			if n.typ == "Seq Scan" {
				t.Errorf("%s: sequential scan of %s in the plan of\n%s\n%s", name, n.rel, q, b)
			}
			if n.rel != "" && n.typ != "ModifyTable" {
				searched[n.rel] = true
			}
		}
	}
	// Every table is read or written through some statement with a WHERE
	// clause (the plan of a plain INSERT scans nothing): this catches a
	// query list that lost its entries.
	for _, tb := range tables {
		if !searched[tb] && tb != "used_refresh_tokens" {
			t.Errorf("no statement searches table %s: is the query list complete?", tb)
		}
	}
}

// planNode is one node of an EXPLAIN (FORMAT JSON) plan.
type planNode struct {
	typ, rel string
}

func (n planNode) String() string {
	if n.rel == "" {
		return n.typ
	}
	return fmt.Sprintf("%s(%s)", n.typ, n.rel)
}

// planNodes lists the nodes of a plan, depth first.
func planNodes(v any) []planNode {
	var out []planNode
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			if typ, ok := v["Node Type"].(string); ok {
				rel, _ := v["Relation Name"].(string)
				out = append(out, planNode{typ, rel})
			}
			for _, k := range []string{"Plan", "Plans"} {
				if c, ok := v[k]; ok {
					walk(c)
				}
			}
		}
	}
	walk(v)
	return out
}
