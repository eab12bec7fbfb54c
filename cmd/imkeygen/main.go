// Command imkeygen writes a new Ed25519 signing key for the API
// (IM_JWT_PRIVATE_KEY_FILE): a PKCS#8 "PRIVATE KEY" PEM, mode 0600.
//
//	imkeygen -out jwt.pem                 # fails if jwt.pem exists
//	imkeygen -out /keys/jwt.pem -if-missing -pub /keys/jwt.pub.pem
//
// -if-missing makes it idempotent (docker-compose runs it on every `up`);
// -pub also writes the public key (PKIX PEM) for gateways that use
// IM_JWT_PUBLIC_KEY_FILE instead of IM_JWKS_URL.
//
// The container images carry no shell and no HTTP client, so imkeygen also
// serves as their health probe: `imkeygen -probe URL` GETs URL and exits 0
// on a 2xx answer, 1 otherwise (docker-compose healthchecks use it;
// Kubernetes probes the same endpoints with httpGet).
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "imkeygen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("imkeygen", flag.ContinueOnError)
	out := fl.String("out", "", "path of the private key PEM to create (required unless -probe)")
	pub := fl.String("pub", "", "also write the public key (PKIX PEM) here")
	ifMissing := fl.Bool("if-missing", false, "do nothing (exit 0) when -out already exists")
	probe := fl.String("probe", "", "instead of writing a key: GET this URL, exit 0 on 2xx (container healthchecks)")
	timeout := fl.Duration("timeout", 3*time.Second, "-probe timeout")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if *probe != "" {
		return doProbe(*probe, *timeout)
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	if *ifMissing {
		if _, err := os.Stat(*out); err == nil {
			fmt.Fprintf(stdout, "imkeygen: %s exists, kept\n", *out)
			return nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	key, err := auth.GenerateKeyFile(*out)
	if err != nil {
		return err
	}
	kid, err := auth.KeyID(key)
	if err != nil {
		return err
	}
	if *pub != "" {
		if err := writePublic(*pub, key); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "imkeygen: wrote %s (kid %s)\n", *out, kid)
	return nil
}

func writePublic(path string, key ed25519.PublicKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := auth.WritePublicKeyPEM(f, key); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func doProbe(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", url, res.Status)
	}
	return nil
}
