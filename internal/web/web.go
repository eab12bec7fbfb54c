// Package web is the browser client: plain HTML, CSS and ES modules embedded
// in the binary (no build step, nothing fetched from elsewhere). Mount serves
// index.html at / and the files under /assets/, with a strict
// Content-Security-Policy: the page only runs its own scripts and only talks
// to its own origin (REST under /v1, the WebSocket at /ws).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every file of the client. No inline
// scripts or styles, no other origins; connect-src adds ws:/wss: because
// older browsers do not count the same host's WebSocket as 'self'; img-src
// adds blob: for attachments, which the page fetches with the access token
// and shows from object URLs.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

type file struct {
	name  string
	body  []byte
	ctype string
	etag  string
}

var (
	files = map[string]*file{} // by URL path
	// start is the Last-Modified of every file (embedded files have none).
	start = time.Now().UTC().Truncate(time.Second)
)

var types = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
}

func init() {
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		ext := path.Ext(p)
		ct, ok := types[ext]
		if !ok {
			ct = mime.TypeByExtension(ext)
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		rel := strings.TrimPrefix(p, "static/")
		url := "/assets/" + rel
		if rel == "index.html" {
			url = "/"
		}
		files[url] = &file{name: rel, body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: " + err.Error())
	}
}

// Mount adds the client's routes to r: / (index.html) and /assets/*.
func Mount(r chi.Router) {
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r.Method(m, "/", http.HandlerFunc(serve))
		r.Method(m, "/index.html", http.RedirectHandler("/", http.StatusMovedPermanently))
		r.Method(m, "/assets/*", http.HandlerFunc(serve))
		r.Method(m, "/favicon.ico", http.RedirectHandler("/assets/favicon.svg", http.StatusFound))
	}
}

// Handler serves the client alone (without a router), for embedding
// elsewhere.
func Handler() http.Handler {
	r := chi.NewRouter()
	Mount(r)
	return r
}

func serve(w http.ResponseWriter, r *http.Request) {
	f, ok := files[r.URL.Path]
	if !ok {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such file"}}` + "\n"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	// The names are not content-hashed: revalidate every time (cheap, the
	// ETag answers 304).
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, f.name, start, bytes.NewReader(f.body))
}
