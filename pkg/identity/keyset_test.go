package identity_test

import (
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/identitytest"
	"github.com/im-websocket-go/im-websocket-go/pkg/identity"
)

// The KeySet suite on both implementations.

func TestKeySetStatic(t *testing.T) { identitytest.RunKeySet(t, identitytest.StaticKeysOf) }

func TestKeySetJWKS(t *testing.T) {
	identitytest.RunKeySet(t, func(t *testing.T, idp *identitytest.IdP) identity.KeySet {
		keys, err := identity.NewJWKS(idp.JWKSURL(), identity.JWKSOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	})
}
