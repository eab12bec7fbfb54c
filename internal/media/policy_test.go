package media

import "testing"

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	for _, ct := range []string{
		"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf",
		"text/plain", "text/plain; charset=utf-8", "TEXT/PLAIN", "application/zip",
		"video/mp4", "video/webm", "video/mpeg", "video/ogg", "video/quicktime",
		"audio/mpeg", "audio/ogg", "audio/webm", "audio/mp4",
		"application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.oasis.opendocument.text",
	} {
		if !p.Allowed(ct) {
			t.Errorf("default policy refuses %q", ct)
		}
	}
	for _, ct := range []string{
		"text/html", "image/svg+xml", "application/javascript", "application/octet-stream",
		"application/x-elf", "application/java-archive", "", "garbage", "image/png; x",
	} {
		if p.Allowed(ct) {
			t.Errorf("default policy allows %q", ct)
		}
	}
}

func TestPolicyPatterns(t *testing.T) {
	p := mustPolicy(t, "image/*", "application/pdf", " Video/MP4 ")
	for ct, want := range map[string]bool{
		"image/png": true, "image/svg+xml": true, "image/anything": true,
		"application/pdf": true, "video/mp4": true, "video/webm": false,
		"text/plain": false, "imagex/png": false, "application/pdfx": false,
	} {
		if got := p.Allowed(ct); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", ct, got, want)
		}
	}
	none := mustPolicy(t)
	if none.Allowed("text/plain") {
		t.Error("an empty policy allows text/plain")
	}
	for _, bad := range []string{"", "image", "/png", "image/", "*/png", "im*/png", "image/pn*", "image/png;q=1", "a/b/c", "image/png, text/plain"} {
		if _, err := NewPolicy(bad); err == nil {
			t.Errorf("NewPolicy(%q) accepted", bad)
		}
	}
}

// TestExecutablesNeverAllowed: no pattern lets an executable through, by
// its name, an alias, or a type derived from it.
func TestExecutablesNeverAllowed(t *testing.T) {
	all := mustPolicy(t, "*/*", "application/*", "text/*",
		"application/x-elf", "application/x-sharedlib", "application/x-msdownload", "application/x-mach-binary")
	for _, ct := range []string{
		"application/x-elf", "application/x-executable", "application/x-sharedlib", "application/x-object",
		"application/x-coredump", "application/vnd.microsoft.portable-executable", "application/x-msdownload",
		"application/x-dosexec", "application/x-mach-binary", "application/java-archive", "application/jar",
		"application/vnd.android.package-archive", "application/x-java-applet", "application/wasm",
		"application/x-ms-installer", "application/x-msi", "text/x-shellscript", "text/x-sh",
		"application/x-sh", "APPLICATION/X-ELF", "application/x-sharedlib; charset=binary",
	} {
		if all.Allowed(ct) {
			t.Errorf("%q allowed", ct)
		}
	}
	if !all.Allowed("application/zip") || !all.Allowed("text/plain") {
		t.Error("the permissive policy refuses ordinary types")
	}
}
