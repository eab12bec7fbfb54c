package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

// The settings view (issue #13): sessions, password change and reset,
// account deletion. Each test has its own server and chromium.

// settingsEnv starts a server and a browser for one test.
func settingsEnv(t *testing.T) (*browser, *testenv.SMTPSink) {
	t.Helper()
	chromiumPath(t)
	shots := screenshotDir(t)
	sink := testenv.NewSMTPSink(t)
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", sink)
	br := newBrowser(t, shots)
	br.base = srv.URL + "/"
	return br, sink
}

// signIn logs in through the login form the page shows.
func signIn(p *page, login, password string) {
	p.t.Helper()
	p.waitVisible("#login-form")
	p.set("#login-login", login)
	p.set("#login-password", password)
	p.click("#login-submit")
	p.waitVisible("#app")
	p.connected()
}

// openSettings opens the settings view and waits for the sessions list.
func openSettings(p *page) {
	p.t.Helper()
	p.click("#btn-settings")
	p.waitVisible("#settings")
	p.waitGone("#app")
	p.waitJS("the sessions list", `document.querySelectorAll('#sessions [data-testid=session]').length > 0`)
}

func sessionCount(p *page, n int) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("%d sessions in the list", n),
		fmt.Sprintf(`document.querySelectorAll('#sessions [data-testid=session]').length === %d`, n))
}

// signedOut waits until p shows the login screen with msg, its tokens
// gone and its socket stopped (not reconnecting).
func signedOut(p *page, msg string) {
	p.t.Helper()
	p.waitVisible("#auth")
	p.waitGone("#app")
	p.waitGone("#settings")
	p.waitText("#login-notice", msg)
	p.waitJS("the notice is a status", `document.querySelector('#login-notice').getAttribute('role') === 'status'`)
	p.waitJS("the tokens to be gone", `localStorage.getItem('im.session') === null`)
	p.waitJS("the socket to be stopped", `document.body.dataset.conn === 'closed'`)
}

