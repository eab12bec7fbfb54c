// Package bustest holds behavioural tests that every bus.Bus implementation
// must pass, and a recording Handler for tests of code using a bus.
package bustest

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

// Wait is the longest a test waits for a delivery.
const Wait = 15 * time.Second

// Msg is one delivered message.
type Msg struct {
	Channel string
	Payload string
}

// Recorder is a bus.Handler that records what it gets. It also checks that
// calls never overlap (a bus calls its Handler from one goroutine).
type Recorder struct {
	mu      sync.Mutex
	msgs    []Msg
	resubs  int
	chans   [][]string    // the channels of each HandleResubscribedChannels call
	changed chan struct{} // closed and replaced on every call
	inCall  atomic.Int32
	overlap atomic.Bool
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{changed: make(chan struct{})} }

func (r *Recorder) enter() {
	if r.inCall.Add(1) != 1 {
		r.overlap.Store(true)
	}
}

func (r *Recorder) leave() { r.inCall.Add(-1) }

// HandleMessage records a copy of the message.
func (r *Recorder) HandleMessage(channel string, payload []byte) {
	r.enter()
	defer r.leave()
	r.mu.Lock()
	r.msgs = append(r.msgs, Msg{channel, string(payload)})
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// HandleResubscribed counts the call.
func (r *Recorder) HandleResubscribed() {
	r.enter()
	defer r.leave()
	r.mu.Lock()
	r.resubs++
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// HandleResubscribedChannels counts the call (as a resubscribe) and records
// the channels.
func (r *Recorder) HandleResubscribedChannels(channels []string) {
	r.enter()
	defer r.leave()
	r.mu.Lock()
	r.resubs++
	r.chans = append(r.chans, append([]string(nil), channels...))
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// ResubscribedChannels returns the channels named by the
// HandleResubscribedChannels calls so far (a bus that calls
// HandleResubscribed names none).
func (r *Recorder) ResubscribedChannels() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, cs := range r.chans {
		for _, c := range cs {
			out[c]++
		}
	}
	return out
}

// Messages returns a copy of the messages received so far.
func (r *Recorder) Messages() []Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Msg(nil), r.msgs...)
}

// Resubscribed returns how many times HandleResubscribed or
// HandleResubscribedChannels was called.
func (r *Recorder) Resubscribed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resubs
}

// Overlapped reports whether two Handler calls ever ran at the same time.
func (r *Recorder) Overlapped() bool { return r.overlap.Load() }

// WaitUntil waits until cond, called with the messages and the resubscribe
// count under the recorder's lock, returns true. It reports false after
// timeout.
func (r *Recorder) WaitUntil(timeout time.Duration, cond func(msgs []Msg, resubs int) bool) bool {
	return Await(timeout, func() (bool, <-chan struct{}) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return cond(r.msgs, r.resubs), r.changed
	})
}

