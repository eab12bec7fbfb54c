package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/httpapi"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

const adminKey = apitest.AdminKey

func adminEnv(t *testing.T) *apitest.Env {
	return apitest.New(t, apitest.Options{AdminKeys: []string{"another-admin-key-abcdefghijklmnopqrstuvwxyz", adminKey}})
}

type adminUserBody struct {
	User struct {
		ID        string     `json:"id"`
		Account   string     `json:"account"`
		Nickname  string     `json:"nickname"`
		Email     string     `json:"email"`
		Deleted   bool       `json:"deleted"`
		Banned    bool       `json:"banned"`
		BanReason string     `json:"ban_reason"`
		BannedAt  *time.Time `json:"banned_at"`
	} `json:"user"`
}

func adminUser(t *testing.T, e *apitest.Env, id string) adminUserBody {
	t.Helper()
	r := e.Do("GET", "/v1/admin/users/"+id, adminKey, nil)
	wantStatus(t, "admin user", r, 200, "")
	var b adminUserBody
	r.JSON(t, &b)
	return b
}

// TestAdminAuth: no key 401, a wrong key or a user's token 403, an admin
// key (any of the configured ones) passes; every call is audited with the
// key's fingerprint, never the key; without keys the admin API is 404.
func TestAdminAuth(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	e := apitest.New(t, apitest.Options{AdminKeys: []string{adminKey}, Log: zap.New(core)})
	u := e.Register("adm")

	r := e.Do("GET", "/v1/admin/users", "", nil)
	wantStatus(t, "no key", r, 401, protocol.CodeUnauthenticated)
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
	wantStatus(t, "Basic", doAuth(t, e, "/v1/admin/users", "Basic "+adminKey), 401, protocol.CodeUnauthenticated)
	wantStatus(t, "wrong key", e.Do("GET", "/v1/admin/users", adminKey+"x", nil), 403, protocol.CodeForbidden)
	wantStatus(t, "short key", e.Do("GET", "/v1/admin/users", adminKey[:10], nil), 403, protocol.CodeForbidden)
	wantStatus(t, "user token", e.Do("GET", "/v1/admin/users", u.Token, nil), 403, protocol.CodeForbidden)
	wantStatus(t, "user token, provision", e.Do("POST", "/v1/admin/users", u.Token,
		map[string]string{"account": apitest.Unique("x")}), 403, protocol.CodeForbidden)
	wantStatus(t, "admin key", e.Do("GET", "/v1/admin/users", adminKey, nil), 200, "")
	// The admin key is no user token either.
	wantStatus(t, "admin key on a user route", e.Do("GET", "/v1/me", adminKey, nil), 401, protocol.CodeUnauthenticated)

	fp := httpapi.AdminKeyFingerprint(adminKey)
	var audited, good int
	for _, en := range logs.All() {
		b, _ := json.Marshal(en.ContextMap())
		if strings.Contains(string(b), adminKey[:20]) || strings.Contains(en.Message, adminKey[:20]) {
			t.Errorf("a log entry holds the admin key: %s %s", en.Message, b)
		}
		if en.Message != "admin call" {
			continue
		}
		audited++
		m := en.ContextMap()
		if m["method"] == nil || m["path"] == nil || m["status"] == nil || m["key"] == nil {
			t.Errorf("audit entry lacks fields: %v", m)
		}
		if m["key"] == fp && m["status"] == int64(200) && m["path"] == "/v1/admin/users" {
			good++
		}
	}
	if audited != 7 || good != 1 {
		t.Errorf("audit: %d admin call entries (want 7), %d with the key's fingerprint %s and 200 (want 1)", audited, good, fp)
	}

	off := apitest.New(t, apitest.Options{})
	wantStatus(t, "disabled", off.Do("GET", "/v1/admin/users", adminKey, nil), 404, protocol.CodeNotFound)
	wantStatus(t, "disabled, no key", off.Do("PUT", "/v1/admin/users/x/ban", "", nil), 404, protocol.CodeNotFound)
}

