package standalone_test

import (
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/identitytest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Standalone (SQLite store) accepts the host app's IdP tokens on REST and
// on /ws, with the built-in email sign-in closed.
func TestStandaloneExternalIdentity(t *testing.T) {
	idp := identitytest.New(t, jwa.ES256)
	sink := testenv.NewSMTPSink(t)
	cfg := testConfig(t, t.TempDir(), sink.Addr)
	cfg.IDPIssuer, cfg.IDPAudience, cfg.IDPJWKSURL = idp.Issuer, idp.Audience, idp.JWKSURL()
	cfg.BuiltinAuth = false
	s, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &apitest.Env{T: t, URL: s.URL, SMTP: sink}
	if r := e.Do("POST", "/v1/auth/email-code", "", map[string]string{"email": "x@example.com"}); r.Status != 403 {
		t.Fatalf("email-code with IM_BUILTIN_AUTH=false: %d %s", r.Status, r.Body)
	}
	tokA, tokB := idp.Token(apitest.Unique("sa")), idp.Token(apitest.Unique("sb"))
	var a, b struct{ ID, Account string }
	for _, x := range []struct {
		tok string
		out *struct{ ID, Account string }
	}{{tokA, &a}, {tokB, &b}} {
		r := e.Do("GET", "/v1/me", x.tok, nil)
		if r.Status != 200 {
			t.Fatalf("me: %d %s", r.Status, r.Body)
		}
		r.JSON(t, x.out)
	}
	room := e.Befriend(&apitest.User{ID: a.ID, Account: a.Account, Token: tokA}, &apitest.User{ID: b.ID, Account: b.Account, Token: tokB})
	wa := apitest.DialWS(t, wsURL(s.URL), tokA)
	wb := apitest.DialWS(t, wsURL(s.URL), tokB)
	if wa.Hello.UserID != a.ID {
		t.Fatalf("hello %s, want %s", wa.Hello.UserID, a.ID)
	}
	if _, _, err := wa.SendReliably(room, "standalone hello", "sa-1", 10, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := wb.WaitFor(wait, func(o protocol.Outbound) bool {
		return o.Type == protocol.TypeMessage && o.Message != nil && o.Message.Body == "standalone hello" && o.Message.From == a.ID
	}); err != nil {
		t.Fatal(err)
	}
}
