package testenv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // CloudFront signs canned policies with RSA-SHA1
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/surge-dev/surge/app/internal/media"
)

// S3 credentials of the test object store.
const (
	S3AccessKeyID = "AKIATESTMATERIALS000"
	S3SecretKey   = "test-secret-key-for-post-policies-000000"
	S3Region      = "eu-west-1"
	S3Bucket      = "uploads"
	CDNKeyPairID  = "K2TESTKEYPAIRID"
)

// Media is an S3-compatible object store and a CloudFront stand-in, both on
// 127.0.0.1, for the course materials flow.
//
// The store is gofakes3 behind a front that does what gofakes3 does not:
// it checks browser POST uploads the way S3 does (signature, expiry and
// every policy condition, S3 "Creating a POST policy",
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html)
// and answers CORS preflights for the allowed origins only, as the uploads
// bucket's CORS rule does. The CDN serves /media/* only with a valid
// CloudFront signed URL (canned policy) for the key pair it trusts, as a
// behaviour with a trusted key group does.
type Media struct {
	S3URL  string     // the front: what the app presigns against
	CDNURL string     // the CloudFront stand-in: the app's media base URL
	Client *s3.Client // direct to the store, for checks
	Key    *rsa.PrivateKey

	mu      sync.Mutex
	origins []string
	now     func() time.Time
	backend http.Handler
}

// NewMedia starts the store, the front and the CDN; allowedOrigins may POST
// from a browser.
func NewMedia(t testing.TB, allowedOrigins ...string) *Media {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(S3Bucket); err != nil {
		t.Fatalf("creating bucket: %v", err)
	}
	fake := gofakes3.New(backend)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generating CDN key: %v", err)
	}
	m := &Media{Key: key, origins: allowedOrigins, now: time.Now, backend: fake.Server()}
	front := httptest.NewServer(http.HandlerFunc(m.serveS3))
	t.Cleanup(front.Close)
	m.S3URL = front.URL
	cdn := httptest.NewServer(http.HandlerFunc(m.serveCDN))
	t.Cleanup(cdn.Close)
	m.CDNURL = cdn.URL
	m.Client = m.NewS3Client()
	return m
}

// AllowOrigin adds an origin the bucket's CORS rule admits.
func (m *Media) AllowOrigin(o string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.origins = append(m.origins, o)
}

// NewS3Client is an SDK client of the front (path-style, static keys).
func (m *Media) NewS3Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       S3Region,
		BaseEndpoint: aws.String(m.S3URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(S3AccessKeyID, S3SecretKey, ""),
	})
}

// Service is the app's media service wired to this store and CDN.
func (m *Media) Service(t testing.TB, uploadTTL time.Duration) *media.Service {
	t.Helper()
	svc, err := media.New(media.Options{
		S3: m.NewS3Client(), Bucket: S3Bucket, BaseURL: m.CDNURL, UploadOrigin: m.S3URL,
		KeyPairID: CDNKeyPairID, SigningKey: m.Key, UploadTTL: uploadTTL,
	})
	if err != nil {
		t.Fatalf("media.New: %v", err)
	}
	return svc
}

func (m *Media) allowed(origin string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.origins, origin)
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
}

