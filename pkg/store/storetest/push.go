package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Push tokens: one (platform, token) belongs to one session; only the
// tokens of live sessions are used.
func pushTokenTests() []test {
	return []test{
		{"RoundTrip", testPushRoundTrip},
		{"DefaultTime", testPushDefaultTime},
		{"Moves", testPushMoves},
		{"Remove", testPushRemove},
		{"RemoveOfSession", testPushRemoveOfSession},
		{"LiveSessionsOnly", testPushLiveOnly},
		{"AnyCharacters", testPushAnyCharacters},
		{"TooManyUsers", testPushTooManyUsers},
		{"PurgeExpired", testPushPurgeExpired},
		{"ConcurrentOneRecord", testPushConcurrent},
	}
}

func newPushToken(user, session, platform, token string, sec int) *store.PushToken {
	return &store.PushToken{UserID: user, SessionID: session, Platform: platform, Token: token, CreatedAt: at(sec)}
}

func addPushToken(t *testing.T, s store.Store, p *store.PushToken) *store.PushToken {
	t.Helper()
	mustNil(t, "AddPushToken "+p.Platform+" "+p.Token, s.AddPushToken(t.Context(), p))
	return p
}

func pushTokensOfSession(t *testing.T, s store.Store, sid string) []store.PushToken {
	t.Helper()
	got, err := s.PushTokensOfSession(t.Context(), sid)
	mustNil(t, "PushTokensOfSession "+sid, err)
	return got
}

// livePushTokens calls PushTokensOf at now (the second at(sec)) and sorts
// the answer by user, platform, token.
func livePushTokens(t *testing.T, s store.Store, sec int, users ...string) []store.PushToken {
	t.Helper()
	got, err := s.PushTokensOf(t.Context(), users, at(sec))
	mustNil(t, "PushTokensOf", err)
	slices.SortFunc(got, func(a, b store.PushToken) int {
		return strings.Compare(a.UserID+"\x00"+a.Platform+"\x00"+a.Token, b.UserID+"\x00"+b.Platform+"\x00"+b.Token)
	})
	return got
}

func testPushRoundTrip(t *testing.T, s store.Store) {
	// Sessions created at second 1 expire at second 61.
	createSession(t, s, newSession("s1", "u1", 1))
	createSession(t, s, newSession("s2", "u1", 1))
	createSession(t, s, newSession("s3", "u2", 1))
	a := addPushToken(t, s, newPushToken("u1", "s1", "fcm", "tok-b", 3))
	sameTime(t, "CreatedAt normalised in place", a.CreatedAt, stored(at(3)))
	b := addPushToken(t, s, newPushToken("u1", "s1", "apns", "tok-a", 2))
	// The same token on another platform is another token.
	c := addPushToken(t, s, newPushToken("u1", "s1", "web", "tok-b", 2))
	d := addPushToken(t, s, newPushToken("u1", "s2", "fcm", "tok-c", 4))
	e := addPushToken(t, s, newPushToken("u2", "s3", "fcm", "tok-d", 5))

	same(t, "tokens of s1, oldest first then platform", pushTokensOfSession(t, s, "s1"), []store.PushToken{*b, *c, *a})
	same(t, "tokens of s2", pushTokensOfSession(t, s, "s2"), []store.PushToken{*d})
	same(t, "tokens of an unknown session", pushTokensOfSession(t, s, "nope"), []store.PushToken{})

	same(t, "live tokens of u1 and u2", livePushTokens(t, s, 30, "u1", "u2", "u3"), []store.PushToken{*b, *a, *d, *c, *e})
	same(t, "live tokens of u2", livePushTokens(t, s, 30, "u2"), []store.PushToken{*e})
	same(t, "live tokens of nobody", livePushTokens(t, s, 30), []store.PushToken{})
}

func testPushDefaultTime(t *testing.T, s store.Store) {
	p := &store.PushToken{UserID: "u1", SessionID: "s1", Platform: "fcm", Token: "t"}
	mustNil(t, "AddPushToken", s.AddPushToken(t.Context(), p))
	if p.CreatedAt.IsZero() {
		t.Fatal("CreatedAt not set")
	}
	got := pushTokensOfSession(t, s, "s1")
	same(t, "stored", got, []store.PushToken{*p})
}

