package httpapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
)

type pushTokenJSON struct {
	Platform  string    `json:"platform"`
	Token     string    `json:"token"`
	CreatedAt time.Time `json:"created_at"`
}

func pushBody(platform, token string) map[string]string {
	return map[string]string{"platform": platform, "token": token}
}

// listPushTokens returns the tokens of the session of token.
func listPushTokens(t *testing.T, e *apitest.Env, token string) []pushTokenJSON {
	t.Helper()
	r := e.Do("GET", "/v1/me/push-tokens", token, nil)
	wantStatus(t, "list push tokens", r, 200, "")
	var b struct {
		PushTokens []pushTokenJSON `json:"push_tokens"`
	}
	r.JSON(t, &b)
	if b.PushTokens == nil {
		t.Fatalf("push_tokens is not an array: %s", r.Body)
	}
	return b.PushTokens
}

func tokensOf(ps []pushTokenJSON) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Platform + "/" + p.Token
	}
	return out
}

// currentSession returns the id of the session of token.
func currentSession(t *testing.T, e *apitest.Env, token string) string {
	t.Helper()
	for _, s := range listSessions(t, e, token).Sessions {
		if s.Current {
			return s.ID
		}
	}
	t.Fatal("no current session in the list")
	return ""
}

// Registering, listing and removing push tokens, with their limits.
func TestPushTokens(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u, v := e.Register("push"), e.Register("pushv")

	r := e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("fcm", "tok-1"))
	wantStatus(t, "register", r, 201, "")
	var first pushTokenJSON
	r.JSON(t, &first)
	if first.Platform != "fcm" || first.Token != "tok-1" || first.CreatedAt.IsZero() {
		t.Fatalf("registered %s", r.Body)
	}
	r = e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("fcm", "tok-1"))
	wantStatus(t, "register again", r, 200, "")
	var again pushTokenJSON
	r.JSON(t, &again)
	if again != first {
		t.Fatalf("registered again: %+v, want the first %+v", again, first)
	}

	for _, tc := range []struct {
		what string
		body any
		code string
	}{
		{"unknown platform", pushBody("sms", "x"), "invalid_argument"},
		{"no platform", pushBody("", "x"), "invalid_argument"},
		{"platform in capitals", pushBody("FCM", "x"), "invalid_argument"},
		{"empty token", pushBody("apns", ""), "invalid_argument"},
		{"token too long", pushBody("web", strings.Repeat("a", service.MaxPushTokenBytes+1)), "invalid_argument"},
		{"NUL in the token", pushBody("fcm", "a\x00b"), "invalid_argument"},
		{"unknown field", map[string]string{"platform": "fcm", "token": "x", "user_id": v.ID}, "invalid_argument"},
		{"not JSON", "platform=fcm", "invalid_argument"},
	} {
		wantStatus(t, "register: "+tc.what, e.Do("POST", "/v1/me/push-tokens", u.Token, tc.body), 400, tc.code)
		wantStatus(t, "remove: "+tc.what, e.Do("DELETE", "/v1/me/push-tokens", u.Token, tc.body), 400, tc.code)
	}
	wantStatus(t, "register without a token", e.Do("POST", "/v1/me/push-tokens", "", pushBody("fcm", "x")), 401, "unauthenticated")

	// Any character survives the round trip, up to the longest token.
	odd := `{"endpoint":"https://push.example/send/a%2Fb?x=1&y=2#f","keys":{"p256dh":"BN+/=","auth":"ü☃ \"q\"\n"}}`
	long := strings.Repeat("L", service.MaxPushTokenBytes)
	wantStatus(t, "register odd", e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("web", odd)), 201, "")
	wantStatus(t, "register long", e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("apns", long)), 201, "")
	got := tokensOf(listPushTokens(t, e, u.Token))
	if want := []string{"fcm/tok-1", "web/" + odd, "apns/" + long}; !slices.Equal(got, want) {
		t.Fatalf("tokens %q, want %q", got, want)
	}
	wantStatus(t, "remove odd", e.Do("DELETE", "/v1/me/push-tokens", u.Token, pushBody("web", odd)), 204, "")
	wantStatus(t, "remove odd again", e.Do("DELETE", "/v1/me/push-tokens", u.Token, pushBody("web", odd)), 404, "not_found")
	wantStatus(t, "remove on another platform", e.Do("DELETE", "/v1/me/push-tokens", u.Token, pushBody("fcm", long)), 404, "not_found")

	// Another user can neither see nor remove u's tokens.
	if got := listPushTokens(t, e, v.Token); len(got) != 0 {
		t.Fatalf("v sees tokens %+v", got)
	}
	wantStatus(t, "v removes u's token", e.Do("DELETE", "/v1/me/push-tokens", v.Token, pushBody("fcm", "tok-1")), 404, "not_found")

	// At most MaxPushTokensPerSession: u has 2, add up to the bound.
	for i := 2; i < service.MaxPushTokensPerSession; i++ {
		wantStatus(t, "register to the bound", e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("fcm", fmt.Sprintf("fill-%d", i))), 201, "")
	}
	wantStatus(t, "one past the bound", e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("fcm", "too-many")), 409, "conflict")
	wantStatus(t, "a held token at the bound", e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("fcm", "tok-1")), 200, "")
	if n := len(listPushTokens(t, e, u.Token)); n != service.MaxPushTokensPerSession {
		t.Fatalf("%d tokens, want %d", n, service.MaxPushTokensPerSession)
	}
	// Another session of u has its own bound.
	phone := e.Login(u, "", "phone")
	wantStatus(t, "register on the phone", e.Do("POST", "/v1/me/push-tokens", phone.Token, pushBody("fcm", "phone")), 201, "")
	if got := tokensOf(listPushTokens(t, e, phone.Token)); !slices.Equal(got, []string{"fcm/phone"}) {
		t.Fatalf("phone's tokens %q", got)
	}

	// A token registered by another session (of another user) moves to it.
	wantStatus(t, "v takes tok-1", e.Do("POST", "/v1/me/push-tokens", v.Token, pushBody("fcm", "tok-1")), 201, "")
	if got := tokensOf(listPushTokens(t, e, v.Token)); !slices.Equal(got, []string{"fcm/tok-1"}) {
		t.Fatalf("v's tokens %q", got)
	}
	if slices.Contains(tokensOf(listPushTokens(t, e, u.Token)), "fcm/tok-1") {
		t.Fatal("tok-1 is still u's after v registered it")
	}
	wantStatus(t, "u removes the moved token", e.Do("DELETE", "/v1/me/push-tokens", u.Token, pushBody("fcm", "tok-1")), 404, "not_found")
	// u's DELETE reaches a token of any of u's sessions.
	wantStatus(t, "u removes the phone's token", e.Do("DELETE", "/v1/me/push-tokens", u.Token, pushBody("fcm", "phone")), 204, "")
	if got := listPushTokens(t, e, phone.Token); len(got) != 0 {
		t.Fatalf("phone's tokens after the removal: %+v", got)
	}
}