// TestAdminProvisionAndMint: a user made without the email code, given a
// session by the admin API, uses it like a login's.
func TestAdminProvisionAndMint(t *testing.T) {
	e := adminEnv(t)
	acc := apitest.Unique("prov")
	r := e.Do("POST", "/v1/admin/users", adminKey, map[string]string{"account": acc, "nickname": "Provisioned"})
	wantStatus(t, "provision", r, 201, "")
	var p adminUserBody
	r.JSON(t, &p)
	if p.User.ID == "" || p.User.Account != acc || p.User.Nickname != "Provisioned" || !strings.HasSuffix(p.User.Email, ".invalid") || p.User.Banned {
		t.Fatalf("provisioned: %s", r.Body)
	}
	wantStatus(t, "same account", e.Do("POST", "/v1/admin/users", adminKey, map[string]string{"account": acc}), 409, protocol.CodeConflict)
	wantStatus(t, "bad account", e.Do("POST", "/v1/admin/users", adminKey, map[string]string{"account": "A!"}), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "bad email", e.Do("POST", "/v1/admin/users", adminKey, map[string]string{"account": apitest.Unique("p"), "email": "nope"}), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "short password", e.Do("POST", "/v1/admin/users", adminKey, map[string]string{"account": apitest.Unique("p"), "password": "short"}), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "unknown field", e.Do("POST", "/v1/admin/users", adminKey, map[string]string{"account": apitest.Unique("p"), "admin": "yes"}), 400, protocol.CodeInvalidArgument)

	// Mint: the tokens work like a login's, refresh included.
	r = e.Do("POST", "/v1/admin/users/"+p.User.ID+"/tokens", adminKey, map[string]string{"device": "host app"})
	wantStatus(t, "mint", r, 201, "")
	var s struct {
		User         struct{ ID string }
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		SessionID    string `json:"session_id"`
	}
	r.JSON(t, &s)
	if s.User.ID != p.User.ID || s.AccessToken == "" || s.RefreshToken == "" || s.SessionID == "" {
		t.Fatalf("mint: %s", r.Body)
	}
	wantStatus(t, "me with minted token", e.Do("GET", "/v1/me", s.AccessToken, nil), 200, "")
	wantStatus(t, "refresh minted", e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken}), 200, "")
	sess := listSessions(t, e, s.AccessToken)
	if len(sess.Sessions) != 1 || sess.Sessions[0].Device != "host app" {
		t.Fatalf("sessions after mint: %+v", sess)
	}
	wantStatus(t, "mint without body", e.Do("POST", "/v1/admin/users/"+p.User.ID+"/tokens", adminKey, nil), 201, "")
	wantStatus(t, "mint unknown", e.Do("POST", "/v1/admin/users/01JAAAAAAAAAAAAAAAAAAAAAAA/tokens", adminKey, nil), 404, protocol.CodeNotFound)
	wantStatus(t, "mint bad id", e.Do("POST", "/v1/admin/users/..%2f/tokens", adminKey, nil), 404, protocol.CodeNotFound)

	// With a password: the user logs in as usual.
	acc2 := apitest.Unique("prov")
	r = e.Do("POST", "/v1/admin/users", adminKey, map[string]string{"account": acc2, "email": acc2 + "@Example.com", "password": "a good password"})
	wantStatus(t, "provision with password", r, 201, "")
	var p2 adminUserBody
	r.JSON(t, &p2)
	if p2.User.Email != acc2+"@example.com" {
		t.Fatalf("email %q", p2.User.Email)
	}
	wantStatus(t, "login", e.Do("POST", "/v1/auth/login", "", map[string]string{"login": acc2, "password": "a good password"}), 200, "")
}

