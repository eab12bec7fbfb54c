package identitytest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/identity"
)

// KeySetFactory returns a KeySet serving the public keys of idp (a JWKS
// over idp's server, or the same keys held in memory).
type KeySetFactory func(t *testing.T, idp *IdP) identity.KeySet

// RunKeySet is the behavioural suite of identity.KeySet: every
// implementation runs it. A known kid returns its key, which verifies the
// IdP's tokens through a Provider; an unknown kid is an error wrapping
// auth.ErrUnknownKey; concurrent lookups agree; a cancelled context ends a
// lookup.
func RunKeySet(t *testing.T, newKeys KeySetFactory) {
	t.Run("KnownKid", func(t *testing.T) {
		for _, alg := range []jwa.SignatureAlgorithm{jwa.RS256, jwa.ES256, jwa.EdDSA} {
			idp := New(t, alg)
			keys := newKeys(t, idp)
			k, err := keys.Key(t.Context(), idp.Current().ID)
			if err != nil || k.KeyID() != idp.Current().ID {
				t.Fatalf("%s: key %v, %v", alg, k, err)
			}
			p, err := identity.NewProvider(keys, identity.Config{Issuer: idp.Issuer, Audience: idp.Audience})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Verify(t.Context(), idp.Token("suite")); err != nil {
				t.Fatalf("%s: verify: %v", alg, err)
			}
		}
	})
	t.Run("UnknownKid", func(t *testing.T) {
		idp := New(t, jwa.EdDSA)
		keys := newKeys(t, idp)
		if _, err := keys.Key(t.Context(), "nope"); !errors.Is(err, auth.ErrUnknownKey) {
			t.Fatalf("unknown kid: %v, want auth.ErrUnknownKey", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		idp := New(t, jwa.ES256)
		keys := newKeys(t, idp)
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for i := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				kid := idp.Current().ID
				if i%2 == 1 {
					kid = fmt.Sprintf("unknown-%d", i)
				}
				k, err := keys.Key(context.Background(), kid)
				switch {
				case i%2 == 0 && (err != nil || k.KeyID() != kid):
					errs <- fmt.Errorf("known kid: %v", err)
				case i%2 == 1 && !errors.Is(err, auth.ErrUnknownKey):
					errs <- fmt.Errorf("unknown kid: %v", err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		idp := New(t, jwa.EdDSA)
		keys := newKeys(t, idp)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = keys.Key(ctx, "whatever")
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a lookup with a cancelled context did not end")
		}
	})
}

// StaticKeysOf returns the public keys of idp held in memory.
func StaticKeysOf(t *testing.T, idp *IdP) identity.KeySet {
	t.Helper()
	idp.mu.Lock()
	defer idp.mu.Unlock()
	set := jwk.NewSet()
	for _, k := range idp.keys {
		pub, err := jwk.FromRaw(k.Private.Public())
		if err != nil {
			t.Fatal(err)
		}
		_ = pub.Set(jwk.KeyIDKey, k.ID)
		if k.PublishAlg != "" {
			_ = pub.Set(jwk.AlgorithmKey, k.PublishAlg)
		}
		_ = set.AddKey(pub)
	}
	return identity.StaticKeys{Set: set}
}
