package config

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mediaKeyARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:surge-media-signing-AbCdEf"

func withMedia(m map[string]string) map[string]string {
	m["SURGE_MEDIA_BUCKET"] = "surge-uploads-123456789012-eu-west-1"
	m["SURGE_MEDIA_BASE_URL"] = "https://surge.example.com"
	m["SURGE_MEDIA_KEY_PAIR_ID"] = "K2JCJMDEHXQW5F"
	m["SURGE_MEDIA_SIGNING_KEY_SECRET_ARN"] = mediaKeyARN
	return m
}

func TestLoadMedia(t *testing.T) {
	c, err := Load(env(minimal()), Serve)
	require.NoError(t, err)
	assert.False(t, c.MediaEnabled(), "off without the variables")

	c, err = Load(env(withMedia(minimal())), Serve)
	require.NoError(t, err)
	assert.True(t, c.MediaEnabled())
	assert.Equal(t, 5*time.Minute, c.MediaUploadTTL, "SURGE_MEDIA_UPLOAD_TTL default")
	assert.Equal(t, 10*time.Minute, c.MediaURLTTL, "SURGE_MEDIA_URL_TTL default")
	assert.Equal(t, "eu-west-1", c.AWSRegion, "region from the signing key's ARN")
	assert.True(t, c.NeedsSecrets(), "the signing key comes from Secrets Manager")

	for _, tc := range []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"partial", map[string]string{"SURGE_MEDIA_BUCKET": "b"}, []string{"missing SURGE_MEDIA_BASE_URL, SURGE_MEDIA_KEY_PAIR_ID, SURGE_MEDIA_SIGNING_KEY_SECRET_ARN"}},
		{"base URL with a path", map[string]string{
			"SURGE_MEDIA_BUCKET": "b", "SURGE_MEDIA_BASE_URL": "https://x.example.com/media", "SURGE_MEDIA_KEY_PAIR_ID": "K",
			"SURGE_MEDIA_SIGNING_KEY_SECRET_ARN": mediaKeyARN,
		}, []string{"SURGE_MEDIA_BASE_URL"}},
		{"bad values", map[string]string{
			"SURGE_MEDIA_BUCKET": "b", "SURGE_MEDIA_BASE_URL": "ftp://x", "SURGE_MEDIA_KEY_PAIR_ID": "K",
			"SURGE_MEDIA_SIGNING_KEY_SECRET_ARN": "not-an-arn", "SURGE_MEDIA_UPLOAD_TTL": "2h", "SURGE_MEDIA_URL_TTL": "48h",
		}, []string{"SURGE_MEDIA_BASE_URL", "SURGE_MEDIA_SIGNING_KEY_SECRET_ARN", "SURGE_MEDIA_UPLOAD_TTL", "SURGE_MEDIA_URL_TTL"}},
	} {
		m := minimal()
		for k, v := range tc.set {
			m[k] = v
		}
		_, err := Load(env(m), Serve)
		require.Error(t, err, tc.name)
		for _, w := range tc.want {
			assert.Contains(t, err.Error(), w, tc.name)
		}
	}
}

func TestResolveMediaSigningKey(t *testing.T) {
	const pemKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
	srv := fakeSecrets(t, map[string]string{mediaKeyARN: pemKey})
	c, err := Load(env(withMedia(minimal())), Serve)
	require.NoError(t, err)
	require.NoError(t, ResolveSecrets(context.Background(), &c, client(srv)))
	assert.Equal(t, pemKey, c.MediaSigningKey)

	// migrate never reads it.
	m, err := Load(env(withMedia(minimal())), Migrate)
	require.NoError(t, err)
	assert.False(t, m.NeedsSecrets())

	bad := fakeSecrets(t, map[string]string{mediaKeyARN: "hunter2-not-a-key"})
	c, err = Load(env(withMedia(minimal())), Serve)
	require.NoError(t, err)
	err = ResolveSecrets(context.Background(), &c, client(bad))
	require.Error(t, err)
	assert.False(t, strings.Contains(err.Error(), "hunter2"), "the secret is never echoed: %v", err)
}
