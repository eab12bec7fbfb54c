package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/standalone"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/internal/web"
)

// waitTimeout bounds every wait on the page.
const waitTimeout = 20 * time.Second

// chromiumPath finds Debian's chromium (scripts/install-deps.sh installs
// it). Missing: skip, or fail under CI=true.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("IM_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if strings.EqualFold(os.Getenv("CI"), "true") {
		t.Fatal("chromium is not installed (/usr/bin/chromium); run scripts/install-deps.sh")
	}
	t.Skip("chromium is not installed (/usr/bin/chromium); run scripts/install-deps.sh")
	return ""
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv("IM_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	t.Logf("screenshots go to %s", abs)
	return abs
}

func startServer(t *testing.T, dataDir, addr string, sink *testenv.SMTPSink) *standalone.Server {
	t.Helper()
	cfg, err := config.Load(flag.NewFlagSet("webtest", flag.ContinueOnError), nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dataDir
	cfg.HTTPAddr = addr
	cfg.SMTPAddr = sink.Addr
	cfg.SMTPTLS = "none"
	cfg.NodeID = "web-test"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := standalone.Start(ctx, cfg, standalone.Options{
		Log:  zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		Web:  web.Mount,
		Core: app.CoreOptions{Limits: apitest.Generous(), CodeOpts: apitest.GenerousCodes()},
	})
	if err != nil {
		t.Fatalf("standalone: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// browser is one chromium; each page is a separate browser context (its
// own localStorage, cookies and WebSocket), that is one user.
type browser struct {
	t     *testing.T
	root  context.Context
	shots string
	base  string
}

func newBrowser(t *testing.T, shots string) *browser {
	path := chromiumPath(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()),
	)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	// The first run starts chromium; it lives as long as root (not a
	// shorter context).
	if err := chromedp.Do(root, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return &browser{t: t, root: root, shots: shots}
}

type page struct {
	t      *testing.T
	b      *browser
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

func (b *browser) page(name string) *page {
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	p := &page{t: b.t, b: b, name: name, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	msgs := chromedp.Console(ctx)
	go func() {
		defer close(p.done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	b.t.Cleanup(p.close)
	p.do(chromedp.EmulateViewport(1280, 800))
	return p
}

// close ends the page and reports what it wrote to the console: an
// uncaught exception or a Content-Security-Policy violation fails the test.
func (p *page) close() {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		text := m.String()
		switch {
		case m.IsException():
			p.t.Errorf("%s: uncaught exception in the page: %s", p.name, text)
		case strings.Contains(text, "Content Security Policy") || strings.Contains(text, "Content-Security-Policy"):
			p.t.Errorf("%s: CSP violation: %s", p.name, text)
		default:
			p.t.Logf("%s console: %s", p.name, text)
		}
	}
}

func (p *page) fail(format string, args ...any) {
	p.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		path := filepath.Join(p.b.shots, "FAILED-"+p.name+".png")
		if os.WriteFile(path, buf, 0o644) == nil {
			msg += "\n(screenshot: " + path + ")"
		}
	}
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ''`)); err == nil {
		msg += "\npage text:\n" + text
	}
	p.t.Fatalf("%s: %s", p.name, msg)
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail("%v", err)
	}
}

// js formats a JavaScript expression, JSON-encoding every argument.
func js(format string, args ...any) string {
	enc := make([]any, len(args))
	for i, a := range args {
		b, _ := json.Marshal(a)
		enc[i] = string(b)
	}
	return fmt.Sprintf(format, enc...)
}

const jsHelpers = `
const vis = (e) => !!e && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length) && getComputedStyle(e).visibility !== 'hidden';
const msgs = () => [...document.querySelectorAll('#message-list [data-testid=msg]')];
`

func (p *page) eval(expr string) (string, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {`+jsHelpers+`return String(`+expr+`); })()`))
}

// waitJS waits until expr (which may use vis and msgs) is true.
func (p *page) waitJS(what, expr string) {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last string
	var err error
	for {
		last, err = p.eval(expr)
		if err == nil && last == "true" {
			return
		}
		if time.Now().After(deadline) {
			p.fail("timed out waiting for %s (last: %q, %v)", what, last, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *page) waitVisible(sel string) {
	p.t.Helper()
	p.waitJS("visible "+sel, js(`vis(document.querySelector(%s))`, sel))
}

func (p *page) waitGone(sel string) {
	p.t.Helper()
	p.waitJS("gone "+sel, js(`!vis(document.querySelector(%s))`, sel))
}

func (p *page) waitText(sel, text string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("%s to show %q", sel, text),
		js(`(() => { const e = document.querySelector(%s); return vis(e) && e.textContent.includes(%s); })()`, sel, text))
}

// click clicks sel with the mouse, trying again while the page replaces
// the node under the query.
func (p *page) click(sel string) {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		p.waitVisible(sel)
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || p.ctx.Err() != nil {
			p.fail("click %s: %v", sel, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// set fills a field as typing would: the value, then an input event.
func (p *page) set(sel, value string) {
	p.t.Helper()
	p.waitVisible(sel)
	if _, err := p.eval(js(`(() => { const e = document.querySelector(%s); e.focus(); e.value = %s; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, sel, value)); err != nil {
		p.fail("setting %s: %v", sel, err)
	}
}

func (p *page) open(url string) {
	p.t.Helper()
	p.do(chromedp.Navigate(url))
}

func (p *page) shot(name string) {
	p.t.Helper()
	time.Sleep(150 * time.Millisecond) // let transitions settle
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.fail("screenshot: %v", err)
	}
	path := filepath.Join(p.b.shots, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot %s", path)
}

// cdp runs protocol calls on the page (what names them in a failure).
func (p *page) cdp(what string, f func(ctx context.Context) error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		p.fail("%s: %v", what, err)
	}
}

// darkShot takes a screenshot with prefers-color-scheme: dark.
func (p *page) darkShot(name string) {
	p.t.Helper()
	p.emulateScheme("dark")
	p.shot(name)
	p.emulateScheme("")
}

func (p *page) connected() {
	p.t.Helper()
	p.waitJS("the WebSocket to be open", `document.body.dataset.conn === 'open'`)
}

// send writes body in the composer and sends it.
func (p *page) send(body string) {
	p.t.Helper()
	p.set("#composer-input", body)
	p.click("#composer-send")
}

// waitMessage waits until the open chat shows body as a stored message
// (with a seq: acknowledged, not pending).
func (p *page) waitMessage(body string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("message %q", body),
		js(`msgs().some((e) => e.dataset.seq && e.querySelector('.bubble').textContent === %s)`, body))
}

// openChat clicks a conversation and waits for its chat; a click that
// landed elsewhere (the list can reorder under the mouse) is tried again.
func (p *page) openChat(sel, title string) {
	p.t.Helper()
	check := js(`(() => { const e = document.querySelector('#chat-title'); return vis(e) && e.textContent === %s; })()`, title)
	for try := 0; ; try++ {
		p.click(sel)
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if ok, _ := p.eval(check); ok == "true" {
				return
			}
		}
		if try == 3 {
			p.waitText("#chat-title", title) // fails with the page's state
			return
		}
	}
}

type user struct{ email, account, password, nick string }

func convDirect(account string) string {
	return fmt.Sprintf(`[data-testid="conv-direct"][data-peer=%q]`, account)
}

func convGroup(name string) string {
	return fmt.Sprintf(`[data-testid="conv-group"][data-title=%q]`, name)
}

// register creates u through the page, reading the code from the SMTP sink.
// With checks, it also tries empty fields and a wrong code first.
func register(p *page, sink *testenv.SMTPSink, u user, checks bool) {
	p.t.Helper()
	p.open(p.b.base)
	p.click("#tab-register")
	if checks {
		p.click("#reg-submit")
		p.waitText("#register-error", "Please fill in: email, code, account, password.")
		p.click("#reg-send-code")
		p.waitText("#register-error", "Enter your email address first")
	}
	p.set("#reg-email", u.email)
	p.click("#reg-send-code")
	p.waitText("#register-info", "We sent a 6-digit code to "+u.email)
	mail, err := sink.WaitFor(u.email, 0, waitTimeout)
	if err != nil {
		p.t.Fatal(err)
	}
	code := mail.Code()
	if code == "" {
		p.t.Fatalf("no code in the mail to %s:\n%s", u.email, mail.Data)
	}
	p.set("#reg-account", u.account)
	p.set("#reg-password", u.password)
	p.set("#reg-nickname", u.nick)
	if u.account == "carol" {
		p.shot("00-phone-register")
	}
	if checks {
		wrong := []byte(code)
		wrong[0] = '0' + (wrong[0]-'0'+1)%10
		p.set("#reg-code", string(wrong))
		p.click("#reg-submit")
		p.waitText("#register-error", "That code is wrong or has expired")
		p.shot("01-register")
		p.audit("register")
	}
	p.set("#reg-code", code)
	p.click("#reg-submit")
	p.waitVisible("#app")
	p.waitText("#me-name", u.nick)
	p.connected()
}

// befriend: from finds to by account and asks; to accepts in its page.
func befriend(from, to *page, fromU, toU user, shot string) {
	from.t.Helper()
	from.set("#find-account", toU.account)
	from.click("#find-submit")
	from.click("#find-add")
	from.waitText("#find-status", "Friend request sent")
	from.waitText(fmt.Sprintf(`[data-testid="outgoing-%s"]`, toU.account), "Waiting for @"+toU.account)
	to.waitText(fmt.Sprintf(`[data-testid="request-%s"]`, fromU.account), fromU.nick) // live friend_request event
	if shot != "" {
		to.shot(shot)
		to.audit("friend request")
	}
	to.click(fmt.Sprintf(`[data-testid="accept-%s"]`, fromU.account))
	to.waitText("#chat-title", fromU.nick)    // accepting opens the chat
	from.waitVisible(convDirect(toU.account)) // live friend_added event
	from.waitGone(fmt.Sprintf(`[data-testid="outgoing-%s"]`, toU.account))
}

// twoFriends opens a page for each of two users, registers them and makes
// them friends (v's chat with u is open).
func twoFriends(br *browser, sink *testenv.SMTPSink, u, v user) (*page, *page) {
	p, q := br.page(u.account), br.page(v.account)
	register(p, sink, u, false)
	register(q, sink, v, false)
	befriend(p, q, u, v, "")
	return p, q
}

// newGroup creates a group of p's user and the friends with accounts; its
// chat opens.
func newGroup(p *page, name string, accounts ...string) {
	p.t.Helper()
	p.click("#btn-new-group")
	p.waitVisible("#pick-" + accounts[0]) // the friends are loaded
	p.set("#group-name", name)
	for _, a := range accounts {
		p.click("#pick-" + a)
	}
	p.click("#group-create")
	p.waitText("#chat-title", name)
}

func TestBrowserChat(t *testing.T) {
	chromiumPath(t)
	shots := screenshotDir(t)
	sink := testenv.NewSMTPSink(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, "127.0.0.1:0", sink)
	br := newBrowser(t, shots)
	br.base = srv.URL + "/"
	start := time.Now()

	alice := user{"alice@example.test", "alice", "alice-password", "Alice"}
	bob := user{"bob@example.test", "bob", "bob-password", "Bob"}
	carol := user{"carol@example.test", "carol", "carol-password", "Carol"}
	a, b, c := br.page("alice"), br.page("bob"), br.page("carol")

	// Register through the page; alice also tries bad input.
	register(a, sink, alice, true)
	register(b, sink, bob, false)
	c.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	register(c, sink, carol, false)
	c.do(chromedp.EmulateViewport(1280, 800))
	t.Logf("registered three users after %v", time.Since(start).Round(time.Millisecond))

	// Finding someone: unknown, empty.
	a.click("#find-submit")
	a.waitText("#find-result", "Type an account to look for.")
	a.set("#find-account", "nobody-here")
	a.click("#find-submit")
	a.waitText("#find-result", "No one has the account")

	// Friends: alice and bob; carol asks alice, who declines, then alice
	// asks carol, who accepts.
	befriend(a, b, alice, bob, "09-friend-request")
	a.set("#find-account", "bob")
	a.click("#find-submit")
	a.waitText("#find-status", "Already your friend.")

	c.set("#find-account", "alice")
	c.click("#find-submit")
	c.click("#find-add")
	c.waitText("#find-status", "Friend request sent")
	a.waitVisible(`[data-testid="request-carol"]`)
	a.click(`[data-testid="decline-carol"]`)
	a.waitGone(`[data-testid="request-carol"]`)
	befriend(a, c, alice, carol, "")
	t.Logf("friends after %v", time.Since(start).Round(time.Millisecond))

	// Direct messages both ways, live. bob's chat with alice is open since
	// he accepted.
	a.openChat(convDirect("bob"), "Bob")
	a.send("Hello Bob 👋 <b>not bold</b>")
	a.waitMessage("Hello Bob 👋 <b>not bold</b>")
	b.waitMessage("Hello Bob 👋 <b>not bold</b>")
	b.send("Hi Alice!\nHow are you?")
	b.waitMessage("Hi Alice!\nHow are you?")
	a.waitMessage("Hi Alice!\nHow are you?")
	// Text stays text: no element was made from the message.
	if n, _ := a.eval(`document.querySelectorAll('#message-list .bubble b').length`); n != "0" {
		t.Errorf("a message body became HTML (%s <b> elements)", n)
	}
	// Viewing the chat: nothing unread.
	a.waitJS("no unread badge for the open chat", js(`!document.querySelector(%s)`, convDirect("bob")+` [data-testid="unread"]`))

	// Bad input in the composer.
	a.click("#composer-send")
	a.waitText("#composer-error", "the message is empty")
	a.set("#composer-input", strings.Repeat("x", 4001))
	a.click("#composer-send")
	a.waitText("#composer-error", "Your message is too long: 4001 characters. The limit is 4000.")
	a.shot("07-message-too-long")
	a.set("#composer-input", "")
	a.shot("03-chat")
	a.audit("direct chat")

	// bob goes away (the page, and so its WebSocket, is closed); alice
	// writes; bob comes back and finds the messages, counted as unread.
	b.open("about:blank")
	a.send("While you were away")
	a.waitMessage("While you were away")
	b.open(br.base)
	b.waitVisible("#app")
	b.connected()
	b.waitText(convDirect("alice")+` [data-testid="unread"]`, "1")
	a.send("Are you there?")
	a.waitMessage("Are you there?")
	b.waitText(convDirect("alice")+` [data-testid="unread"]`, "2") // live
	b.waitText(convDirect("alice")+" .conv-preview", "Are you there?")
	b.shot("02-conversations")
	b.audit("conversation list")
	b.openChat(convDirect("alice"), "Alice")
	b.waitMessage("Hello Bob 👋 <b>not bold</b>") // history
	b.waitMessage("While you were away")
	b.waitMessage("Are you there?")
	b.waitGone(convDirect("alice") + ` [data-testid="unread"]`)
	t.Logf("direct chat after %v", time.Since(start).Round(time.Millisecond))

	// A group of three.
	a.click("#btn-new-group")
	a.waitVisible("#group-dialog")
	a.waitVisible("#pick-bob") // the friends are loaded: the buttons stay where they are
	a.click("#group-create")
	a.waitText("#group-error", "Give the group a name.")
	a.audit("new group dialog")
	a.set("#group-name", "Trio")
	a.click("#pick-bob")
	a.click("#pick-carol")
	a.click("#group-create")
	a.waitText("#chat-title", "Trio")
	a.waitText("#chat-sub", "3 members")
	a.send("Welcome to the trio")
	a.waitMessage("Welcome to the trio")
	b.waitVisible(convGroup("Trio")) // live group_joined
	b.openChat(convGroup("Trio"), "Trio")
	b.waitMessage("Welcome to the trio")
	c.waitVisible(convGroup("Trio"))
	c.openChat(convGroup("Trio"), "Trio")
	c.waitMessage("Welcome to the trio")
	c.send("Hello from Carol")
	c.waitMessage("Hello from Carol")
	a.waitMessage("Hello from Carol")
	b.waitMessage("Hello from Carol")
	b.send("Bob here too")
	a.waitMessage("Bob here too")
	c.waitMessage("Bob here too")
	b.waitJS("sender names in the group", js(`[...document.querySelectorAll('#message-list .sender')].map((e) => e.textContent).join(',') === %s`, "Alice,Carol"))
	b.shot("04-group-chat")
	b.audit("group chat")
	b.darkShot("10-group-chat-dark")
	t.Logf("group chat after %v", time.Since(start).Round(time.Millisecond))

	// Phone width: one pane at a time.
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.waitVisible("#chat-back")
	b.waitGone("#sidebar")
	b.waitGone("#chat-leave") // behind the menu
	b.shot("06-phone-chat")
	b.click("#chat-menu")
	b.waitVisible("#chat-leave")
	b.shot("06b-phone-chat-menu")
	b.audit("phone chat menu")
	b.click("#message-list") // closes the menu
	b.waitGone("#chat-leave")
	b.click("#chat-back")
	b.waitVisible("#sidebar")
	b.waitGone("#chat")
	b.shot("05-phone-list")
	b.openChat(convGroup("Trio"), "Trio")
	b.waitGone("#sidebar")
	b.click("#chat-back")
	b.do(chromedp.EmulateViewport(1280, 800))

	// carol leaves the group; alice sees the new member count.
	c.click("#chat-leave")
	c.click("#confirm-ok")
	c.waitGone(convGroup("Trio"))
	a.waitText("#chat-sub", "2 members")
	// alice adds her back.
	a.click("#chat-add-members")
	a.waitVisible("#pick-carol")
	a.waitGone("#pick-bob") // already in the group
	a.click("#pick-carol")
	a.click("#group-create")
	a.waitText("#chat-sub", "3 members")
	c.waitVisible(convGroup("Trio")) // live group_joined

	// carol logs out and in again: empty fields, a wrong password, then by
	// email.
	c.click("#btn-logout")
	c.waitVisible("#auth")
	c.audit("login")
	c.click("#login-submit")
	c.waitText("#login-error", "Please enter your account or email and password.")
	c.set("#login-login", "carol")
	c.set("#login-password", "not-the-password")
	c.click("#login-submit")
	c.waitText("#login-error", "Wrong account or password.")
	c.set("#login-login", carol.email)
	c.set("#login-password", carol.password)
	c.click("#login-submit")
	c.waitVisible("#app")
	c.connected()
	c.waitVisible(convDirect("alice"))
	t.Logf("login after %v", time.Since(start).Round(time.Millisecond))

	// Restart: stop the server, start it again on the same data folder and
	// address. The pages show the lost connection; a message written
	// meanwhile stays pending, and goes out once the page has reconnected by
	// itself; the history is still there.
	room, err := a.eval(js(`document.querySelector(%s).dataset.room`, convDirect("bob")))
	if err != nil || room == "" {
		t.Fatalf("room id: %q %v", room, err)
	}
	a.openChat(convDirect("bob"), "Bob")
	b.openChat(convDirect("alice"), "Alice")
	addr := srv.Addr.String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := srv.Close(ctx); err != nil {
		t.Logf("close: %v", err)
	}
	cancel()
	a.waitJS("the page to notice the lost connection", `document.body.dataset.conn === 'reconnecting'`)
	a.waitText("#banner", "Connection lost. Reconnecting")
	a.send("Sent while the server was down")
	a.waitJS("a pending message", `msgs().some((e) => e.dataset.state === 'pending' && e.textContent.includes('Sending'))`)
	a.shot("08-reconnecting")
	a.audit("reconnecting")
	restart := time.Now()
	startServer(t, dataDir, addr, sink)
	a.connected()
	b.connected()
	t.Logf("pages reconnected %v after the restart began", time.Since(restart).Round(time.Millisecond))
	a.waitMessage("Sent while the server was down") // acknowledged now
	a.waitJS("nothing pending", `!msgs().some((e) => e.dataset.state)`)
	b.waitMessage("Sent while the server was down")
	a.send("After the restart")
	a.waitMessage("After the restart")
	b.waitMessage("After the restart")
	a.waitGone("#banner")

	// History through REST, in seq order; then a long history that the page
	// loads page by page as alice scrolls up.
	token := restLogin(t, br.base, bob)
	checkHistory(t, br.base, token, room, []string{
		"Hello Bob 👋 <b>not bold</b>", "Hi Alice!\nHow are you?", "While you were away", "Are you there?",
		"Sent while the server was down", "After the restart",
	})
	for i := 1; i <= 80; i++ {
		var m struct{}
		restCall(t, br.base, "POST", "/v1/rooms/"+room+"/messages", token,
			map[string]string{"body": fmt.Sprintf("Filler %03d", i), "client_msg_id": fmt.Sprintf("filler-%d", i)}, &m)
	}
	a.waitMessage("Filler 080") // live
	a.open(br.base)             // reload: the chat starts from the newest page
	a.waitVisible("#app")
	a.openChat(convDirect("bob"), "Bob")
	a.waitMessage("Filler 080")
	if n, _ := a.eval(`msgs().length`); n != "50" {
		t.Errorf("first page: %s messages, want 50", n)
	}
	for i := 0; i < 10; i++ {
		if ok, _ := a.eval(`msgs().some((e) => e.textContent.includes('Hello Bob'))`); ok == "true" {
			break
		}
		if _, err := a.eval(`(() => { const m = document.querySelector('#messages'); m.scrollTop = 0; m.dispatchEvent(new Event('scroll')); return 1; })()`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	a.waitMessage("Hello Bob 👋 <b>not bold</b>")
	a.waitMessage("Filler 001")
	a.waitText("#history-status", "This is the beginning of the conversation.")
	a.waitJS("messages in seq order, each once", `(() => { const s = msgs().map((e) => +e.dataset.seq); return s.length === 86 && s.every((v, i) => i === 0 || v > s[i - 1]); })()`)

	// bob removes alice from his friends; her open chat with him closes.
	b.openChat(convDirect("alice"), "Alice")
	b.click("#chat-unfriend")
	b.waitText("#confirm-text", "Remove Alice from your friends?")
	b.click("#confirm-ok")
	b.waitGone(convDirect("alice"))
	a.waitGone(convDirect("bob")) // live friend_removed
	a.waitVisible("#chat-empty")
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

func restCall(t *testing.T, base, method, path, token string, body, out any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
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
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: status %d", method, path, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func restLogin(t *testing.T, base string, u user) string {
	t.Helper()
	var sess struct {
		AccessToken string `json:"access_token"`
	}
	restCall(t, base, "POST", "/v1/auth/login", "", map[string]string{"login": u.account, "password": u.password}, &sess)
	return sess.AccessToken
}

func checkHistory(t *testing.T, base, token, room string, want []string) {
	t.Helper()
	var page struct {
		Messages []struct {
			Seq  int64  `json:"seq"`
			Body string `json:"body"`
		} `json:"messages"`
	}
	restCall(t, base, "GET", "/v1/rooms/"+room+"/messages?limit=100", token, nil, &page)
	var got []string
	var last int64
	for _, m := range page.Messages {
		if m.Seq <= last {
			t.Errorf("history out of order: seq %d after %d", m.Seq, last)
		}
		last = m.Seq
		got = append(got, m.Body)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("history after the restart:\n got %q\nwant %q", got, want)
	}
}
