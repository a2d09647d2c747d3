package stacks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/esc"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cliConfig runs the checks the Pulumi CLI runs before `preview` and `up`
// with the SDK's own code: it loads Pulumi.yaml and the stack file, merges
// the project's declared keys and defaults into the stack config and
// validates the types (a declared key without a default that the stack does
// not set is "missing configuration value"). It returns the config the
// engine then hands the program: plain values as they are, objects as JSON.
func cliConfig(t *testing.T, projectFile, stackFile, stack string) (mapSource, error) {
	t.Helper()
	proj, err := workspace.LoadProject(projectFile)
	if err != nil {
		return nil, err
	}
	ps, err := workspace.LoadProjectStack(nil, proj, stackFile)
	if err != nil {
		return nil, err
	}
	if err := workspace.ValidateStackConfigAndApplyProjectConfig(context.Background(), stack, proj,
		esc.Value{}, ps.Config, config.NopEncrypter, config.NopDecrypter); err != nil {
		return nil, err
	}
	plain, err := ps.Config.Decrypt(config.NopDecrypter)
	if err != nil {
		return nil, err
	}
	m := mapSource{}
	for k, v := range plain {
		m[k.String()] = v
	}
	return m, nil
}

// stackFiles are every committed stack file: a new one is checked as soon
// as it is added.
func stackFiles(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob("../Pulumi.*.yaml")
	require.NoError(t, err)
	out := map[string]string{}
	for _, p := range paths {
		out[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "Pulumi."), ".yaml")] = p
	}
	require.Contains(t, out, "dev")
	require.Contains(t, out, "prod")
	return out
}

// writeStack writes a stack file into a temp dir and returns its path.
func writeStack(t *testing.T, stack, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "Pulumi."+stack+".yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

// Every committed stack file passes the CLI's own config checks and then
// stacks.Load: `pulumi preview --stack <name>` reaches the program.
func TestStackFilesPassTheCLIConfigChecks(t *testing.T) {
	for stack, path := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			src, err := cliConfig(t, "../Pulumi.yaml", path, stack)
			require.NoError(t, err, "the CLI would refuse Pulumi.%s.yaml before the program runs", stack)
			c, err := Load("surge", stack, src)
			require.NoError(t, err, "stacks.Load after the CLI merged the project defaults")
			// The CLI's merge must not change what the stack file means.
			direct, err := StackFileSource(path)
			require.NoError(t, err)
			want, err := Load("surge", stack, direct)
			require.NoError(t, err)
			assert.Equal(t, want, c, "config through the CLI vs the stack file read directly")
		})
	}
}

// A brand-new stack (`pulumi stack init`, then two `pulumi config set`)
// passes the CLI checks; dev then loads with its defaults, and the empty
// object defaults the CLI passes for every unset key do not overwrite the
// per-environment defaults (prod keeps its warm pool, Multi-AZ, ...).
func TestFreshStackPassesTheCLIConfigChecks(t *testing.T) {
	for _, env := range []Environment{Dev, Prod} {
		t.Run(string(env), func(t *testing.T) {
			stack := "fresh-" + string(env)
			path := writeStack(t, stack, "config:\n  aws:region: eu-west-1\n  surge:environment: "+string(env)+"\n")
			src, err := cliConfig(t, "../Pulumi.yaml", path, stack)
			require.NoError(t, err, "the CLI refuses a fresh %s stack", env)
			assert.Equal(t, "{}", src["surge:app"], "the CLI passes the project default of an unset object key")

			c, err := Load("surge", stack, src)
			if env == Prod {
				// Prod is refused, with exactly one problem: the domain.
				require.Error(t, err)
				assert.Contains(t, err.Error(), "(1 problems)")
				assert.Contains(t, err.Error(), "surge:edge.domain")
				// With a domain, the prod defaults are intact.
				src["surge:edge"] = `{"domain": "register.example.edu", "hostedZoneName": "example.edu"}`
				c, err = Load("surge", stack, src)
			}
			require.NoError(t, err)
			want := Defaults(env)
			if env == Prod {
				want.Edge.Domain, want.Edge.HostedZoneName = "register.example.edu", "example.edu"
			}
			want.Project, want.Stack, want.Region = "surge", stack, "eu-west-1"
			assert.Equal(t, want, c, "the environment's defaults, untouched by the CLI's empty objects")
		})
	}
}

