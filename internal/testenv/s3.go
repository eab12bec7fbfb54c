package testenv

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Server is an S3-compatible server for one test.
type S3Server struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Region    string
	UseSSL    bool
	// Bucket is a name unique to the test. The bucket does not exist yet:
	// the code under test creates it (and S3 removes it at the test's end
	// on an external server).
	Bucket string
}

// S3 returns an S3-compatible server for the test.
//
// With IM_TEST_S3_ENDPOINT set (host:port; IM_TEST_S3_ACCESS_KEY,
// IM_TEST_S3_SECRET_KEY, and optionally IM_TEST_S3_REGION and
// IM_TEST_S3_USE_SSL=true) it is that server, for instance a MinIO.
// Otherwise it is gofakes3 with its memory backend, in this process, on a
// fresh 127.0.0.1 port, stopped at the test's end.
//
// gofakes3 does not check request signatures; the in-process server puts
// an AWS Signature Version 4 check in front of it (header and presigned
// URL forms, with expiry), so wrong keys, tampered or expired presigned
// URLs are refused with 403 as S3 refuses them. Payload hashes and
// streaming chunk signatures are not checked.
func S3(tb testing.TB) S3Server {
	tb.Helper()
	bucket := uniqueBucket()
	if ep := os.Getenv("IM_TEST_S3_ENDPOINT"); ep != "" {
		s := S3Server{
			Endpoint:  ep,
			AccessKey: os.Getenv("IM_TEST_S3_ACCESS_KEY"),
			SecretKey: os.Getenv("IM_TEST_S3_SECRET_KEY"),
			Region:    os.Getenv("IM_TEST_S3_REGION"),
			UseSSL:    strings.EqualFold(os.Getenv("IM_TEST_S3_USE_SSL"), "true"),
			Bucket:    bucket,
		}
		tb.Cleanup(func() { s.removeBucket(tb) })
		return s
	}
	s := S3Server{AccessKey: "im-test-access", SecretKey: "im-test-secret-" + bucket, Region: "us-east-1", Bucket: bucket}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testenv: s3 listen: %v", err)
	}
	s.Endpoint = l.Addr().String()
	fake := gofakes3.New(s3mem.New())
	srv := &http.Server{
		Handler:           &sigV4{access: s.AccessKey, secret: s.SecretKey, region: s.Region, next: fake.Server()},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(l) }()
	tb.Cleanup(func() { _ = srv.Close() })
	return s
}

// uniqueBucket returns a valid bucket name (lower case, no underscore).
func uniqueBucket() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "imtest-" + hex.EncodeToString(b[:])
}

// removeBucket empties and removes the test's bucket on an external server.
func (s S3Server) removeBucket(tb testing.TB) {
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: s.UseSSL, Region: s.Region,
	})
	if err != nil {
		tb.Errorf("testenv: s3 cleanup: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if ok, err := c.BucketExists(ctx, s.Bucket); err != nil || !ok {
		return
	}
	for obj := range c.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			tb.Errorf("testenv: s3 cleanup: list: %v", obj.Err)
			return
		}
		if err := c.RemoveObject(ctx, s.Bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			tb.Errorf("testenv: s3 cleanup: %v", err)
		}
	}
	if err := c.RemoveBucket(ctx, s.Bucket); err != nil {
		tb.Errorf("testenv: s3 cleanup: remove bucket: %v", err)
	}
}

// sigV4 refuses requests not signed with its key pair (AWS Signature
// Version 4, as in the Authorization header or a presigned URL's query).
type sigV4 struct {
	access, secret, region string
	next                   http.Handler
}

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	sigTime      = "20060102T150405Z"
	maxSkew      = 15 * time.Minute
)

