package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// identityRaw holds the settings parsed after the flags.
type identityRaw struct {
	algorithms, builtin string
}

// identityBindings are the settings of bring your own identity.
func identityBindings(c *Config, raw *identityRaw) []binding {
	return []binding{
		{"IM_IDP_ISSUER", "idp-issuer", "iss of the host app's identity provider tokens; set (with IM_IDP_AUDIENCE and IM_IDP_JWKS_URL) to accept them", &c.IDPIssuer, nil, nil, ""},
		{"IM_IDP_AUDIENCE", "idp-audience", "aud the identity provider's tokens must name", &c.IDPAudience, nil, nil, ""},
		{"IM_IDP_JWKS_URL", "idp-jwks-url", "URL of the identity provider's JWKS (http or https)", &c.IDPJWKSURL, nil, nil, ""},
		{"IM_IDP_ALGORITHMS", "idp-algorithms", "comma-separated accepted signature algorithms (asymmetric only: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)", &raw.algorithms, nil, nil, "RS256,ES256,EdDSA"},
		{"IM_IDP_USER_CLAIM", "idp-user-claim", "claim holding the user's id at the identity provider", &c.IDPUserClaim, nil, nil, "sub"},
		{"IM_IDP_NICKNAME_CLAIM", "idp-nickname-claim", "claim read into a new user's nickname (empty: none)", &c.IDPNicknameClaim, nil, nil, "name"},
		{"IM_IDP_AVATAR_CLAIM", "idp-avatar-claim", "claim read into a new user's avatar URL (empty: none)", &c.IDPAvatarClaim, nil, nil, "picture"},
		{"IM_IDP_MIN_REFRESH", "idp-min-refresh", "least time between two JWKS fetches (an unknown kid fetches again at most this often)", nil, &c.IDPMinRefresh, nil, "30s"},
		{"IM_IDP_FETCH_TIMEOUT", "idp-fetch-timeout", "bound on one JWKS fetch", nil, &c.IDPFetchTimeout, nil, "5s"},
		{"IM_IDP_MAX_TOKEN_TTL", "idp-max-token-ttl", "longest accepted lifetime (exp - iat) of an identity provider token", nil, &c.IDPMaxTokenTTL, nil, "1h"},
		{"IM_BUILTIN_AUTH", "builtin-auth", "true: the built-in email registration and login stay open; false: identity provider tokens only", &raw.builtin, nil, nil, "true"},
	}
}

// finishIdentity checks the settings of bring your own identity.
func finishIdentity(c *Config, raw identityRaw) error {
	switch raw.builtin {
	case "true", "1":
		c.BuiltinAuth = true
	case "false", "0":
	default:
		return fmt.Errorf("config: IM_BUILTIN_AUTH must be true or false, not %q", raw.builtin)
	}
	for _, a := range strings.Split(raw.algorithms, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.IDPAlgorithms = append(c.IDPAlgorithms, a)
		}
	}
	set := 0
	for _, v := range []string{c.IDPIssuer, c.IDPAudience, c.IDPJWKSURL} {
		if v != "" {
			set++
		}
	}
	switch {
	case set == 0 && !c.BuiltinAuth:
		return fmt.Errorf("config: IM_BUILTIN_AUTH=false needs an identity provider (IM_IDP_ISSUER, IM_IDP_AUDIENCE, IM_IDP_JWKS_URL): nobody could sign in")
	case set == 0:
		return nil
	case set < 3:
		return fmt.Errorf("config: IM_IDP_ISSUER, IM_IDP_AUDIENCE and IM_IDP_JWKS_URL go together")
	}
	if c.IDPIssuer == c.JWTIssuer {
		return fmt.Errorf("config: IM_IDP_ISSUER must differ from IM_JWT_ISSUER (tokens are routed by iss)")
	}
	if u, err := url.Parse(c.IDPJWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("config: IM_IDP_JWKS_URL must be an absolute http or https URL")
	}
	if len(c.IDPAlgorithms) == 0 {
		return fmt.Errorf("config: IM_IDP_ALGORITHMS is empty")
	}
	if c.IDPUserClaim == "" {
		return fmt.Errorf("config: IM_IDP_USER_CLAIM is empty")
	}
	if c.IDPMinRefresh < time.Second || c.IDPFetchTimeout <= 0 || c.IDPFetchTimeout > time.Minute || c.IDPMaxTokenTTL <= 0 {
		return fmt.Errorf("config: IM_IDP_MIN_REFRESH must be at least 1s, IM_IDP_FETCH_TIMEOUT 1ns-1m, IM_IDP_MAX_TOKEN_TTL positive")
	}
	return nil
}
