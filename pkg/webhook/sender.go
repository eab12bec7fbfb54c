package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// MaxResponse bounds the bytes of an endpoint's answer that are read; the
// rest is discarded (a before_send answer must fit).
const MaxResponse = 64 << 10

// DefaultTimeout bounds one asynchronous delivery (connect, send, answer).
const DefaultTimeout = 10 * time.Second

// Sender POSTs signed calls. Redirects are not followed (a 3xx answer is
// a failure: an endpoint that moved must be configured again), each call
// is bounded by its context and the client's timeout, and at most
// MaxResponse bytes of the answer are read.
type Sender struct {
	client *http.Client
	now    func() time.Time
}

// SenderOptions tune NewSender; the zero value is the production setting.
type SenderOptions struct {
	Timeout time.Duration                                                     // whole call; default DefaultTimeout
	Now     func() time.Time                                                  // default time.Now
	Dial    func(ctx context.Context, network, addr string) (net.Conn, error) // tests
}

// NewSender builds a Sender.
func NewSender(o SenderOptions) *Sender {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if o.Dial != nil {
		tr.DialContext = o.Dial
	}
	return &Sender{now: o.Now, client: &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// StatusError is a call answered with a status other than 2xx.
type StatusError struct{ Status int }

func (e *StatusError) Error() string {
	if e.Status >= 300 && e.Status < 400 {
		return "redirect " + strconv.Itoa(e.Status) + " (not followed)"
	}
	return "status " + strconv.Itoa(e.Status)
}

// Post signs body for ep and POSTs it with the event's id and name; it
// returns the start of a 2xx answer's body, or an error (network,
// timeout, StatusError).
func (s *Sender) Post(ctx context.Context, ep Endpoint, id, event string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", ep.Name, err)
	}
	ts := s.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "im-websocket-go-webhook/1")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(ep.Secret, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			return nil, fmt.Errorf("timeout: %w", context.DeadlineExceeded)
		}
		return nil, errors.New(trimURL(err, ep.URL))
	}
	defer resp.Body.Close()
	out, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{Status: resp.StatusCode}
	}
	if rerr != nil {
		return nil, fmt.Errorf("reading the answer: %w", rerr)
	}
	return out, nil
}

// trimURL keeps an error short; the URL never holds credentials (Parse
// refuses them).
func trimURL(err error, _ string) string {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}
