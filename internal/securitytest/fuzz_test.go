package securitytest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/emailcode"
	"github.com/im-websocket-go/im-websocket-go/internal/ratelimit"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

// bodyRoute is a POST or PATCH route with its path parameters filled in.
type bodyRoute struct {
	method, pattern, path string
	valid                 string // a body that works, as a seed
}

// bodyRoutes lists every POST and PATCH route of the API (from the router,
// so a new one is fuzzed too), with {id} and {account} replaced by real
// values where the route needs them.
func bodyRoutes(t testing.TB, e *apitest.Env, params map[string]string, valid map[string]string) []bodyRoute {
	var out []bodyRoute
	for _, r := range apiRoutes(t, e.API) {
		method, pattern, _ := strings.Cut(r, " ")
		if method != http.MethodPost && method != http.MethodPatch {
			continue
		}
		path := pattern
		for k, v := range params {
			if strings.HasPrefix(pattern, k) {
				path = strings.Replace(pattern, "{id}", v, 1)
			}
		}
		path = strings.ReplaceAll(path, "{id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
		path = strings.ReplaceAll(path, "{seq}", "1") // a's first message in every room
		path = strings.ReplaceAll(path, "{account}", "nobody")
		out = append(out, bodyRoute{method: method, pattern: pattern, path: path, valid: valid[r]})
	}
	if len(out) == 0 {
		t.Fatal("no POST or PATCH routes")
	}
	return out
}

// fuzzBoundary is the multipart boundary of the fuzzed uploads.
const fuzzBoundary = "fuzzboundary"

// FuzzRESTBodies posts fuzzed bytes to every POST and PATCH route of an
// in-process API (no network: the handler is called directly, with a
// valid token) and checks that nothing panics, that no answer is a 5xx
// other than 503, that every 2xx body is JSON, and that every other body
// is exactly the contract's error object. The first byte picks the route,
// so one execution is one request. Logins, registrations, code requests
// and sends are rate limited hard so that argon2, mail and a growing
// store do not dominate the run.
func FuzzRESTBodies(f *testing.F) {
	lim := apitest.Generous()
	lim.LoginPerIP = ratelimit.Rule{N: 3, Window: time.Hour}
	lim.RegisterPerIP = ratelimit.Rule{N: 3, Window: time.Hour}
	lim.SendPerUser = ratelimit.Rule{N: 20, Window: time.Second} // the store is not what is fuzzed
	codes := emailcode.Options{}                                 // the production limits
	e := apitest.New(f, apitest.Options{Limits: &lim, Codes: &codes, Log: zap.NewNop(),
		RedisURL: testenv.NewRedisServer(f).URL()}) // private limits
	a, b, c := e.Register("fza"), e.Register("fzb"), e.Register("fzc")
	room := e.Befriend(a, b)
	var g struct{ Group struct{ ID string } }
	e.Do("POST", "/v1/groups", a.Token, map[string]any{"name": "fuzz", "members": []string{b.Account}}).JSON(f, &g)
	for _, r := range []string{room, g.Group.ID} { // seq 1, for the change routes
		e.Do("POST", "/v1/rooms/"+r+"/messages", a.Token, map[string]string{"body": "first", "client_msg_id": "fz-first-" + r})
	}
	var fr struct{ Request struct{ ID string } }
	e.Do("POST", "/v1/friend-requests", c.Token, map[string]string{"account": a.Account}).JSON(f, &fr)

	routes := bodyRoutes(f, e, map[string]string{
		"/v1/rooms/":           room,
		"/v1/groups/":          g.Group.ID,
		"/v1/friend-requests/": fr.Request.ID,
	}, map[string]string{
		"POST /v1/auth/email-code":                  `{"email":"fuzz@example.com"}`,
		"POST /v1/auth/register":                    `{"email":"fuzz@example.com","code":"123456","account":"fuzzer","password":"long enough","nickname":"F"}`,
		"POST /v1/auth/login":                       `{"login":"` + a.Account + `","password":"wrong password"}`,
		"POST /v1/auth/refresh":                     `{"refresh_token":"rt_x"}`,
		"POST /v1/auth/logout":                      `{"refresh_token":"rt_x"}`,
		"PATCH /v1/me":                              `{"nickname":"Fuzzy","avatar":"https://example.com/a.png","sex":1}`,
		"POST /v1/friend-requests":                  `{"account":"` + c.Account + `","message":"hi"}`,
		"POST /v1/groups":                           `{"name":"g","info":"i","members":["` + b.Account + `"]}`,
		"POST /v1/groups/{id}/members":              `{"accounts":["` + b.Account + `"]}`,
		"POST /v1/rooms/{id}/messages":              `{"body":"hello","client_msg_id":"fz-1"}`,
		"POST /v1/rooms/{id}/read":                  `{"seq":1}`,
		"POST /v1/friend-requests/{id}/accept":      `{}`,
		"PATCH /v1/rooms/{id}/messages/{seq}":       `{"body":"edited","client_msg_id":"fz-e"}`,
		"POST /v1/rooms/{id}/messages/{seq}/recall": `{"client_msg_id":"fz-r"}`,
		"POST /v1/rooms/{id}/hide":                  `{"seqs":[1,2]}`,
		"POST /v1/rooms/{id}/files": "--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n" +
			"hello\r\n--" + fuzzBoundary + "--\r\n",
	})
	seeds := []string{
		``, `{}`, `null`, `[]`, `"x"`, `0`, `{"a":1}`, `{}{}`, `{"body":`, "\xff\xfe{}",
		`{"email":1,"login":[],"account":{},"seq":-1,"accounts":"x","body":null}`,
		`{"seq":99999999999999999999999}`, `{"nickname":"` + strings.Repeat("é", 40) + `"}`,
		strings.Repeat("[", 10000), `{"body":"` + strings.Repeat("x", 4001) + `","client_msg_id":"long"}`,
	}
	for i, r := range routes {
		if r.valid != "" {
			f.Add(uint8(i), []byte(r.valid))
		}
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		r := routes[int(which)%len(routes)]
		tok, _, err := e.Core.Issuer.Issue(a.ID) // fresh: a long fuzz run outlives one token
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		if strings.HasSuffix(r.pattern, "/files") { // the upload: a multipart form
			req.Header.Set("Content-Type", "multipart/form-data; boundary="+fuzzBoundary)
		}
		rec := httptest.NewRecorder()
		e.API.ServeHTTP(rec, req)
		status, out := rec.Code, rec.Body.Bytes()
		if status >= 500 && status != http.StatusServiceUnavailable {
			t.Fatalf("%s %s %q: %d %s", r.method, r.path, body, status, out)
		}
		switch {
		case status == http.StatusNoContent:
			if len(out) != 0 {
				t.Fatalf("%s %s %q: 204 with a body %q", r.method, r.path, body, out)
			}
		case status >= 200 && status < 300:
			if !json.Valid(out) {
				t.Fatalf("%s %s %q: %d with a body that is not JSON: %q", r.method, r.path, body, status, out)
			}
		default:
			if err := errorShape(status, out); err != nil {
				t.Fatalf("%s %s %q: %v", r.method, r.path, body, err)
			}
		}
	})
}