func (m *Media) serveS3(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions {
		// Preflight: the CORS rule allows POST from the site's origins.
		if origin == "" || !m.allowed(origin) || r.Header.Get("Access-Control-Request-Method") != http.MethodPost {
			s3Error(w, http.StatusForbidden, "AccessForbidden", "CORSResponse: This CORS request is not allowed.")
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
			w.Header().Set("Access-Control-Allow-Headers", h)
		}
		w.Header().Set("Vary", "Origin")
		return
	}
	if origin != "" && m.allowed(origin) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Vary", "Origin")
	}
	if r.Method == http.MethodPost && strings.Trim(r.URL.Path, "/") == S3Bucket && r.URL.RawQuery == "" {
		m.browserUpload(w, r)
		return
	}
	if r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "" {
		m.copyObject(w, r)
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodDelete {
		// Only the browser POST is exercised through the front; the
		// SDK's writes would bypass the policy.
		s3Error(w, http.StatusForbidden, "AccessDenied", "Access Denied")
		return
	}
	rec := httptest.NewRecorder()
	m.backend.ServeHTTP(rec, r)
	copyResponse(w, rec)
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, vs := range rec.Header() {
		if strings.HasPrefix(k, "Access-Control-") {
			continue // gofakes3 allows every origin; the front decides
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// copyObject is the app's CopyObject (the front trusts the SDK's signed
// requests): the copy happens only if the source still has the ETag named
// by x-amz-copy-source-if-match, else 412 as S3 answers; gofakes3 itself
// ignores that header.
func (m *Media) copyObject(w http.ResponseWriter, r *http.Request) {
	if want := r.Header.Get("X-Amz-Copy-Source-If-Match"); want != "" {
		src, err := url.PathUnescape(r.Header.Get("X-Amz-Copy-Source"))
		_, key, _ := strings.Cut(strings.TrimPrefix(src, "/"), "/")
		head := httptest.NewRecorder()
		m.backend.ServeHTTP(head, httptest.NewRequest(http.MethodHead, "/"+S3Bucket+"/"+key, nil))
		if err != nil || head.Code != http.StatusOK || head.Header().Get("ETag") != want {
			s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
			return
		}
	}
	rec := httptest.NewRecorder()
	m.backend.ServeHTTP(rec, r)
	copyResponse(w, rec)
}

// browserUpload checks a POST upload as S3 does, then stores it.
func (m *Media) browserUpload(w http.ResponseWriter, r *http.Request) {
	// S3 takes at most 5 GB in one POST; materials are far smaller.
	r.Body = http.MaxBytesReader(w, r.Body, 64<<20)
	if err := r.ParseMultipartForm(64 << 20); err != nil { //nolint:gosec // G120: the body is bounded just above
		s3Error(w, http.StatusBadRequest, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")
		return
	}
	form := map[string]string{} // lower-cased names: S3 field names are case-insensitive
	for k, vs := range r.MultipartForm.Value {
		form[strings.ToLower(k)] = vs[0]
	}
	files := r.MultipartForm.File["file"]
	if len(files) != 1 {
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "POST requires exactly one file upload per request.")
		return
	}
	status, code, msg := m.checkPolicy(form, files[0].Size)
	if status != 0 {
		s3Error(w, status, code, msg)
		return
	}
	// Rebuild the form for the store (the body was consumed).
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range r.MultipartForm.Value {
		_ = mw.WriteField(k, vs[0])
	}
	f, err := files[0].Open()
	if err != nil {
		s3Error(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	defer f.Close()
	part, _ := mw.CreateFormFile("file", files[0].Filename)
	_, _ = io.Copy(part, f)
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/"+S3Bucket, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	m.backend.ServeHTTP(rec, req)
	if rec.Code >= 300 {
		copyResponse(w, rec)
		return
	}
	// success_action_status defaults to 204.
	w.Header().Set("ETag", rec.Header().Get("ETag"))
	w.WriteHeader(http.StatusNoContent)
}

type postPolicy struct {
	Expiration string `json:"expiration"`
	Conditions []any  `json:"conditions"`
}

// checkPolicy returns 0 when the form passes; else S3's status, code and
// message.
func (m *Media) checkPolicy(form map[string]string, size int64) (int, string, string) {
	denied := func(msg string) (int, string, string) { return http.StatusForbidden, "AccessDenied", msg }
	b64 := form["policy"]
	raw, err := base64.StdEncoding.DecodeString(b64)
	if b64 == "" || err != nil {
		return denied("Invalid Policy: Invalid Simple-Base64 value.")
	}
	if form["x-amz-algorithm"] != "AWS4-HMAC-SHA256" {
		return denied("Invalid according to Policy: unsupported x-amz-algorithm")
	}
	cred := strings.Split(form["x-amz-credential"], "/")
	if len(cred) != 5 || cred[0] != S3AccessKeyID || cred[3] != "s3" || cred[4] != "aws4_request" {
		return http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
	}
	kDate := hmacSHA256([]byte("AWS4"+S3SecretKey), cred[1])
	kSigning := hmacSHA256(hmacSHA256(hmacSHA256(kDate, cred[2]), cred[3]), "aws4_request")
	want := hex.EncodeToString(hmacSHA256(kSigning, b64))
	if !hmac.Equal([]byte(want), []byte(form["x-amz-signature"])) {
		return http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
	}
	var p postPolicy
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return denied("Invalid Policy: Invalid JSON.")
	}
	exp, err := time.Parse(time.RFC3339, p.Expiration)
	if err != nil {
		return denied("Invalid Policy: Invalid 'expiration' value.")
	}
	if !m.clock().Before(exp) {
		return denied("Invalid according to Policy: Policy expired.")
	}
	covered := map[string]bool{}
	field := func(name string) (string, bool) {
		name = strings.ToLower(strings.TrimPrefix(name, "$"))
		covered[name] = true
		if name == "bucket" {
			return S3Bucket, true
		}
		v, ok := form[name]
		return v, ok
	}
	for _, c := range p.Conditions {
		switch c := c.(type) {
		case map[string]any:
			for k, v := range c {
				got, _ := field(k)
				if s, _ := v.(string); got != s {
					return denied(fmt.Sprintf("Invalid according to Policy: Policy Condition failed: [\"eq\", \"$%s\", %q]", k, s))
				}
			}
		case []any:
			if len(c) != 3 {
				return denied("Invalid Policy: Invalid condition.")
			}
			op, _ := c[0].(string)
			switch strings.ToLower(op) {
			case "content-length-range":
				lo, err1 := strconv.ParseInt(fmt.Sprint(c[1]), 10, 64)
				hi, err2 := strconv.ParseInt(fmt.Sprint(c[2]), 10, 64)
				if err1 != nil || err2 != nil {
					return denied("Invalid Policy: Invalid content-length-range.")
				}
				if size > hi {
					return http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
				}
				if size < lo {
					return http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
				}
			case "eq", "starts-with":
				name, _ := c[1].(string)
				want, _ := c[2].(string)
				got, _ := field(name)
				if op == "eq" && got != want || op == "starts-with" && !strings.HasPrefix(got, want) {
					return denied(fmt.Sprintf("Invalid according to Policy: Policy Condition failed: [%q, %q, %q]", op, name, want))
				}
			default:
				return denied("Invalid Policy: Invalid condition.")
			}
		default:
			return denied("Invalid Policy: Invalid condition.")
		}
	}
	for name := range form {
		switch {
		case name == "policy" || name == "x-amz-signature" || name == "file" || strings.HasPrefix(name, "x-ignore-"):
		case !covered[name]:
			return denied(fmt.Sprintf("Invalid according to Policy: Extra input fields: %s", name))
		}
	}
	return 0, "", ""
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// serveCDN serves GET/HEAD /media/* from the store, only for requests
// signed with the trusted key pair and not expired.
func (m *Media) serveCDN(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead || !strings.HasPrefix(r.URL.Path, "/media/") {
		s3Error(w, http.StatusForbidden, "AccessDenied", "Access denied")
		return
	}
	if err := m.verifySigned(r); err != nil {
		// CloudFront answers 403 with "Missing Key-Pair-Id query parameter
		// or cookie value" and the like.
		s3Error(w, http.StatusForbidden, "AccessDenied", err.Error())
		return
	}
	out, err := m.Client.GetObject(r.Context(), &s3.GetObjectInput{Bucket: aws.String(S3Bucket), Key: aws.String(strings.TrimPrefix(r.URL.Path, "/"))})
	if err != nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	defer out.Body.Close()
	w.Header().Set("Content-Type", aws.ToString(out.ContentType))
	if cd := aws.ToString(out.ContentDisposition); cd != "" {
		w.Header().Set("Content-Disposition", cd)
	}
	w.Header().Set("Content-Length", strconv.FormatInt(aws.ToInt64(out.ContentLength), 10))
	if r.Method == http.MethodGet {
		_, _ = io.Copy(w, out.Body)
	}
}

func (m *Media) verifySigned(r *http.Request) error {
	q := r.URL.Query()
	if q.Get("Key-Pair-Id") == "" {
		return fmt.Errorf("Missing Key-Pair-Id query parameter or cookie value")
	}
	if q.Get("Key-Pair-Id") != CDNKeyPairID {
		return fmt.Errorf("Unknown Key")
	}
	if q.Get("Policy") != "" {
		return fmt.Errorf("custom policies are not used by the app")
	}
	exp, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	if err != nil {
		return fmt.Errorf("Missing Expires")
	}
	if !m.clock().Before(time.Unix(exp, 0)) {
		return fmt.Errorf("Access denied: the signed URL expired")
	}
	sig, err := base64.StdEncoding.DecodeString(strings.NewReplacer("-", "+", "_", "=", "~", "/").Replace(q.Get("Signature")))
	if err != nil {
		return fmt.Errorf("Invalid signature")
	}
	// The resource is the URL without the signing parameters.
	rest := r.URL.Query()
	for _, k := range []string{"Expires", "Signature", "Key-Pair-Id"} {
		rest.Del(k)
	}
	resource := m.CDNURL + r.URL.EscapedPath()
	if len(rest) > 0 {
		resource += "?" + rest.Encode()
	}
	policy := fmt.Sprintf(`{"Statement":[{"Resource":%q,"Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}`, resource, exp)
	sum := sha1.Sum([]byte(policy)) //nolint:gosec // CloudFront's canned policy signature
	if err := rsa.VerifyPKCS1v15(&m.Key.PublicKey, crypto.SHA1, sum[:], sig); err != nil {
		return fmt.Errorf("Access denied: signature does not match")
	}
	return nil
}

// SetNow replaces the clock the front and the CDN check expiry against.
func (m *Media) SetNow(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

func (m *Media) clock() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now()
}

// Object reads a stored object (nil, false when absent).
func (m *Media) Object(ctx context.Context, key string) ([]byte, bool) {
	out, err := m.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(S3Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, false
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, err == nil
}
