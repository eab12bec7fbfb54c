package securitytest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
)

// secretPatterns are shapes of real credentials. Placeholders and
// truncated examples (as in the docs) do not match.
var secretPatterns = map[string]*regexp.Regexp{
	"private key block":   regexp.MustCompile(`-----BEGIN ([A-Z0-9]+ )?PRIVATE KEY-----\s*([A-Za-z0-9+/=\s]{40,}?)-----END`),
	"signed JWT":          regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{40,}`),
	"refresh token":       regexp.MustCompile(`\brt_[A-Za-z0-9_-]{43}\b`),
	"AWS access key":      regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`),
	"GitHub token":        regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36}\b`),
	"Slack token":         regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}`),
	"Google API key":      regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`),
	"password in a URL":   regexp.MustCompile(`\b(redis|rediss|mongodb(\+srv)?|smtp|amqp|postgres(ql)?)://[^:@/\s"']+:[^@/\s"'$]{6,}@`),
	"SMTP password value": regexp.MustCompile(`IM_SMTP_PASSWORD\s*[:=]\s*["']?[A-Za-z0-9+/!#%&*_.-]{12,}`),
}

// allowedSecretShapes are matches known to be harmless.
var allowedSecretShapes = []string{"PLACEHOLDER", "change-me", "example"}

// textFile reports whether a file is one the repository keeps as text.
func textFile(path string) bool {
	base := filepath.Base(path)
	switch base {
	case "Dockerfile", "Makefile", ".env", "go.mod":
		return true
	}
	switch filepath.Ext(path) {
	case ".go", ".md", ".yaml", ".yml", ".json", ".sh", ".toml", ".env", ".conf", ".pem", ".key",
		".txt", ".html", ".js", ".css", ".ini", ".cfg", ".properties", ".service", ".tmpl":
		return true
	}
	return strings.HasPrefix(base, ".env")
}

// TestNoSecretsInRepo scans the repository's text files for credentials:
// private keys, signed tokens, cloud and SMTP passwords, and key files.
// The deployment templates hold placeholders only; real keys are made
// with cmd/imkeygen and live outside the repository.
func TestNoSecretsInRepo(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	skipDirs := map[string]bool{".git": true, "bin": true, "data": true, "tmp": true, "node_modules": true, "vendor": true}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed meanwhile by someone else's work
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if path != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".") && d.Name() != ".ci" && d.Name() != ".github") {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if name == "id_rsa" || name == "id_ed25519" || name == "id_ecdsa" || strings.HasSuffix(name, ".p12") || strings.HasSuffix(name, ".pfx") {
			t.Errorf("%s: a private key file in the repository", rel)
		}
		if !textFile(path) {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > 2<<20 {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		files++
		for _, f := range findSecrets(string(b)) {
			t.Errorf("%s: %s", rel, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d files scanned under %s", files, root)
	}
	t.Logf("%d files scanned", files)
}

// findSecrets lists the credentials in text.
func findSecrets(text string) []string {
	var out []string
	for what, re := range secretPatterns {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			if harmless(m[0]) {
				continue
			}
			if what == "private key block" && !decodesToKey(m[2]) {
				continue
			}
			out = append(out, fmt.Sprintf("%s: %.60q...", what, m[0]))
		}
	}
	return out
}

// TestSecretScannerFindsSecrets keeps TestNoSecretsInRepo honest: real
// credentials of each kind are found, placeholders are not.
func TestSecretScannerFindsSecrets(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	var key bytes.Buffer
	if err := auth.WritePrivateKeyPEM(&key, priv); err != nil {
		t.Fatal(err)
	}
	s, err := auth.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := (&auth.Issuer{Signer: s, Issuer: "i", Audience: "a"}).Issue("someone")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{
		"private-key.pem: |\n    " + strings.ReplaceAll(key.String(), "\n", "\n    "),
		"Authorization: Bearer " + tok,
		"refresh_token: rt_" + b64([]byte(randomHex(16))[:32]),
		// Split so that this file does not hold them itself.
		"IM_REDIS_URL=redis://im:s3cr3t" + "-pass@redis:6379/0",
		"IM_SMTP_" + "PASSWORD: 'Zx9!kq2LmP0wRt'",
	} {
		if len(findSecrets(secret)) == 0 {
			t.Errorf("not found: %q", secret)
		}
	}
	for _, fine := range []string{
		"-----BEGIN PRIVATE KEY-----\n    PLACEHOLDER: replace with the output of imkeygen\n    -----END PRIVATE KEY-----",
		`{"type":"refresh","access_token":"eyJhbGciOiJFZERTQSIsImtpZCI6..."}`,
		"IM_SMTP_PASSWORD: ${IM_SMTP_PASSWORD:-}",
		"IM_MONGO_URI=mongodb://mongo:27017",
	} {
		if f := findSecrets(fine); len(f) != 0 {
			t.Errorf("false alarm on %q: %v", fine, f)
		}
	}
}

func harmless(s string) bool {
	for _, a := range allowedSecretShapes {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}

// decodesToKey reports whether a PEM body is real base64 key material.
func decodesToKey(body string) bool {
	clean := strings.Join(strings.Fields(body), "")
	b, err := base64.StdEncoding.DecodeString(clean)
	return err == nil && len(b) >= 32
}
