package securitytest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// wait bounds every wait for a frame, a close or a server reaction.
const wait = 10 * time.Second

// contractCodes maps each error code of the contract to its HTTP status.
var contractCodes = map[string]int{
	protocol.CodeInvalidArgument: 400, protocol.CodeUnauthenticated: 401, protocol.CodeForbidden: 403,
	protocol.CodeNotFound: 404, protocol.CodeConflict: 409, protocol.CodePayloadTooLarge: 413,
	protocol.CodeRateLimited: 429, protocol.CodeUnavailable: 503, protocol.CodeInternal: 500,
}

// errorShape checks that body is exactly the contract's error object
// {"error":{"code","message"}} with a known code matching status. (405,
// which the contract has no code for, carries not_found.)
func errorShape(status int, body []byte) error {
	var b struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return fmt.Errorf("status %d: body %q is not the error object: %v", status, trunc(body), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("status %d: trailing data after the error object: %q", status, trunc(body))
	}
	if b.Error == nil || b.Error.Code == nil || b.Error.Message == nil {
		return fmt.Errorf("status %d: error object lacks code or message: %q", status, trunc(body))
	}
	want, ok := contractCodes[*b.Error.Code]
	if !ok {
		return fmt.Errorf("status %d: unknown error code %q", status, *b.Error.Code)
	}
	if status == http.StatusMethodNotAllowed && *b.Error.Code == protocol.CodeNotFound {
		return nil
	}
	if want != status {
		return fmt.Errorf("status %d carries code %q (which means %d)", status, *b.Error.Code, want)
	}
	return nil
}

func trunc(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// expectError checks an error answer: status, contract shape and code.
func expectError(t *testing.T, what string, r apitest.Resp, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d %s, want %d", what, r.Status, trunc(r.Body), status)
		return
	}
	if err := errorShape(r.Status, r.Body); err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if code != "" && r.ErrCode() != code {
		t.Errorf("%s: code %q, want %q", what, r.ErrCode(), code)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// wsHTTPURL turns ws://host/ws into http://host/ws.
func wsHTTPURL(u string) string { return "http" + strings.TrimPrefix(u, "ws") }

// upgrade sends a WebSocket upgrade request by hand and returns the answer
// (the connection is closed if the upgrade succeeded). It lets the tests
// read the status and body of a refused upgrade.
func upgrade(t *testing.T, wsURL, token string, hdr http.Header) apitest.Resp {
	t.Helper()
	req, err := http.NewRequest("GET", wsHTTPURL(wsURL), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString([]byte(randomHex(8))))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	cl := &http.Client{Timeout: wait}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatalf("upgrade request: %v", err)
	}
	defer res.Body.Close()
	var body []byte
	if res.StatusCode != http.StatusSwitchingProtocols {
		body, _ = io.ReadAll(io.LimitReader(res.Body, 1<<20))
	}
	return apitest.Resp{Status: res.StatusCode, Header: res.Header, Body: body}
}

// lockedBuffer is an io.Writer safe for concurrent use (the captured log).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Sync() error { return nil }

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
