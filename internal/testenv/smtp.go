package testenv

import (
	"bytes"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one message received by the SMTP sink.
type Mail struct {
	From string
	To   []string
	Data string
}

// SMTPSink is a real SMTP server on loopback that records what it gets.
type SMTPSink struct {
	Addr string

	srv   *smtp.Server
	mu    sync.Mutex
	cond  *sync.Cond
	mails []Mail
}

// NewSMTPSink starts a sink, stopped at the test's end.
func NewSMTPSink(tb testing.TB) *SMTPSink {
	tb.Helper()
	s := &SMTPSink{}
	s.cond = sync.NewCond(&s.mu)
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{sink: s}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testenv: smtp listen: %v", err)
	}
	s.Addr = l.Addr().String()
	go func() { _ = s.srv.Serve(l) }()
	logf("started SMTP sink on %s", s.Addr)
	tb.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// Mails returns a copy of everything received so far.
func (s *SMTPSink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// WaitFor waits for the first mail to rcpt that arrived after the first
// `skip` mails to that address.
func (s *SMTPSink) WaitFor(rcpt string, skip int, timeout time.Duration) (Mail, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		n := 0
		for _, m := range s.mails {
			for _, to := range m.To {
				if strings.EqualFold(to, rcpt) {
					if n == skip {
						return m, nil
					}
					n++
				}
			}
		}
		if time.Now().After(deadline) {
			return Mail{}, errors.New("testenv: no mail for " + rcpt)
		}
		s.cond.Wait()
	}
}

// Count returns how many mails were sent to rcpt.
func (s *SMTPSink) Count(rcpt string) int {
	n := 0
	for _, m := range s.Mails() {
		for _, to := range m.To {
			if strings.EqualFold(to, rcpt) {
				n++
			}
		}
	}
	return n
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// Code extracts the 6-digit code from a mail.
func (m Mail) Code() string {
	if c := codeRE.FindStringSubmatch(m.Data); c != nil {
		return c[1]
	}
	return ""
}

type smtpSession struct {
	sink *SMTPSink
	cur  Mail
}

func (x *smtpSession) Reset()        { x.cur = Mail{} }
func (x *smtpSession) Logout() error { return nil }
func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	x.cur.From = from
	return nil
}
func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.cur.To = append(x.cur.To, to)
	return nil
}
func (x *smtpSession) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, io.LimitReader(r, 1<<20)); err != nil {
		return err
	}
	x.cur.Data = b.String()
	s := x.sink
	s.mu.Lock()
	s.mails = append(s.mails, x.cur)
	s.cond.Broadcast()
	s.mu.Unlock()
	x.cur = Mail{}
	return nil
}
