package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestKeyIDIsRFC7638Thumbprint(t *testing.T) {
	s, err := GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.RawURLEncoding.EncodeToString(tp); s.KeyID() != want {
		t.Fatalf("kid %q, jwx thumbprint %q", s.KeyID(), want)
	}

	// RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	kid, err := KeyID(x)
	if err != nil {
		t.Fatal(err)
	}
	if want := "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; kid != want {
		t.Fatalf("KeyID(RFC 8037 A.3 key) = %q, want %q", kid, want)
	}
	if _, err := KeyID([]byte("short")); err == nil {
		t.Fatal("KeyID accepted a 5-byte key")
	}
}

func TestNewSignerRejectsBadKeys(t *testing.T) {
	if _, err := NewSigner(nil); err == nil {
		t.Fatal("NewSigner(nil) succeeded")
	}
	if _, err := NewSigner(make(ed25519.PrivateKey, 10)); err == nil {
		t.Fatal("NewSigner(10 bytes) succeeded")
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := NewSigner(priv, ed25519.PublicKey("short")); err == nil {
		t.Fatal("NewSigner accepted a bad previous key")
	}
	var buf bytes.Buffer
	if err := WritePrivateKeyPEM(&buf, priv[:10]); err == nil {
		t.Fatal("WritePrivateKeyPEM accepted a 10-byte key")
	}
	if err := WritePublicKeyPEM(&buf, ed25519.PublicKey("short")); err == nil {
		t.Fatal("WritePublicKeyPEM accepted a 5-byte key")
	}
	if buf.Len() != 0 {
		t.Fatal("something was written for a bad key")
	}
}

func writePEMFile(t *testing.T, blocks ...func(*bytes.Buffer)) string {
	t.Helper()
	var buf bytes.Buffer
	for _, b := range blocks {
		b(&buf)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func privBlock(t *testing.T, k ed25519.PrivateKey) func(*bytes.Buffer) {
	return func(b *bytes.Buffer) {
		if err := WritePrivateKeyPEM(b, k); err != nil {
			t.Fatal(err)
		}
	}
}

func pubBlock(t *testing.T, k ed25519.PublicKey) func(*bytes.Buffer) {
	return func(b *bytes.Buffer) {
		if err := WritePublicKeyPEM(b, k); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadSignerWithPreviousKeys(t *testing.T) {
	_, cur, _ := ed25519.GenerateKey(rand.Reader)
	oldPub, _, _ := ed25519.GenerateKey(rand.Reader)
	path := writePEMFile(t, privBlock(t, cur), pubBlock(t, oldPub))

	s, err := LoadSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	wantKid, _ := KeyID(cur.Public().(ed25519.PublicKey))
	oldKid, _ := KeyID(oldPub)
	if s.KeyID() != wantKid {
		t.Fatalf("kid %q, want %q", s.KeyID(), wantKid)
	}

	raw, err := s.JWKSJSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), `"d"`) {
		t.Fatalf("JWKS leaks a private member: %s", raw)
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2: %s", len(doc.Keys), raw)
	}
	for i, wk := range []string{wantKid, oldKid} {
		k := doc.Keys[i]
		if k["kid"] != wk || k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" {
			t.Fatalf("key %d = %v", i, k)
		}
	}
	set, err := jwk.Parse(raw)
	if err != nil || set.Len() != 2 {
		t.Fatalf("jwk.Parse: %v, len %d", err, set.Len())
	}

	keys := s.Keys()
	for _, kid := range []string{wantKid, oldKid} {
		if _, err := keys.Key(context.Background(), kid); err != nil {
			t.Fatalf("Keys() lacks %s: %v", kid, err)
		}
	}
}

func TestLoadSignerErrors(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	cases := map[string]func(*bytes.Buffer){
		"empty":        func(*bytes.Buffer) {},
		"garbage":      func(b *bytes.Buffer) { b.WriteString("not a pem file") },
		"ecdsa":        func(b *bytes.Buffer) { _ = pem.Encode(b, &pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}) },
		"bad der":      func(b *bytes.Buffer) { _ = pem.Encode(b, &pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}) },
		"only public":  pubBlock(t, edKey.Public().(ed25519.PublicKey)),
		"two private":  func(b *bytes.Buffer) { privBlock(t, edKey)(b); privBlock(t, edKey)(b) },
		"other blocks": func(b *bytes.Buffer) { _ = pem.Encode(b, &pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}) },
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadSigner(writePEMFile(t, content)); err == nil {
				t.Fatal("LoadSigner succeeded")
			}
		})
	}
	if _, err := LoadSigner(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Fatal("LoadSigner of a missing file succeeded")
	}
}

func TestGenerateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt.pem")
	pub, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	s, err := LoadSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.PublicKey(), pub) {
		t.Fatal("loaded key differs from the generated one")
	}
	before, _ := os.ReadFile(path)
	if _, err := GenerateKeyFile(path); err == nil {
		t.Fatal("GenerateKeyFile overwrote an existing file")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("existing key file changed")
	}
}

func TestLoadPublicKeyFile(t *testing.T) {
	a, _, _ := ed25519.GenerateKey(rand.Reader)
	b, _, _ := ed25519.GenerateKey(rand.Reader)
	keys, err := LoadPublicKeyFile(writePEMFile(t, pubBlock(t, a), pubBlock(t, b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []ed25519.PublicKey{a, b} {
		kid, _ := KeyID(k)
		got, err := keys.Key(context.Background(), kid)
		if err != nil || !bytes.Equal(got, k) {
			t.Fatalf("Key(%s) = %x, %v", kid, got, err)
		}
	}
	if _, err := keys.Key(context.Background(), "nope"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid: %v, want ErrUnknownKey", err)
	}

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	for name, content := range map[string]func(*bytes.Buffer){
		"empty":       func(*bytes.Buffer) {},
		"private key": privBlock(t, priv),
		"ecdsa":       func(b *bytes.Buffer) { _ = pem.Encode(b, &pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}) },
	} {
		if _, err := LoadPublicKeyFile(writePEMFile(t, content)); err == nil {
			t.Fatalf("%s: LoadPublicKeyFile succeeded", name)
		}
	}
}
