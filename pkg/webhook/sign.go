package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of every call.
const (
	// HeaderID is the delivery's event id: the receiver's de-duplication
	// key (a retry carries the same one).
	HeaderID = "X-IM-Webhook-Id"
	// HeaderEvent is the event's name.
	HeaderEvent = "X-IM-Webhook-Event"
	// HeaderTimestamp is the Unix time (seconds) the call was signed.
	HeaderTimestamp = "X-IM-Webhook-Timestamp"
	// HeaderSignature is "v1=" and the hex HMAC-SHA256, under the
	// endpoint's secret, of the timestamp, ".", and the body.
	HeaderSignature = "X-IM-Webhook-Signature"
)

// ReplayWindow is how far a call's timestamp may be from the receiver's
// clock for Verify to accept it.
const ReplayWindow = 5 * time.Minute

// Sign returns the signature header value for body signed at ts.
func Sign(secret Secret, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("webhook: missing or malformed signature headers")
	ErrStale        = errors.New("webhook: timestamp outside the replay window")
	ErrBadSignature = errors.New("webhook: signature does not match")
)

// Verify checks a received call: the timestamp within window of now
// (ReplayWindow when window is 0) and the signature, compared in constant
// time. Several signatures separated by commas (a secret rotation) pass
// when one matches. A receiver also drops ids it has seen (HeaderID).
func Verify(secret Secret, h http.Header, body []byte, now time.Time, window time.Duration) error {
	if window <= 0 {
		window = ReplayWindow
	}
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	sig := h.Get(HeaderSignature)
	if err != nil || sig == "" {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > window || d < -window {
		return ErrStale
	}
	want := []byte(Sign(secret, ts, body))
	for _, s := range strings.Split(sig, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(s)), want) {
			return nil
		}
	}
	return ErrBadSignature
}
