package cdn

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

func TestMediaSigning(t *testing.T) {
	m := pulumitest.New()
	require.NoError(t, m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		_, err := NewMediaSigning(ctx, "surge-dev", nil)
		return err
	}))
	key, ok := m.Named("tls:index/privateKey:PrivateKey", "surge-dev-media-signing-key")
	require.True(t, ok, "the key pair comes from the TLS provider")
	assert.Equal(t, "RSA", key.Str("algorithm"))
	assert.Equal(t, 2048.0, key.Num("rsaBits"), "RSA 2048, the size CloudFront takes")
	wantPriv, wantPub := pulumitest.MockPrivateKeyPEM, pulumitest.MockPublicKeyPEM

	pk, ok := m.Named("aws:cloudfront/publicKey:PublicKey", "surge-dev-media")
	require.True(t, ok)
	assert.Equal(t, wantPub, pk.Str("encodedKey"), "the public half of the stack's key")
	assert.False(t, pk.IsSecret("encodedKey"), "the public key is not a secret")
	assert.LessOrEqual(t, len(pk.Str("name")), 128)
	kg, ok := m.Named("aws:cloudfront/keyGroup:KeyGroup", "surge-dev-media")
	require.True(t, ok)
	assert.Equal(t, []string{"surge-dev-media-id"}, kg.Strings("items"), "the group trusts exactly that key")

	ver, ok := m.Named("aws:secretsmanager/secretVersion:SecretVersion", "surge-dev-media-signing-key")
	require.True(t, ok)
	assert.True(t, ver.IsSecret("secretString"), "the private key is a Pulumi secret")
	assert.Equal(t, wantPriv, ver.Str("secretString"))
	sec, ok := m.Named("aws:secretsmanager/secret:Secret", "surge-dev-media-signing-key")
	require.True(t, ok)
	assert.Equal(t, 7.0, sec.Num("recoveryWindowInDays"))

	// Nowhere else in plain text.
	for _, r := range m.Resources() {
		for k := range r.Inputs {
			path := string(k)
			if r.IsSecret(path) {
				continue
			}
			assert.NotContains(t, r.Str(path), "PRIVATE KEY", "%s %s.%s", r.Type, r.Name, path)
		}
	}
	m.AssertChildrenOf(t, "surge:cdn:MediaSigning", "surge-dev")

	bad := -1
	err := pulumitest.New().Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		_, err := NewMediaSigning(ctx, "surge-dev", &MediaSigningArgs{RecoveryWindowDays: &bad})
		return err
	})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "RecoveryWindowDays"), err.Error())
}
