package media

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/surge"
)

func TestParseSigningKey(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(rk)
	require.NoError(t, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ec8, err := x509.MarshalPKCS8PrivateKey(ek)
	require.NoError(t, err)
	enc := func(typ string, b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})) }
	for _, tc := range []struct {
		name, pem string
		ok        bool
	}{
		{"PKCS #1", enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), true},
		{"PKCS #8", "\n" + enc("PRIVATE KEY", pkcs8) + "\n", true},
		{"ECDSA", enc("PRIVATE KEY", ec8), false},
		{"public key", enc("PUBLIC KEY", []byte("x")), false},
		{"garbage PKCS #1", enc("RSA PRIVATE KEY", []byte("not a key")), false},
		{"no PEM", "hunter2", false},
	} {
		k, err := ParseSigningKey(tc.pem)
		if tc.ok {
			require.NoError(t, err, tc.name)
			assert.True(t, rk.Public().(*rsa.PublicKey).Equal(k.Public()), tc.name)
			continue
		}
		require.Error(t, err, tc.name)
		assert.NotContains(t, err.Error(), "hunter2", "%s: the secret is never echoed", tc.name)
	}
}

func TestNewAndSignedURL(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	client := s3.New(s3.Options{Region: "eu-west-1"})
	_, err = New(Options{BaseURL: "https://x.example.com/media", UploadOrigin: "nope"})
	require.Error(t, err)
	for _, want := range []string{"S3 client", "bucket", "base URL", "upload origin", "key pair"} {
		assert.Contains(t, err.Error(), want)
	}

	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	svc, err := New(Options{S3: client, Bucket: "b", BaseURL: "https://surge.example.com/", UploadOrigin: "https://b.s3.eu-west-1.amazonaws.com",
		KeyPairID: "K2ABC", SigningKey: rk, Now: func() time.Time { return now }})
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, svc.UploadTTL(), "default upload lifetime")
	raw, exp, err := svc.URL("media/materials/7/0f0f0f0f-0000-4000-8000-000000000000")
	require.NoError(t, err)
	assert.Equal(t, now.Add(10*time.Minute), exp, "default URL lifetime")
	u, err := url.Parse(raw)
	require.NoError(t, err)
	assert.Equal(t, "surge.example.com", u.Host)
	assert.Equal(t, "/media/materials/7/0f0f0f0f-0000-4000-8000-000000000000", u.Path)
	q := u.Query()
	assert.Equal(t, "K2ABC", q.Get("Key-Pair-Id"))
	assert.Equal(t, "1772442600", q.Get("Expires"))
	assert.NotEmpty(t, q.Get("Signature"))
	assert.Empty(t, q.Get("Policy"), "a canned policy: shorter URLs")
}

func TestPresignUploadFixesKeyTypeAndSize(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	client := s3.New(s3.Options{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session-token")})
	svc, err := New(Options{S3: client, Bucket: "surge-uploads", BaseURL: "https://surge.example.com", UploadOrigin: "https://surge-uploads.s3.eu-west-1.amazonaws.com",
		KeyPairID: "K2ABC", SigningKey: rk, UploadTTL: 3 * time.Minute})
	require.NoError(t, err)
	key := "media/materials/7/0f0f0f0f-0000-4000-8000-000000000000"
	form, err := svc.PresignUpload(context.Background(), surge.Upload{Key: key, Filename: "s.pdf", ContentType: "application/pdf", Size: 1234})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(form.URL, svc.UploadOrigin()), "the browser posts where the page may connect: %s", form.URL)
	assert.Equal(t, key, form.Fields["key"])
	assert.Equal(t, "application/pdf", form.Fields["Content-Type"])
	assert.Equal(t, "attachment; filename=s.pdf", form.Fields["Content-Disposition"])
	assert.Equal(t, "session-token", form.Fields["X-Amz-Security-Token"], "instance role credentials carry a session token")

	raw, err := base64.StdEncoding.DecodeString(form.Fields["policy"])
	require.NoError(t, err)
	var policy struct {
		Expiration string
		Conditions []any
	}
	require.NoError(t, json.Unmarshal(raw, &policy))
	exp, err := time.Parse(time.RFC3339, policy.Expiration)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(3*time.Minute), exp, 5*time.Second, "expires in minutes")
	conds, err := json.Marshal(policy.Conditions)
	require.NoError(t, err)
	for _, want := range []string{
		`{"key":"` + key + `"}`,
		`{"Content-Type":"application/pdf"}`,
		`{"Content-Disposition":"attachment; filename=s.pdf"}`,
		`["content-length-range",1234,1234]`,
		`{"bucket":"surge-uploads"}`,
	} {
		assert.Contains(t, string(conds), want)
	}
	assert.Equal(t, 1, strings.Count(string(conds), `"key"`), "one key condition, exact")
}

func TestContentDisposition(t *testing.T) {
	assert.Equal(t, "attachment; filename=syllabus.pdf", ContentDisposition("syllabus.pdf"))
	assert.Equal(t, `attachment; filename="Syllabus 2026.pdf"`, ContentDisposition("Syllabus 2026.pdf"))
	assert.True(t, strings.HasPrefix(ContentDisposition("Übung 1.pdf"), "attachment; filename*=utf-8''"), ContentDisposition("Übung 1.pdf"))
}
