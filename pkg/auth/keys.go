package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// maxPEMFile bounds the size of a key file read from disk.
const maxPEMFile = 64 << 10

// Signer holds the Ed25519 key that signs access tokens, its key id, and
// the public keys of previous signing keys that are still published in the
// JWKS so tokens they signed keep verifying during a rotation.
//
// The key id is the RFC 7638 JWK thumbprint (SHA-256, base64url) of the
// public key. A Signer is immutable and safe for concurrent use. Make one
// with NewSigner, GenerateSigner or LoadSigner.
type Signer struct {
	key      ed25519.PrivateKey
	kid      string
	previous []publicKey
}

type publicKey struct {
	kid string
	key ed25519.PublicKey
}

// NewSigner returns a Signer for current, also publishing the previous
// public keys (duplicates of current are ignored).
func NewSigner(current ed25519.PrivateKey, previous ...ed25519.PublicKey) (*Signer, error) {
	if len(current) != ed25519.PrivateKeySize {
		return nil, errors.New("auth: new signer: not an Ed25519 private key")
	}
	key := append(ed25519.PrivateKey(nil), current...)
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("auth: new signer: not an Ed25519 private key")
	}
	kid, err := KeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("auth: new signer: %w", err)
	}
	s := &Signer{key: key, kid: kid}
	seen := map[string]bool{kid: true}
	for i, p := range previous {
		id, err := KeyID(p)
		if err != nil {
			return nil, fmt.Errorf("auth: new signer: previous key %d: %w", i, err)
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		s.previous = append(s.previous, publicKey{kid: id, key: append(ed25519.PublicKey(nil), p...)})
	}
	return s, nil
}

// GenerateSigner returns a Signer with a fresh random key, for development
// and tests: tokens it signs stop verifying when the process exits.
func GenerateSigner() (*Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate signer: %w", err)
	}
	return NewSigner(priv)
}

// LoadSigner reads a PEM file holding a PKCS#8 "PRIVATE KEY" block with an
// Ed25519 key. Any "PUBLIC KEY" (PKIX) blocks after it are published as
// previous keys, which is how a rotation is rolled out: put the new private
// key first and keep the old public key in the file until the tokens it
// signed have expired.
func LoadSigner(pemFile string) (*Signer, error) {
	data, err := readBounded(pemFile)
	if err != nil {
		return nil, fmt.Errorf("auth: load signer: %w", err)
	}
	var (
		priv     ed25519.PrivateKey
		previous []ed25519.PublicKey
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			if priv != nil {
				return nil, fmt.Errorf("auth: load signer %s: more than one private key", pemFile)
			}
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("auth: load signer %s: parse PKCS#8: %w", pemFile, err)
			}
			ek, ok := k.(ed25519.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("auth: load signer %s: private key is %T, want Ed25519", pemFile, k)
			}
			priv = ek
		case "PUBLIC KEY":
			pub, err := parsePublicKeyPEMBlock(block)
			if err != nil {
				return nil, fmt.Errorf("auth: load signer %s: %w", pemFile, err)
			}
			previous = append(previous, pub)
		default:
			return nil, fmt.Errorf("auth: load signer %s: unexpected PEM block %q", pemFile, block.Type)
		}
	}
	if priv == nil {
		return nil, fmt.Errorf("auth: load signer %s: no PRIVATE KEY block", pemFile)
	}
	return NewSigner(priv, previous...)
}

