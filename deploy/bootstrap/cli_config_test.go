package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/esc"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

// cliConfig runs the checks the Pulumi CLI runs before `preview` and `up`
// with the SDK's own code (load Pulumi.yaml and the stack file, merge the
// declared keys and their defaults, check the types) and returns the
// config the engine hands the program.
func cliConfig(t *testing.T, stack, body string) (map[string]string, error) {
	t.Helper()
	proj, err := workspace.LoadProject("Pulumi.yaml")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "Pulumi."+stack+".yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	ps, err := workspace.LoadProjectStack(nil, proj, path)
	require.NoError(t, err)
	if err := workspace.ValidateStackConfigAndApplyProjectConfig(context.Background(), stack, proj,
		esc.Value{}, ps.Config, config.NopEncrypter, config.NopDecrypter); err != nil {
		return nil, err
	}
	plain, err := ps.Config.Decrypt(config.NopDecrypter)
	require.NoError(t, err)
	out := map[string]string{}
	for k, v := range plain {
		out[k.String()] = v
	}
	return out, nil
}

// The stack the README's one-time setup creates (aws:region and
// githubRepository only) passes the CLI's config checks: a declared key
// without a default is required in every stack, so every optional key has
// one. The program then runs on what the CLI passes and keeps its defaults.
func TestReadmeStackPassesTheCLIConfigChecks(t *testing.T) {
	cfg, err := cliConfig(t, "ci", "config:\n  aws:region: eu-west-1\n  surge-bootstrap:githubRepository: surge-dev/surge\n")
	require.NoError(t, err, "`pulumi up` would stop before the program runs")

	m := pulumitest.New()
	require.NoError(t, m.Run(t, "ci", cfg, run))
	deploy := named(t, m, tRole, "surge-ci-deploy-role")
	assert.ElementsMatch(t, []any{"repo:surge-dev/surge:environment:dev", "repo:surge-dev/surge:environment:prod"},
		subjects(t, deploy, createdProvider), "the default environments")
	_, ok := m.Named(tProvider, "surge-ci-github-oidc")
	assert.True(t, ok, "the OIDC provider is created by default")
	bucket := named(t, m, tBucket, "surge-ci-state")
	assert.Equal(t, "surge-pulumi-state-123456789012-eu-west-1", bucket.Str("bucket"), "the default bucket name")
}

// Every declared key is typed, described and defaulted, except the one the
// README has every administrator set.
func TestBootstrapProjectKeysHaveDefaults(t *testing.T) {
	proj, err := workspace.LoadProject("Pulumi.yaml")
	require.NoError(t, err)
	for k, v := range proj.Config {
		assert.NotNil(t, v.Type, "%s is typed", k)
		assert.NotEmpty(t, v.Description, "%s has a description", k)
		if k != "githubRepository" {
			assert.NotNil(t, v.Default, "%s has a default (else the CLI requires it in every stack)", k)
		}
	}
}

// Values set in the stack file reach the program in the form the CLI
// passes them (an array as JSON, a boolean as "false").
func TestStackValuesThroughTheCLI(t *testing.T) {
	cfg, err := cliConfig(t, "ci", "config:\n  aws:region: eu-west-1\n  surge-bootstrap:githubRepository: surge-dev/surge\n"+
		"  surge-bootstrap:createOidcProvider: false\n  surge-bootstrap:environments: [prod]\n")
	require.NoError(t, err)
	m := pulumitest.New()
	require.NoError(t, m.Run(t, "ci", cfg, run))
	_, ok := m.Named(tProvider, "surge-ci-github-oidc")
	assert.False(t, ok, "createOidcProvider: false reuses the account's provider")
	assert.Equal(t, []any{"repo:surge-dev/surge:environment:prod"},
		subjects(t, named(t, m, tRole, "surge-ci-deploy-role"), existingProvider))
}

// The backend URL and the secrets provider both name the region (the
// documented `s3://bucket?region=...` and `awskms://alias/...?region=...`
// forms), so `pulumi login` works whatever the caller's default region.
func TestBackendOutputsNameTheRegion(t *testing.T) {
	var got map[string]any
	m := pulumitest.New()
	require.NoError(t, m.Run(t, "ci", map[string]string{"aws:region": "eu-central-1", "surge-bootstrap:githubRepository": "surge-dev/surge"},
		func(ctx *pulumi.Context) error {
			cfg, err := loadConfig(ctx)
			if err != nil {
				return err
			}
			ci, err := NewCI(ctx, "surge-ci", cfg, pulumitest.Account)
			if err != nil {
				return err
			}
			got = map[string]any{}
			for _, k := range []string{"backendUrl", "secretsProvider"} {
				v, known, err := pulumitest.Await(ctx.Context(), pulumi.ToOutput(outputs(cfg, ci)[k]))
				if err != nil {
					return err
				}
				require.True(t, known, k)
				got[k] = v
			}
			return nil
		}))
	assert.Equal(t, "s3://surge-pulumi-state-123456789012-eu-central-1?region=eu-central-1", got["backendUrl"])
	assert.Equal(t, "awskms://alias/surge-pulumi-secrets?region=eu-central-1", got["secretsProvider"])
}
