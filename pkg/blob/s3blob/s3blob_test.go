package s3blob

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/im-websocket-go/im-websocket-go/internal/blobtest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

func options(srv testenv.S3Server) Options {
	return Options{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket, Region: srv.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, UseSSL: srv.UseSSL,
		CreateBucket: true,
	}
}

func newStore(t *testing.T) (*Store, testenv.S3Server) {
	t.Helper()
	srv := testenv.S3(t)
	s, err := New(blobtest.Ctx(t), options(srv))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, srv
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, _ := newStore(t)
		return s
	})
}

func TestNewChecksBucket(t *testing.T) {
	srv := testenv.S3(t)
	opts := options(srv)
	opts.CreateBucket = false
	if _, err := New(blobtest.Ctx(t), opts); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("New without the bucket = %v, want a missing-bucket error", err)
	}
	opts.CreateBucket = true
	for i := 0; i < 2; i++ { // the second time the bucket exists
		s, err := New(blobtest.Ctx(t), opts)
		if err != nil {
			t.Fatalf("New #%d: %v", i, err)
		}
		_ = s.Close()
	}
	opts.CreateBucket = false
	s, err := New(blobtest.Ctx(t), opts)
	if err != nil {
		t.Fatalf("New on the existing bucket: %v", err)
	}
	_ = s.Close()
}

func TestNewRejectsBadCredentials(t *testing.T) {
	srv := testenv.S3(t)
	opts := options(srv)
	opts.SecretKey = "wrong-" + opts.SecretKey
	if s, err := New(blobtest.Ctx(t), opts); err == nil {
		_ = s.Close()
		t.Fatal("New with a wrong secret key succeeded")
	} else if !refused(err) {
		t.Fatalf("New with a wrong secret key = %v, want the server's refusal", err)
	}
	opts = options(srv)
	opts.AccessKey, opts.SecretKey = "", ""
	if s, err := New(blobtest.Ctx(t), opts); err == nil {
		_ = s.Close()
		t.Fatal("New with anonymous credentials succeeded")
	} else if !refused(err) {
		t.Fatalf("New with anonymous credentials = %v, want the server's refusal", err)
	}
}

// refused reports whether err is S3 refusing the request's credentials.
func refused(err error) bool {
	var e minio.ErrorResponse
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId":
		return true
	}
	return false
}

