package secrets

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

func TestAdminToken(t *testing.T) {
	m := pulumitest.New()
	zero := 0
	err := m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		if _, err := NewAdminToken(ctx, "surge-dev", &AdminTokenArgs{RecoveryWindowDays: &zero}); err != nil {
			return err
		}
		_, err := NewAdminToken(ctx, "surge-dev-2", nil)
		return err
	})
	require.NoError(t, err, "two instances must not collide")

	pw, ok := m.Named("random:index/randomPassword:RandomPassword", "surge-dev-admin-token")
	require.True(t, ok)
	assert.Equal(t, float64(48), pw.Num("length"))
	assert.False(t, pw.Bool("special"), "header-safe alphabet")

	s, ok := m.Named("aws:secretsmanager/secret:Secret", "surge-dev-admin-token")
	require.True(t, ok)
	assert.Equal(t, "surge-dev-admin-token-", s.Str("namePrefix"))
	assert.Equal(t, float64(0), s.Num("recoveryWindowInDays"))
	s2, _ := m.Named("aws:secretsmanager/secret:Secret", "surge-dev-2-admin-token")
	assert.Equal(t, float64(7), s2.Num("recoveryWindowInDays"), "default recovery window")

	v, ok := m.Named("aws:secretsmanager/secretVersion:SecretVersion", "surge-dev-admin-token")
	require.True(t, ok)
	assert.True(t, v.IsSecret("secretString"), "the token stays a Pulumi secret in state")
}

func TestAdminTokenValidate(t *testing.T) {
	three := 3
	tests := []struct {
		args AdminTokenArgs
		want string
	}{
		{AdminTokenArgs{Length: 8}, "Length 8 is outside 32..128"},
		{AdminTokenArgs{RecoveryWindowDays: &three}, "RecoveryWindowDays 3 must be 0 or 7..30"},
	}
	for _, tt := range tests {
		m := pulumitest.New()
		err := m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
			_, err := NewAdminToken(ctx, "x", &tt.args)
			return err
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want, "NewAdminToken(%+v)", tt.args)
		assert.Empty(t, m.Resources(), "invalid args declare nothing")
	}
}
