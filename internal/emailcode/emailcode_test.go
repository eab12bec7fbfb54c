package emailcode_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/emailcode"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/memkv"
)

// inbox keeps the last mail body per address.
type inbox struct {
	mu   sync.Mutex
	last map[string]string
}

func (b *inbox) Send(_ context.Context, to, subject, body string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last[to] = subject + "\n" + body
	return nil
}

var codeRE = regexp.MustCompile(`\b\d{6}\b`)

func (b *inbox) code(t *testing.T, to string) (code, mail string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	mail = b.last[to]
	code = codeRE.FindString(mail)
	if code == "" {
		t.Fatalf("no code in %q", mail)
	}
	return code, mail
}

func TestScopesAreApart(t *testing.T) {
	ctx := context.Background()
	kv := memkv.New()
	defer kv.Close()
	box := &inbox{last: map[string]string{}}
	reg := emailcode.New(kv, box, emailcode.Options{})
	reset := reg.Scoped("pr", "Reset your password", "reset your password")
	const addr = "ann@example.com"

	if err := reset.Request(ctx, addr, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	code, mail := box.code(t, addr)
	if !strings.HasPrefix(mail, "Reset your password\n") || !strings.Contains(mail, "Use it to reset your password.") {
		t.Fatalf("reset mail: %q", mail)
	}
	// A reset code is no registration code...
	if err := reg.Check(ctx, addr, code); err != emailcode.ErrBadCode {
		t.Fatalf("reset code in the registration scope: %v", err)
	}
	// ...and the registration scope's limits are its own: a registration
	// code can be asked for right after a reset code (1 a minute each).
	if err := reg.Request(ctx, addr, "192.0.2.1"); err != nil {
		t.Fatalf("registration code after a reset code: %v", err)
	}
	if err := reset.Request(ctx, addr, "192.0.2.1"); err == nil {
		t.Fatal("a second reset code within the minute was sent")
	}
	regCode, _ := box.code(t, addr)
	if err := reset.Check(ctx, addr, regCode); err != emailcode.ErrBadCode && regCode != code {
		t.Fatalf("registration code in the reset scope: %v", err)
	}
	if err := reset.Check(ctx, addr, code); err != nil {
		t.Fatalf("the reset code itself: %v", err)
	}
	if err := reset.Consume(ctx, addr, code); err != nil {
		t.Fatal(err)
	}
	if err := reg.Check(ctx, addr, regCode); err != nil {
		t.Fatalf("registration code after the reset code was used: %v", err)
	}
}

func TestLimitWithoutSend(t *testing.T) {
	ctx := context.Background()
	kv := memkv.New()
	defer kv.Close()
	box := &inbox{last: map[string]string{}}
	c := emailcode.New(kv, box, emailcode.Options{})
	if err := c.Limit(ctx, "x@example.com", "ip"); err != nil {
		t.Fatal(err)
	}
	if err := c.Limit(ctx, "x@example.com", "ip"); err == nil {
		t.Fatal("second request within the minute passed the limit")
	}
	if len(box.last) != 0 {
		t.Fatal("Limit sent a mail")
	}
}
