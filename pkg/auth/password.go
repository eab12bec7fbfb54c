package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters recommended by OWASP (Password Storage Cheat Sheet):
// 19 MiB of memory, 2 iterations, 1 degree of parallelism.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on the parameters accepted from a stored hash, so a corrupted or
// hostile hash cannot make one verification allocate gigabytes or spin.
const (
	maxArgonMemory  = 256 * 1024 // KiB (256 MiB)
	maxArgonTime    = 16
	maxArgonThreads = 16
	minArgonSaltLen = 8
	maxArgonSaltLen = 64
	minArgonKeyLen  = 16
	maxArgonKeyLen  = 64
	maxEncodedLen   = 512
)

// dummyHash is the Argon2id hash, with the parameters above, of a random
// password nobody knows. DummyVerify checks against it.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$/JUNWBsunhzfHaYXQTsCGA$B7uR+Q+12Bg+To4cwFuEvlQQDAV0qOx0Qarf0WNzuVk"

// ErrMalformedHash is returned by VerifyPassword for a stored hash that is
// not a PHC string it understands or whose parameters are out of bounds.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// argonParams are the parameters of one encoded hash.
type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// HashPassword hashes pw with Argon2id (m=19456 KiB, t=2, p=1, a 16-byte
// random salt, a 32-byte key) and returns it in PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: hash password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return encodeHash(argonParams{
		memory: argonMemory, time: argonTime, threads: argonThreads, salt: salt, key: key,
	}), nil
}

// VerifyPassword reports whether pw matches the PHC-encoded Argon2id hash.
// The parameters are read from the hash, so hashes made with older
// parameters keep working. A malformed hash, or one with parameters out of
// sane bounds, returns an error wrapping ErrMalformedHash.
func VerifyPassword(encoded, pw string) (bool, error) {
	p, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// DummyVerify spends about the time of a real VerifyPassword with the
// default parameters, against a fixed hash no password matches. Call it
// when the account is unknown so that a login's timing does not tell
// whether the account exists.
func DummyVerify(pw string) {
	_, _ = VerifyPassword(dummyHash, pw)
}

func encodeHash(p argonParams) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

func decodeHash(encoded string) (argonParams, error) {
	var p argonParams
	if len(encoded) > maxEncodedLen {
		return p, fmt.Errorf("%w: too long", ErrMalformedHash)
	}
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return p, fmt.Errorf("%w: wrong number of fields", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return p, fmt.Errorf("%w: not argon2id", ErrMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("%w: unsupported version", ErrMalformedHash)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, fmt.Errorf("%w: want m, t and p parameters", ErrMalformedHash)
	}
	m, err := parseParam(params[0], "m", maxArgonMemory)
	if err != nil {
		return p, err
	}
	t, err := parseParam(params[1], "t", maxArgonTime)
	if err != nil {
		return p, err
	}
	threads, err := parseParam(params[2], "p", maxArgonThreads)
	if err != nil {
		return p, err
	}
	if m < 8*threads {
		return p, fmt.Errorf("%w: memory below 8*p KiB", ErrMalformedHash)
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < minArgonSaltLen || len(salt) > maxArgonSaltLen {
		return p, fmt.Errorf("%w: bad salt", ErrMalformedHash)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < minArgonKeyLen || len(key) > maxArgonKeyLen {
		return p, fmt.Errorf("%w: bad key", ErrMalformedHash)
	}
	return argonParams{memory: m, time: t, threads: uint8(threads), salt: salt, key: key}, nil
}

// parseParam parses "name=value" with 1 <= value <= max, decimal digits only.
func parseParam(s, name string, max uint32) (uint32, error) {
	v, ok := strings.CutPrefix(s, name+"=")
	if !ok || v == "" || len(v) > 10 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, fmt.Errorf("%w: bad parameter %s", ErrMalformedHash, name)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > uint64(max) {
		return 0, fmt.Errorf("%w: parameter %s out of range", ErrMalformedHash, name)
	}
	return uint32(n), nil
}
