// Package mail sends the verification mails: over SMTP with gomail, or, in
// development with no SMTP server configured, into the log.
package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"gopkg.in/gomail.v2"
)

// Sender sends one plain-text mail.
type Sender interface {
	Send(ctx context.Context, to, subject, body string) error
}

// SMTPOptions configures an SMTP sender.
type SMTPOptions struct {
	Addr     string // host:port
	Username string
	Password string
	From     string
	TLS      string // none, starttls (the default) or tls
	Timeout  time.Duration
}

// SMTP sends through an SMTP server with gomail.
type SMTP struct {
	opts   SMTPOptions
	dialer *gomail.Dialer
}

// NewSMTP checks the options and returns a sender.
func NewSMTP(o SMTPOptions) (*SMTP, error) {
	host, portStr, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail: IM_SMTP_ADDR %q: %w", o.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("mail: IM_SMTP_ADDR port %q: %w", portStr, err)
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	d := gomail.NewDialer(host, port, o.Username, o.Password)
	d.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	switch o.TLS {
	case "tls":
		d.SSL = true
	case "none", "starttls", "":
		// gomail upgrades with STARTTLS when the server offers it; with
		// "none" the TLS config is dropped so a plain server is used as is.
		if o.TLS == "none" {
			d.TLSConfig = nil
		}
	default:
		return nil, fmt.Errorf("mail: unknown TLS mode %q", o.TLS)
	}
	return &SMTP{opts: o, dialer: d}, nil
}

// Send dials, sends one message and hangs up. gomail has no context support,
// so the dial is bounded by the options' timeout and ctx is checked first.
func (s *SMTP) Send(ctx context.Context, to, subject, body string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m := gomail.NewMessage()
	m.SetHeader("From", s.opts.From)
	m.SetHeader("To", to)
	m.SetHeader("Subject", subject)
	m.SetBody("text/plain", body)
	done := make(chan error, 1)
	go func() { done <- s.dialer.DialAndSend(m) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("mail: send via %s: %w", s.opts.Addr, err)
		}
		return nil
	case <-time.After(s.opts.Timeout):
		return fmt.Errorf("mail: send via %s: timed out after %s", s.opts.Addr, s.opts.Timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Log "sends" mail by writing it to the log with a warning. It is the
// development mode used when IM_SMTP_ADDR is unset.
type Log struct{ L *zap.Logger }

// Send logs the mail.
func (l Log) Send(_ context.Context, to, subject, body string) error {
	l.L.Warn("SMTP is not configured (IM_SMTP_ADDR unset): mail written to the log instead of sent",
		zap.String("to", to), zap.String("subject", subject), zap.String("body", body))
	return nil
}

// Console prints mail to a terminal in a box, so a developer running the
// standalone server without SMTP can read the verification code.
type Console struct {
	W  io.Writer
	mu sync.Mutex
}

// Send prints the mail.
func (c *Console) Send(_ context.Context, to, subject, body string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	line := strings.Repeat("=", 64)
	_, err := fmt.Fprintf(c.W, "\n%s\n  MAIL (no SMTP configured, IM_SMTP_ADDR unset)\n  To:      %s\n  Subject: %s\n\n  %s\n%s\n\n",
		line, to, subject, strings.ReplaceAll(strings.TrimSpace(body), "\n", "\n  "), line)
	return err
}