// Registrations racing for the last places of a session never take it
// past the bound: each is answered 201 or 409, and the 201s are what the
// session holds.
func TestPushTokensBoundUnderConcurrency(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("pushrace")
	const held, racers = service.MaxPushTokensPerSession - 3, 8
	for i := range held {
		wantStatus(t, "register", e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("fcm", fmt.Sprintf("held-%d", i))), 201, "")
	}
	statuses := make([]int, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			statuses[i] = e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("apns", fmt.Sprintf("race-%d", i))).Status
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, st := range statuses {
		switch st {
		case 201:
			won++
		case 409:
		default:
			t.Fatalf("racer %d: status %d", i, st)
		}
	}
	got := listPushTokens(t, e, u.Token)
	if len(got) > service.MaxPushTokensPerSession || len(got) != held+won {
		t.Fatalf("%d tokens held after %d of %d racers won (%d held before), bound %d: %q",
			len(got), won, racers, held, service.MaxPushTokensPerSession, tokensOf(got))
	}
	// Whatever the race left, the free places can be taken now.
	for i := len(got); i < service.MaxPushTokensPerSession; i++ {
		wantStatus(t, "fill", e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("web", fmt.Sprintf("fill-%d", i))), 201, "")
	}
	wantStatus(t, "past the bound", e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("web", "over")), 409, "conflict")
}