// testPushMoves: registering a token again moves it to the newest session
// and user; it is never listed twice.
func testPushMoves(t *testing.T, s store.Store) {
	createSession(t, s, newSession("s1", "u1", 1))
	createSession(t, s, newSession("s2", "u2", 1))
	addPushToken(t, s, newPushToken("u1", "s1", "fcm", "shared", 2))
	addPushToken(t, s, newPushToken("u1", "s1", "fcm", "kept", 2))
	moved := addPushToken(t, s, newPushToken("u2", "s2", "fcm", "shared", 5))
	same(t, "tokens of s1", len(pushTokensOfSession(t, s, "s1")), 1)
	same(t, "tokens of s2", pushTokensOfSession(t, s, "s2"), []store.PushToken{*moved})
	same(t, "live tokens of u2", livePushTokens(t, s, 30, "u2"), []store.PushToken{*moved})
	if got := livePushTokens(t, s, 30, "u1"); len(got) != 1 || got[0].Token != "kept" {
		t.Fatalf("live tokens of u1: %+v, want only kept", got)
	}
	// The same session registering again: one record, the newer time.
	again := addPushToken(t, s, newPushToken("u2", "s2", "fcm", "shared", 7))
	same(t, "tokens of s2 after a second registration", pushTokensOfSession(t, s, "s2"), []store.PushToken{*again})
}

func testPushRemove(t *testing.T, s store.Store) {
	ctx := t.Context()
	addPushToken(t, s, newPushToken("u1", "s1", "fcm", "t1", 2))
	other := addPushToken(t, s, newPushToken("u2", "s2", "fcm", "t2", 2))
	mustNil(t, "RemovePushToken", s.RemovePushToken(ctx, "u1", "fcm", "t1"))
	wantErr(t, "RemovePushToken again", s.RemovePushToken(ctx, "u1", "fcm", "t1"), store.ErrNotFound)
	wantErr(t, "RemovePushToken of another user", s.RemovePushToken(ctx, "u1", "fcm", "t2"), store.ErrNotFound)
	wantErr(t, "RemovePushToken on another platform", s.RemovePushToken(ctx, "u2", "apns", "t2"), store.ErrNotFound)
	same(t, "tokens of s1", pushTokensOfSession(t, s, "s1"), []store.PushToken{})
	same(t, "the other user's token stays", pushTokensOfSession(t, s, "s2"), []store.PushToken{*other})
}

func testPushRemoveOfSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 3 {
		addPushToken(t, s, newPushToken("u1", "s1", "fcm", fmt.Sprintf("t%d", i), 2))
	}
	kept := addPushToken(t, s, newPushToken("u1", "s2", "fcm", "other", 2))
	mustNil(t, "RemovePushTokensOfSession", s.RemovePushTokensOfSession(ctx, "s1"))
	mustNil(t, "RemovePushTokensOfSession again", s.RemovePushTokensOfSession(ctx, "s1"))
	mustNil(t, "RemovePushTokensOfSession unknown", s.RemovePushTokensOfSession(ctx, "nope"))
	same(t, "tokens of s1", pushTokensOfSession(t, s, "s1"), []store.PushToken{})
	same(t, "tokens of s2", pushTokensOfSession(t, s, "s2"), []store.PushToken{*kept})
}

// testPushLiveOnly: PushTokensOf leaves out the tokens of revoked, expired
// and unknown sessions; PushTokensOfSession still lists them.
func testPushLiveOnly(t *testing.T, s store.Store) {
	ctx := t.Context()
	createSession(t, s, newSession("live", "u1", 1))    // expires at 61
	createSession(t, s, newSession("revoked", "u1", 1)) // revoked below
	createSession(t, s, newSession("old", "u1", -40))   // expires at 20
	live := addPushToken(t, s, newPushToken("u1", "live", "fcm", "a", 2))
	addPushToken(t, s, newPushToken("u1", "revoked", "fcm", "b", 2))
	addPushToken(t, s, newPushToken("u1", "old", "fcm", "c", 2))
	addPushToken(t, s, newPushToken("u1", "unknown", "fcm", "d", 2))
	mustNil(t, "RevokeFamily", s.RevokeFamily(ctx, "revoked"))

	same(t, "live tokens at 19", len(livePushTokens(t, s, 19, "u1")), 2)
	same(t, "live tokens at 30", livePushTokens(t, s, 30, "u1"), []store.PushToken{*live})
	same(t, "live tokens at 61 (the expiry itself)", livePushTokens(t, s, 61, "u1"), []store.PushToken{})
	same(t, "a revoked session's tokens are listed", len(pushTokensOfSession(t, s, "revoked")), 1)
}

