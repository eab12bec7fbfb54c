// Package webhook calls the host application's HTTP endpoints: the
// synchronous before_send check and the asynchronous events (after_send,
// account and social changes), which go through a durable outbox
// (pkg/outbox) and a Dispatcher that retries with exponential backoff and
// jitter, then dead-letters. Every call is signed (Sign, Verify) so the
// receiver can check it came from this server and is fresh.
package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// The events an endpoint may subscribe to.
const (
	EventBeforeSend     = "before_send"
	EventAfterSend      = "after_send"
	EventUserRegistered = "user.registered"
	EventUserLoggedIn   = "user.logged_in"
	EventUserDeleted    = "user.deleted"
	EventFriendAdded    = "friend.added"
	EventFriendRemoved  = "friend.removed"
	EventGroupCreated   = "group.created"
	EventGroupMembers   = "group.members_changed"
	EventGroupDeleted   = "group.deleted"
)

// Events lists every event name (before_send is synchronous, the rest go
// through the outbox).
var Events = []string{EventBeforeSend, EventAfterSend, EventUserRegistered, EventUserLoggedIn,
	EventUserDeleted, EventFriendAdded, EventFriendRemoved, EventGroupCreated, EventGroupMembers, EventGroupDeleted}

// Secret is an endpoint's signing secret. It prints as [redacted] in every
// format and in JSON, so a logged Endpoint never shows it.
type Secret string

// String hides the secret.
func (Secret) String() string { return "[redacted]" }

// GoString hides the secret.
func (Secret) GoString() string { return "[redacted]" }

// MarshalJSON hides the secret.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// UnmarshalJSON reads the secret.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Secret(v)
	return nil
}

// Endpoint is one configured receiver.
type Endpoint struct {
	// Name identifies the endpoint in the outbox, metrics and logs.
	Name string `json:"name"`
	// URL is where events are POSTed (http or https).
	URL string `json:"url"`
	// Secret signs every call (at least MinSecretLen bytes).
	Secret Secret `json:"secret"`
	// Events are the events sent there; "*" is every asynchronous event
	// (before_send must be named).
	Events []string `json:"events"`
}

// MinSecretLen is the shortest secret accepted.
const MinSecretLen = 16

// MaxEndpoints bounds the configured endpoints.
const MaxEndpoints = 16

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Wants reports whether the endpoint subscribes to event.
func (e Endpoint) Wants(event string) bool {
	for _, ev := range e.Events {
		if ev == event || (ev == "*" && event != EventBeforeSend) {
			return true
		}
	}
	return false
}

// Parse reads a JSON array of endpoints and checks it: names unique and
// short, absolute http(s) URLs without credentials, secrets long enough,
// known events, at most one before_send endpoint. Errors never quote a
// secret.
func Parse(data []byte) ([]Endpoint, error) {
	var eps []Endpoint
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eps); err != nil {
		return nil, fmt.Errorf("webhooks: not a JSON array of {name, url, secret, events}: %w", err)
	}
	if len(eps) > MaxEndpoints {
		return nil, fmt.Errorf("webhooks: at most %d endpoints", MaxEndpoints)
	}
	known := map[string]bool{"*": true}
	for _, ev := range Events {
		known[ev] = true
	}
	names := map[string]bool{}
	before := 0
	for i, e := range eps {
		if !nameRE.MatchString(e.Name) {
			return nil, fmt.Errorf("webhooks: endpoint %d: name must match %s", i, nameRE)
		}
		if names[e.Name] {
			return nil, fmt.Errorf("webhooks: endpoint name %q used twice", e.Name)
		}
		names[e.Name] = true
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("webhooks: endpoint %q: url must be an absolute http or https URL", e.Name)
		}
		if u.User != nil {
			return nil, fmt.Errorf("webhooks: endpoint %q: url must not hold credentials (use the secret)", e.Name)
		}
		if len(e.Secret) < MinSecretLen {
			return nil, fmt.Errorf("webhooks: endpoint %q: secret must be at least %d bytes", e.Name, MinSecretLen)
		}
		if len(e.Events) == 0 {
			return nil, fmt.Errorf("webhooks: endpoint %q: no events", e.Name)
		}
		for _, ev := range e.Events {
			if !known[ev] {
				return nil, fmt.Errorf("webhooks: endpoint %q: unknown event %q (known: %s, *)", e.Name, ev, strings.Join(Events, ", "))
			}
		}
		if e.Wants(EventBeforeSend) {
			before++
		}
	}
	if before > 1 {
		return nil, errors.New("webhooks: at most one endpoint may take before_send")
	}
	return eps, nil
}

// Load reads the endpoints from the JSON text (IM_WEBHOOKS) or, when it
// is empty, from the file (IM_WEBHOOKS_FILE); both empty: none.
func Load(jsonText, file string) ([]Endpoint, error) {
	if jsonText != "" && file != "" {
		return nil, errors.New("webhooks: set IM_WEBHOOKS or IM_WEBHOOKS_FILE, not both")
	}
	if jsonText != "" {
		return Parse([]byte(jsonText))
	}
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return Parse(b)
}