// TestAdminBanUnban: a ban ends every session (access and refresh tokens)
// and refuses logins and minted tokens until the unban.
func TestAdminBanUnban(t *testing.T) {
	e := adminEnv(t)
	u := e.Register("ban")
	other := e.Login(u, "", "tablet")

	r := e.Do("PUT", "/v1/admin/users/"+u.ID+"/ban", adminKey, map[string]string{"reason": "spam"})
	wantStatus(t, "ban", r, 200, "")
	var b adminUserBody
	r.JSON(t, &b)
	if !b.User.Banned || b.User.BanReason != "spam" || b.User.BannedAt == nil {
		t.Fatalf("ban answer: %s", r.Body)
	}
	for _, tok := range []string{u.Token, other.Token} {
		wantStatus(t, "old token", e.Do("GET", "/v1/me", tok, nil), 401, protocol.CodeUnauthenticated)
	}
	for _, rt := range []string{u.Refresh, other.Refresh} {
		wantStatus(t, "refresh", e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": rt}), 401, protocol.CodeUnauthenticated)
	}
	wantStatus(t, "login", e.Do("POST", "/v1/auth/login", "", map[string]string{"login": u.Account, "password": u.Password}), 403, protocol.CodeForbidden)
	wantStatus(t, "wrong password still 401", e.Do("POST", "/v1/auth/login", "", map[string]string{"login": u.Account, "password": "not it at all"}), 401, protocol.CodeUnauthenticated)
	wantStatus(t, "mint", e.Do("POST", "/v1/admin/users/"+u.ID+"/tokens", adminKey, nil), 403, protocol.CodeForbidden)
	if got := adminUser(t, e, u.ID); !got.User.Banned || got.User.BanReason != "spam" {
		t.Fatalf("admin user after ban: %+v", got)
	}
	// Banning again replaces the reason.
	wantStatus(t, "ban again", e.Do("PUT", "/v1/admin/users/"+u.ID+"/ban", adminKey, map[string]string{"reason": "abuse"}), 200, "")
	if got := adminUser(t, e, u.ID); got.User.BanReason != "abuse" {
		t.Fatalf("reason after a second ban: %+v", got)
	}
	wantStatus(t, "long reason", e.Do("PUT", "/v1/admin/users/"+u.ID+"/ban", adminKey, map[string]string{"reason": strings.Repeat("x", 501)}), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "ban unknown", e.Do("PUT", "/v1/admin/users/01JAAAAAAAAAAAAAAAAAAAAAAA/ban", adminKey, nil), 404, protocol.CodeNotFound)

	wantStatus(t, "unban", e.Do("DELETE", "/v1/admin/users/"+u.ID+"/ban", adminKey, nil), 204, "")
	wantStatus(t, "unban again", e.Do("DELETE", "/v1/admin/users/"+u.ID+"/ban", adminKey, nil), 404, protocol.CodeNotFound)
	if got := adminUser(t, e, u.ID); got.User.Banned {
		t.Fatalf("admin user after unban: %+v", got)
	}
	s := e.Login(u, "", "back")
	wantStatus(t, "me after unban", e.Do("GET", "/v1/me", s.Token, nil), 200, "")
	// The sessions the ban ended stay ended.
	wantStatus(t, "old token after unban", e.Do("GET", "/v1/me", u.Token, nil), 401, protocol.CodeUnauthenticated)
}

// TestAdminForceLogout ends every session; the user may log in again.
func TestAdminForceLogout(t *testing.T) {
	e := adminEnv(t)
	u := e.Register("out")
	s := e.Login(u, "", "phone")
	wantStatus(t, "logout", e.Do("POST", "/v1/admin/users/"+u.ID+"/logout", adminKey, nil), 204, "")
	for _, tok := range []string{u.Token, s.Token} {
		wantStatus(t, "token after logout", e.Do("GET", "/v1/me", tok, nil), 401, protocol.CodeUnauthenticated)
	}
	wantStatus(t, "refresh after logout", e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.Refresh}), 401, protocol.CodeUnauthenticated)
	n := e.Login(u, "", "again")
	wantStatus(t, "me after a new login", e.Do("GET", "/v1/me", n.Token, nil), 200, "")
	wantStatus(t, "logout unknown", e.Do("POST", "/v1/admin/users/01JAAAAAAAAAAAAAAAAAAAAAAA/logout", adminKey, nil), 404, protocol.CodeNotFound)
}

