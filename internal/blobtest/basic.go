package blobtest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

func testPutOpenStatDelete(t *testing.T, s blob.Store) {
	const key = "rooms/r1/files/hello.txt"
	// S3 keeps whole seconds.
	before := time.Now().Add(-2 * time.Second)
	Put(t, s, key, []byte("hello, world"), "text/plain; charset=utf-8")
	after := time.Now().Add(2 * time.Second)
	Want(t, s, key, []byte("hello, world"), "text/plain; charset=utf-8")
	_, info := Read(t, s, key)
	if info.ModTime.Before(before) || info.ModTime.After(after) {
		t.Errorf("ModTime %v not between %v and %v", info.ModTime, before, after)
	}
	if err := s.Delete(Ctx(t), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	WantNotFound(t, s, key)
	if err := s.Delete(Ctx(t), key); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	const key = "over/write"
	Put(t, s, key, bytes.Repeat([]byte{1}, 1000), "image/png")
	Put(t, s, key, []byte("abc"), "text/plain")
	Want(t, s, key, []byte("abc"), "text/plain")
	Put(t, s, key, bytes.Repeat([]byte{2}, 5000), "application/pdf")
	Want(t, s, key, bytes.Repeat([]byte{2}, 5000), "application/pdf")
}

func testNotFound(t *testing.T, s blob.Store) {
	WantNotFound(t, s, "never/put")
	if err := s.Delete(Ctx(t), "never/put"); err != nil {
		t.Fatalf("Delete of an absent key: %v", err)
	}
	// A prefix of a stored key is no object, nor is a longer key.
	Put(t, s, "dir/obj", []byte("x"), "")
	WantNotFound(t, s, "dir")
	WantNotFound(t, s, "dir/obj/more")
	WantNotFound(t, s, "dir/ob")
}

func testEmpty(t *testing.T, s blob.Store) {
	Put(t, s, "empty", nil, "text/plain")
	Want(t, s, "empty", nil, "text/plain")
}

// testKeys stores keys that are valid but awkward for a file system or a
// URL, side by side.
func testKeys(t *testing.T, s blob.Store) {
	keys := []string{
		"a", "a/b", "a/b/c", // a key and keys below it
		".hidden", "a/.b", "-dash", "_", "x.", "A/a", "a.b/c.d",
		strings.Repeat("k", blob.MaxSegmentLen) + "/" + strings.Repeat("s", blob.MaxSegmentLen),
		strings.Repeat("d/", blob.MaxKeyLen/2-1) + "ff", // MaxKeyLen bytes
	}
	for _, k := range keys {
		if err := blob.ValidKey(k); err != nil {
			t.Fatalf("ValidKey(%q) = %v", k, err)
		}
		Put(t, s, k, []byte("value of "+k), "text/plain")
	}
	for _, k := range keys {
		Want(t, s, k, []byte("value of "+k), "text/plain")
	}
}

// BadKeys are keys every store refuses, some of them hostile.
var BadKeys = []string{
	"", "/", "/abs", "a/", "a//b", "./a", "a/./b", ".", "..", "../x", "a/../../x",
	"a/..", "..a", "a..b", "a\\b", "..\\x", "a\x00b", "a b", "a\nb", "%2e%2e/x",
	"~", "a~", "é", "a?b", "a#b", "a:b", "C:\\x", "\\\\server\\share",
	strings.Repeat("k", blob.MaxSegmentLen+1),
	strings.Repeat("d/", blob.MaxKeyLen/2) + "f", // MaxKeyLen+1 bytes
}

// WantBadKey checks that every method refuses key with blob.ErrBadKey.
func WantBadKey(t testing.TB, s blob.Store, key string) {
	t.Helper()
	wantErr(t, Ctx(t), s, key, want{blob.ErrBadKey, true})
}

func testBadKeys(t *testing.T, s blob.Store) {
	for _, k := range BadKeys {
		WantBadKey(t, s, k)
	}
}

func testContentType(t *testing.T, s blob.Store) {
	for i, c := range []struct{ in, want string }{
		{"image/png", "image/png"},
		{"text/plain; charset=utf-8", "text/plain; charset=utf-8"},
		{"", blob.DefaultContentType},
		{"Application/PDF", "application/pdf"},
		{"video/mp4", "video/mp4"},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	} {
		key := "ct/" + string(rune('a'+i))
		Put(t, s, key, []byte(c.in), c.in)
		Want(t, s, key, []byte(c.in), c.want)
	}
}

func testBadContentType(t *testing.T, s blob.Store) {
	for _, ct := range []string{
		"text/plain\r\nX-Injected: 1", "image/png\x00", "no-slash", "/png", "image/",
		"text/plain; charset", "tëxt/plain", strings.Repeat("a", 250) + "/" + strings.Repeat("b", 10),
	} {
		err := s.Put(Ctx(t), "ct/bad", strings.NewReader("x"), 1, ct)
		if !errors.Is(err, blob.ErrBadContentType) {
			t.Fatalf("Put with content type %q = %v, want ErrBadContentType", ct, err)
		}
	}
	WantNotFound(t, s, "ct/bad")
}