func TestOptionsValidate(t *testing.T) {
	good := Options{Endpoint: "127.0.0.1:9000", Bucket: "files", AccessKey: "a", SecretKey: "b"}
	if err := good.validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for name, mod := range map[string]func(*Options){
		"no endpoint":     func(o *Options) { o.Endpoint = "" },
		"scheme":          func(o *Options) { o.Endpoint = "http://127.0.0.1:9000" },
		"path":            func(o *Options) { o.Endpoint = "127.0.0.1:9000/x" },
		"no bucket":       func(o *Options) { o.Bucket = "" },
		"bad bucket":      func(o *Options) { o.Bucket = "Bad_Bucket" },
		"half credential": func(o *Options) { o.SecretKey = "" },
	} {
		o := good
		mod(&o)
		if err := o.validate(); err == nil {
			t.Errorf("%s: validate accepted %+v", name, o)
		}
		if s, err := New(context.Background(), o); err == nil {
			_ = s.Close()
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
}

// do sends a plain HTTP request, as a browser or app would with a
// presigned URL.
func do(t *testing.T, method, u string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(blobtest.Ctx(t), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// presigned stores data under key in a new store and presigns a GET of it.
func presigned(t *testing.T, key, data, contentType string, ttl time.Duration) (*Store, string) {
	t.Helper()
	s, _ := newStore(t)
	blobtest.Put(t, s, key, []byte(data), contentType)
	u, err := s.PresignGet(blobtest.Ctx(t), key, ttl, "")
	if err != nil {
		t.Fatal(err)
	}
	return s, u
}

func TestPresignGet(t *testing.T) {
	s, u := presigned(t, "files/report.pdf", "%PDF-1.4 fake", "application/pdf", time.Minute)
	ctx := blobtest.Ctx(t)
	resp, body := do(t, http.MethodGet, u, nil, nil)
	if resp.StatusCode != http.StatusOK || body != "%PDF-1.4 fake" {
		t.Fatalf("GET presigned: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		t.Errorf("Content-Disposition %q without a filename", cd)
	}

	for name, want := range map[string]string{
		"Q3 report.pdf":      `attachment; filename="Q3 report.pdf"`,
		"résumé.pdf":         `attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf`,
		`../../etc/"passwd"`: `attachment; filename=_passwd_`,
		"a\r\nSet-Cookie: x": `attachment; filename="a__Set-Cookie: x"`,
	} {
		u, err := s.PresignGet(ctx, "files/report.pdf", time.Minute, name)
		if err != nil {
			t.Fatalf("PresignGet(%q): %v", name, err)
		}
		resp, body := do(t, http.MethodGet, u, nil, nil)
		if resp.StatusCode != http.StatusOK || body != "%PDF-1.4 fake" {
			t.Fatalf("GET presigned with filename %q: %d %q", name, resp.StatusCode, body)
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != want {
			t.Errorf("filename %q: Content-Disposition %q, want %q", name, cd, want)
		}
		if resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("filename %q set a cookie", name)
		}
	}

	// The URL grants GET of that key only, unchanged.
	tampered := map[string]string{
		"other key": strings.Replace(u, "report.pdf", "other.pdf", 1),
		"changed parameter": withQuery(t, u, func(q url.Values) {
			q.Set("response-content-disposition", "inline")
		}),
		"longer expiry": withQuery(t, u, func(q url.Values) { q.Set("X-Amz-Expires", "604800") }),
		"forged signature": withQuery(t, u, func(q url.Values) {
			q.Set("X-Amz-Signature", strings.Repeat("0", len(q.Get("X-Amz-Signature"))))
		}),
		"unsigned": withQuery(t, u, func(q url.Values) {
			for k := range q {
				if strings.HasPrefix(k, "X-Amz-") {
					q.Del(k)
				}
			}
		}),
	}
	for name, tu := range tampered {
		resp, body := do(t, http.MethodGet, tu, nil, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: GET = %d %q, want 403", name, resp.StatusCode, body)
		}
	}
	if resp, _ := do(t, http.MethodDelete, u, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("DELETE with a GET URL = %d, want 403", resp.StatusCode)
	}
	if _, err := s.Stat(ctx, "files/report.pdf"); err != nil {
		t.Fatalf("object gone after the refused requests: %v", err)
	}
}

// withQuery returns u with its query changed by edit.
func withQuery(t *testing.T, u string, edit func(url.Values)) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := parsed.Query()
	edit(q)
	parsed.RawQuery = q.Encode()
	return parsed.String()
}

func TestPresignExpires(t *testing.T) {
	_, u := presigned(t, "short/lived", "x", "text/plain", time.Second)
	// X-Amz-Date has whole seconds: wait past the second after it.
	time.Sleep(2100 * time.Millisecond)
	if resp, body := do(t, http.MethodGet, u, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("expired URL: %d %q, want 403", resp.StatusCode, body)
	}
}

func TestPresignPut(t *testing.T) {
	s, _ := newStore(t)
	ctx := blobtest.Ctx(t)
	const key = "uploads/photo.png"
	u, err := s.PresignPut(ctx, key, time.Minute, "image/png")
	if err != nil {
		t.Fatal(err)
	}
	// Another content type than signed, or none, is refused.
	for _, ct := range []string{"text/html", ""} {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if resp, body := do(t, http.MethodPut, u, strings.NewReader("<script>"), h); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("PUT with Content-Type %q: %d %q, want 403", ct, resp.StatusCode, body)
		}
	}
	blobtest.WantNotFound(t, s, key)
	// A PUT URL does not read.
	if resp, _ := do(t, http.MethodGet, u, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET with a PUT URL = %d, want 403", resp.StatusCode)
	}
	data := "\x89PNG\r\n\x1a\n not really"
	resp, body := do(t, http.MethodPut, u, strings.NewReader(data), http.Header{"Content-Type": {"image/png"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT presigned: %d %q", resp.StatusCode, body)
	}
	blobtest.Want(t, s, key, []byte(data), "image/png")
	// Another key with the same URL's signature is refused.
	other := strings.Replace(u, "photo.png", "evil.png", 1)
	if resp, _ := do(t, http.MethodPut, other, strings.NewReader("x"), http.Header{"Content-Type": {"image/png"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("PUT to another key = %d, want 403", resp.StatusCode)
	}
	blobtest.WantNotFound(t, s, "uploads/evil.png")
}

func TestPresignErrors(t *testing.T) {
	s, _ := newStore(t)
	ctx := blobtest.Ctx(t)
	for _, ttl := range []time.Duration{0, -time.Second, time.Millisecond, MaxPresignTTL + time.Second} {
		if _, err := s.PresignGet(ctx, "k", ttl, ""); err == nil {
			t.Errorf("PresignGet with ttl %v succeeded", ttl)
		}
		if _, err := s.PresignPut(ctx, "k", ttl, "image/png"); err == nil {
			t.Errorf("PresignPut with ttl %v succeeded", ttl)
		}
	}
	for _, k := range blobtest.BadKeys {
		if _, err := s.PresignGet(ctx, k, time.Minute, ""); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("PresignGet(%q) = %v, want ErrBadKey", k, err)
		}
		if _, err := s.PresignPut(ctx, k, time.Minute, ""); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("PresignPut(%q) = %v, want ErrBadKey", k, err)
		}
	}
	if _, err := s.PresignPut(ctx, "k", time.Minute, "text/plain\r\nX: y"); !errors.Is(err, blob.ErrBadContentType) {
		t.Errorf("PresignPut with a bad content type = %v, want ErrBadContentType", err)
	}
	_ = s.Close()
	if _, err := s.PresignGet(ctx, "k", time.Minute, ""); !errors.Is(err, blob.ErrClosed) {
		t.Errorf("PresignGet after Close = %v, want ErrClosed", err)
	}
}

func TestCleanFilename(t *testing.T) {
	for in, want := range map[string]string{
		"a.pdf":                  "a.pdf",
		"dir/sub/a.pdf":          "a.pdf",
		`C:\Users\x\a.pdf`:       "a.pdf",
		"dir/":                   "dir_",
		"a\x00b\"c":              "a_b_c",
		"bad\xffutf8":            "bad_utf8",
		"..":                     "download",
		" ":                      "download",
		strings.Repeat("é", 200): strings.Repeat("é", 127),
		strings.Repeat("x", 300): strings.Repeat("x", 255),
	} {
		if got := cleanFilename(in); got != want {
			t.Errorf("cleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
}
