package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/internal/web"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestServesFiles(t *testing.T) {
	r := chi.NewRouter()
	web.Mount(r)
	srv := httptest.NewServer(r)
	defer srv.Close()

	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/assets/js/main.js">`},
		{"/assets/app.css", "text/css; charset=utf-8", ".app"},
		{"/assets/js/main.js", "text/javascript; charset=utf-8", "import"},
		{"/assets/js/api.js", "text/javascript; charset=utf-8", "export"},
		{"/assets/favicon.svg", "image/svg+xml", "<svg"},
	} {
		res, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(t, res)
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d", c.path, res.StatusCode)
		}
		if got := res.Header.Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self' ws: wss:", "object-src 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP allows unsafe sources: %q", c.path, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.path)
		}
		if !strings.Contains(b, c.contains) {
			t.Errorf("%s: body lacks %q", c.path, c.contains)
		}
		// Revalidation answers 304.
		req, _ := http.NewRequest(http.MethodGet, srv.URL+c.path, nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		res2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, res2)
		if res2.StatusCode != http.StatusNotModified {
			t.Errorf("%s: If-None-Match: status %d, want 304", c.path, res2.StatusCode)
		}
	}

	res, err := http.Head(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	if res.StatusCode != 200 {
		t.Errorf("HEAD /: status %d", res.StatusCode)
	}
	res, err = http.Get(srv.URL + "/assets/nope.js")
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, res); res.StatusCode != 404 || !strings.Contains(b, `"not_found"`) {
		t.Errorf("missing asset: status %d body %s", res.StatusCode, b)
	}
}

// The client never builds HTML from strings (no XSS through user data),
// runs no inline script (CSP) and loads nothing from elsewhere.
func TestClientSourceRules(t *testing.T) {
	banned := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(['"]|https?://`)
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	inlineHandler := regexp.MustCompile(`\son[a-z]+\s*=|\sstyle\s*=|javascript:`)
	n := 0
	err := filepath.WalkDir("static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(b)
		switch filepath.Ext(p) {
		case ".js", ".css":
			n++
			if m := banned.FindString(s); m != "" {
				t.Errorf("%s uses %q", p, m)
			}
		case ".html":
			n++
			for _, tag := range inlineScript.FindAllString(s, -1) {
				if !strings.Contains(tag, "src=") {
					t.Errorf("%s has an inline script: %s", p, tag)
				}
			}
			if m := inlineHandler.FindString(s); m != "" {
				t.Errorf("%s has inline code or style: %q", p, m)
			}
			if m := regexp.MustCompile(`https?://`).FindString(s); m != "" {
				t.Errorf("%s refers to another origin: %q", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Fatalf("checked only %d files", n)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
