package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tProvider = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
	tRole     = "aws:iam/role:Role"
	tPolicy   = "aws:iam/rolePolicy:RolePolicy"
	tAttach   = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	tBucket   = "aws:s3/bucketV2:BucketV2"
	tKey      = "aws:kms/key:Key"
)

func baseConfig() map[string]string {
	return map[string]string{"aws:region": "eu-west-1", "surge-bootstrap:githubRepository": "surge-dev/surge"}
}

func runBootstrap(t *testing.T, cfg map[string]string) *pulumitest.Mocks {
	t.Helper()
	m := pulumitest.New()
	require.NoError(t, m.Run(t, "ci", cfg, run))
	return m
}

func named(t *testing.T, m *pulumitest.Mocks, token, name string) pulumitest.Resource {
	t.Helper()
	r, ok := m.Named(token, name)
	require.True(t, ok, "%s %s declared", token, name)
	return r
}

// statement returns the only statement of a policy document.
func statements(t *testing.T, r pulumitest.Resource, path string) []map[string]any {
	t.Helper()
	doc, err := r.JSON(path)
	require.NoError(t, err)
	var out []map[string]any
	for _, s := range doc["Statement"].([]any) {
		out = append(out, s.(map[string]any))
	}
	return out
}

// existingProvider is the ARN the roles trust when the account's provider is reused.
const existingProvider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"

// createdProvider is the mock's ARN of the provider the bootstrap creates.
var createdProvider = pulumitest.FakeARN(tProvider, "surge-ci-github-oidc")

func subjects(t *testing.T, role pulumitest.Resource, provider string) []any {
	t.Helper()
	st := statements(t, role, "assumeRolePolicy")
	require.Len(t, st, 1)
	cond := st[0]["Condition"].(map[string]any)
	assert.Equal(t, map[string]any{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}, cond["StringEquals"], "%s: audience pinned", role.Name)
	assert.Equal(t, "sts:AssumeRoleWithWebIdentity", st[0]["Action"])
	assert.Equal(t, provider, st[0]["Principal"].(map[string]any)["Federated"], "%s: only GitHub's OIDC provider", role.Name)
	return cond["StringLike"].(map[string]any)["token.actions.githubusercontent.com:sub"].([]any)
}