func sendREST(t *testing.T, e *apitest.Env, token, room, body string) protocol.Message {
	t.Helper()
	r := e.Do("POST", "/v1/rooms/"+room+"/messages", token, map[string]string{"body": body, "client_msg_id": apitest.Unique("c")})
	wantStatus(t, "send", r, 201, "")
	var m protocol.Message
	r.JSON(t, &m)
	return m
}

func history(t *testing.T, e *apitest.Env, token, room string) []protocol.Message {
	t.Helper()
	r := e.Do("GET", "/v1/rooms/"+room+"/messages?limit=100", token, nil)
	wantStatus(t, "history", r, 200, "")
	var h struct{ Messages []protocol.Message }
	r.JSON(t, &h)
	return h.Messages
}

// TestAdminDeleteMessage: any message, any time, shown as recalled with
// the moderation flag; idempotent.
func TestAdminDeleteMessage(t *testing.T) {
	e := adminEnv(t)
	a, b := e.Register("moda"), e.Register("modb")
	room := e.Befriend(a, b)
	m := sendREST(t, e, a.Token, room, "something rude")
	path := "/v1/admin/rooms/" + room + "/messages/" + itoa(m.Seq)
	r := e.Do("DELETE", path+"?reason=rude", adminKey, nil)
	wantStatus(t, "delete", r, 200, "")
	var ev struct{ Event protocol.Message }
	r.JSON(t, &ev)
	if ev.Event.Kind != "recall" || ev.Event.Target != m.Seq || ev.Event.From != "" || !strings.Contains(string(ev.Event.Data), `"moderation":true`) {
		t.Fatalf("delete answer: %s", r.Body)
	}
	r = e.Do("DELETE", path, adminKey, nil)
	wantStatus(t, "delete again", r, 200, "")
	var ev2 struct{ Event protocol.Message }
	r.JSON(t, &ev2)
	if ev2.Event.Seq != ev.Event.Seq {
		t.Fatalf("a second delete stored another event: %d, first %d", ev2.Event.Seq, ev.Event.Seq)
	}
	for _, tok := range []string{a.Token, b.Token} {
		var found bool
		for _, x := range history(t, e, tok, room) {
			if x.Seq == m.Seq {
				found = true
				if !x.Recalled || x.Body != "" {
					t.Fatalf("message after moderation: %+v", x)
				}
			}
		}
		if !found {
			t.Fatal("moderated message missing from the history")
		}
	}
	wantStatus(t, "no such seq", e.Do("DELETE", "/v1/admin/rooms/"+room+"/messages/9999", adminKey, nil), 404, protocol.CodeNotFound)
	wantStatus(t, "bad seq", e.Do("DELETE", "/v1/admin/rooms/"+room+"/messages/0", adminKey, nil), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "the event itself", e.Do("DELETE", "/v1/admin/rooms/"+room+"/messages/"+itoa(ev.Event.Seq), adminKey, nil), 404, protocol.CodeNotFound)
}

// TestAdminRoomMessage: a system message in a room's history.
func TestAdminRoomMessage(t *testing.T) {
	e := adminEnv(t)
	a, b := e.Register("sysa"), e.Register("sysb")
	room := e.Befriend(a, b)
	r := e.Do("POST", "/v1/admin/rooms/"+room+"/messages", adminKey, map[string]string{"text": "Maintenance at 2am"})
	wantStatus(t, "room message", r, 201, "")
	var got struct{ Message protocol.Message }
	r.JSON(t, &got)
	if got.Message.Kind != "system" || got.Message.Body != "Maintenance at 2am" || !strings.HasPrefix(got.Message.ClientMsgID, "sys-") || got.Message.From != "" {
		t.Fatalf("room message: %s", r.Body)
	}
	h := history(t, e, b.Token, room)
	if last := h[len(h)-1]; last.Seq != got.Message.Seq || last.Kind != "system" {
		t.Fatalf("history ends with %+v", last)
	}
	wantStatus(t, "empty text", e.Do("POST", "/v1/admin/rooms/"+room+"/messages", adminKey, map[string]string{"text": " "}), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "long text", e.Do("POST", "/v1/admin/rooms/"+room+"/messages", adminKey, map[string]string{"text": strings.Repeat("x", 2001)}), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "no room", e.Do("POST", "/v1/admin/rooms/01JAAAAAAAAAAAAAAAAAAAAAAA/messages", adminKey, map[string]string{"text": "hi"}), 404, protocol.CodeNotFound)
	wantStatus(t, "notice", e.Do("POST", "/v1/admin/users/"+a.ID+"/notices", adminKey, map[string]string{"text": "hi"}), 202, "")
	wantStatus(t, "notice unknown", e.Do("POST", "/v1/admin/users/01JAAAAAAAAAAAAAAAAAAAAAAA/notices", adminKey, map[string]string{"text": "hi"}), 404, protocol.CodeNotFound)
	wantStatus(t, "broadcast empty", e.Do("POST", "/v1/admin/broadcasts", adminKey, map[string]string{"text": ""}), 400, protocol.CodeInvalidArgument)
}