// A session's tokens go when it ends: ended from the sessions list, and
// by logout everywhere.
func TestPushTokensGoWithTheSession(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("pushend")
	main := currentSession(t, e, u.Token)
	phone := e.Login(u, "", "phone")
	wantStatus(t, "register main", e.Do("POST", "/v1/me/push-tokens", u.Token, pushBody("fcm", "main")), 201, "")
	wantStatus(t, "register phone", e.Do("POST", "/v1/me/push-tokens", phone.Token, pushBody("apns", "phone")), 201, "")
	st := e.Backends.Store
	held := func(sid string) []string {
		ps, err := st.PushTokensOfSession(t.Context(), sid)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, p := range ps {
			out = append(out, p.Platform+"/"+p.Token)
		}
		return out
	}
	if got := held(phone.ID); !slices.Equal(got, []string{"apns/phone"}) {
		t.Fatalf("phone holds %q", got)
	}
	wantStatus(t, "end the phone", e.Do("DELETE", "/v1/me/sessions/"+phone.ID, u.Token, nil), 204, "")
	if got := held(phone.ID); len(got) != 0 {
		t.Fatalf("the ended phone session still holds %q", got)
	}
	if got := held(main); !slices.Equal(got, []string{"fcm/main"}) {
		t.Fatalf("the main session holds %q", got)
	}
	wantStatus(t, "logout everywhere", e.Do("POST", "/v1/auth/logout-all", u.Token, nil), 204, "")
	if got := held(main); len(got) != 0 {
		t.Fatalf("after logout everywhere the main session still holds %q", got)
	}
}

// after_send reaches a real HTTP receiver with the offline recipients'
// push tokens, those of each of their live sessions; after the recipient
// logs out of one session and then the other, the next events list them
// with that session's tokens gone, then with none (an empty array).
func TestWebhookAfterSendPushTokens(t *testing.T) {
	rcv := newHookReceiver(t)
	cl := apitest.NewCluster(t, 1, apitest.Options{Webhooks: hookEndpoints(rcv.srv.URL, "after_send"), Dispatcher: fastDispatch()})
	a, c := cl.Register("wpa"), cl.Register("wpc")
	room := cl.Befriend(a, c)
	tablet := cl.Login(c, "", "tablet")
	wantStatus(t, "register c's phone", cl.Do("POST", "/v1/me/push-tokens", c.Token, pushBody("fcm", "c-phone")), 201, "")
	wantStatus(t, "register c's tablet", cl.Do("POST", "/v1/me/push-tokens", tablet.Token, pushBody("apns", "c-tablet")), 201, "")
	wantStatus(t, "register a's own", cl.Do("POST", "/v1/me/push-tokens", a.Token, pushBody("fcm", "a-phone")), 201, "")

	// send stores a message from a and returns the offline entries of its
	// after_send event (and the raw data).
	n := 0
	send := func() ([]service.Offline, string) {
		t.Helper()
		n++
		r := cl.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": fmt.Sprintf("hi %d", n), "client_msg_id": fmt.Sprintf("push-%d", n)})
		wantStatus(t, "send", r, 201, "")
		var m struct{ ID string }
		r.JSON(t, &m)
		raw := rcv.waitEvent(m.ID)
		var ev service.AfterSend
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Message.ID != m.ID {
			t.Fatalf("event of message %s, want %s", ev.Message.ID, m.ID)
		}
		return ev.Offline, string(raw)
	}
	tokens := func(off []service.Offline) []string {
		t.Helper()
		if len(off) != 1 || off[0].UserID != c.ID {
			t.Fatalf("offline %+v, want only c (%s)", off, c.ID)
		}
		out := []string{}
		for _, p := range off[0].PushTokens {
			out = append(out, p.Platform+"/"+p.Token)
		}
		slices.Sort(out)
		return out
	}

	off, _ := send()
	if got := tokens(off); !slices.Equal(got, []string{"apns/c-tablet", "fcm/c-phone"}) {
		t.Fatalf("c's push tokens %q, want both sessions'", got)
	}
	wantStatus(t, "c logs out of the phone", cl.Do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": c.Refresh}), 204, "")
	off, _ = send()
	if got := tokens(off); !slices.Equal(got, []string{"apns/c-tablet"}) {
		t.Fatalf("c's push tokens after the phone's logout %q, want the tablet's", got)
	}
	wantStatus(t, "c logs out of the tablet", cl.Do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": tablet.Refresh}), 204, "")
	off, raw := send()
	if got := tokens(off); len(got) != 0 {
		t.Fatalf("c's push tokens after both logouts %q, want none", got)
	}
	if !strings.Contains(raw, `"push_tokens":[]`) {
		t.Fatalf("an offline entry without tokens must carry an empty array: %s", raw)
	}
}