// restDo calls the API and returns the status and the body.
func restDo(t *testing.T, base, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, strings.TrimSuffix(base, "/")+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// Sessions: two browsers logged in as one user; the first signs the other
// out from its list, which sends the other page back to the login screen
// (its socket closed with 4001). Then "Sign out everywhere".
func TestBrowserSessions(t *testing.T) {
	br, sink := settingsEnv(t)
	start := time.Now()
	alice := user{"alice@example.test", "alice", "alice-password", "Alice"}
	a, b := br.page("alice-laptop"), br.page("alice-desktop")

	register(a, sink, alice, false)
	b.open(br.base)
	signIn(b, alice.account, alice.password)

	openSettings(a)
	a.waitText("#settings-title", "Settings")
	a.waitText("#set-account", "@alice")
	a.waitText("#set-email", alice.email)
	sessionCount(a, 2)
	a.waitText(`#sessions [data-current="true"] [data-testid=this-device]`, "This device")
	a.waitText(`#sessions [data-current="true"] .session-device`, "Chrome on Linux")
	a.waitText(`#sessions [data-current="false"] .session-device`, "Chrome on Linux")
	a.waitText(`#sessions [data-current="false"] .session-meta`, "Last used")
	a.waitJS("no sign-out button on this device", `!document.querySelector('#sessions [data-current="true"] button')`)
	a.waitJS("the sign-out button's name", `document.querySelector('#sessions [data-current="false"] button').getAttribute('aria-label') === 'Sign out Chrome on Linux'`)
	a.waitText("#sessions-status", "Logged in on 2 devices.")
	if _, err := a.eval(`document.querySelector('#sessions-title').scrollIntoView()`); err != nil {
		t.Fatal(err)
	}
	a.shot("20-settings")
	a.audit("settings and sessions")
	a.darkShot("20b-settings-dark")

	// Sign the other browser out: it goes back to the login screen at once.
	a.click(`#sessions [data-current="false"] [data-testid=session-signout]`)
	signedOut(b, "You were signed out from another device.")
	b.waitJS("the socket closed with 4001", `(document.body.dataset.wsClose || '').startsWith('4001')`)
	b.shot("21-signed-out-elsewhere")
	sessionCount(a, 1)
	a.waitText("#sessions-status", "Only this device is logged in.")
	a.connected() // this one is untouched

	// The other browser logs in again; a script logs in too, with its own
	// device label.
	signIn(b, alice.email, alice.password)
	status, body := restDo(t, br.base, "POST", "/v1/auth/login", "",
		map[string]string{"login": alice.account, "password": alice.password, "device": "Test script"})
	if status != http.StatusOK {
		t.Fatalf("login: %d %s", status, body)
	}
	var sess struct {
		AccessToken string `json:"access_token"`
		SessionID   string `json:"session_id"`
	}
	if err := json.Unmarshal(body, &sess); err != nil || sess.SessionID == "" {
		t.Fatalf("login answer without session_id: %s (%v)", body, err)
	}
	a.click("#sessions-reload")
	sessionCount(a, 3)
	a.waitText(fmt.Sprintf(`#sessions [data-id=%q] .session-device`, sess.SessionID), "Test script")

	// Sign out everywhere, after a confirmation: every page is signed out,
	// this one too, and the script's token stops working.
	a.click("#sessions-logout-all")
	a.waitText("#confirm-text", "Sign out on every device")
	a.click("#confirm-cancel")
	a.waitGone("#confirm-dialog")
	a.waitVisible("#settings")
	a.click("#sessions-logout-all")
	a.waitText("#confirm-ok", "Sign out everywhere")
	a.click("#confirm-ok")
	a.waitGone("#confirm-dialog")
	signedOut(a, "You were signed out on all devices.")
	signedOut(b, "You were signed out on all devices.")
	if status, body := restDo(t, br.base, "GET", "/v1/me", sess.AccessToken, nil); status != http.StatusUnauthorized {
		t.Errorf("GET /v1/me with a token of a signed-out session: %d %s, want 401", status, body)
	}
	// Logging in again works.
	signIn(a, alice.account, alice.password)
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// Changing the nickname, the email and the password: a wrong current
// password and a weak new one show the API's errors; the change signs the
// other browser out, keeps this one, and only the new password logs in.
func TestBrowserChangePassword(t *testing.T) {
	br, sink := settingsEnv(t)
	bob := user{"bob@example.test", "bob", "bob-password", "Bob"}
	const newPassword = "bob-new-password"
	a, b := br.page("bob"), br.page("bob-phone")
	register(a, sink, bob, false)
	b.open(br.base)
	signIn(b, bob.account, bob.password)

	openSettings(a)
	// The nickname, while here.
	a.waitJS("the nickname in its field", `document.querySelector('#set-nickname').value === 'Bob'`)
	a.set("#set-nickname", "  ")
	a.click("#set-nickname-save")
	a.waitText("#profile-error", "Enter a nickname")
	a.set("#set-nickname", "Bobby")
	a.click("#set-nickname-save")
	a.waitText("#profile-status", "Nickname saved.")
	a.waitGone("#profile-error")

	// The email: a code to the new address, then the change.
	const newEmail = "bob.new@example.test"
	a.waitGone("#email-confirm")
	a.click("#email-send-code")
	a.waitText("#email-error", "Enter your new email address first")
	a.set("#email-new", bob.email)
	a.click("#email-send-code")
	a.waitText("#email-error", "That is already your email address.")
	a.set("#email-new", newEmail)
	a.click("#email-send-code")
	a.waitText("#email-info", "We sent a 6-digit code to "+newEmail)
	a.waitGone("#email-error")
	a.waitVisible("#email-confirm")
	mail, err := sink.WaitFor(newEmail, 0, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	code := mail.Code()
	wrong := []byte(code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	a.set("#email-code", string(wrong))
	a.click("#email-submit")
	a.waitText("#email-error", "That code is wrong or has expired")
	a.set("#email-code", code)
	a.click("#email-submit")
	a.waitText("#email-info", "Your email address is now "+newEmail+".")
	a.waitText("#set-email", newEmail)
	a.waitGone("#email-confirm")
	a.waitGone("#email-error")

	a.click("#pw-submit")
	a.waitText("#pw-error", "Please enter your current password and a new password.")
	a.set("#pw-current", "not-bobs-password")
	a.set("#pw-new", newPassword)
	a.click("#pw-submit")
	a.waitText("#pw-error", "The current password is wrong.")
	a.waitJS("the current password marked invalid", `document.querySelector('#pw-current').getAttribute('aria-invalid') === 'true'`)
	a.waitJS("the error is an alert", `document.querySelector('#pw-error').getAttribute('role') === 'alert'`)
	a.shot("22-password-wrong")
	a.set("#pw-current", bob.password)
	a.set("#pw-new", "short")
	a.click("#pw-submit")
	a.waitText("#pw-error", "Password must be 8-128 characters.")
	a.set("#pw-new", newPassword)
	a.click("#pw-submit")
	a.waitText("#pw-status", "Password changed. Your other devices were logged out.")
	a.waitGone("#pw-error")
	a.waitJS("the fields emptied", `document.querySelector('#pw-current').value === '' && document.querySelector('#pw-new').value === ''`)

	// The other browser is signed out; this one stays.
	signedOut(b, "Your password was changed. Log in with the new password.")
	sessionCount(a, 1)
	a.connected()

	// Back to the chats (the new nickname shows), log out; the old
	// password fails, the new one works.
	a.click("#settings-back")
	a.waitVisible("#app")
	a.waitText("#me-name", "Bobby")
	a.click("#btn-logout")
	a.waitVisible("#auth")
	a.set("#login-login", bob.account)
	a.set("#login-password", bob.password)
	a.click("#login-submit")
	a.waitText("#login-error", "Wrong account or password.")
	a.set("#login-login", newEmail) // the new address logs in too
	a.set("#login-password", newPassword)
	a.click("#login-submit")
	a.waitVisible("#app")
	a.waitText("#me-name", "Bobby")
	a.connected()
}

// Forgot password: a code by email, a new password, back to the login
// screen; every session ended.
func TestBrowserForgotPassword(t *testing.T) {
	br, sink := settingsEnv(t)
	carol := user{"carol@example.test", "carol", "carol-password", "Carol"}
	const newPassword = "carol-new-password"
	a, b := br.page("carol"), br.page("carol-other")
	register(a, sink, carol, false)
	b.open(br.base)
	signIn(b, carol.account, carol.password) // stays logged in until the reset
	a.click("#btn-logout")
	a.waitVisible("#auth")

	a.set("#login-login", carol.email)
	a.click("#forgot-link")
	a.waitVisible("#reset-form")
	a.waitGone("#login-form")
	a.waitJS("the email carried over", js(`document.querySelector('#reset-email').value === %s`, carol.email))
	a.click("#reset-submit")
	a.waitText("#reset-error", "Please fill in: code, new password.")
	a.click("#reset-send-code")
	a.waitText("#reset-info", "If an account uses "+carol.email+", we sent a 6-digit code to it.")
	mail, err := sink.WaitFor(carol.email, 1, waitTimeout) // the first was the registration's
	if err != nil {
		t.Fatal(err)
	}
	code := mail.Code()
	if code == "" {
		t.Fatalf("no code in the reset mail:\n%s", mail.Data)
	}
	wrong := []byte(code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	a.set("#reset-code", string(wrong))
	a.set("#reset-password", newPassword)
	a.click("#reset-submit")
	a.waitText("#reset-error", "That code is wrong or has expired")
	a.shot("23-forgot-password")
	a.audit("forgot password")
	a.set("#reset-code", code)
	a.click("#reset-submit")

	// Back at the login screen, with the news and the email filled in.
	a.waitVisible("#login-form")
	a.waitGone("#reset-form")
	a.waitText("#login-notice", "Your password was changed. Log in with the new password.")
	a.waitJS("the email in the login field", js(`document.querySelector('#login-login').value === %s`, carol.email))
	// The other browser was signed out by the reset.
	signedOut(b, "Your password was changed. Log in with the new password.")

	a.set("#login-password", carol.password)
	a.click("#login-submit")
	a.waitText("#login-error", "Wrong account or password.")
	a.set("#login-password", newPassword)
	a.click("#login-submit")
	a.waitVisible("#app")
	a.waitText("#me-name", carol.nick)
	a.connected()

	// An unknown address gets the same answer (no account enumeration).
	a.click("#btn-logout")
	a.waitVisible("#auth")
	a.click("#forgot-link")
	a.set("#reset-email", "nobody@example.test")
	a.click("#reset-send-code")
	a.waitText("#reset-info", "If an account uses nobody@example.test, we sent a 6-digit code to it.")
	a.click("#reset-back")
	a.waitVisible("#login-form")
}

// Deleting the account: a confirmation with the password, then the login
// screen; the account cannot log in, and its messages in a group show
// "Deleted user" to the others.
func TestBrowserDeleteAccount(t *testing.T) {
	br, sink := settingsEnv(t)
	dave := user{"dave@example.test", "dave", "dave-password", "Dave"}
	erin := user{"erin@example.test", "erin", "erin-password", "Erin"}
	d, e := twoFriends(br, sink, dave, erin)

	// A group of two, with a message from dave.
	newGroup(d, "Book club", "erin")
	d.send("See you at the book club")
	d.waitMessage("See you at the book club")
	e.waitVisible(convGroup("Book club"))
	e.openChat(convGroup("Book club"), "Book club")
	e.waitMessage("See you at the book club")
	e.waitJS("dave named as the sender", `[...document.querySelectorAll('#message-list .sender')].map((x) => x.textContent).join() === 'Dave'`)

	openSettings(d)
	d.click("#delete-start")
	d.waitVisible("#delete-form")
	d.waitGone("#delete-start")
	d.waitJS("focus on the password", `document.activeElement.id === 'delete-password'`)
	d.click("#delete-submit")
	d.waitText("#delete-error", "Enter your password to confirm.")
	d.set("#delete-password", dave.password)
	d.click("#delete-submit")
	d.waitText("#delete-error", "Tick the box to confirm")
	// Cancel closes the form; nothing happened.
	d.click("#delete-cancel")
	d.waitGone("#delete-form")
	d.click("#delete-start")
	d.set("#delete-password", "not-daves-password")
	d.click("#delete-confirm")
	d.waitJS("the box ticked", `document.querySelector('#delete-confirm').checked`)
	d.click("#delete-submit")
	d.waitText("#delete-error", "That password is wrong.")
	d.shot("24-delete-account")
	d.audit("delete account")
	d.set("#delete-password", dave.password)
	d.click("#delete-submit")
	signedOut(d, "Your account was deleted.")

	// dave cannot log in any more.
	d.set("#login-login", dave.account)
	d.set("#login-password", dave.password)
	d.click("#login-submit")
	d.waitText("#login-error", "Wrong account or password.")

	// erin: the friendship is gone, the group stays, and dave's message is
	// now from "Deleted user" (live, and after a reload).
	e.waitGone(convDirect("dave"))
	e.waitText("#chat-sub", "1 member")
	e.waitJS("the sender shown as deleted", `[...document.querySelectorAll('#message-list .sender')].map((x) => x.textContent).join() === 'Deleted user'`)
	e.open(br.base)
	e.waitVisible("#app")
	e.openChat(convGroup("Book club"), "Book club")
	e.waitMessage("See you at the book club")
	e.waitJS("the sender shown as deleted after a reload", `[...document.querySelectorAll('#message-list .sender')].map((x) => x.textContent).join() === 'Deleted user'`)
	e.waitText(convGroup("Book club")+" .conv-preview", "Deleted user: See you at the book club")
	e.shot("25-deleted-sender")
}

// The settings view at phone width, and by keyboard alone: every input has
// a label, every button a name.
func TestBrowserSettingsAccessible(t *testing.T) {
	t.Parallel() // its own server and browser
	br, sink := settingsEnv(t)
	frank := user{"frank@example.test", "frank", "frank-password", "Frank"}
	p := br.page("frank")
	p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	register(p, sink, frank, false)
	openSettings(p)
	p.shot("26-phone-settings")
	p.audit("phone settings")
	p.waitJS("a label for every input", `[...document.querySelectorAll('input, textarea')].filter((i) => !i.hidden && i.type !== 'hidden').every((i) => i.labels.length > 0 || i.getAttribute('aria-label'))`)
	p.waitJS("a name for every button", `[...document.querySelectorAll('button')].every((b) => (b.getAttribute('aria-label') || b.textContent).trim() !== '')`)
	// Escape goes back to the chats; the settings button has focus again.
	p.do(chromedp.KeyEvent(kb.Escape))
	p.waitVisible("#app")
	p.waitJS("focus back on the settings button", `document.activeElement && document.activeElement.id === 'btn-settings'`)
	// Enter on the focused button opens the settings again.
	p.do(chromedp.KeyEvent(kb.Enter))
	p.waitVisible("#settings")
	p.waitJS("focus on the heading", `document.activeElement && document.activeElement.id === 'settings-title'`)
	p.do(chromedp.EmulateViewport(1280, 800))
}
