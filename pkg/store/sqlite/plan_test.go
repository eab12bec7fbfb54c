package sqlite_test

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/store/sqlite"
)

// The tables of the schema.
var tables = []string{"users", "rooms", "members", "friendships", "friend_requests",
	"messages", "refresh_tokens", "used_refresh_tokens", "revoked_families", "sessions",
	"reactions", "hidden", "files", "pins", "join_requests", "invite_links", "invite_uses",
	"push_tokens"}

// scanLine matches a plan line that visits every row of something:
// "SCAN messages", "SCAN m USING INDEX x", "SCAN CONSTANT ROW", ...
var scanLine = regexp.MustCompile(`^SCAN (\S+)`)

// TestQueryPlans checks that no statement the store runs reads a whole
// table: every access to a table must be a SEARCH through its primary key
// or an index. This is stricter than forbidding plain "SCAN <table>": a
// "SCAN <table> USING [COVERING] INDEX" walks the whole index, which is a
// full scan too, and fails here as well.
func TestQueryPlans(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	qs := sqlite.Queries()
	names := make([]string, 0, len(qs))
	for name := range qs {
		names = append(names, name)
	}
	sort.Strings(names)
	isTable := make(map[string]bool, len(tables))
	for _, tb := range tables {
		isTable[tb] = true
	}
	searched := make(map[string]bool)
	for _, name := range names {
		q := qs[name]
		plan, err := s.QueryPlan(ctx, q)
		if err != nil {
			t.Errorf("%s: EXPLAIN QUERY PLAN: %v\n%s", name, err, q)
			continue
		}
		t.Logf("%s:\n\t%s", name, strings.Join(plan, "\n\t"))
		for _, line := range plan {
			if m := scanLine.FindStringSubmatch(line); m != nil && isTable[m[1]] {
				t.Errorf("%s: full scan %q in the plan of\n%s", name, line, q)
			}
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "SEARCH" {
				searched[f[1]] = true
			}
		}
	}
	// Every table is read or written through some statement with a WHERE
	// clause (the plan of a plain INSERT is empty): this catches a query
	// list that lost its entries.
	for _, tb := range tables {
		if !searched[tb] && tb != "used_refresh_tokens" {
			t.Errorf("no statement searches table %s: is the query list complete?", tb)
		}
	}
}
