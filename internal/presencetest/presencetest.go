// Package presencetest holds behavioural tests that every
// presence.Presence implementation must pass. An implementation's test
// calls Run with a constructor; each subtest gets a fresh Presence (which
// may share its backing store with others: ids are unique per subtest).
package presencetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/presence"
)

// Run runs the suite. newP returns a Presence isolated from the other
// subtests' (nodes lapse globally: a claim may take any lapsed node).
func Run(t *testing.T, newP func(t *testing.T) presence.Presence) {
	tests := []struct {
		name string
		fn   func(t *testing.T, p presence.Presence, id func(string) string)
	}{
		{"ConnectDisconnect", testConnectDisconnect},
		{"TwoNodes", testTwoNodes},
		{"RenewReportsNewcomers", testRenewReportsNewcomers},
		{"EmptyBatches", testEmptyBatches},
		{"StoppedNodeLapses", testStoppedNodeLapses},
		{"LapsedNodeUserOnlineElsewhere", testLapsedElsewhere},
		{"ClaimedNodeComesBack", testClaimedNodeComesBack},
		{"ConcurrentNodes", testConcurrentNodes},
		{"ConcurrentClaims", testConcurrentClaims},
		{"ManyUsers", testManyUsers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := testenv.UniqueName("pt")
			tc.fn(t, newP(t), func(s string) string { return prefix + "-" + s })
		})
	}
}

// Interval is the renewal interval the lapse tests use; records live for
// two of them.
const Interval = 200 * time.Millisecond