func (v *sigV4) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if code, err := v.verify(r, time.Now()); err != nil {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource></Error>`,
			code, html.EscapeString(err.Error()), html.EscapeString(r.URL.Path))
		return
	}
	v.next.ServeHTTP(w, r)
}

// signed is what a request says about its signature.
type signed struct {
	credential, headers, signature, date, payload string
	expires                                       time.Duration // presigned only
}

// verify returns an S3 error code and the reason when r is not properly
// signed at now.
func (v *sigV4) verify(r *http.Request, now time.Time) (string, error) {
	q := r.URL.Query()
	var sg signed
	if alg := q.Get("X-Amz-Algorithm"); alg != "" {
		if alg != sigAlgorithm {
			return "AuthorizationQueryParametersError", fmt.Errorf("algorithm %q", alg)
		}
		secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
		if err != nil || secs < 1 || secs > 7*24*3600 {
			return "AuthorizationQueryParametersError", fmt.Errorf("X-Amz-Expires %q", q.Get("X-Amz-Expires"))
		}
		sg = signed{credential: q.Get("X-Amz-Credential"), headers: q.Get("X-Amz-SignedHeaders"),
			signature: q.Get("X-Amz-Signature"), date: q.Get("X-Amz-Date"),
			payload: "UNSIGNED-PAYLOAD", expires: time.Duration(secs) * time.Second}
		q.Del("X-Amz-Signature")
	} else if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), sigAlgorithm+" "); ok {
		for _, part := range strings.Split(auth, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				sg.credential = val
			case "SignedHeaders":
				sg.headers = val
			case "Signature":
				sg.signature = val
			}
		}
		sg.date, sg.payload = r.Header.Get("X-Amz-Date"), r.Header.Get("X-Amz-Content-Sha256")
		if sg.payload == "" {
			return "InvalidRequest", errors.New("missing X-Amz-Content-Sha256")
		}
	} else {
		return "AccessDenied", errors.New("anonymous access is not allowed")
	}
	t, err := time.Parse(sigTime, sg.date)
	if err != nil {
		return "AccessDenied", fmt.Errorf("bad date %q", sg.date)
	}
	switch {
	case sg.expires > 0 && now.After(t.Add(sg.expires)):
		return "AccessDenied", errors.New("request has expired")
	case sg.expires == 0 && now.Sub(t) > maxSkew, t.Sub(now) > maxSkew:
		return "RequestTimeTooSkewed", fmt.Errorf("request time %v too far from %v", t, now)
	}
	cred := strings.Split(sg.credential, "/")
	if len(cred) != 5 || cred[0] != v.access || cred[1] != sg.date[:8] || cred[3] != "s3" || cred[4] != "aws4_request" {
		return "InvalidAccessKeyId", fmt.Errorf("credential %q", sg.credential)
	}
	if cred[2] != v.region {
		return "AuthorizationHeaderMalformed", fmt.Errorf("region %q, want %q", cred[2], v.region)
	}
	names := strings.Split(sg.headers, ";")
	if !sort.StringsAreSorted(names) || !contains(names, "host") {
		return "AccessDenied", fmt.Errorf("signed headers %q", sg.headers)
	}
	var hdrs strings.Builder
	for _, h := range names {
		val := r.Host
		if h != "host" {
			var vals []string
			for _, hv := range r.Header.Values(h) {
				vals = append(vals, strings.Join(strings.Fields(hv), " "))
			}
			val = strings.Join(vals, ",")
		}
		hdrs.WriteString(h + ":" + val + "\n")
	}
	canonical := strings.Join([]string{r.Method, awsEscape(r.URL.Path, true), canonicalQuery(q),
		hdrs.String(), sg.headers, sg.payload}, "\n")
	scope := strings.Join(cred[1:], "/")
	digest := sha256.Sum256([]byte(canonical))
	toSign := sigAlgorithm + "\n" + sg.date + "\n" + scope + "\n" + hex.EncodeToString(digest[:])
	key := []byte("AWS4" + v.secret)
	for _, part := range cred[1:] {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(sg.signature)) {
		return "SignatureDoesNotMatch", errors.New("the request signature does not match")
	}
	return "", nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// canonicalQuery encodes q sorted by name, then value, the AWS way.
func canonicalQuery(q url.Values) string {
	var pairs [][2]string
	for k, vals := range q {
		for _, val := range vals {
			pairs = append(pairs, [2]string{awsEscape(k, false), awsEscape(val, false)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p[0] + "=" + p[1]
	}
	return strings.Join(out, "&")
}

// awsEscape percent-encodes every byte but the unreserved ones (and "/"
// in a path), upper-case hex, as AWS Signature Version 4 specifies.
func awsEscape(s string, path bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || path && c == '/' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
