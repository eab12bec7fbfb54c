package membus

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/bustest"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

func TestConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) func(bus.Handler) bus.Bus {
		hub := NewHub()
		return func(h bus.Handler) bus.Bus {
			b := hub.Bus(h)
			t.Cleanup(func() { _ = b.Close() })
			return b
		}
	})
}

// blocker is a Handler that blocks in HandleMessage until released.
type blocker struct {
	*bustest.Recorder
	entered chan struct{}
	release chan struct{}
}

func (b *blocker) HandleMessage(channel string, payload []byte) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	b.Recorder.HandleMessage(channel, payload)
}

func TestSlowSubscriberDropsAndNeverBlocksPublish(t *testing.T) {
	ctx := context.Background()
	hub := NewHub()
	slow := &blocker{Recorder: bustest.NewRecorder(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	fast := bustest.NewRecorder()
	sb := New(slow, Options{QueueSize: 2, Hub: hub})
	defer sb.Close()
	fb := hub.Bus(fast)
	defer fb.Close()
	pub := hub.Bus(nil)
	defer pub.Close()
	const c = "ch"
	for _, b := range []*Bus{sb, fb} {
		if err := b.Subscribe(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish(ctx, c, []byte("0")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-slow.entered:
	case <-time.After(bustest.Wait):
		t.Fatal("handler never called")
	}
	// The handler is stuck on "0": two more fit in the queue, 7 are dropped.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i < 10; i++ {
			if err := pub.Publish(ctx, c, []byte(strconv.Itoa(i))); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(bustest.Wait):
		t.Fatal("Publish blocked on a slow subscriber")
	}
	if got := sb.Dropped(); got != 7 {
		t.Fatalf("Dropped() = %d, want 7", got)
	}
	// The fast subscriber lost nothing.
	fast.WaitFor(t, c, "9")
	if n := len(fast.Messages()); n != 10 || fb.Dropped() != 0 {
		t.Fatalf("fast subscriber got %d messages, dropped %d", n, fb.Dropped())
	}
	close(slow.release)
	if !slow.WaitUntil(bustest.Wait, func(m []bustest.Msg, _ int) bool { return len(m) == 3 }) {
		t.Fatalf("slow subscriber got %v, want 0, 1, 2", slow.Messages())
	}
	for i, m := range slow.Messages() {
		if m.Payload != strconv.Itoa(i) {
			t.Fatalf("slow subscriber message %d = %q", i, m.Payload)
		}
	}
}

// keeper records the payload slices it is handed.
type keeper struct {
	got chan []byte
}

func (k keeper) HandleMessage(_ string, p []byte) { k.got <- p }
func (k keeper) HandleResubscribed()              {}

func TestPayloadCopiedOnceAndShared(t *testing.T) {
	ctx := context.Background()
	hub := NewHub()
	k1, k2 := keeper{make(chan []byte, 1)}, keeper{make(chan []byte, 1)}
	b1, b2 := hub.Bus(k1), hub.Bus(k2)
	defer b1.Close()
	defer b2.Close()
	for _, b := range []*Bus{b1, b2} {
		if err := b.Subscribe(ctx, "c"); err != nil {
			t.Fatal(err)
		}
	}
	buf := []byte("data")
	if err := b1.Publish(ctx, "c", buf); err != nil {
		t.Fatal(err)
	}
	var p1, p2 []byte
	for _, p := range []*[]byte{&p1, &p2} {
		select {
		case *p = <-k1.got:
		case *p = <-k2.got:
		case <-time.After(bustest.Wait):
			t.Fatal("no delivery")
		}
	}
	if &p1[0] == &buf[0] {
		t.Fatal("handler got the publisher's buffer")
	}
	if &p1[0] != &p2[0] {
		t.Fatal("subscribers got separate copies; want one shared copy")
	}
	if string(p1) != "data" {
		t.Fatalf("payload %q", p1)
	}
}

func TestUnsubscribeDiscardsQueued(t *testing.T) {
	ctx := context.Background()
	slow := &blocker{Recorder: bustest.NewRecorder(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	b := New(slow, Options{})
	defer b.Close()
	if err := b.Subscribe(ctx, "a", "b"); err != nil {
		t.Fatal(err)
	}
	_ = b.Publish(ctx, "a", []byte("first"))
	<-slow.entered
	_ = b.Publish(ctx, "a", []byte("queued"))
	_ = b.Publish(ctx, "b", []byte("marker"))
	if err := b.Unsubscribe(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// Re-subscribing must not revive what was queued for the old one.
	if err := b.Subscribe(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	close(slow.release)
	slow.WaitFor(t, "b", "marker")
	got := slow.Messages()
	if len(got) != 2 || got[0].Payload != "first" {
		t.Fatalf("got %v, want first and marker only", got)
	}
}

func TestStandaloneIsPrivate(t *testing.T) {
	ctx := context.Background()
	r := bustest.NewRecorder()
	a, b := New(r, Options{}), New(nil, Options{})
	defer a.Close()
	defer b.Close()
	if err := a.Subscribe(ctx, "c", "m"); err != nil {
		t.Fatal(err)
	}
	_ = b.Publish(ctx, "c", []byte("other hub"))
	_ = a.Publish(ctx, "m", []byte("mine"))
	r.WaitFor(t, "m", "mine")
	if got := r.Messages(); len(got) != 1 {
		t.Fatalf("got %v: buses made by New without a Hub must not share one", got)
	}
}

func TestCanceledContext(t *testing.T) {
	b := New(nil, Options{})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Publish(ctx, "c", nil); err == nil {
		t.Error("Publish with a canceled ctx succeeded")
	}
	if err := b.Subscribe(ctx, "c"); err == nil {
		t.Error("Subscribe with a canceled ctx succeeded")
	}
}

func TestHandlerMaySubscribe(t *testing.T) {
	ctx := context.Background()
	r := bustest.NewRecorder()
	var b *Bus
	h := handlerFunc(func(c string, p []byte) {
		if c == "user" {
			if err := b.Subscribe(ctx, string(p)); err != nil {
				t.Error(err)
			}
			if err := b.Publish(ctx, string(p), []byte("joined")); err != nil {
				t.Error(err)
			}
		}
		r.HandleMessage(c, p)
	})
	b = New(h, Options{})
	defer b.Close()
	if err := b.Subscribe(ctx, "user"); err != nil {
		t.Fatal(err)
	}
	_ = b.Publish(ctx, "user", []byte("room"))
	r.WaitFor(t, "room", "joined")
}

type handlerFunc func(string, []byte)

func (f handlerFunc) HandleMessage(c string, p []byte) { f(c, p) }
func (f handlerFunc) HandleResubscribed()              {}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	hub := NewHub()
	for i := 0; i < 20; i++ {
		b := hub.Bus(bustest.NewRecorder())
		_ = b.Subscribe(context.Background(), "c")
		_ = b.Publish(context.Background(), "c", []byte("x"))
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(hub.subs); n != 0 {
		t.Fatalf("hub still lists %d channels after every bus closed", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