const ttl = 2 * Interval

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// must passes on v, failing the test with what on an error:
// must(f())(t, "f").
func must[T any](v T, err error) func(t *testing.T, what string) T {
	return func(t *testing.T, what string) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func online(t *testing.T, p presence.Presence, uids ...string) []bool {
	t.Helper()
	return must(p.Online(ctx(t), uids))(t, "Online")
}

func testConnectDisconnect(t *testing.T, p presence.Presence, id func(string) string) {
	a, u, v := id("nodeA"), id("u"), id("v")
	if on := must(p.Connect(ctx(t), a, u, time.Minute))(t, "Connect"); !on {
		t.Fatal("first Connect: not reported online")
	}
	if on := must(p.Connect(ctx(t), a, u, time.Minute))(t, "Connect again"); on {
		t.Fatal("second Connect on the same node: reported online again")
	}
	if got := online(t, p, u, v); !got[0] || got[1] {
		t.Fatalf("Online(u, v) = %v, want [true false]", got)
	}
	off := must(p.Disconnect(ctx(t), a, []string{u, v}))(t, "Disconnect")
	if !slices.Equal(off, []string{u}) {
		t.Fatalf("Disconnect = %v, want [u] (v never connected)", off)
	}
	if got := online(t, p, u); got[0] {
		t.Fatal("online after Disconnect")
	}
	if off := must(p.Disconnect(ctx(t), a, []string{u}))(t, "Disconnect again"); len(off) != 0 {
		t.Fatalf("second Disconnect reported %v offline again", off)
	}
	if on := must(p.Connect(ctx(t), a, u, time.Minute))(t, "Connect after"); !on {
		t.Fatal("Connect after going offline: not reported online")
	}
}

// testTwoNodes: a user on two nodes goes offline only when both removed
// their records, and is reported once each way.
func testTwoNodes(t *testing.T, p presence.Presence, id func(string) string) {
	a, b, u := id("nodeA"), id("nodeB"), id("u")
	if on := must(p.Connect(ctx(t), a, u, time.Minute))(t, "Connect A"); !on {
		t.Fatal("Connect A: not reported online")
	}
	if on := must(p.Connect(ctx(t), b, u, time.Minute))(t, "Connect B"); on {
		t.Fatal("Connect B: reported online though online on A")
	}
	if off := must(p.Disconnect(ctx(t), a, []string{u}))(t, "Disconnect A"); len(off) != 0 {
		t.Fatalf("Disconnect A reported %v offline though on B", off)
	}
	if got := online(t, p, u); !got[0] {
		t.Fatal("offline while still on B")
	}
	if off := must(p.Disconnect(ctx(t), b, []string{u}))(t, "Disconnect B"); !slices.Equal(off, []string{u}) {
		t.Fatalf("Disconnect B = %v, want [u]", off)
	}
}

func testRenewReportsNewcomers(t *testing.T, p presence.Presence, id func(string) string) {
	a, u, v := id("nodeA"), id("u"), id("v")
	must(p.Connect(ctx(t), a, u, time.Minute))(t, "Connect")
	on := must(p.Renew(ctx(t), a, []string{u, v}, time.Minute))(t, "Renew")
	if !slices.Equal(on, []string{v}) {
		t.Fatalf("Renew = %v, want [v] (u was reported by Connect)", on)
	}
	if on := must(p.Renew(ctx(t), a, []string{u, v}, time.Minute))(t, "Renew again"); len(on) != 0 {
		t.Fatalf("second Renew reported %v", on)
	}
	if got := online(t, p, u, v); !got[0] || !got[1] {
		t.Fatalf("Online = %v", got)
	}
}

func testEmptyBatches(t *testing.T, p presence.Presence, id func(string) string) {
	if on := must(p.Renew(ctx(t), id("nodeA"), nil, time.Minute))(t, "Renew no users"); len(on) != 0 {
		t.Fatalf("Renew of nobody = %v", on)
	}
	if off := must(p.Disconnect(ctx(t), id("nodeA"), nil))(t, "Disconnect nobody"); len(off) != 0 {
		t.Fatalf("Disconnect of nobody = %v", off)
	}
	if got := online(t, p); len(got) != 0 {
		t.Fatalf("Online of nobody = %v", got)
	}
	if off := must(p.ClaimLapsed(ctx(t), 0))(t, "ClaimLapsed limit 0"); len(off) != 0 {
		t.Fatalf("ClaimLapsed(0) = %v", off)
	}
}

// renewer renews node's users every Interval until stop is closed.
func renewer(t *testing.T, p presence.Presence, node string, uids []string, stop chan struct{}, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(Interval)
		defer tk.Stop()
		for {
			if _, err := p.Renew(context.Background(), node, uids, ttl); err != nil {
				t.Errorf("Renew %s: %v", node, err)
				return
			}
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
}

// claimUntil calls ClaimLapsed every Interval/4 until want users were
// reported (or the deadline), and returns what was reported and when the
// last one was.
func claimUntil(t *testing.T, p presence.Presence, want int, deadline time.Duration) []string {
	t.Helper()
	var got []string
	end := time.Now().Add(deadline)
	for len(got) < want && time.Now().Before(end) {
		got = append(got, must(p.ClaimLapsed(ctx(t), 100))(t, "ClaimLapsed")...)
		time.Sleep(Interval / 4)
	}
	return got
}

// testStoppedNodeLapses: a node that stops renewing (killed) has its users
// read offline within two intervals of its last renewal, and a survivor's
// claim reports each of them once.
func testStoppedNodeLapses(t *testing.T, p presence.Presence, id func(string) string) {
	a, b, u, v := id("nodeA"), id("nodeB"), id("u"), id("v")
	var wg sync.WaitGroup
	stopA, stopB := make(chan struct{}), make(chan struct{})
	defer wg.Wait()
	defer close(stopB)
	renewer(t, p, b, nil, stopB, &wg)
	must(p.Connect(ctx(t), a, u, ttl))(t, "Connect u")
	must(p.Connect(ctx(t), a, v, ttl))(t, "Connect v")
	renewer(t, p, a, []string{u, v}, stopA, &wg)
	// Live for a few intervals: never offline, nothing claimed.
	for i := 0; i < 4; i++ {
		time.Sleep(Interval)
		if got := online(t, p, u, v); !got[0] || !got[1] {
			t.Fatalf("renewed users read %v after %d intervals", got, i+1)
		}
		if off := must(p.ClaimLapsed(ctx(t), 100))(t, "ClaimLapsed"); len(off) != 0 {
			t.Fatalf("ClaimLapsed took live users %v", off)
		}
	}
	close(stopA)
	stopped := time.Now()
	var offAt time.Duration
	for end := time.Now().Add(10 * ttl); time.Now().Before(end); time.Sleep(Interval / 10) {
		if got := online(t, p, u, v); !got[0] && !got[1] {
			offAt = time.Since(stopped)
			break
		}
	}
	if offAt == 0 || offAt > 2*Interval+Interval/2 {
		t.Fatalf("users read offline %v after the node stopped renewing, want within two intervals (%v)", offAt, 2*Interval)
	}
	off := claimUntil(t, p, 2, 10*ttl)
	slices.Sort(off)
	want := []string{u, v}
	slices.Sort(want)
	if !slices.Equal(off, want) {
		t.Fatalf("claims reported %v, want %v once each", off, want)
	}
	if more := claimUntil(t, p, 1, 2*Interval); len(more) != 0 {
		t.Fatalf("later claims reported %v again", more)
	}
}

// testLapsedElsewhere: a user on a lapsed node and on a live one stays
// online; nothing is reported.
func testLapsedElsewhere(t *testing.T, p presence.Presence, id func(string) string) {
	a, b, u := id("nodeA"), id("nodeB"), id("u")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	defer wg.Wait()
	defer close(stop)
	must(p.Connect(ctx(t), a, u, ttl))(t, "Connect A")
	must(p.Renew(ctx(t), a, []string{u}, ttl))(t, "Renew A")
	must(p.Connect(ctx(t), b, u, ttl))(t, "Connect B")
	renewer(t, p, b, []string{u}, stop, &wg)
	time.Sleep(2*ttl + Interval)
	if off := claimUntil(t, p, 1, 2*Interval); len(off) != 0 {
		t.Fatalf("claim of A reported %v though the user is on B", off)
	}
	if got := online(t, p, u); !got[0] {
		t.Fatal("offline though renewed on B")
	}
	if off := must(p.Disconnect(ctx(t), b, []string{u}))(t, "Disconnect B"); !slices.Equal(off, []string{u}) {
		t.Fatalf("Disconnect B = %v, want [u]", off)
	}
}

// testClaimedNodeComesBack: a node cut off past its ttl was claimed (its
// users reported offline); when it renews again, Renew reports them
// online.
func testClaimedNodeComesBack(t *testing.T, p presence.Presence, id func(string) string) {
	a, u := id("nodeA"), id("u")
	must(p.Connect(ctx(t), a, u, ttl))(t, "Connect")
	must(p.Renew(ctx(t), a, []string{u}, ttl))(t, "Renew")
	time.Sleep(ttl + Interval/2)
	if off := claimUntil(t, p, 1, 10*ttl); !slices.Equal(off, []string{u}) {
		t.Fatalf("claim = %v, want [u]", off)
	}
	on := must(p.Renew(ctx(t), a, []string{u}, time.Minute))(t, "Renew after the claim")
	if !slices.Equal(on, []string{u}) {
		t.Fatalf("Renew after the claim = %v, want [u] back online", on)
	}
	if off := must(p.Disconnect(ctx(t), a, []string{u}))(t, "Disconnect"); !slices.Equal(off, []string{u}) {
		t.Fatalf("Disconnect after coming back = %v, want [u]", off)
	}
}

// testConcurrentNodes: many nodes connect one user at once: one of them
// reports it online; they all disconnect at once: one reports it offline.
func testConcurrentNodes(t *testing.T, p presence.Presence, id func(string) string) {
	const n = 16
	u := id("u")
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		ons, offs := 0, 0
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				on, err := p.Connect(context.Background(), id("node")+string(rune('a'+i)), u, time.Minute)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				if on {
					ons++
				}
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		start = make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				off, err := p.Disconnect(context.Background(), id("node")+string(rune('a'+i)), []string{u})
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				offs += len(off)
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if ons != 1 || offs != 1 {
			t.Fatalf("round %d: %d nodes reported online and %d offline, want 1 and 1", round, ons, offs)
		}
	}
}

// testConcurrentClaims: survivors claiming at once report each lapsed
// user once in all.
func testConcurrentClaims(t *testing.T, p presence.Presence, id func(string) string) {
	a := id("nodeA")
	uids := make([]string, 50)
	for i := range uids {
		uids[i] = id("u") + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	must(p.Renew(ctx(t), a, uids, ttl))(t, "Renew")
	time.Sleep(ttl + Interval/2)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				off, err := p.ClaimLapsed(context.Background(), 7)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, u := range off {
					seen[u]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, u := range uids {
		if seen[u] != 1 {
			t.Fatalf("user %s reported offline %d times, want once", u, seen[u])
		}
	}
	if len(seen) != len(uids) {
		t.Fatalf("%d users reported, want %d", len(seen), len(uids))
	}
}

// testManyUsers: batches larger than one pipeline.
func testManyUsers(t *testing.T, p presence.Presence, id func(string) string) {
	a := id("nodeA")
	uids := make([]string, 1300)
	for i := range uids {
		uids[i] = id("m") + "-" + string(rune('A'+i%50)) + string(rune('A'+i/50))
	}
	on := must(p.Renew(ctx(t), a, uids, time.Minute))(t, "Renew")
	if len(on) != len(uids) {
		t.Fatalf("Renew reported %d online, want %d", len(on), len(uids))
	}
	got := online(t, p, uids...)
	for i, ok := range got {
		if !ok {
			t.Fatalf("user %d offline after Renew", i)
		}
	}
	off := must(p.Disconnect(ctx(t), a, uids))(t, "Disconnect")
	if len(off) != len(uids) {
		t.Fatalf("Disconnect reported %d offline, want %d", len(off), len(uids))
	}
}
