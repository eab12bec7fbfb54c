// Package storetest is the conformance suite of store.Store: every
// implementation runs it from a test of its own,
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openStore(t) })
//	}
//
// The suite talks to the store through the interface only. Where package
// store leaves a detail open, the suite follows the reference
// implementation, pkg/store/mongo: times are stored in UTC truncated to the
// millisecond and the Create and Insert methods normalise the value they
// are given in place; MessagesAfter and MessagesBefore take a limit <= 0 as
// 50 (mongo.DefaultLimit) and lower limits above 1000 (mongo.MaxLimit) to
// it.
//
// Subtests are named Group/Behaviour (Users/DuplicateAccount,
// Concurrent/SetReadSeq, ...) so that go test -run can pick any of them.
// Each one gets a fresh store from the factory. Data sets are kept small:
// some servers (FerretDB) answer every query but a lookup by _id with a
// collection scan.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Query limits of MessagesAfter and MessagesBefore every store must apply,
// as pkg/store/mongo.DefaultLimit and MaxLimit.
const (
	defaultLimit = 50   // used when limit <= 0
	maxLimit     = 1000 // larger limits are lowered to this
)

// Factory returns a new, empty store for one test (a fresh database); it
// registers its own cleanup with t.Cleanup.
type Factory func(t *testing.T) store.Store

// test is one conformance check, run on a fresh store.
type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// group is a set of tests under one subtest name.
type group struct {
	name  string
	tests []test
}

func groups() []group {
	return []group{
		{"Store", storeTests()},
		{"Users", userTests()},
		{"Accounts", accountTests()},
		{"Presence", presenceTests()},
		{"Rooms", roomTests()},
		{"Members", memberTests()},
		{"Friends", friendTests()},
		{"FriendRequests", requestTests()},
		{"Messages", messageTests()},
		{"RichMessages", richMessageTests()},
		{"Reactions", reactionTests()},
		{"Hidden", hiddenTests()},
		{"Mentions", mentionTests()},
		{"Files", fileTests()},
		{"Tokens", tokenTests()},
		{"Sessions", sessionTests()},
		{"Receipts", receiptTests()},
		{"Blocks", blockTests()},
		{"Concurrent", concurrentTests()},
		{"GroupAdmin", groupAdminTests()},
		{"Admin", adminTests()},
		{"Identities", identityTests()},
		{"PushTokens", pushTokenTests()},
	}
}

// Run runs every conformance test as subtests of t.
func Run(t *testing.T, newStore Factory) {
	t.Helper()
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					s := newStore(t)
					if s == nil {
						t.Fatal("factory returned a nil store")
					}
					tc.run(t, s)
				})
			}
		})
	}
}

func storeTests() []test {
	return []test{
		{"Ping", testPing},
		{"NilArguments", testNilArguments},
	}
}

func testPing(t *testing.T, s store.Store) {
	mustNil(t, "Ping", s.Ping(t.Context()))
}

// testNilArguments: every method taking a pointer to store rejects nil with
// an error rather than a panic.
func testNilArguments(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"CreateUser", func() error { return s.CreateUser(ctx, nil) }},
		{"CreateRoom", func() error { return s.CreateRoom(ctx, nil) }},
		{"AddMember", func() error { return s.AddMember(ctx, nil) }},
		{"CreateFriendship", func() error { return s.CreateFriendship(ctx, nil) }},
		{"CreateFriendRequest", func() error { return s.CreateFriendRequest(ctx, nil) }},
		{"InsertMessage", func() error { return s.InsertMessage(ctx, nil) }},
		{"AddPin", func() error { return s.AddPin(ctx, nil) }},
		{"CreateJoinRequest", func() error { return s.CreateJoinRequest(ctx, nil) }},
		{"CreateInviteLink", func() error { return s.CreateInviteLink(ctx, nil) }},
		{"AddInviteUse", func() error { return s.AddInviteUse(ctx, nil) }},
		{"AddReaction", func() error { return s.AddReaction(ctx, nil) }},
		{"CreateFile", func() error { return s.CreateFile(ctx, nil) }},
		{"InsertRefreshToken", func() error { return s.InsertRefreshToken(ctx, nil) }},
		{"CreateSession", func() error { return s.CreateSession(ctx, nil) }},
		{"AddPushToken", func() error { return s.AddPushToken(ctx, nil) }},
	} {
		switch err := callNoPanic(tc.call); {
		case errors.Is(err, errPanic):
			t.Errorf("%s(nil): %v", tc.name, err)
		case err == nil:
			t.Errorf("%s(nil): no error", tc.name)
		}
	}
}

// errPanic is wrapped by the errors callNoPanic makes of a panic.
var errPanic = errors.New("panic")

// callNoPanic calls f and turns a panic into an error wrapping errPanic.
func callNoPanic(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	return f()
}

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// same fails the test unless got and want are deeply equal.
func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// at returns a fixed time with sub-millisecond digits in a non-UTC zone,
// to check that the store normalises times.
func at(sec int) time.Time {
	return time.Date(2024, 5, 6, 7, 8, sec, 123456789, time.FixedZone("X", 3600))
}

// stored returns t as every store keeps it: UTC, truncated to milliseconds.
func stored(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}

// sameTime checks that got is the instant want, in UTC.
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Fatalf("%s: location %v, want UTC", what, got.Location())
	}
}

// recent checks that got is a stored time (UTC, whole milliseconds) taken
// at or after since and not after now.
func recent(t *testing.T, what string, got, since time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Fatalf("%s: location %v, want UTC", what, got.Location())
	}
	if got.Before(since.Truncate(time.Millisecond)) || got.After(time.Now()) {
		t.Fatalf("%s: %v is not between %v and now", what, got, since.Round(0))
	}
	if got.Nanosecond()%int(time.Millisecond) != 0 {
		t.Fatalf("%s: %v is not truncated to milliseconds", what, got)
	}
}

// Race calls f(0) ... f(n-1) from n goroutines released at one instant
// (all of them started and waiting first) and returns their errors. A
// panic in f is returned as an error. The stores' own tests use it too.
func Race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			ready.Done()
			<-start
			errs[i] = callNoPanic(func() error { return f(i) })
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// ExactlyOne checks that one error is nil and every other ErrDuplicate,
// and returns the index of the winner.
func ExactlyOne(t testing.TB, what string, errs []error) int {
	t.Helper()
	return exactlyOne(t, what, errs, store.ErrDuplicate)
}

// allNil checks that every call succeeded.
func allNil(t *testing.T, what string, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: caller %d: %v", what, i, err)
		}
	}
}