// KeyID returns the key id of pub: its RFC 7638 JWK thumbprint (SHA-256),
// base64url without padding.
func KeyID(pub ed25519.PublicKey) (string, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", errors.New("auth: not an Ed25519 public key")
	}
	// The thumbprint input is the JSON object of the required members in
	// lexicographic order with no whitespace (RFC 7638 §3, RFC 8037 §2).
	members := struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
	}{"Ed25519", "OKP", base64.RawURLEncoding.EncodeToString(pub)}
	b, err := json.Marshal(members)
	if err != nil {
		return "", fmt.Errorf("auth: key id: %w", err)
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// KeyID returns the key id of the current signing key.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey returns the current public key.
func (s *Signer) PublicKey() ed25519.PublicKey {
	if len(s.key) != ed25519.PrivateKeySize {
		return nil // a zero Signer, not made by NewSigner
	}
	return append(ed25519.PublicKey(nil), s.key[32:]...)
}

// Keys returns a KeySource holding the current and previous public keys,
// for a Verifier in the same process as the Signer.
func (s *Signer) Keys() StaticKeys {
	k := make(StaticKeys, 1+len(s.previous))
	k[s.kid] = s.PublicKey()
	for _, p := range s.previous {
		k[p.kid] = append(ed25519.PublicKey(nil), p.key...)
	}
	return k
}

// PublicJWKS returns a new JWK set with the current public key first and
// then the previous ones, each with kid, alg EdDSA and use sig.
func (s *Signer) PublicJWKS() jwk.Set {
	set := jwk.NewSet()
	add := func(kid string, pub ed25519.PublicKey) {
		k, err := publicJWK(kid, pub)
		if err != nil {
			// Only reachable for a key of the wrong length, which
			// NewSigner rules out.
			return
		}
		_ = set.AddKey(k)
	}
	add(s.kid, s.PublicKey())
	for _, p := range s.previous {
		add(p.kid, p.key)
	}
	return set
}

// JWKSJSON returns the JSON of PublicJWKS, as served at
// /.well-known/jwks.json.
func (s *Signer) JWKSJSON() ([]byte, error) {
	b, err := json.Marshal(s.PublicJWKS())
	if err != nil {
		return nil, fmt.Errorf("auth: marshal jwks: %w", err)
	}
	return b, nil
}

func publicJWK(kid string, pub ed25519.PublicKey) (jwk.Key, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("auth: not an Ed25519 public key")
	}
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, fmt.Errorf("auth: public jwk: %w", err)
	}
	for name, v := range map[string]any{
		jwk.KeyIDKey:     kid,
		jwk.AlgorithmKey: jwa.EdDSA,
		jwk.KeyUsageKey:  jwk.ForSignature,
	} {
		if err := k.Set(name, v); err != nil {
			return nil, fmt.Errorf("auth: public jwk: %w", err)
		}
	}
	return k, nil
}

// WritePrivateKeyPEM writes key as a PKCS#8 "PRIVATE KEY" PEM block.
func WritePrivateKeyPEM(w io.Writer, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("auth: write private key: not an Ed25519 private key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("auth: write private key: %w", err)
	}
	if err := pem.Encode(w, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return fmt.Errorf("auth: write private key: %w", err)
	}
	return nil
}

// WritePublicKeyPEM writes pub as a PKIX "PUBLIC KEY" PEM block, the format
// LoadPublicKeyFile reads.
func WritePublicKeyPEM(w io.Writer, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("auth: write public key: not an Ed25519 public key")
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("auth: write public key: %w", err)
	}
	if err := pem.Encode(w, &pem.Block{Type: "PUBLIC KEY", Bytes: der}); err != nil {
		return fmt.Errorf("auth: write public key: %w", err)
	}
	return nil
}

// GenerateKeyFile creates path (mode 0600, failing if it exists) holding a
// new Ed25519 private key in PKCS#8 PEM, ready for LoadSigner, and returns
// the public key.
func GenerateKeyFile(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth: generate key file: %w", err)
	}
	if err := WritePrivateKeyPEM(f, priv); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("auth: generate key file: %w", err)
	}
	return pub, nil
}

func parsePublicKeyPEMBlock(block *pem.Block) (ed25519.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKIX public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want Ed25519", k)
	}
	return pub, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxPEMFile {
		return nil, fmt.Errorf("read %s: file larger than %d bytes", path, maxPEMFile)
	}
	return data, nil
}