// TestAdminLists pages through users, groups and rooms.
func TestAdminLists(t *testing.T) {
	e := adminEnv(t)
	a, b := e.Register("lsa"), e.Register("lsb")
	direct := e.Befriend(a, b)
	r := e.Do("POST", "/v1/groups", a.Token, map[string]any{"name": "listed", "members": []string{b.Account}})
	wantStatus(t, "group", r, 201, "")
	var g struct{ Group struct{ ID string } }
	r.JSON(t, &g)
	wantStatus(t, "ban b", e.Do("PUT", "/v1/admin/users/"+b.ID+"/ban", adminKey, map[string]string{"reason": "listed"}), 200, "")

	type page struct {
		Users []struct {
			ID     string
			Banned bool
		}
		Groups, Rooms []struct {
			ID, Type string
		}
		HasMore   bool   `json:"has_more"`
		NextAfter string `json:"next_after"`
	}
	walk := func(path string, each func(p page)) int {
		after, n := "", 0
		for range 1000 {
			r := e.Do("GET", path+"?limit=2&after="+after, adminKey, nil)
			wantStatus(t, path, r, 200, "")
			var p page
			r.JSON(t, &p)
			each(p)
			n++
			if !p.HasMore {
				return n
			}
			if p.NextAfter == "" {
				t.Fatalf("%s: has_more without next_after", path)
			}
			after = p.NextAfter
		}
		t.Fatalf("%s: no end", path)
		return n
	}
	seen := map[string]bool{}
	walk("/v1/admin/users", func(p page) {
		if len(p.Users) > 2 {
			t.Fatalf("page of %d users, limit 2", len(p.Users))
		}
		for _, u := range p.Users {
			if seen[u.ID] {
				t.Fatalf("user %s twice", u.ID)
			}
			seen[u.ID] = true
			if u.ID == b.ID && !u.Banned || u.ID == a.ID && u.Banned {
				t.Fatalf("ban flag of %s: %v", u.ID, u.Banned)
			}
		}
	})
	if !seen[a.ID] || !seen[b.ID] {
		t.Fatalf("users list lacks a or b")
	}
	groups, rooms := map[string]string{}, map[string]string{}
	walk("/v1/admin/groups", func(p page) {
		for _, x := range p.Groups {
			groups[x.ID] = x.Type
		}
	})
	walk("/v1/admin/rooms", func(p page) {
		for _, x := range p.Rooms {
			rooms[x.ID] = x.Type
		}
	})
	if groups[g.Group.ID] != "group" || groups[direct] != "" || rooms[direct] != "direct" || rooms[g.Group.ID] != "group" {
		t.Fatalf("groups %v, rooms %v", groups, rooms)
	}
	wantStatus(t, "limit too big", e.Do("GET", "/v1/admin/users?limit=101", adminKey, nil), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "bad after", e.Do("GET", "/v1/admin/rooms?after=%20x", adminKey, nil), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "bad limit", e.Do("GET", "/v1/admin/groups?limit=-1", adminKey, nil), 400, protocol.CodeInvalidArgument)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// doAuth sends a GET with a raw Authorization header.
func doAuth(t *testing.T, e *apitest.Env, path, authorization string) apitest.Resp {
	t.Helper()
	req, err := http.NewRequest("GET", e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return apitest.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}