// Await waits until check reports true; check also returns a channel that
// is closed at the next change of what it looks at. It reports false after
// timeout.
func Await(timeout time.Duration, check func() (ok bool, changed <-chan struct{})) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ok, ch := check()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// WaitFor waits for a message with this channel and payload and fails the
// test after Wait.
func (r *Recorder) WaitFor(t testing.TB, channel, payload string) {
	t.Helper()
	if !r.WaitUntil(Wait, func(msgs []Msg, _ int) bool {
		for _, m := range msgs {
			if m.Channel == channel && m.Payload == payload {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no message %q on %q within %v; got %d messages", payload, channel, Wait, len(r.Messages()))
	}
}

// Cluster returns a function that makes the buses of one deployment: every
// bus it makes reaches the others, like nodes sharing one Redis. The buses
// are closed at the test's end.
type Cluster func(t *testing.T) func(h bus.Handler) bus.Bus

// Run runs the conformance tests. newCluster is called once per subtest;
// channel names are unique to each subtest.
func Run(t *testing.T, newCluster Cluster) {
	tests := []struct {
		name string
		fn   func(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string)
	}{
		{"CrossNode", testCrossNode},
		{"OwnPublish", testOwnPublish},
		{"FanOut", testFanOut},
		{"ManyChannels", testManyChannels},
		{"Unsubscribe", testUnsubscribe},
		{"SubscribeAgain", testSubscribeAgain},
		{"SubscribeTwice", testSubscribeTwice},
		{"Order", testOrder},
		{"Payload", testPayload},
		{"Close", testClose},
		{"EmptyLists", testEmptyLists},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := testenv.UniqueName("bustest")
			tc.fn(t, newCluster(t), func(s string) string { return bus.RoomChannel(prefix + "-" + s) })
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), Wait)
	t.Cleanup(cancel)
	return c
}

func subscribe(t *testing.T, b bus.Bus, channels ...string) {
	t.Helper()
	if err := b.Subscribe(ctx(t), channels...); err != nil {
		t.Fatalf("Subscribe(%v): %v", channels, err)
	}
}

func publish(t *testing.T, b bus.Bus, channel, payload string) {
	t.Helper()
	if err := b.Publish(ctx(t), channel, []byte(payload)); err != nil {
		t.Fatalf("Publish(%q): %v", channel, err)
	}
}

// healthy checks what every test expects of its recorders at the end.
func healthy(t *testing.T, rs ...*Recorder) {
	t.Helper()
	for i, r := range rs {
		if r.Overlapped() {
			t.Errorf("recorder %d: Handler calls overlapped", i)
		}
		if n := r.Resubscribed(); n != 0 {
			t.Errorf("recorder %d: HandleResubscribed called %d times without a reconnect", i, n)
		}
	}
}

func testCrossNode(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string) {
	ra, rb := NewRecorder(), NewRecorder()
	a, b := node(ra), node(rb)
	room, marker := ch("room"), ch("marker")
	subscribe(t, b, room)
	subscribe(t, a, marker)
	publish(t, a, room, "hello")
	rb.WaitFor(t, room, "hello")
	// a is not subscribed to room: after its own marker arrives it must
	// have seen nothing else.
	publish(t, b, marker, "m")
	ra.WaitFor(t, marker, "m")
	if got := ra.Messages(); len(got) != 1 {
		t.Fatalf("node A got %v, want only the marker", got)
	}
	if got := rb.Messages(); len(got) != 1 {
		t.Fatalf("node B got %v, want one message", got)
	}
	healthy(t, ra, rb)
}

func testOwnPublish(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string) {
	r := NewRecorder()
	a := node(r)
	c := ch("self")
	subscribe(t, a, c)
	publish(t, a, c, "me")
	r.WaitFor(t, c, "me")
	healthy(t, r)
}

func testFanOut(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string) {
	pub := node(nil)
	c := ch("fan")
	rs := make([]*Recorder, 3)
	for i := range rs {
		rs[i] = NewRecorder()
		subscribe(t, node(rs[i]), c)
	}
	publish(t, pub, c, "all")
	for _, r := range rs {
		r.WaitFor(t, c, "all")
	}
	healthy(t, rs...)
}

func testManyChannels(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string) {
	r := NewRecorder()
	a, b := node(nil), node(r)
	const n = 50
	chans := make([]string, n)
	for i := range chans {
		chans[i] = ch("c" + strconv.Itoa(i))
	}
	subscribe(t, b, chans...)
	for i, c := range chans {
		publish(t, a, c, strconv.Itoa(i))
	}
	if !r.WaitUntil(Wait, func(msgs []Msg, _ int) bool { return len(msgs) >= n }) {
		t.Fatalf("got %d of %d messages", len(r.Messages()), n)
	}
	// Order is promised per channel only: on a Redis Cluster the
	// channels of different slots come through different connections.
	got := map[string]string{}
	for _, m := range r.Messages() {
		if _, dup := got[m.Channel]; dup {
			t.Fatalf("%q delivered twice", m.Channel)
		}
		got[m.Channel] = m.Payload
	}
	for i, c := range chans {
		if got[c] != strconv.Itoa(i) {
			t.Fatalf("%q got %q, want %q", c, got[c], strconv.Itoa(i))
		}
	}
	healthy(t, r)
}

func testUnsubscribe(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string) {
	r := NewRecorder()
	a, b := node(nil), node(r)
	gone, kept := ch("gone"), ch("kept")
	subscribe(t, b, gone, kept)
	publish(t, a, gone, "before")
	r.WaitFor(t, gone, "before")
	if err := b.Unsubscribe(ctx(t), gone); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	for i := 0; i < 10; i++ {
		publish(t, a, gone, "after"+strconv.Itoa(i))
	}
	publish(t, a, kept, "marker")
	r.WaitFor(t, kept, "marker")
	for _, m := range r.Messages() {
		if m.Channel == gone && m.Payload != "before" {
			t.Fatalf("got %q on %q after Unsubscribe", m.Payload, gone)
		}
	}
	// Unsubscribing something never subscribed is harmless.
	if err := b.Unsubscribe(ctx(t), ch("never"), gone); err != nil {
		t.Fatalf("Unsubscribe of unknown channels: %v", err)
	}
	publish(t, a, kept, "still")
	r.WaitFor(t, kept, "still")
	healthy(t, r)
}

func testSubscribeAgain(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string) {
	r := NewRecorder()
	a, b := node(nil), node(r)
	c := ch("again")
	for i := 0; i < 3; i++ {
		subscribe(t, b, c)
		publish(t, a, c, "round"+strconv.Itoa(i))
		r.WaitFor(t, c, "round"+strconv.Itoa(i))
		if err := b.Unsubscribe(ctx(t), c); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(r.Messages()); got != 3 {
		t.Fatalf("got %d messages, want 3", got)
	}
	healthy(t, r)
}

func testSubscribeTwice(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string) {
	r := NewRecorder()
	a, b := node(nil), node(r)
	c, marker := ch("twice"), ch("marker")
	subscribe(t, b, c, marker)
	subscribe(t, b, c)
	publish(t, a, c, "once")
	publish(t, a, marker, "m")
	r.WaitFor(t, marker, "m")
	if got := r.Messages(); len(got) != 2 {
		t.Fatalf("got %v, want the message once and the marker", got)
	}
	healthy(t, r)
}

func testOrder(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string) {
	r := NewRecorder()
	a, b := node(nil), node(r)
	c := ch("order")
	subscribe(t, b, c)
	const n = 1000
	for i := 0; i < n; i++ {
		publish(t, a, c, strconv.Itoa(i))
	}
	if !r.WaitUntil(Wait, func(msgs []Msg, _ int) bool { return len(msgs) >= n }) {
		t.Fatalf("got %d of %d messages", len(r.Messages()), n)
	}
	for i, m := range r.Messages() {
		if m.Payload != strconv.Itoa(i) {
			t.Fatalf("message %d has payload %q: order not kept", i, m.Payload)
		}
	}
	healthy(t, r)
}

func testPayload(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string) {
	r := NewRecorder()
	a, b := node(nil), node(r)
	c := ch("bytes")
	subscribe(t, b, c)
	binary := []byte{0, 1, 2, 0xff, '\n', 0}
	big := bytes.Repeat([]byte("x"), 64<<10)
	buf := append([]byte(nil), binary...)
	for _, p := range [][]byte{buf, {}, big} {
		if err := a.Publish(ctx(t), c, p); err != nil {
			t.Fatal(err)
		}
	}
	// The publisher may reuse its buffer once Publish returned.
	for i := range buf {
		buf[i] = 'z'
	}
	if !r.WaitUntil(Wait, func(msgs []Msg, _ int) bool { return len(msgs) >= 3 }) {
		t.Fatalf("got %d of 3 messages", len(r.Messages()))
	}
	got := r.Messages()
	for i, want := range [][]byte{binary, {}, big} {
		if got[i].Payload != string(want) {
			t.Fatalf("payload %d: got %d bytes %q..., want %d bytes", i, len(got[i].Payload), trim(got[i].Payload), len(want))
		}
	}
	healthy(t, r)
}

func trim(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

func testClose(t *testing.T, node func(bus.Handler) bus.Bus, ch func(string) string) {
	ra, rb := NewRecorder(), NewRecorder()
	a, b := node(ra), node(rb)
	c, marker := ch("close"), ch("marker")
	subscribe(t, b, c)
	subscribe(t, a, marker)
	publish(t, a, c, "one")
	rb.WaitFor(t, c, "one")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.Publish(ctx(t), c, []byte("x")); err == nil {
		t.Error("Publish on a closed bus succeeded")
	}
	if err := b.Subscribe(ctx(t), c); err == nil {
		t.Error("Subscribe on a closed bus succeeded")
	}
	if err := b.Unsubscribe(ctx(t), c); err == nil {
		t.Error("Unsubscribe on a closed bus succeeded")
	}
	// Other nodes carry on; the closed one hears nothing more.
	publish(t, a, c, "two")
	publish(t, a, marker, "m")
	ra.WaitFor(t, marker, "m")
	if got := rb.Messages(); len(got) != 1 {
		t.Fatalf("closed bus delivered %v", got)
	}
	healthy(t, ra, rb)
}

func testEmptyLists(t *testing.T, node func(bus.Handler) bus.Bus, _ func(string) string) {
	r := NewRecorder()
	b := node(r)
	if err := b.Subscribe(ctx(t)); err != nil {
		t.Fatalf("Subscribe(): %v", err)
	}
	if err := b.Unsubscribe(ctx(t)); err != nil {
		t.Fatalf("Unsubscribe(): %v", err)
	}
	healthy(t, r)
}
