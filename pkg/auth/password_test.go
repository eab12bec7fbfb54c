package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !phcRE.MatchString(h) {
		t.Fatalf("hash %q is not a PHC argon2id string with the OWASP parameters", h)
	}
	ok, err := VerifyPassword(h, "correct horse battery staple")
	if err != nil || !ok {
		t.Fatalf("VerifyPassword(right) = %v, %v; want true, nil", ok, err)
	}
	ok, err = VerifyPassword(h, "correct horse battery stapl")
	if err != nil || ok {
		t.Fatalf("VerifyPassword(wrong) = %v, %v; want false, nil", ok, err)
	}
	ok, err = VerifyPassword(h, "")
	if err != nil || ok {
		t.Fatalf("VerifyPassword(empty) = %v, %v; want false, nil", ok, err)
	}

	h2, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

// TestPasswordParametersParsed checks that VerifyPassword uses the
// parameters written in the hash, not the current defaults.
func TestPasswordParametersParsed(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("pw"), salt, 1, 64, 2, 24)
	enc := encodeHash(argonParams{memory: 64, time: 1, threads: 2, salt: salt, key: key})
	if want := "$argon2id$v=19$m=64,t=1,p=2$"; !strings.HasPrefix(enc, want) {
		t.Fatalf("encoded %q, want prefix %q", enc, want)
	}
	p, err := decodeHash(enc)
	if err != nil {
		t.Fatal(err)
	}
	if p.memory != 64 || p.time != 1 || p.threads != 2 || !bytes.Equal(p.salt, salt) || !bytes.Equal(p.key, key) {
		t.Fatalf("decoded %+v", p)
	}
	ok, err := VerifyPassword(enc, "pw")
	if err != nil || !ok {
		t.Fatalf("VerifyPassword = %v, %v; want true, nil", ok, err)
	}
	ok, err = VerifyPassword(enc, "pW")
	if err != nil || ok {
		t.Fatalf("VerifyPassword(wrong) = %v, %v; want false, nil", ok, err)
	}
}

func TestDummyHashHasDefaultCost(t *testing.T) {
	p, err := decodeHash(dummyHash)
	if err != nil {
		t.Fatal(err)
	}
	if p.memory != argonMemory || p.time != argonTime || p.threads != argonThreads || len(p.key) != argonKeyLen || len(p.salt) != argonSaltLen {
		t.Fatalf("dummy hash parameters %+v differ from HashPassword's, so DummyVerify would not cost the same", p)
	}
	DummyVerify("anything") // must not panic
}

func TestVerifyPasswordMalformed(t *testing.T) {
	b64 := base64.RawStdEncoding
	salt := b64.EncodeToString([]byte("0123456789abcdef"))
	key := b64.EncodeToString(bytes.Repeat([]byte{1}, 32))
	good := "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key
	if _, err := decodeHash(good); err != nil {
		t.Fatalf("control hash rejected: %v", err)
	}
	cases := map[string]string{
		"empty":            "",
		"bcrypt":           "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":          strings.Replace(good, "argon2id", "argon2i", 1),
		"version 16":       strings.Replace(good, "v=19", "v=16", 1),
		"no version":       "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key,
		"too few fields":   "$argon2id$v=19$m=19456,t=2,p=1$" + salt,
		"too many fields":  good + "$x",
		"leading garbage":  "x" + good,
		"params reordered": "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key,
		"missing p":        "$argon2id$v=19$m=19456,t=2$" + salt + "$" + key,
		"signed param":     "$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key,
		"zero time":        "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"zero threads":     "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key,
		"absurd memory":    "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key,
		"overflow memory":  "$argon2id$v=19$m=99999999999999999999,t=2,p=1$" + salt + "$" + key,
		"absurd time":      "$argon2id$v=19$m=19456,t=100000,p=1$" + salt + "$" + key,
		"absurd threads":   "$argon2id$v=19$m=19456,t=2,p=255$" + salt + "$" + key,
		"memory < 8p":      "$argon2id$v=19$m=8,t=2,p=2$" + salt + "$" + key,
		"bad salt b64":     "$argon2id$v=19$m=19456,t=2,p=1$!!!!$" + key,
		"short salt":       "$argon2id$v=19$m=19456,t=2,p=1$" + b64.EncodeToString([]byte("abc")) + "$" + key,
		"empty key":        "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$",
		"padded key":       "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)),
		"huge":             good + strings.Repeat("A", 10000),
	}
	for name, enc := range cases {
		t.Run(name, func(t *testing.T) {
			ok, err := VerifyPassword(enc, "pw")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want false, ErrMalformedHash", enc, ok, err)
			}
		})
	}
}