// testPushAnyCharacters: a token is kept byte for byte, up to 4096 bytes
// of any text.
func testPushAnyCharacters(t *testing.T, s store.Store) {
	createSession(t, s, newSession("s1", "u1", 1))
	odd := `{"endpoint":"https://push.example/a?b=c&d=%20e","keys":{"p256dh":"+/=","auth":"ü☃'\"\n\t;--"}}`
	long := strings.Repeat("x/+=:é", 4096/7) + strings.Repeat("y", 4096-4096/7*7)
	if len(long) != 4096 {
		t.Fatalf("long token is %d bytes", len(long))
	}
	a := addPushToken(t, s, newPushToken("u1", "s1", "web", odd, 2))
	b := addPushToken(t, s, newPushToken("u1", "s1", "web", long, 3))
	c := addPushToken(t, s, newPushToken("u1", "s1", "apns", strings.ToUpper(odd), 4))
	same(t, "tokens of s1", pushTokensOfSession(t, s, "s1"), []store.PushToken{*a, *b, *c})
	mustNil(t, "RemovePushToken odd", s.RemovePushToken(t.Context(), "u1", "web", odd))
	same(t, "tokens after removing one", pushTokensOfSession(t, s, "s1"), []store.PushToken{*b, *c})
}

func testPushTooManyUsers(t *testing.T, s store.Store) {
	ids := make([]string, store.MaxPushTokenUsers+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%d", i)
	}
	err := callNoPanic(func() error { _, err := s.PushTokensOf(t.Context(), ids, at(1)); return err })
	if err == nil || errors.Is(err, errPanic) {
		t.Fatalf("PushTokensOf with %d ids: %v, want an error", len(ids), err)
	}
	got, err := s.PushTokensOf(t.Context(), ids[:store.MaxPushTokenUsers], at(1))
	mustNil(t, "PushTokensOf with the most ids", err)
	same(t, "tokens", len(got), 0)
}

// testPushPurgeExpired: the expiry sweep deletes the tokens of the
// sessions it deletes.
func testPushPurgeExpired(t *testing.T, s store.Store) {
	createSession(t, s, newSession("old", "u1", -40)) // expires at 20
	createSession(t, s, newSession("live", "u1", 1))  // expires at 61
	addPushToken(t, s, newPushToken("u1", "old", "fcm", "a", 2))
	kept := addPushToken(t, s, newPushToken("u1", "live", "fcm", "b", 2))
	n, err := s.PurgeExpired(t.Context(), at(30), 10)
	mustNil(t, "PurgeExpired", err)
	same(t, "rows deleted", n, 1)
	same(t, "tokens of the purged session", pushTokensOfSession(t, s, "old"), []store.PushToken{})
	same(t, "tokens of the live session", pushTokensOfSession(t, s, "live"), []store.PushToken{*kept})
}

// testPushConcurrent: sessions racing to register one token all succeed,
// and one record stays, in one of their sessions.
func testPushConcurrent(t *testing.T, s store.Store) {
	const n = 8
	errs := Race(n, func(i int) error {
		return s.AddPushToken(t.Context(), newPushToken(fmt.Sprintf("u%d", i), fmt.Sprintf("s%d", i), "fcm", "shared", 2))
	})
	allNil(t, "AddPushToken", errs)
	total := 0
	for i := range n {
		for _, p := range pushTokensOfSession(t, s, fmt.Sprintf("s%d", i)) {
			total++
			same(t, "the record's user", p.UserID, fmt.Sprintf("u%d", i))
		}
	}
	same(t, "records of the token", total, 1)
}
