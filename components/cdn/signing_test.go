package cdn

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // CloudFront signs canned policies with RSA-SHA1
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

func parseKeys(t *testing.T, privPEM, pubPEM string) (*rsa.PrivateKey, *rsa.PublicKey) {
	t.Helper()
	b, _ := pem.Decode([]byte(privPEM))
	require.NotNil(t, b)
	require.Equal(t, "RSA PRIVATE KEY", b.Type)
	priv, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	require.NoError(t, err)
	b, _ = pem.Decode([]byte(pubPEM))
	require.NotNil(t, b)
	require.Equal(t, "PUBLIC KEY", b.Type, "CloudFront takes a PKIX public key")
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	require.NoError(t, err)
	return priv, pub.(*rsa.PublicKey)
}

func TestDeriveSigningKey(t *testing.T) {
	seed := make([]byte, 32)
	priv1, pub1, err := DeriveSigningKey(seed)
	require.NoError(t, err)
	priv2, pub2, err := DeriveSigningKey(seed)
	require.NoError(t, err)
	assert.Equal(t, priv1, priv2, "the same seed gives the same key at every run")
	assert.Equal(t, pub1, pub2)
	seed[0] = 1
	_, pub3, err := DeriveSigningKey(seed)
	require.NoError(t, err)
	assert.NotEqual(t, pub1, pub3, "another seed, another key")

	priv, pub := parseKeys(t, priv1, pub1)
	require.NoError(t, priv.Validate())
	assert.Equal(t, 2048, priv.N.BitLen(), "RSA 2048, as CloudFront public keys are")
	assert.Equal(t, 65537, priv.E)
	assert.True(t, priv.PublicKey.Equal(pub), "the public key is the private key's")

	// A canned policy signed with the private key verifies with the public one.
	policy := []byte(`{"Statement":[{"Resource":"https://surge.example.com/media/materials/1/x","Condition":{"DateLessThan":{"AWS:EpochTime":1900000000}}}]}`)
	sum := sha1.Sum(policy) //nolint:gosec // CloudFront's signature algorithm
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA1, sum[:])
	require.NoError(t, err)
	require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig))

	_, _, err = DeriveSigningKey(make([]byte, 16))
	assert.Error(t, err, "a short seed is refused")
}

func TestMediaSigning(t *testing.T) {
	m := pulumitest.New()
	require.NoError(t, m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		_, err := NewMediaSigning(ctx, "surge-dev", nil)
		return err
	}))
	seed, err := base64.StdEncoding.DecodeString(pulumitest.MockRandomBytesBase64)
	require.NoError(t, err)
	wantPriv, wantPub, err := DeriveSigningKey(seed)
	require.NoError(t, err)

	pk, ok := m.Named("aws:cloudfront/publicKey:PublicKey", "surge-dev-media")
	require.True(t, ok)
	assert.Equal(t, wantPub, pk.Str("encodedKey"), "the public key derived from the stack's seed")
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
	err = pulumitest.New().Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		_, err := NewMediaSigning(ctx, "surge-dev", &MediaSigningArgs{RecoveryWindowDays: &bad})
		return err
	})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "RecoveryWindowDays"), err.Error())
}
