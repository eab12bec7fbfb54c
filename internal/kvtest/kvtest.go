// Package kvtest holds behavioural tests that every kv.KV implementation
// must pass. An implementation's test calls Run with a constructor.
package kvtest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv"
)

// Run runs the conformance tests against the KV returned by newKV. newKV is
// called once per subtest; keys are unique to each subtest, so the KVs may
// share one backing store.
func Run(t *testing.T, newKV func(t *testing.T) kv.KV) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s kv.KV, key func(string) string)
	}{
		{"IncrCounts", testIncrCounts},
		{"IncrTTLOnlyOnCreate", testIncrTTLOnlyOnCreate},
		{"IncrNoTTL", testIncrNoTTL},
		{"IncrNotInteger", testIncrNotInteger},
		{"IncrAfterExpiryRestarts", testIncrAfterExpiryRestarts},
		{"IncrConcurrent", testIncrConcurrent},
		{"SetMaxNeverLowers", testSetMaxNeverLowers},
		{"SetMaxKeepsTTL", testSetMaxKeepsTTL},
		{"SetMaxNotInteger", testSetMaxNotInteger},
		{"SetGet", testSetGet},
		{"GetMissing", testGetMissing},
		{"GetAfterExpiry", testGetAfterExpiry},
		{"GetDel", testGetDel},
		{"GetDelConcurrent", testGetDelConcurrent},
		{"Del", testDel},
		{"TTL", testTTL},
		{"Ping", testPing},
		{"GetMany", testGetMany},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := testenv.UniqueName("kvtest")
			tc.fn(t, newKV(t), func(s string) string { return prefix + ":" + s })
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// waitGone polls Get until key is gone, failing after a bounded wait.
func waitGone(t *testing.T, s kv.KV, key string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Get(ctx(t), key)
		if errors.Is(err, kv.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %q still present 5s after its ttl", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testIncrCounts(t *testing.T, s kv.KV, key func(string) string) {
	k := key("n")
	for want := int64(1); want <= 5; want++ {
		got, err := s.Incr(ctx(t), k, time.Minute)
		if err != nil {
			t.Fatalf("Incr: %v", err)
		}
		if got != want {
			t.Fatalf("Incr #%d = %d", want, got)
		}
	}
	v, err := s.Get(ctx(t), k)
	if err != nil || v != "5" {
		t.Fatalf("Get after 5 Incr = %q, %v; want \"5\"", v, err)
	}
}

func testIncrTTLOnlyOnCreate(t *testing.T, s kv.KV, key func(string) string) {
	k := key("win")
	if _, err := s.Incr(ctx(t), k, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// A later Incr with a longer ttl must not extend the window.
	if n, err := s.Incr(ctx(t), k, time.Hour); err != nil || n != 2 {
		t.Fatalf("second Incr = %d, %v", n, err)
	}
	ttl, err := s.TTL(ctx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > 10*time.Second {
		t.Fatalf("TTL = %v, want in (0, 10s]: the ttl must be set only at creation", ttl)
	}
	// An existing key without ttl gets none from Incr.
	k2 := key("plain")
	if err := s.Set(ctx(t), k2, "7", 0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Incr(ctx(t), k2, time.Hour); err != nil || n != 8 {
		t.Fatalf("Incr on set key = %d, %v; want 8", n, err)
	}
	if ttl, err := s.TTL(ctx(t), k2); err != nil || ttl != 0 {
		t.Fatalf("TTL of pre-existing key after Incr = %v, %v; want 0", ttl, err)
	}
}

func testIncrNoTTL(t *testing.T, s kv.KV, key func(string) string) {
	k := key("forever")
	if _, err := s.Incr(ctx(t), k, 0); err != nil {
		t.Fatal(err)
	}
	if ttl, err := s.TTL(ctx(t), k); err != nil || ttl != 0 {
		t.Fatalf("TTL after Incr(ttl=0) = %v, %v; want 0", ttl, err)
	}
}

func testIncrNotInteger(t *testing.T, s kv.KV, key func(string) string) {
	k := key("text")
	if err := s.Set(ctx(t), k, "abc", 0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Incr(ctx(t), k, 0); err == nil {
		t.Fatalf("Incr on \"abc\" = %d, nil; want an error", n)
	}
	if v, err := s.Get(ctx(t), k); err != nil || v != "abc" {
		t.Fatalf("value after failed Incr = %q, %v", v, err)
	}
	// Incr past the int64 range fails and keeps the value.
	km := key("max")
	if _, err := s.SetMax(ctx(t), km, 1<<63-1); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Incr(ctx(t), km, 0); err == nil {
		t.Fatalf("Incr at MaxInt64 = %d, nil; want an error", n)
	}
	if v, err := s.Get(ctx(t), km); err != nil || v != "9223372036854775807" {
		t.Fatalf("value after overflowing Incr = %q, %v", v, err)
	}
}

func testIncrAfterExpiryRestarts(t *testing.T, s kv.KV, key func(string) string) {
	k := key("short")
	for i := 0; i < 3; i++ {
		if _, err := s.Incr(ctx(t), k, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	waitGone(t, s, k)
	n, err := s.Incr(ctx(t), k, time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("Incr after expiry = %d, %v; want 1", n, err)
	}
	if ttl, err := s.TTL(ctx(t), k); err != nil || ttl <= 50*time.Millisecond || ttl > time.Minute {
		t.Fatalf("TTL of the new window = %v, %v; want the new ttl", ttl, err)
	}
}

func testIncrConcurrent(t *testing.T, s kv.KV, key func(string) string) {
	k := key("c")
	const workers, each = 16, 25
	seen := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n, err := s.Incr(ctx(t), k, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				seen <- n
			}
		}()
	}
	wg.Wait()
	close(seen)
	got := make(map[int64]bool)
	for n := range seen {
		if got[n] {
			t.Fatalf("Incr returned %d twice", n)
		}
		got[n] = true
	}
	for n := int64(1); n <= workers*each; n++ {
		if !got[n] {
			t.Fatalf("no Incr returned %d", n)
		}
	}
}

func testSetMaxNeverLowers(t *testing.T, s kv.KV, key func(string) string) {
	k := key("seq")
	steps := []struct{ v, want int64 }{
		{5, 5}, {3, 5}, {5, 5}, {9, 9}, {-1, 9}, {1 << 62, 1 << 62}, {1<<62 - 1, 1 << 62},
	}
	for _, st := range steps {
		got, err := s.SetMax(ctx(t), k, st.v)
		if err != nil {
			t.Fatalf("SetMax(%d): %v", st.v, err)
		}
		if got != st.want {
			t.Fatalf("SetMax(%d) = %d, want %d", st.v, got, st.want)
		}
	}
	if v, err := s.Get(ctx(t), k); err != nil || v != strconv.FormatInt(1<<62, 10) {
		t.Fatalf("Get = %q, %v", v, err)
	}
	// Negative numbers compare as numbers, not strings.
	kn := key("neg")
	for _, st := range []struct{ v, want int64 }{{-10, -10}, {-20, -10}, {-5, -5}, {-100, -5}, {0, 0}} {
		if got, err := s.SetMax(ctx(t), kn, st.v); err != nil || got != st.want {
			t.Fatalf("SetMax(%d) = %d, %v; want %d", st.v, got, err, st.want)
		}
	}
	// Values beyond 2^53 compare exactly (no float rounding).
	kb := key("big")
	for _, st := range []struct{ v, want int64 }{{1<<53 + 1, 1<<53 + 1}, {1 << 53, 1<<53 + 1}, {1<<53 + 2, 1<<53 + 2}, {1<<63 - 1, 1<<63 - 1}, {1<<63 - 2, 1<<63 - 1}} {
		if got, err := s.SetMax(ctx(t), kb, st.v); err != nil || got != st.want {
			t.Fatalf("SetMax(%d) = %d, %v; want %d", st.v, got, err, st.want)
		}
	}
	// SetMax and Incr work on the same counter.
	if n, err := s.Incr(ctx(t), k, 0); err != nil || n != 1<<62+1 {
		t.Fatalf("Incr after SetMax = %d, %v", n, err)
	}
	if ttl, err := s.TTL(ctx(t), k); err != nil || ttl != 0 {
		t.Fatalf("SetMax created a ttl: %v, %v", ttl, err)
	}
}

func testSetMaxKeepsTTL(t *testing.T, s kv.KV, key func(string) string) {
	k := key("w")
	if _, err := s.Incr(ctx(t), k, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SetMax(ctx(t), k, 40); err != nil || n != 40 {
		t.Fatalf("SetMax = %d, %v", n, err)
	}
	if ttl, err := s.TTL(ctx(t), k); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("TTL after SetMax = %v, %v; want the ttl kept", ttl, err)
	}
}

func testSetMaxNotInteger(t *testing.T, s kv.KV, key func(string) string) {
	k := key("text")
	if err := s.Set(ctx(t), k, "x1", 0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SetMax(ctx(t), k, 3); err == nil {
		t.Fatalf("SetMax on \"x1\" = %d, nil; want an error", n)
	}
}

func testSetGet(t *testing.T, s kv.KV, key func(string) string) {
	k := key("s")
	for _, v := range []string{"one", "", "two \x00 bytes \xff"} {
		if err := s.Set(ctx(t), k, v, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx(t), k); err != nil || got != v {
			t.Fatalf("Get = %q, %v; want %q", got, err, v)
		}
	}
	// Set replaces the ttl: 0 removes it.
	if err := s.Set(ctx(t), k, "three", 0); err != nil {
		t.Fatal(err)
	}
	if ttl, err := s.TTL(ctx(t), k); err != nil || ttl != 0 {
		t.Fatalf("TTL after Set(ttl=0) = %v, %v; want 0", ttl, err)
	}
}

func testGetMissing(t *testing.T, s kv.KV, key func(string) string) {
	if _, err := s.Get(ctx(t), key("nope")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get(missing) error = %v, want kv.ErrNotFound", err)
	}
	if _, err := s.GetDel(ctx(t), key("nope")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("GetDel(missing) error = %v, want kv.ErrNotFound", err)
	}
}

func testGetAfterExpiry(t *testing.T, s kv.KV, key func(string) string) {
	k := key("code")
	if err := s.Set(ctx(t), k, "123456", 80*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if v, err := s.Get(ctx(t), k); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get after expiry = %q, %v; want kv.ErrNotFound", v, err)
	}
	if v, err := s.GetDel(ctx(t), k); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("GetDel after expiry = %q, %v; want kv.ErrNotFound", v, err)
	}
	if ttl, err := s.TTL(ctx(t), k); err != nil || ttl != 0 {
		t.Fatalf("TTL after expiry = %v, %v; want 0", ttl, err)
	}
}

func testGetDel(t *testing.T, s kv.KV, key func(string) string) {
	k := key("once")
	if err := s.Set(ctx(t), k, "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetDel(ctx(t), k); err != nil || v != "v" {
		t.Fatalf("GetDel = %q, %v", v, err)
	}
	if _, err := s.GetDel(ctx(t), k); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("second GetDel error = %v, want kv.ErrNotFound", err)
	}
	if _, err := s.Get(ctx(t), k); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get after GetDel error = %v, want kv.ErrNotFound", err)
	}
}

func testGetDelConcurrent(t *testing.T, s kv.KV, key func(string) string) {
	const callers, rounds = 16, 10
	for r := 0; r < rounds; r++ {
		k := key("race" + strconv.Itoa(r))
		if err := s.Set(ctx(t), k, "secret", time.Minute); err != nil {
			t.Fatal(err)
		}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			winners  int
			notFound int
			start    = make(chan struct{})
		)
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				v, err := s.GetDel(ctx(t), k)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && v == "secret":
					winners++
				case errors.Is(err, kv.ErrNotFound):
					notFound++
				default:
					t.Errorf("GetDel = %q, %v", v, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if winners != 1 || notFound != callers-1 {
			t.Fatalf("round %d: %d callers got the value, %d got ErrNotFound; want 1 and %d",
				r, winners, notFound, callers-1)
		}
	}
}

func testDel(t *testing.T, s kv.KV, key func(string) string) {
	a, b := key("a"), key("b")
	for _, k := range []string{a, b} {
		if err := s.Set(ctx(t), k, "x", 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Del(ctx(t), a, b, key("missing")); err != nil {
		t.Fatalf("Del: %v", err)
	}
	for _, k := range []string{a, b} {
		if _, err := s.Get(ctx(t), k); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Get(%q) after Del: %v", k, err)
		}
	}
	if err := s.Del(ctx(t)); err != nil {
		t.Fatalf("Del with no keys: %v", err)
	}
}

func testTTL(t *testing.T, s kv.KV, key func(string) string) {
	if ttl, err := s.TTL(ctx(t), key("missing")); err != nil || ttl != 0 {
		t.Fatalf("TTL(missing) = %v, %v; want 0", ttl, err)
	}
	k := key("t")
	if err := s.Set(ctx(t), k, "x", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	ttl, err := s.TTL(ctx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 20*time.Second || ttl > 30*time.Second {
		t.Fatalf("TTL = %v, want close to 30s", ttl)
	}
	if err := s.Set(ctx(t), k, "x", 0); err != nil {
		t.Fatal(err)
	}
	if ttl, err := s.TTL(ctx(t), k); err != nil || ttl != 0 {
		t.Fatalf("TTL without ttl = %v, %v; want 0", ttl, err)
	}
}

func testPing(t *testing.T, s kv.KV, _ func(string) string) {
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testGetMany(t *testing.T, s kv.KV, key func(string) string) {
	a, b, missing := key("a"), key("b"), key("missing")
	if err := s.Set(ctx(t), a, "1", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx(t), b, "two", time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMany(ctx(t), a, missing, b)
	if err != nil || len(got) != 3 || got[0] != "1" || got[1] != "" || got[2] != "two" {
		t.Fatalf("GetMany: %q %v", got, err)
	}
	if got, err := s.GetMany(ctx(t)); err != nil || len(got) != 0 {
		t.Fatalf("GetMany(): %q %v", got, err)
	}
}