func TestBootstrapDeclaresTheBackend(t *testing.T) {
	m := runBootstrap(t, baseConfig())
	m.AssertChildrenOf(t, "surge:bootstrap:CI", "surge-ci")
	m.AssertUniqueNames(t)

	p := named(t, m, tProvider, "surge-ci-github-oidc")
	assert.Equal(t, "https://token.actions.githubusercontent.com", p.Str("url"))
	assert.Equal(t, []string{"sts.amazonaws.com"}, p.Strings("clientIdLists"))

	key := named(t, m, tKey, "surge-ci-secrets-key")
	assert.True(t, key.Bool("enableKeyRotation"))
	alias := named(t, m, "aws:kms/alias:Alias", "surge-ci-secrets-alias")
	assert.Equal(t, "alias/surge-pulumi-secrets", alias.Str("name"))

	bucket := named(t, m, tBucket, "surge-ci-state")
	assert.Equal(t, "surge-pulumi-state-123456789012-eu-west-1", bucket.Str("bucket"))
	assert.False(t, bucket.Bool("forceDestroy"), "the state bucket is never emptied by a destroy")

	v := named(t, m, "aws:s3/bucketVersioningV2:BucketVersioningV2", "surge-ci-state-versioning")
	assert.Equal(t, "Enabled", v.Str("versioningConfiguration.status"))
	enc := named(t, m, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "surge-ci-state-encryption")
	assert.Equal(t, "aws:kms", enc.Str("rules[0].applyServerSideEncryptionByDefault.sseAlgorithm"))
	assert.Contains(t, enc.Str("rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId"), "surge-ci-secrets-key", "encrypted with the bootstrap's key")
	pab := named(t, m, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "surge-ci-state-public-access")
	for _, f := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		assert.True(t, pab.Bool(f), f)
	}
	own := named(t, m, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "surge-ci-state-ownership")
	assert.Equal(t, "BucketOwnerEnforced", own.Str("rule.objectOwnership"))
	pol := named(t, m, "aws:s3/bucketPolicy:BucketPolicy", "surge-ci-state-policy")
	st := statements(t, pol, "policy")
	require.Len(t, st, 1)
	assert.Equal(t, "Deny", st[0]["Effect"])
	assert.Equal(t, map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}, st[0]["Condition"], "TLS only")
	assert.ElementsMatch(t, []any{"arn:aws:s3:::surge-pulumi-state-123456789012-eu-west-1", "arn:aws:s3:::surge-pulumi-state-123456789012-eu-west-1/*"}, st[0]["Resource"])
	assert.True(t, pol.DependsOn("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "surge-ci-state-public-access"), "policy after the public access block")

	preview := named(t, m, tRole, "surge-ci-preview-role")
	assert.Equal(t, "github-actions-surge-preview", preview.Str("name"))
	assert.Equal(t, []any{"repo:surge-dev/surge:pull_request", "repo:surge-dev/surge:ref:refs/heads/*"}, subjects(t, preview, createdProvider))
	deploy := named(t, m, tRole, "surge-ci-deploy-role")
	assert.Equal(t, "github-actions-surge-deploy", deploy.Str("name"))
	assert.Equal(t, []any{"repo:surge-dev/surge:environment:dev", "repo:surge-dev/surge:environment:prod"}, subjects(t, deploy, createdProvider),
		"deploys only from this repository's environments (their reviewers guard prod), never from a pull request")
	assert.Equal(t, 7200.0, deploy.Num("maxSessionDuration"))

	assert.Equal(t, "arn:aws:iam::aws:policy/ReadOnlyAccess", named(t, m, tAttach, "surge-ci-preview-readonly").Str("policyArn"))
	assert.Equal(t, "arn:aws:iam::aws:policy/PowerUserAccess", named(t, m, tAttach, "surge-ci-deploy-poweruser").Str("policyArn"))
}

func TestStateAccessPerRole(t *testing.T) {
	m := runBootstrap(t, baseConfig())
	find := func(st []map[string]any, sid string) map[string]any {
		for _, s := range st {
			if s["Sid"] == sid {
				return s
			}
		}
		t.Fatalf("no statement %s", sid)
		return nil
	}
	bucket := "arn:aws:s3:::surge-pulumi-state-123456789012-eu-west-1"
	preview := statements(t, named(t, m, tPolicy, "surge-ci-preview-state"), "policy")
	for _, s := range preview {
		assert.NotEqual(t, "WriteState", s["Sid"], "a preview writes nothing: the S3 backend does not lock for it")
		for _, a := range s["Action"].([]any) {
			assert.NotContains(t, []any{"s3:PutObject", "s3:DeleteObject", "kms:Encrypt", "kms:GenerateDataKey"}, a, "preview role: %s", s["Sid"])
		}
	}
	assert.Contains(t, find(preview, "StackSecrets")["Action"], "kms:Decrypt", "a preview decrypts the stack's secrets")
	deploy := statements(t, named(t, m, tPolicy, "surge-ci-deploy-state"), "policy")
	assert.Equal(t, []any{bucket + "/*"}, find(deploy, "WriteState")["Resource"])
	assert.Contains(t, find(deploy, "StackSecrets")["Action"], "kms:Encrypt")

	iamDoc := statements(t, named(t, m, tPolicy, "surge-ci-deploy-iam"), "policy")
	roles := find(iamDoc, "StackRoles")
	assert.Equal(t, "arn:aws:iam::123456789012:role/surge-*", roles["Resource"], "only the stacks' own roles")
	assert.False(t, strings.HasPrefix(deployRoleName, "surge-"), "the deploy role cannot edit itself")
	for _, s := range iamDoc {
		assert.NotEqual(t, "*", s["Resource"], "%s: no IAM action on every resource", s["Sid"])
	}
}

func TestImmutableSubjectsAndExistingProvider(t *testing.T) {
	cfg := baseConfig()
	cfg["surge-bootstrap:githubOwnerId"] = "1234"
	cfg["surge-bootstrap:githubRepositoryId"] = "5678"
	cfg["surge-bootstrap:createOidcProvider"] = "false"
	cfg["surge-bootstrap:environments"] = `["production"]`
	m := runBootstrap(t, cfg)
	assert.Empty(t, m.ByType(tProvider), "the account's existing provider is used")
	assert.Equal(t, []any{"repo:surge-dev@1234/surge@5678:environment:production"}, subjects(t, named(t, m, tRole, "surge-ci-deploy-role"), existingProvider))
}

func TestBadConfigDeclaresNothing(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "ci", map[string]string{
		"surge-bootstrap:githubRepository":   "not a repo",
		"surge-bootstrap:githubOwnerId":      "12x",
		"surge-bootstrap:environments":       `["prod env"]`,
		"surge-bootstrap:createOidcProvider": "yes",
		"surge-bootstrap:stateBucketName":    "Bad_Bucket",
		"surge-bootstrap:resourcePrefix":     "github-",
	}, run)
	require.Error(t, err)
	for _, want := range []string{"aws:region is required", "must be owner/name", "go together", "are numbers", "plain environment name", "not true or false", "valid S3 bucket name", "resourcePrefix"} {
		assert.Contains(t, err.Error(), want)
	}
	for _, r := range m.Resources() {
		assert.Contains(t, r.Type, "pulumi:providers:", "nothing but default providers before the config is valid, got %s", r.Type)
	}
}
