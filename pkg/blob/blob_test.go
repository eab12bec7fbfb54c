package blob

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestValidKey(t *testing.T) {
	good := []string{"a", "a/b", "rooms/01J/files/photo.jpg", ".x", "a/.b", "x.", "-", "_",
		strings.Repeat("s", MaxSegmentLen), strings.Repeat("a/", MaxKeyLen/2-1) + "bb"}
	for _, k := range good {
		if err := ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v", k, err)
		}
	}
	bad := []string{"", "/a", "a/", "a//b", ".", "./a", "a/./b", "..", "../a", "a/..", "a..b",
		"a\\b", "a b", "a\x00", "é", "a~", "a%2e", strings.Repeat("s", MaxSegmentLen+1),
		strings.Repeat("a/", MaxKeyLen/2) + "b"}
	for _, k := range bad {
		if err := ValidKey(k); !errors.Is(err, ErrBadKey) {
			t.Errorf("ValidKey(%q) = %v, want ErrBadKey", k, err)
		}
	}
}

func TestNormalizeContentType(t *testing.T) {
	for in, want := range map[string]string{
		"":                          DefaultContentType,
		"image/png":                 "image/png",
		"IMAGE/PNG":                 "image/png",
		"text/plain;charset=utf-8":  "text/plain; charset=utf-8",
		"text/plain; Charset=UTF-8": "text/plain; charset=UTF-8",
		`text/plain; name="a b"`:    `text/plain; name="a b"`,
	} {
		got, err := NormalizeContentType(in)
		if err != nil || got != want {
			t.Errorf("NormalizeContentType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"text", "/plain", "text/", "text/plain\r\nX: y", "a\x7f/b",
		"text/plain; charset", "tëxt/plain", "text/" + strings.Repeat("p", MaxContentTypeLen)} {
		if got, err := NormalizeContentType(in); !errors.Is(err, ErrBadContentType) {
			t.Errorf("NormalizeContentType(%q) = %q, %v; want ErrBadContentType", in, got, err)
		}
	}
}

func TestExactReader(t *testing.T) {
	errBoom := errors.New("boom")
	cases := []struct {
		name    string
		r       io.Reader
		size    int64
		want    string
		wantErr error
	}{
		{"exact", strings.NewReader("hello"), 5, "hello", nil},
		{"exact one byte reads", iotest.OneByteReader(strings.NewReader("hello")), 5, "hello", nil},
		{"exact data with EOF", iotest.DataErrReader(strings.NewReader("hello")), 5, "hello", nil},
		{"empty", strings.NewReader(""), 0, "", nil},
		{"short", strings.NewReader("hell"), 5, "", ErrSizeMismatch},
		{"long", strings.NewReader("hello!"), 5, "", ErrSizeMismatch},
		{"long one byte reads", iotest.OneByteReader(strings.NewReader("hello!")), 5, "", ErrSizeMismatch},
		{"long empty", strings.NewReader("!"), 0, "", ErrSizeMismatch},
		{"negative", strings.NewReader("x"), -1, "", ErrSizeMismatch},
		{"error", iotest.ErrReader(errBoom), 5, "", errBoom},
		{"error after the size", io.MultiReader(strings.NewReader("hello"), iotest.ErrReader(errBoom)), 5, "", errBoom},
		{"silent reader", zeroReader{}, 0, "", errSilent},
	}
	for _, c := range cases {
		got, err := io.ReadAll(ExactReader(c.r, c.size))
		if c.wantErr == nil {
			if err != nil || string(got) != c.want {
				t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
			}
			continue
		}
		if c.wantErr == errSilent {
			if err == nil {
				t.Errorf("%s: no error", c.name)
			}
			continue
		}
		if !errors.Is(err, c.wantErr) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.wantErr)
		}
		// The complete announced size is never handed out with more to come.
		if int64(len(got)) == c.size && c.size > 0 {
			t.Errorf("%s: all %d bytes delivered before the error", c.name, c.size)
		}
	}
}

var errSilent = errors.New("any error")

// zeroReader returns (0, nil) for ever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestCheckPut(t *testing.T) {
	if ct, err := CheckPut("a/b", 0, ""); err != nil || ct != DefaultContentType {
		t.Fatalf("CheckPut = %q, %v", ct, err)
	}
	for _, c := range []struct {
		key  string
		size int64
		ct   string
		want error
	}{
		{"../a", 1, "text/plain", ErrBadKey},
		{"a", -1, "text/plain", ErrSizeMismatch},
		{"a", 1, "text/plain\n", ErrBadContentType},
	} {
		if _, err := CheckPut(c.key, c.size, c.ct); !errors.Is(err, c.want) {
			t.Errorf("CheckPut(%q, %d, %q) = %v, want %v", c.key, c.size, c.ct, err, c.want)
		}
	}
}