// The environment defaults to the stack name when the stack file does not
// set it: the CLI passes "" (the project default).
func TestEnvironmentDefaultsToStackName(t *testing.T) {
	path := writeStack(t, "dev", "config:\n  aws:region: eu-west-1\n")
	src, err := cliConfig(t, "../Pulumi.yaml", path, "dev")
	require.NoError(t, err)
	assert.Equal(t, "", src["surge:environment"])
	c, err := Load("surge", "dev", src)
	require.NoError(t, err)
	assert.Equal(t, Dev, c.Environment)
}

// The CLI's type check is real: an object key given a string is refused.
func TestCLIConfigChecksRefuseWrongType(t *testing.T) {
	path := writeStack(t, "dev", "config:\n  aws:region: eu-west-1\n  surge:app: big\n")
	_, err := cliConfig(t, "../Pulumi.yaml", path, "dev")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must be of type 'object'")
}

// Pulumi.yaml pins no backend: a pinned `backend.url` overrides `pulumi
// login`, so a team's S3 backend would be ignored.
func TestProjectPinsNoBackend(t *testing.T) {
	proj, err := workspace.LoadProject("../Pulumi.yaml")
	require.NoError(t, err)
	if proj.Backend != nil {
		assert.Empty(t, proj.Backend.URL, "Pulumi.yaml backend.url overrides `pulumi login`")
	}
}

// The committed stack files hold config and, at most, what the CLI writes
// for the stack's secrets provider (encryptionsalt for a passphrase,
// secretsprovider and encryptedkey for a KMS key; README.md, "First
// deploy"); the program reads none of those.
func TestStackFilesHoldOnlyConfig(t *testing.T) {
	allowed := map[string]bool{"config:": true, "encryptionsalt:": true, "secretsprovider:": true, "encryptedkey:": true}
	for stack, path := range stackFiles(t) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" || line[0] == ' ' || line[0] == '#' {
				continue
			}
			key := strings.Fields(line)[0]
			assert.True(t, allowed[key], "Pulumi.%s.yaml: unexpected top-level key %s", stack, key)
		}
	}
}

// What `pulumi stack init`/`stack select --create` writes into a stack
// file (README.md, "First deploy") changes nothing the program reads: the
// CLI checks still pass and the loaded config is identical.
func TestCLIWrittenKeysDoNotChangeTheConfig(t *testing.T) {
	written := map[string]string{
		"passphrase": "encryptionsalt: v1:Zm9vYmFyYmF6:v1:cXV4cXV4cXV4:ZGVhZGJlZWZkZWFkYmVlZg==\n",
		"awskms": "secretsprovider: awskms://alias/surge-state?region=eu-west-1\n" +
			"encryptedkey: AQICAHhZm9vYmFyYmF6cXV4cXV4ZGVhZGJlZWY=\n",
	}
	for stack, path := range stackFiles(t) {
		orig, err := os.ReadFile(path)
		require.NoError(t, err)
		base, err := cliConfig(t, "../Pulumi.yaml", path, stack)
		require.NoError(t, err)
		want, err := Load("surge", stack, base)
		require.NoError(t, err)
		for provider, extra := range written {
			t.Run(stack+"/"+provider, func(t *testing.T) {
				p := writeStack(t, stack, extra+string(orig))
				ps, err := workspace.LoadProjectStack(nil, mustProject(t), p)
				require.NoError(t, err)
				assert.True(t, ps.EncryptionSalt != "" || ps.SecretsProvider != "", "the SDK reads the written keys")
				src, err := cliConfig(t, "../Pulumi.yaml", p, stack)
				require.NoError(t, err)
				got, err := Load("surge", stack, src)
				require.NoError(t, err)
				assert.Equal(t, want, got)
			})
		}
	}
}

func mustProject(t *testing.T) *workspace.Project {
	t.Helper()
	proj, err := workspace.LoadProject("../Pulumi.yaml")
	require.NoError(t, err)
	return proj
}

// Pulumi.yaml declares exactly the keys the program reads, each typed,
// described (what `pulumi config` shows) and defaulted (or the CLI makes
// it required in every stack).
func TestProjectDeclaresEveryKeyTypedWithDefault(t *testing.T) {
	proj := mustProject(t)
	want := map[string]string{"environment": "string"}
	for _, s := range (&Config{}).sections() {
		want[s.key] = "object"
	}
	got := map[string]string{}
	for k, v := range proj.Config {
		require.NotNil(t, v.Type, "%s is typed", k)
		got[k] = *v.Type
		assert.NotEmpty(t, v.Description, "%s has a description", k)
		assert.NotNil(t, v.Default, "%s has a default (else the CLI requires it in every stack)", k)
	}
	assert.Equal(t, want, got)
}
