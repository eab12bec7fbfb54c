package mongo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	ctx := context.Background()
	unlockA, err := k.lock(ctx, "a")
	if err != nil {
		t.Fatalf("lock a: %v", err)
	}
	unlockB, err := k.lock(ctx, "b")
	if err != nil {
		t.Fatalf("lock b while a is held: %v", err)
	}
	unlockB()

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := k.lock(short, "a"); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lock a while held, with a deadline: got %v, want ErrUnavailable", err)
	}
	cancelled, cancel2 := context.WithCancel(ctx)
	cancel2()
	if _, err := k.lock(cancelled, "a"); !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("lock a while held, cancelled: got %v, want a plain cancellation", err)
	}

	got := make(chan struct{})
	go func() {
		unlock, err := k.lock(ctx, "a")
		if err != nil {
			t.Errorf("waiting lock a: %v", err)
			close(got)
			return
		}
		close(got)
		unlock()
	}()
	select {
	case <-got:
		t.Fatal("lock a taken twice")
	case <-time.After(20 * time.Millisecond):
	}
	unlockA()
	<-got
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		k.mu.Lock()
		n := len(k.m)
		k.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mutexes left after every unlock", n)
		}
	}
}
