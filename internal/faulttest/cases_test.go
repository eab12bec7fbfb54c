package faulttest

import (
	"context"
	"sync"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// The fault cases' shared setup and checks (test code: they use the
// suite's test helpers).

// cast is a fault case's users and the rooms each is in.
type cast struct {
	e     *apitest.Env
	users []*apitest.User
	rooms map[*apitest.User][]string
}

// newCast registers n users (accounts starting with prefix).
func newCast(e *apitest.Env, n int, prefix string) *cast {
	c := &cast{e: e, users: make([]*apitest.User, n), rooms: map[*apitest.User][]string{}}
	for i := range c.users {
		c.users[i] = e.Register(prefix)
	}
	return c
}

// link befriends users a and b: their direct room.
func (c *cast) link(a, b int) {
	r := c.e.Befriend(c.users[a], c.users[b])
	ua, ub := c.users[a], c.users[b]
	c.rooms[ua], c.rooms[ub] = append(c.rooms[ua], r), append(c.rooms[ub], r)
}

// group creates a group owned by user owner (a friend of every member)
// with members, and returns its id.
func (c *cast) group(t *testing.T, name string, owner int, members ...int) string {
	t.Helper()
	accounts := make([]string, len(members))
	for i, m := range members {
		accounts[i] = c.users[m].Account
	}
	var g struct{ Group struct{ ID string } }
	if r := c.e.Do("POST", "/v1/groups", c.users[owner].Token, map[string]any{"name": name, "members": accounts}); r.Status != 201 {
		t.Fatalf("group: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &g)
	}
	for _, i := range append([]int{owner}, members...) {
		c.rooms[c.users[i]] = append(c.rooms[c.users[i]], g.Group.ID)
	}
	return g.Group.ID
}

// runSenders runs every client in a goroutine of its own: it sends limit
// messages one at a time (a new one only when ready(c) says so; nil: at
// once), retrying each with the same client_msg_id until acked, until ctx
// ends. The channel closes when every one is done.
func runSenders(ctx context.Context, clients []*Client, limit int, ready func(*Client) bool) <-chan struct{} {
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func(c *Client) {
			defer wg.Done()
			for ctx.Err() == nil && (c.n < limit || c.pending != nil) {
				c.step(c.n < limit && (ready == nil || ready(c)))
			}
		}(c)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// readRooms reads back every room in rooms (a user's rooms, rooms
// shared by several users read once): per room seq -> message id, the
// holes left out, and how many messages that makes.
func readRooms[K comparable](t *testing.T, st store.Store, rooms map[K][]string) (stored map[string]map[int64]string, holes, total int) {
	t.Helper()
	stored = map[string]map[int64]string{}
	for _, rl := range rooms {
		for _, r := range rl {
			if stored[r] == nil {
				var h int
				stored[r], h = readRoom(t, st, r)
				holes += h
				total += len(stored[r])
			}
		}
	}
	return stored, holes, total
}

// missingAt counts (and reports the first few of) the messages acked in l
// that a member's client does not have after its final sync.
func missingAt(t *testing.T, clients []*Client, l *Ledger) int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	missing := 0
	for _, c := range clients {
		for _, a := range l.acks {
			if v, ok := c.view[a.room]; ok && v[a.seq] != a.id {
				missing++
				if missing < 10 {
					t.Errorf("%s lacks acked message %+v; it saw: %v", c.User.Account, a, seqsOf(v, a.seq))
				}
			}
		}
	}
	return missing
}
