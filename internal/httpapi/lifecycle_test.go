package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
)

type sessionsBody struct {
	Sessions []struct {
		ID         string    `json:"id"`
		Device     string    `json:"device"`
		CreatedAt  time.Time `json:"created_at"`
		LastUsedAt time.Time `json:"last_used_at"`
		IP         string    `json:"ip"`
		Current    bool      `json:"current"`
	} `json:"sessions"`
}

func listSessions(t *testing.T, e *apitest.Env, token string) sessionsBody {
	t.Helper()
	r := e.Do("GET", "/v1/me/sessions", token, nil)
	if r.Status != 200 {
		t.Fatalf("sessions: %d %s", r.Status, r.Body)
	}
	var b sessionsBody
	r.JSON(t, &b)
	return b
}

// wantStatus checks an answer's status and, for errors, its code.
func wantStatus(t *testing.T, what string, r apitest.Resp, status int, code string) {
	t.Helper()
	if r.Status != status || code != "" && r.ErrCode() != code {
		t.Fatalf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
}

func TestSessionsListAndEnd(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("sess")
	phone := e.Login(u, "", "Pixel 9")
	laptop := e.Login(u, "", "")

	b := listSessions(t, e, phone.Token)
	if len(b.Sessions) != 3 {
		t.Fatalf("want 3 sessions (register, phone, laptop), got %+v", b.Sessions)
	}
	byID := map[string]int{}
	for i, s := range b.Sessions {
		byID[s.ID] = i
		if s.IP != "127.0.0.1" || s.CreatedAt.IsZero() || s.LastUsedAt.Before(s.CreatedAt) {
			t.Fatalf("session %+v", s)
		}
	}
	if s := b.Sessions[byID[phone.ID]]; s.Device != "Pixel 9" || !s.Current {
		t.Fatalf("phone session %+v", s)
	}
	if s := b.Sessions[byID[laptop.ID]]; !strings.HasPrefix(s.Device, "Go-http-client") || s.Current {
		t.Fatalf("laptop session (label from the User-Agent) %+v", s)
	}
	if !b.Sessions[0].CreatedAt.Before(b.Sessions[2].CreatedAt) && !b.Sessions[0].CreatedAt.Equal(b.Sessions[2].CreatedAt) {
		t.Fatalf("not oldest first: %+v", b.Sessions)
	}

	// The phone signs the laptop out: its access token and refresh token
	// stop at once; the phone goes on.
	wantStatus(t, "end laptop", e.Do("DELETE", "/v1/me/sessions/"+laptop.ID, phone.Token, nil), 204, "")
	wantStatus(t, "laptop token", e.Do("GET", "/v1/me", laptop.Token, nil), 401, "unauthenticated")
	wantStatus(t, "laptop refresh", e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": laptop.Refresh}), 401, "unauthenticated")
	wantStatus(t, "phone token", e.Do("GET", "/v1/me", phone.Token, nil), 200, "")
	if b := listSessions(t, e, phone.Token); len(b.Sessions) != 2 {
		t.Fatalf("after ending one: %+v", b.Sessions)
	}

	// Unknown, already ended, malformed and another user's ids: 404.
	other := e.Register("sess")
	otherSess := e.Login(other, "", "other")
	for _, id := range []string{"nope", laptop.ID, otherSess.ID, strings.Repeat("x", 65)} {
		wantStatus(t, "end "+id, e.Do("DELETE", "/v1/me/sessions/"+id, phone.Token, nil), 404, "not_found")
	}
	wantStatus(t, "other still in", e.Do("GET", "/v1/me", otherSess.Token, nil), 200, "")

	// Refresh records the use and keeps the session id.
	r := e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": phone.Refresh})
	wantStatus(t, "refresh", r, 200, "")
	var rs struct {
		AccessToken string `json:"access_token"`
		SessionID   string `json:"session_id"`
	}
	r.JSON(t, &rs)
	if rs.SessionID != phone.ID {
		t.Fatalf("refresh moved the session: %q, want %q", rs.SessionID, phone.ID)
	}
	wantStatus(t, "refreshed token", e.Do("GET", "/v1/me", rs.AccessToken, nil), 200, "")
}

func TestLogoutRevokesAccessToken(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("lo")
	s := e.Login(u, "", "tab")
	wantStatus(t, "logout", e.Do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": s.Refresh}), 204, "")
	wantStatus(t, "token after logout", e.Do("GET", "/v1/me", s.Token, nil), 401, "unauthenticated")
	wantStatus(t, "logout again", e.Do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": s.Refresh}), 204, "")
	wantStatus(t, "registration session", e.Do("GET", "/v1/me", u.Token, nil), 200, "")
}

func TestLogoutAll(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("la")
	a, b := e.Login(u, "", "a"), e.Login(u, "", "b")
	wantStatus(t, "logout-all", e.Do("POST", "/v1/auth/logout-all", a.Token, nil), 204, "")
	for _, s := range []apitest.Session{a, b, {Token: u.Token, Refresh: u.Refresh}} {
		wantStatus(t, "token", e.Do("GET", "/v1/me", s.Token, nil), 401, "unauthenticated")
		wantStatus(t, "refresh", e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.Refresh}), 401, "unauthenticated")
	}
	// A login right after (the same second, too) works.
	c := e.Login(u, "", "c")
	wantStatus(t, "new login", e.Do("GET", "/v1/me", c.Token, nil), 200, "")
	if l := listSessions(t, e, c.Token); len(l.Sessions) != 1 || l.Sessions[0].ID != c.ID {
		t.Fatalf("sessions after logout-all and a login: %+v", l.Sessions)
	}
	wantStatus(t, "no token", e.Do("POST", "/v1/auth/logout-all", "", nil), 401, "unauthenticated")
}

func TestPasswordReset(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("pr")
	s := e.Login(u, "", "old device")
	unknown := apitest.Unique("nobody") + "@example.com"

	// Same answer for an unknown and a known address; only the known one
	// gets a mail.
	r1 := e.Do("POST", "/v1/auth/password-reset", "", map[string]string{"email": unknown})
	n := e.SMTP.Count(u.Email)
	r2 := e.Do("POST", "/v1/auth/password-reset", "", map[string]string{"email": strings.ToUpper(u.Email)})
	if r1.Status != 202 || r2.Status != 202 || string(r1.Body) != string(r2.Body) {
		t.Fatalf("answers differ: %d %s / %d %s", r1.Status, r1.Body, r2.Status, r2.Body)
	}
	m, err := e.SMTP.WaitFor(u.Email, n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code := m.Code()
	if code == "" || !strings.Contains(m.Data, "reset your password") {
		t.Fatalf("reset mail: %q", m.Data)
	}
	if c := e.SMTP.Count(unknown); c != 0 {
		t.Fatalf("%d mails to an unknown address", c)
	}
	wantStatus(t, "bad email", e.Do("POST", "/v1/auth/password-reset", "", map[string]string{"email": "nope"}), 400, "invalid_argument")

	confirm := func(code, pw string) apitest.Resp {
		return e.Do("POST", "/v1/auth/password-reset/confirm", "", map[string]string{"email": u.Email, "code": code, "new_password": pw})
	}
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	wantStatus(t, "weak password", confirm(code, "short"), 400, "invalid_argument")
	wantStatus(t, "wrong code", confirm(wrong, "a new long password"), 400, "invalid_argument")
	wantStatus(t, "malformed code", confirm("12ab56", "a new long password"), 400, "invalid_argument")
	// A registration code is not a reset code.
	reg := e.Code(u.Email)
	if reg != code {
		wantStatus(t, "registration code", confirm(reg, "a new long password"), 400, "invalid_argument")
	}
	wantStatus(t, "old password still works", e.Do("GET", "/v1/me", s.Token, nil), 200, "")

	wantStatus(t, "reset", confirm(code, "a new long password"), 204, "")
	wantStatus(t, "reused code", confirm(code, "another long password"), 400, "invalid_argument")
	for _, tok := range []string{s.Token, u.Token} {
		wantStatus(t, "token after reset", e.Do("GET", "/v1/me", tok, nil), 401, "unauthenticated")
	}
	if e.CanLogin(u, u.Password) || !e.CanLogin(u, "a new long password") {
		t.Fatal("after reset the old password must fail and the new one work")
	}
}

func TestPasswordResetTries(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("prt")
	n := e.SMTP.Count(u.Email)
	wantStatus(t, "request", e.Do("POST", "/v1/auth/password-reset", "", map[string]string{"email": u.Email}), 202, "")
	m, err := e.SMTP.WaitFor(u.Email, n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code := m.Code()
	for i := 1; i <= 5; i++ {
		wrong := fmt.Sprintf("%06d", (atoi(code)+i)%1000000)
		wantStatus(t, "wrong", e.Do("POST", "/v1/auth/password-reset/confirm", "", map[string]string{"email": u.Email, "code": wrong, "new_password": "a new long password"}), 400, "invalid_argument")
	}
	// Five wrong tries burn the code.
	wantStatus(t, "burnt", e.Do("POST", "/v1/auth/password-reset/confirm", "", map[string]string{"email": u.Email, "code": code, "new_password": "a new long password"}), 400, "invalid_argument")
	if !e.CanLogin(u, u.Password) {
		t.Fatal("the password changed")
	}
}

func TestChangePassword(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("cp")
	here, there := e.Login(u, "", "here"), e.Login(u, "", "there")
	change := func(cur, next string) apitest.Resp {
		return e.Do("POST", "/v1/me/password", here.Token, map[string]string{"current_password": cur, "new_password": next})
	}
	wantStatus(t, "wrong current", change("not it at all", "a brand new password"), 403, "forbidden")
	wantStatus(t, "weak new", change(u.Password, "short"), 400, "invalid_argument")
	wantStatus(t, "missing current", change("", "a brand new password"), 400, "invalid_argument")
	wantStatus(t, "unknown field", e.Do("POST", "/v1/me/password", here.Token, map[string]string{"current_password": u.Password, "new_password": "a brand new password", "x": "1"}), 400, "invalid_argument")
	// Nothing was half-applied: every session still works.
	for _, tok := range []string{here.Token, there.Token, u.Token} {
		wantStatus(t, "session after failed changes", e.Do("GET", "/v1/me", tok, nil), 200, "")
	}
	wantStatus(t, "change", change(u.Password, "a brand new password"), 204, "")
	wantStatus(t, "this session kept", e.Do("GET", "/v1/me", here.Token, nil), 200, "")
	wantStatus(t, "this refresh kept", e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": here.Refresh}), 200, "")
	for _, s := range []apitest.Session{there, {Token: u.Token, Refresh: u.Refresh}} {
		wantStatus(t, "other token", e.Do("GET", "/v1/me", s.Token, nil), 401, "unauthenticated")
		wantStatus(t, "other refresh", e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.Refresh}), 401, "unauthenticated")
	}
	if e.CanLogin(u, u.Password) || !e.CanLogin(u, "a brand new password") {
		t.Fatal("old password must fail, new one work")
	}
}

func TestConcurrentPasswordChanges(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("ccp")
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.Do("POST", "/v1/me/password", u.Token, map[string]string{
				"current_password": u.Password, "new_password": fmt.Sprintf("new password number %d", i)})
			statuses[i] = r.Status
			if r.Status != 204 && r.ErrCode() != "conflict" && r.ErrCode() != "forbidden" {
				t.Errorf("change %d: %d %s", i, r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	won := -1
	for i, st := range statuses {
		if st == 204 {
			if won >= 0 {
				t.Fatalf("changes %d and %d both succeeded: %v", won, i, statuses)
			}
			won = i
		}
	}
	if won < 0 {
		t.Fatalf("no change succeeded: %v", statuses)
	}
	valid := 0
	for i := range n {
		if e.CanLogin(u, fmt.Sprintf("new password number %d", i)) {
			valid++
			if i != won {
				t.Fatalf("password %d works, but %d won", i, won)
			}
		}
	}
	if valid != 1 || e.CanLogin(u, u.Password) {
		t.Fatalf("%d new passwords valid (old valid: %v), want exactly the winner's", valid, e.CanLogin(u, u.Password))
	}
}

func TestChangeEmail(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("ce")
	taken := e.Register("ce")
	newAddr := apitest.Unique("moved") + "@example.org"
	// A taken address gets the same answer (no account enumeration) but no
	// code: the mail count is checked after the next mail arrived.
	takenMails := e.SMTP.Count(taken.Email)
	wantStatus(t, "taken", e.Do("POST", "/v1/me/email-code", u.Token, map[string]string{"email": taken.Email}), 202, "")
	wantStatus(t, "same", e.Do("POST", "/v1/me/email-code", u.Token, map[string]string{"email": u.Email}), 400, "invalid_argument")
	wantStatus(t, "bad", e.Do("POST", "/v1/me/email-code", u.Token, map[string]string{"email": "x@"}), 400, "invalid_argument")
	n := e.SMTP.Count(newAddr)
	wantStatus(t, "request", e.Do("POST", "/v1/me/email-code", u.Token, map[string]string{"email": newAddr}), 202, "")
	m, err := e.SMTP.WaitFor(newAddr, n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code := m.Code()
	if n := e.SMTP.Count(taken.Email); n != takenMails {
		t.Fatalf("a code was mailed to a taken address (%d mails, had %d)", n, takenMails)
	}
	wantStatus(t, "taken, with a made-up code", e.Do("POST", "/v1/me/email", u.Token, map[string]string{"email": taken.Email, "code": "123456"}), 400, "invalid_argument")
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	wantStatus(t, "wrong code", e.Do("POST", "/v1/me/email", u.Token, map[string]string{"email": newAddr, "code": wrong}), 400, "invalid_argument")
	old := e.SMTP.Count(u.Email)
	r := e.Do("POST", "/v1/me/email", u.Token, map[string]string{"email": newAddr, "code": code})
	wantStatus(t, "change", r, 200, "")
	var me struct{ Email string }
	r.JSON(t, &me)
	if me.Email != newAddr {
		t.Fatalf("email %q", me.Email)
	}
	notice, err := e.SMTP.WaitFor(u.Email, old, 10*time.Second)
	if err != nil || !strings.Contains(strings.ReplaceAll(notice.Data, "=\r\n", ""), newAddr) { // quoted-printable lines
		t.Fatalf("notice to the old address: %v %q", err, notice.Data)
	}
	wantStatus(t, "reused", e.Do("POST", "/v1/me/email", u.Token, map[string]string{"email": newAddr, "code": code}), 400, "invalid_argument")
	if r := e.Do("POST", "/v1/auth/login", "", map[string]string{"login": newAddr, "password": u.Password}); r.Status != 200 {
		t.Fatalf("login by new email: %d %s", r.Status, r.Body)
	}
	// The old address is free again.
	c := e.Code(u.Email)
	wantStatus(t, "register old address", e.Do("POST", "/v1/auth/register", "", map[string]string{
		"email": u.Email, "code": c, "account": apitest.Unique("ce"), "password": "long enough pw"}), 201, "")
}

func TestDeleteAccount(t *testing.T) {
	lim := apitest.Generous()
	lim.DeletedGrace = time.Millisecond
	e := apitest.New(t, apitest.Options{Limits: &lim})
	owner, b, c := e.Register("del"), e.Register("del"), e.Register("del")
	e.Befriend(owner, b)
	e.Befriend(owner, c)
	r := e.Do("POST", "/v1/groups", owner.Token, map[string]any{"name": "club", "members": []string{b.Account}})
	wantStatus(t, "group", r, 201, "")
	var g struct{ Group struct{ ID string } }
	r.JSON(t, &g)
	gid := g.Group.ID
	wantStatus(t, "add c later", e.Do("POST", "/v1/groups/"+gid+"/members", owner.Token, map[string]any{"accounts": []string{c.Account}}), 200, "")
	r = e.Do("POST", "/v1/rooms/"+gid+"/messages", owner.Token, map[string]string{"body": "bye all", "client_msg_id": "c-del-1"})
	wantStatus(t, "send", r, 201, "")
	// A group the owner is alone in is disbanded.
	r = e.Do("POST", "/v1/groups", owner.Token, map[string]any{"name": "solo", "members": []string{}})
	solo := ""
	if r.Status == 201 {
		var s struct{ Group struct{ ID string } }
		r.JSON(t, &s)
		solo = s.Group.ID
	}

	wantStatus(t, "wrong password", e.Do("DELETE", "/v1/me", owner.Token, map[string]string{"password": "not the password"}), 403, "forbidden")
	wantStatus(t, "no password", e.Do("DELETE", "/v1/me", owner.Token, map[string]string{}), 400, "invalid_argument")
	wantStatus(t, "still there", e.Do("GET", "/v1/me", owner.Token, nil), 200, "")
	wantStatus(t, "delete", e.Do("DELETE", "/v1/me", owner.Token, map[string]string{"password": owner.Password}), 204, "")

	wantStatus(t, "token after delete", e.Do("GET", "/v1/me", owner.Token, nil), 401, "unauthenticated")
	if e.CanLogin(owner, owner.Password) {
		t.Fatal("a deleted account logged in")
	}
	wantStatus(t, "lookup", e.Do("GET", "/v1/users/"+owner.Account, b.Token, nil), 404, "not_found")
	// The group passed to b (the longest-standing member), without the owner.
	r = e.Do("GET", "/v1/groups/"+gid, b.Token, nil)
	wantStatus(t, "group after", r, 200, "")
	var gv struct {
		Group struct {
			Owner   string `json:"owner"`
			Members []struct{ ID string }
		}
	}
	r.JSON(t, &gv)
	if gv.Group.Owner != b.ID || len(gv.Group.Members) != 2 {
		t.Fatalf("group after delete: %s", r.Body)
	}
	if solo != "" {
		wantStatus(t, "solo group", e.Do("GET", "/v1/groups/"+solo, b.Token, nil), 404, "not_found")
	}
	// Friends are gone; the message stays, its sender shown as deleted.
	r = e.Do("GET", "/v1/friends", b.Token, nil)
	if strings.Contains(string(r.Body), owner.ID) {
		t.Fatalf("b still lists the deleted friend: %s", r.Body)
	}
	r = e.Do("GET", "/v1/rooms/"+gid+"/messages", c.Token, nil)
	if !strings.Contains(string(r.Body), "bye all") || !strings.Contains(string(r.Body), owner.ID) {
		t.Fatalf("history lost the message: %s", r.Body)
	}
	r = e.Do("GET", "/v1/users?ids="+owner.ID+","+b.ID, c.Token, nil)
	wantStatus(t, "users by id", r, 200, "")
	var us struct {
		Users []struct {
			ID, Nickname string
			Deleted      bool
		}
	}
	r.JSON(t, &us)
	if len(us.Users) != 2 || us.Users[0].ID != owner.ID || !us.Users[0].Deleted || us.Users[0].Nickname != "Deleted user" || us.Users[1].Deleted {
		t.Fatalf("users by id: %s", r.Body)
	}

	// The name and email stay taken until housekeeping frees them after
	// the grace period (1 ms here).
	code := e.Code(owner.Email)
	reg := map[string]string{"email": owner.Email, "code": code, "account": owner.Account, "password": "long enough pw"}
	if r := e.Do("POST", "/v1/auth/register", "", reg); r.Status != 409 {
		// Housekeeping has not run: the name is still taken.
		t.Fatalf("re-register before the sweep: %d %s", r.Status, r.Body)
	}
	st, err := e.Core.Service.Sweep(context.Background())
	if err != nil || st.Released < 1 {
		t.Fatalf("sweep: %+v %v", st, err)
	}
	reg["code"] = e.Code(owner.Email)
	wantStatus(t, "re-register after the sweep", e.Do("POST", "/v1/auth/register", "", reg), 201, "")
}

func TestSweepPurgesExpiredSessions(t *testing.T) {
	e := apitest.New(t, apitest.Options{RefreshTTL: 2 * time.Second})
	u := e.Register("sw")
	s := e.Login(u, "", "short-lived")
	time.Sleep(2100 * time.Millisecond) // the sessions' lifetime: nothing to wait on but the clock
	// The access token (15 min) still works but the session is over:
	// it is no longer listed, and its refresh token is refused.
	fresh := e.Login(u, "", "new")
	if l := listSessions(t, e, fresh.Token); len(l.Sessions) != 1 || l.Sessions[0].ID != fresh.ID {
		t.Fatalf("expired sessions listed: %+v", l.Sessions)
	}
	wantStatus(t, "expired refresh", e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.Refresh}), 401, "unauthenticated")
	st, err := e.Core.Service.Sweep(context.Background())
	if err != nil || st.Purged < 4 {
		t.Fatalf("sweep: %+v %v (want the two expired sessions and their refresh tokens)", st, err)
	}
	// The live session and its refresh token survive the sweep.
	wantStatus(t, "live refresh", e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": fresh.Refresh}), 200, "")
	if st, err := e.Core.Service.Sweep(context.Background()); err != nil || st.Purged != 0 {
		t.Fatalf("second sweep: %+v %v", st, err)
	}
}

func TestRefreshReuseEndsTheSession(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("reuse")
	s := e.Login(u, "", "victim")
	r := e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.Refresh})
	wantStatus(t, "refresh", r, 200, "")
	var next struct {
		AccessToken string `json:"access_token"`
	}
	r.JSON(t, &next)
	// The old refresh token comes back (a thief, or the victim): the
	// session ends, its access tokens with it, old and new.
	wantStatus(t, "reuse", e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.Refresh}), 401, "unauthenticated")
	for _, tok := range []string{s.Token, next.AccessToken} {
		wantStatus(t, "token of the reused session", e.Do("GET", "/v1/me", tok, nil), 401, "unauthenticated")
	}
	wantStatus(t, "other session", e.Do("GET", "/v1/me", u.Token, nil), 200, "")
}
