package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
)

// DefaultBeforeSendTimeout bounds one before_send call.
const DefaultBeforeSendTimeout = 2 * time.Second

// Options configure New; Endpoints and Outbox are needed for asynchronous
// events.
type Options struct {
	Endpoints []Endpoint
	Outbox    outbox.Outbox
	// Sender makes the asynchronous calls; default NewSender({}).
	Sender *Sender
	// BeforeSendTimeout bounds the before_send call; default
	// DefaultBeforeSendTimeout.
	BeforeSendTimeout time.Duration
	// FailOpen: a before_send call that times out or fails lets the
	// message through; false: the send answers unavailable.
	FailOpen bool
	Metrics  *Metrics
	Log      *zap.Logger
	Now      func() time.Time
}

// Hooks is the service's face of the webhooks: Emit writes an event to
// the outbox for each endpoint that takes it; BeforeSend asks the
// before_send endpoint. A nil *Hooks does nothing (no webhooks configured).
type Hooks struct {
	eps    []Endpoint
	byName map[string]Endpoint
	before *Endpoint
	ob     outbox.Outbox
	send   *Sender
	bsend  *Sender
	bsTO   time.Duration
	open   bool
	m      *Metrics
	log    *zap.Logger
	now    func() time.Time
	// wake tells the local dispatcher that something was queued.
	wake chan struct{}
}

// New builds the hooks; nil (and no error) when no endpoint is configured.
func New(o Options) (*Hooks, error) {
	if len(o.Endpoints) == 0 {
		return nil, nil
	}
	if o.BeforeSendTimeout <= 0 {
		o.BeforeSendTimeout = DefaultBeforeSendTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Sender == nil {
		o.Sender = NewSender(SenderOptions{Now: o.Now})
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	h := &Hooks{eps: o.Endpoints, byName: map[string]Endpoint{}, ob: o.Outbox, send: o.Sender,
		bsend: NewSender(SenderOptions{Timeout: o.BeforeSendTimeout, Now: o.Now}), bsTO: o.BeforeSendTimeout,
		open: o.FailOpen, m: o.Metrics, log: o.Log, now: o.Now, wake: make(chan struct{}, 1)}
	async := false
	for i, e := range o.Endpoints {
		h.byName[e.Name] = e
		if e.Wants(EventBeforeSend) {
			h.before = &o.Endpoints[i]
		}
		for _, ev := range e.Events {
			async = async || ev != EventBeforeSend
		}
	}
	if async && o.Outbox == nil {
		return nil, errors.New("webhooks: asynchronous events need an outbox")
	}
	return h, nil
}

// Outbox returns the outbox (admin routes).
func (h *Hooks) Outbox() outbox.Outbox {
	if h == nil {
		return nil
	}
	return h.ob
}

// Wants reports whether some endpoint takes event.
func (h *Hooks) Wants(event string) bool {
	if h == nil {
		return false
	}
	if event == EventBeforeSend {
		return h.before != nil
	}
	for _, e := range h.eps {
		if e.Wants(event) {
			return true
		}
	}
	return false
}

// Payload is the body of every call.
type Payload struct {
	// ID is the event's id: the same on every retry and for every
	// endpoint; receivers de-duplicate by it.
	ID        string    `json:"id"`
	Event     string    `json:"event"`
	CreatedAt time.Time `json:"created_at"`
	Data      any       `json:"data"`
}

// Emit writes event (id eventID, data) to the outbox once per endpoint
// that takes it. An error means nothing may have been written: the caller
// fails its operation (so its retry emits again; the id makes that safe).
func (h *Hooks) Emit(ctx context.Context, event, eventID string, data any) error {
	if h == nil || h.ob == nil {
		return nil
	}
	var entries []outbox.Entry
	var body []byte
	for _, e := range h.eps {
		if !e.Wants(event) || event == EventBeforeSend {
			continue
		}
		if body == nil {
			var err error
			body, err = json.Marshal(Payload{ID: eventID, Event: event, CreatedAt: h.now().UTC().Truncate(time.Millisecond), Data: data})
			if err != nil {
				return fmt.Errorf("webhook %s: %w", event, err)
			}
		}
		entries = append(entries, outbox.Entry{ID: eventID + "/" + e.Name, EventID: eventID, Endpoint: e.Name, Event: event, Payload: body})
	}
	if len(entries) == 0 {
		return nil
	}
	if err := h.ob.Enqueue(ctx, entries...); err != nil {
		return fmt.Errorf("webhook %s: %w", event, err)
	}
	h.m.queued.WithLabelValues(event).Add(float64(len(entries)))
	select {
	case h.wake <- struct{}{}:
	default:
	}
	return nil
}

// The before_send actions.
const (
	ActionAllow   = "allow"
	ActionReject  = "reject"
	ActionReplace = "replace"
)

// Verdict is the before_send endpoint's answer: {"action":"allow"},
// {"action":"reject","reason":"..."} or {"action":"replace","body":"..."}.
// An empty 2xx answer allows.
type Verdict struct {
	Action string  `json:"action"`
	Reason string  `json:"reason,omitempty"`
	Body   *string `json:"body,omitempty"`
}

// MaxReason bounds a rejection's reason shown to the sender (bytes).
const MaxReason = 200

// ErrBeforeSend is returned by BeforeSend when the endpoint failed (error,
// timeout, garbage) and the policy is to fail closed.
var ErrBeforeSend = errors.New("before_send endpoint failed")

// BeforeSend asks the before_send endpoint about a message (data is the
// message as the endpoint sees it; id the call's id). Without one it
// allows. When the call fails, it allows under FailOpen and returns
// ErrBeforeSend (wrapped) otherwise.
func (h *Hooks) BeforeSend(ctx context.Context, id string, data any) (Verdict, error) {
	if h == nil || h.before == nil {
		return Verdict{Action: ActionAllow}, nil
	}
	v, err := h.beforeSend(ctx, id, data)
	if err != nil {
		h.m.beforeSend.WithLabelValues("error").Inc()
		h.log.Warn("before_send failed", zap.String("endpoint", h.before.Name), zap.Bool("fail_open", h.open), zap.Error(err))
		if h.open {
			return Verdict{Action: ActionAllow}, nil
		}
		return Verdict{}, fmt.Errorf("%w: %v", ErrBeforeSend, err)
	}
	h.m.beforeSend.WithLabelValues(v.Action).Inc()
	return v, nil
}

func (h *Hooks) beforeSend(ctx context.Context, id string, data any) (Verdict, error) {
	body, err := json.Marshal(Payload{ID: id, Event: EventBeforeSend, CreatedAt: h.now().UTC().Truncate(time.Millisecond), Data: data})
	if err != nil {
		return Verdict{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, h.bsTO)
	defer cancel()
	out, err := h.bsend.Post(ctx, *h.before, id, EventBeforeSend, body)
	if err != nil {
		return Verdict{}, err
	}
	if len(strings.TrimSpace(string(out))) == 0 {
		return Verdict{Action: ActionAllow}, nil
	}
	var v Verdict
	if err := json.Unmarshal(out, &v); err != nil {
		return Verdict{}, fmt.Errorf("answer is not a verdict: %w", err)
	}
	switch v.Action {
	case ActionAllow, "":
		v.Action = ActionAllow
	case ActionReject:
		v.Reason = clip(v.Reason, MaxReason)
	case ActionReplace:
		if v.Body == nil {
			return Verdict{}, errors.New("replace without a body")
		}
	default:
		return Verdict{}, fmt.Errorf("unknown action %q", clip(v.Action, 32))
	}
	return v, nil
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
