// Package emailcode issues and checks the 6-digit codes that prove a person
// owns an email address. Codes live hashed in a kv.KV (Redis across nodes)
// with a TTL; they are single-use, allow a bounded number of wrong tries,
// and requests are rate limited per address and per client IP.
package emailcode

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/mail"
	"github.com/im-websocket-go/im-websocket-go/internal/ratelimit"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Options are the limits; the zero value gives the defaults.
type Options struct {
	TTL          time.Duration  // life of a code; default 10 minutes
	MaxTries     int64          // wrong tries before the code is burnt; default 5
	PerEmail     ratelimit.Rule // default 1 a minute
	PerEmailHour ratelimit.Rule // default 6 an hour
	PerIP        ratelimit.Rule // default 30 an hour
	Subject      string
	// Purpose names what the code is for in its mail ("verify your
	// email address"); default: no purpose line.
	Purpose string
	Rand    io.Reader // default crypto/rand
}

func (o *Options) defaults() {
	if o.TTL <= 0 {
		o.TTL = 10 * time.Minute
	}
	if o.MaxTries <= 0 {
		o.MaxTries = 5
	}
	if o.PerEmail.N == 0 {
		o.PerEmail = ratelimit.Rule{N: 1, Window: time.Minute}
	}
	if o.PerEmailHour.N == 0 {
		o.PerEmailHour = ratelimit.Rule{N: 6, Window: time.Hour}
	}
	if o.PerIP.N == 0 {
		o.PerIP = ratelimit.Rule{N: 30, Window: time.Hour}
	}
	if o.Subject == "" {
		o.Subject = "Your im-websocket-go verification code"
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}

// Codes issues and verifies codes.
type Codes struct {
	kv     kv.KV
	lim    *ratelimit.Limiter
	mail   mail.Sender
	opts   Options
	prefix string // of the kv keys: one per scope
}

// New returns a Codes. The limiter's counters share store with the codes.
func New(store kv.KV, sender mail.Sender, opts Options) *Codes {
	opts.defaults()
	return &Codes{kv: store, lim: &ratelimit.Limiter{KV: store, Prefix: "rl:ec:"}, mail: sender, opts: opts, prefix: "ec:"}
}

// Scoped returns Codes for another purpose (a password reset, an email
// change): the same limits and mail sender, with its own codes, tries and
// rate-limit counters, so a code of one purpose never passes for another.
// scope is a short name of letters; subject and purpose word its mail.
func (c *Codes) Scoped(scope, subject, purpose string) *Codes {
	d := *c
	d.opts.Subject, d.opts.Purpose = subject, purpose
	d.prefix = "ec:" + scope + ":"
	d.lim = &ratelimit.Limiter{KV: c.kv, Prefix: "rl:ec:" + scope + ":"}
	return &d
}

func (c *Codes) codeKey(email string) string { return c.prefix + "code:" + email }
func (c *Codes) tryKey(email string) string  { return c.prefix + "try:" + email }

func hashCode(email, code string) string {
	h := sha256.Sum256([]byte(email + "\x00" + code))
	return hex.EncodeToString(h[:])
}

// Request sends a fresh code to email (already normalised), replacing any
// earlier one. ip is the client's address, for the per-IP limit.
func (c *Codes) Request(ctx context.Context, email, ip string) error {
	if err := c.Limit(ctx, email, ip); err != nil {
		return err
	}
	return c.Send(ctx, email)
}

// Limit counts a request for a code to email from ip against the rate
// limits, and answers rate_limited past them. Request calls it; a caller
// that must answer alike whether or not it sends (a password reset for an
// unknown address) calls Limit for every request and Send only for some.
func (c *Codes) Limit(ctx context.Context, email, ip string) error {
	for _, l := range []struct {
		key  string
		rule ratelimit.Rule
	}{
		{"ip:" + ip, c.opts.PerIP},
		{"m:" + email, c.opts.PerEmail},
		{"h:" + email, c.opts.PerEmailHour},
	} {
		ok, retry, err := c.lim.Hit(ctx, l.key, l.rule)
		if err != nil {
			return unavailable(err)
		}
		if !ok {
			return protocol.RateLimited(retry)
		}
	}
	return nil
}

// Send mails a fresh code to email, replacing any earlier one, without
// counting it against the limits (see Limit).
func (c *Codes) Send(ctx context.Context, email string) error {
	n, err := rand.Int(c.opts.Rand, big.NewInt(1_000_000))
	if err != nil {
		return fmt.Errorf("emailcode: random: %w", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	if err := c.kv.Del(ctx, c.tryKey(email)); err != nil {
		return unavailable(err)
	}
	if err := c.kv.Set(ctx, c.codeKey(email), hashCode(email, code), c.opts.TTL); err != nil {
		return unavailable(err)
	}
	purpose := ""
	if c.opts.Purpose != "" {
		purpose = "Use it to " + c.opts.Purpose + ".\n"
	}
	body := fmt.Sprintf("Your verification code is %s\n%s\nIt expires in %d minutes. If you did not ask for it, ignore this mail.\n",
		code, purpose, int(c.opts.TTL/time.Minute))
	if err := c.mail.Send(ctx, email, c.opts.Subject, body); err != nil {
		_ = c.kv.Del(context.WithoutCancel(ctx), c.codeKey(email))
		return &protocol.Error{Code: protocol.CodeUnavailable, Message: "the verification mail could not be sent; try again later", Cause: err}
	}
	return nil
}

// ErrBadCode is the answer to a wrong, expired, used or burnt code.
var ErrBadCode = protocol.Errorf(protocol.CodeInvalidArgument, "the verification code is wrong or has expired")

// Check verifies code for email without using it up. Every try is counted
// before the comparison, so parallel guesses get at most MaxTries
// comparisons between them; past that every try fails until a new code is
// requested (which resets the count).
func (c *Codes) Check(ctx context.Context, email, code string) error {
	tries, err := c.kv.Incr(ctx, c.tryKey(email), c.opts.TTL)
	if err != nil {
		return unavailable(err)
	}
	if tries > c.opts.MaxTries {
		return ErrBadCode
	}
	stored, err := c.kv.Get(ctx, c.codeKey(email))
	if errors.Is(err, kv.ErrNotFound) {
		return ErrBadCode
	}
	if err != nil {
		return unavailable(err)
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(hashCode(email, code))) != 1 {
		return ErrBadCode
	}
	return nil
}

// Consume uses up a code that Check accepted: of concurrent callers with
// the right code, exactly one succeeds. It does not count a try, so callers
// must Check first (registration does).
func (c *Codes) Consume(ctx context.Context, email, code string) error {
	stored, err := c.kv.GetDel(ctx, c.codeKey(email))
	if errors.Is(err, kv.ErrNotFound) {
		return ErrBadCode
	}
	if err != nil {
		return unavailable(err)
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(hashCode(email, code))) != 1 {
		// A new code replaced it since Check: burn that one too.
		return ErrBadCode
	}
	_ = c.kv.Del(ctx, c.tryKey(email))
	return nil
}

func unavailable(err error) error { return protocol.Unavailable(err) }
