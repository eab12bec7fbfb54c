package securitytest

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/httpapi"
)

// The four callers of the authorization tables.
const (
	anonymous = iota // no token
	stranger         // a registered user with no tie to the resource
	member           // a participant: the other side of the direct room, a group member
	owner            // the group's owner, the addressee of the friend request, a party to the friendship
)

var roleNames = [...]string{"anonymous", "stranger", "member", "owner"}

// world is the cast of the authorization tables: owner and member are
// friends (room direct) and, with third, in group (owned by owner);
// stranger knows nobody.
type world struct {
	t                              *testing.T
	e                              *apitest.Env
	owner, member, stranger, third *apitest.User
	direct, group                  string
}

func newWorld(t *testing.T, e *apitest.Env) *world {
	w := &world{t: t, e: e}
	w.owner, w.member, w.stranger, w.third = e.Register("own"), e.Register("mem"), e.Register("str"), e.Register("thd")
	w.direct = e.Befriend(w.owner, w.member)
	e.Befriend(w.owner, w.third)
	w.group = w.newGroup()
	for _, room := range []string{w.direct, w.group} {
		if r := e.Do("POST", "/v1/rooms/"+room+"/messages", w.owner.Token, map[string]string{"body": "hello", "client_msg_id": "seed-" + randomHex(4)}); r.Status != 201 {
			t.Fatalf("seed message: %d %s", r.Status, r.Body)
		}
	}
	return w
}

// user is the user playing role (nil for anonymous).
func (w *world) user(role int) *apitest.User {
	switch role {
	case stranger:
		return w.stranger
	case member:
		return w.member
	case owner:
		return w.owner
	}
	return nil
}

func (w *world) token(role int) string {
	if u := w.user(role); u != nil {
		return u.Token
	}
	return ""
}

// newGroup makes a group of owner with member and third.
func (w *world) newGroup() string {
	w.t.Helper()
	var g struct{ Group struct{ ID string } }
	r := w.e.Do("POST", "/v1/groups", w.owner.Token, map[string]any{"name": "crew", "members": []string{w.member.Account, w.third.Account}})
	if r.Status != 201 {
		w.t.Fatalf("create group: %d %s", r.Status, r.Body)
	}
	r.JSON(w.t, &g)
	return g.Group.ID
}

// newRequest makes a pending friend request from a new user to owner.
func (w *world) newRequest() string {
	w.t.Helper()
	x := w.e.Register("req")
	r := w.e.Do("POST", "/v1/friend-requests", x.Token, map[string]string{"account": w.owner.Account})
	if r.Status != 201 {
		w.t.Fatalf("friend request: %d %s", r.Status, r.Body)
	}
	var req struct{ Request struct{ ID string } }
	r.JSON(w.t, &req)
	return req.Request.ID
}

// newFriend makes a new friend of owner and returns their account.
func (w *world) newFriend() string {
	w.t.Helper()
	f := w.e.Register("frd")
	w.e.Befriend(w.owner, f)
	return f.Account
}

// params are the placeholders every row may use.
func (w *world) params() map[string]string {
	return map[string]string{
		"{direct}": w.direct, "{group}": w.group,
		"{owner}": w.owner.Account, "{member}": w.member.Account,
		"{third}": w.third.Account, "{stranger}": w.stranger.Account,
	}
}

func expand(s string, params map[string]string) string {
	for k, v := range params {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// apiRoutes lists the API's routes as "METHOD /pattern", the way
// internal/httpapi/routes_test.go walks them.
func apiRoutes(t testing.TB, s *httpapi.Server) []string {
	var out []string
	err := chi.Walk(s.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(route, "/")
		if route == "" {
			route = "/"
		}
		out = append(out, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
