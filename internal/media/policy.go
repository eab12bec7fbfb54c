package media

import (
	"fmt"
	"mime"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// Policy says which content types may be uploaded: a list of patterns,
// each a media type ("image/png"), a type with any subtype ("image/*") or
// anything ("*/*"). A content type is allowed when a pattern matches it
// exactly (parameters such as charset aside): "text/plain" does not allow
// "text/html", which mimetype sees as a kind of text.
//
// Executables and installers (ELF, PE, Mach-O, Java, Android, WebAssembly,
// shell scripts, MSI, ...) are never allowed, whatever the patterns say,
// and neither is any type mimetype derives from one of them.
//
// Patterns such as "image/*" or "text/*" also allow types a browser runs
// (image/svg+xml, text/html): serve uploads as attachments, from another
// origin, or with a strict Content-Security-Policy.
type Policy struct {
	exact map[string]bool
	types map[string]bool // "image" for "image/*"
	any   bool
}

// DefaultAllow returns the default patterns: common images, PDF, plain
// text, zip, common audio and video, and office documents.
func DefaultAllow() []string {
	return []string{
		"image/jpeg", "image/png", "image/apng", "image/gif", "image/webp",
		"application/pdf", "text/plain", "application/zip",
		"audio/mpeg", "audio/ogg", "audio/webm", "audio/mp4", "audio/x-m4a", "audio/aac", "audio/wav",
		"video/mp4", "video/webm", "video/mpeg", "video/ogg", "video/quicktime", "application/ogg",
		"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/vnd.oasis.opendocument.text",
		"application/vnd.oasis.opendocument.spreadsheet",
		"application/vnd.oasis.opendocument.presentation",
	}
}

// DefaultPolicy returns the policy of DefaultAllow.
func DefaultPolicy() *Policy {
	p, err := NewPolicy(DefaultAllow()...)
	if err != nil {
		panic("media: default policy: " + err.Error()) // a bug in DefaultAllow
	}
	return p
}

// never lists the types that no policy allows; a type whose mimetype
// parent is listed is refused too (application/x-sharedlib is an ELF).
func never() []string {
	return []string{
		"application/x-elf", "application/x-executable", "application/x-sharedlib",
		"application/x-object", "application/x-coredump",
		"application/vnd.microsoft.portable-executable", "application/x-msdownload",
		"application/x-dosexec", "application/x-ms-dos-executable",
		"application/x-mach-binary", "application/x-mach-o-executable",
		"application/java-archive", "application/x-java-applet",
		"application/vnd.android.package-archive", "application/wasm",
		"application/x-ms-installer", "application/x-ms-shortcut", "application/x-installshield",
		"application/vnd.debian.binary-package", "application/x-rpm",
		"application/x-bytecode.python", "application/x-shockwave-flash",
		"application/vnd.ms-htmlhelp", "text/x-shellscript", "application/x-sh",
	}
}

// NewPolicy returns the policy of the given patterns.
func NewPolicy(patterns ...string) (*Policy, error) {
	p := &Policy{exact: map[string]bool{}, types: map[string]bool{}}
	for _, pat := range patterns {
		typ, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(pat)), "/")
		switch {
		case !ok || typ == "" || sub == "" || strings.ContainsAny(sub, "/;, ") || strings.ContainsAny(typ, ";, "):
			return nil, fmt.Errorf("media: pattern %q: want type/subtype, type/* or */*", pat)
		case typ == "*" && sub == "*":
			p.any = true
		case typ == "*" || strings.Contains(typ, "*") || sub != "*" && strings.Contains(sub, "*"):
			return nil, fmt.Errorf("media: pattern %q: only a whole subtype may be *", pat)
		case sub == "*":
			p.types[typ] = true
		default:
			p.exact[typ+"/"+sub] = true
		}
	}
	return p, nil
}

// Allowed reports whether contentType (parameters are ignored) may be
// uploaded.
func (p *Policy) Allowed(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	if forbidden(mt) {
		return false
	}
	if m := mimetype.Lookup(mt); m != nil && forbiddenMIME(m) {
		return false
	}
	return p.matches(mt)
}

// allowedMIME is Allowed for a sniffed type, also checking its parents.
func (p *Policy) allowedMIME(m *mimetype.MIME) bool {
	if forbiddenMIME(m) {
		return false
	}
	mt, _, err := mime.ParseMediaType(m.String())
	return err == nil && p.matches(mt)
}

func (p *Policy) matches(mt string) bool {
	if p.any || p.exact[mt] {
		return true
	}
	typ, _, _ := strings.Cut(mt, "/")
	return p.types[typ]
}

// forbiddenMIME reports whether m (or an alias) or one of its parents is
// never allowed.
func forbiddenMIME(m *mimetype.MIME) bool {
	for ; m != nil; m = m.Parent() {
		for _, n := range never() {
			if m.Is(n) {
				return true
			}
		}
	}
	return false
}

func forbidden(mt string) bool {
	for _, n := range never() {
		if strings.EqualFold(mt, n) {
			return true
		}
	}
	return false
}
