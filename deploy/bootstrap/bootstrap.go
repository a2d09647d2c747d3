package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// GitHub's OIDC issuer and the audience configure-aws-credentials asks for.
const (
	oidcHost     = "token.actions.githubusercontent.com"
	oidcAudience = "sts.amazonaws.com"
	secretsAlias = "alias/surge-pulumi-secrets"
	// The CI roles' names must not start with resourcePrefix, or the deploy
	// role could rewrite its own trust and permissions.
	previewRoleName = "github-actions-surge-preview"
	deployRoleName  = "github-actions-surge-deploy"
)

// Config is the bootstrap stack's configuration.
type Config struct {
	Region             string
	Repository         string   // owner/name
	OwnerID, RepoID    string   // optional: immutable subject claims
	Environments       []string // trusted by the deploy role
	CreateOIDCProvider bool
	StateBucketName    string
	ResourcePrefix     string
}

var (
	repoRe   = regexp.MustCompile(`^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$`)
	idRe     = regexp.MustCompile(`^[0-9]+$`)
	envRe    = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	bucketRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

func loadConfig(ctx *pulumi.Context) (*Config, error) {
	get := func(key string) string {
		v, _ := ctx.GetConfig(key)
		return v
	}
	cfg := &Config{
		Region:             get("aws:region"),
		Repository:         get("surge-bootstrap:githubRepository"),
		OwnerID:            get("surge-bootstrap:githubOwnerId"),
		RepoID:             get("surge-bootstrap:githubRepositoryId"),
		Environments:       []string{"dev", "prod"},
		CreateOIDCProvider: true,
		StateBucketName:    get("surge-bootstrap:stateBucketName"),
		ResourcePrefix:     "surge-",
	}
	var problems []error
	if v, ok := ctx.GetConfig("surge-bootstrap:environments"); ok {
		if err := json.Unmarshal([]byte(v), &cfg.Environments); err != nil {
			problems = append(problems, fmt.Errorf("surge-bootstrap:environments: a list of names: %w", err))
		}
	}
	if v := get("surge-bootstrap:createOidcProvider"); v != "" {
		cfg.CreateOIDCProvider = v == "true"
		if v != "true" && v != "false" {
			problems = append(problems, fmt.Errorf("surge-bootstrap:createOidcProvider: %q is not true or false", v))
		}
	}
	if v := get("surge-bootstrap:resourcePrefix"); v != "" {
		cfg.ResourcePrefix = v
	}
	problems = append(problems, cfg.validate()...)
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("invalid bootstrap config:\n%w", err)
	}
	return cfg, nil
}

// validate returns every problem at once.
func (c *Config) validate() []error {
	var out []error
	add := func(format string, a ...any) { out = append(out, fmt.Errorf(format, a...)) }
	if c.Region == "" {
		add("aws:region is required")
	}
	if !repoRe.MatchString(c.Repository) {
		add("surge-bootstrap:githubRepository %q must be owner/name", c.Repository)
	}
	if (c.OwnerID == "") != (c.RepoID == "") {
		add("surge-bootstrap:githubOwnerId and githubRepositoryId go together")
	}
	for _, id := range []string{c.OwnerID, c.RepoID} {
		if id != "" && !idRe.MatchString(id) {
			add("surge-bootstrap: GitHub IDs are numbers, got %q", id)
		}
	}
	if len(c.Environments) == 0 {
		add("surge-bootstrap:environments: at least one environment is needed for the deploy role")
	}
	for _, e := range c.Environments {
		if !envRe.MatchString(e) {
			add("surge-bootstrap:environments: %q is not a plain environment name", e)
		}
	}
	if c.StateBucketName != "" && !bucketRe.MatchString(c.StateBucketName) {
		add("surge-bootstrap:stateBucketName %q is not a valid S3 bucket name", c.StateBucketName)
	}
	if !strings.HasSuffix(c.ResourcePrefix, "-") || len(c.ResourcePrefix) < 3 || strings.HasPrefix(deployRoleName, c.ResourcePrefix) {
		add("surge-bootstrap:resourcePrefix %q must end in '-', be at least 3 characters and not cover the CI roles", c.ResourcePrefix)
	}
	return out
}

// subject is the OIDC sub claim prefix of this repository's workflows.
func (c *Config) subject() string {
	if c.OwnerID != "" {
		owner, name, _ := strings.Cut(c.Repository, "/")
		return fmt.Sprintf("repo:%s@%s/%s@%s", owner, c.OwnerID, name, c.RepoID)
	}
	return "repo:" + c.Repository
}

// PreviewSubjects may assume the preview role: pull requests of this
// repository and pushes to its branches (a fork's pull request gets no token).
func (c *Config) PreviewSubjects() []string {
	return []string{c.subject() + ":pull_request", c.subject() + ":ref:refs/heads/*"}
}

// DeploySubjects may assume the deploy role: jobs of this repository that
// run in one of its environments, so the environments' protection rules
// (required reviewers for prod) guard every deploy.
func (c *Config) DeploySubjects() []string {
	out := make([]string, len(c.Environments))
	for i, e := range c.Environments {
		out[i] = c.subject() + ":environment:" + e
	}
	return out
}

func run(ctx *pulumi.Context) error {
	cfg, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	id, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return fmt.Errorf("looking up the account: %w", err)
	}
	ci, err := NewCI(ctx, "surge-ci", cfg, id.AccountId)
	if err != nil {
		return err
	}
	for k, v := range outputs(cfg, ci) {
		ctx.Export(k, v)
	}
	return nil
}

// outputs are the stack outputs the README and the workflows' variables
// take. The backend URL names the bucket's region: without it the S3
// backend uses the caller's default region, and `pulumi login` from a
// profile set to another region fails on the bucket's redirect.
func outputs(cfg *Config, ci *CI) pulumi.Map {
	return pulumi.Map{
		"backendUrl":      pulumi.Sprintf("s3://%s?region=%s", ci.StateBucket, cfg.Region),
		"secretsProvider": pulumi.Sprintf("awskms://%s?region=%s", secretsAlias, cfg.Region),
		"stateBucket":     ci.StateBucket,
		"secretsKeyArn":   ci.KeyARN,
		"previewRoleArn":  ci.PreviewRoleARN,
		"deployRoleArn":   ci.DeployRoleARN,
		"oidcProviderArn": ci.OIDCProviderARN,
		"region":          pulumi.String(cfg.Region),
	}
}

// CI is what GitHub Actions need in the account.
type CI struct {
	pulumi.ResourceState
	StateBucket     pulumi.StringOutput
	KeyARN          pulumi.StringOutput
	PreviewRoleARN  pulumi.StringOutput
	DeployRoleARN   pulumi.StringOutput
	OIDCProviderARN pulumi.StringOutput
}

// NewCI declares the OIDC provider, the KMS key, the state bucket and the
// two roles. The key and the bucket are protected: losing them loses every
// stack's state or secrets.
func NewCI(ctx *pulumi.Context, name string, cfg *Config, account string, opts ...pulumi.ResourceOption) (*CI, error) {
	c := &CI{}
	if err := ctx.RegisterComponentResource("surge:bootstrap:CI", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	keep := pulumi.Protect(true)

	providerARN := pulumi.String(fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", account, oidcHost)).ToStringOutput()
	if cfg.CreateOIDCProvider {
		p, err := iam.NewOpenIdConnectProvider(ctx, name+"-github-oidc", &iam.OpenIdConnectProviderArgs{
			Url:           pulumi.String("https://" + oidcHost),
			ClientIdLists: pulumi.StringArray{pulumi.String(oidcAudience)},
			// No thumbprint: IAM trusts GitHub's issuer through its own
			// root CAs for this provider.
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("declaring the GitHub OIDC provider: %w", err)
		}
		providerARN = p.Arn
	}

	key, err := kms.NewKey(ctx, name+"-secrets-key", &kms.KeyArgs{
		Description:          pulumi.String("surge: encrypts Pulumi stack secrets (awskms secrets provider)"),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(30),
	}, parent, keep)
	if err != nil {
		return nil, fmt.Errorf("declaring the secrets key: %w", err)
	}
	if _, err := kms.NewAlias(ctx, name+"-secrets-alias", &kms.AliasArgs{
		Name:        pulumi.String(secretsAlias),
		TargetKeyId: key.KeyId,
	}, parent); err != nil {
		return nil, fmt.Errorf("declaring the key alias: %w", err)
	}

	bucketName := cfg.StateBucketName
	if bucketName == "" {
		bucketName = fmt.Sprintf("surge-pulumi-state-%s-%s", account, cfg.Region)
	}
	bucket, err := s3.NewBucketV2(ctx, name+"-state", &s3.BucketV2Args{Bucket: pulumi.String(bucketName)}, parent, keep)
	if err != nil {
		return nil, fmt.Errorf("declaring the state bucket: %w", err)
	}
	onBucket := []pulumi.ResourceOption{parent, pulumi.DependsOn([]pulumi.Resource{bucket})}
	pab, err := s3.NewBucketPublicAccessBlock(ctx, name+"-state-public-access", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, onBucket...)
	if err != nil {
		return nil, fmt.Errorf("blocking public access to the state bucket: %w", err)
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name+"-state-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, onBucket...); err != nil {
		return nil, fmt.Errorf("disabling ACLs on the state bucket: %w", err)
	}
	if _, err := s3.NewBucketVersioningV2(ctx, name+"-state-versioning", &s3.BucketVersioningV2Args{
		Bucket:                  bucket.ID(),
		VersioningConfiguration: &s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String("Enabled")},
	}, onBucket...); err != nil {
		return nil, fmt.Errorf("versioning the state bucket: %w", err)
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-state-encryption", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm:   pulumi.String("aws:kms"),
				KmsMasterKeyId: key.Arn,
			},
			BucketKeyEnabled: pulumi.Bool(true),
		}},
	}, onBucket...); err != nil {
		return nil, fmt.Errorf("encrypting the state bucket: %w", err)
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name+"-state-lifecycle", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{&s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:     pulumi.String("old-state-versions"),
			Status: pulumi.String("Enabled"),
			Filter: &s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
			// Every update rewrites the checkpoint: keep a year of history.
			NoncurrentVersionExpiration: &s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{NoncurrentDays: pulumi.Int(365)},
			AbortIncompleteMultipartUpload: &s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{
				DaysAfterInitiation: pulumi.Int(7),
			},
		}},
	}, onBucket...); err != nil {
		return nil, fmt.Errorf("declaring the state bucket lifecycle: %w", err)
	}
	if _, err := s3.NewBucketPolicy(ctx, name+"-state-policy", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: bucket.Arn.ApplyT(func(arn string) (string, error) { return tlsOnlyPolicy(arn) }).(pulumi.StringOutput),
	}, parent, pulumi.DependsOn([]pulumi.Resource{pab})); err != nil {
		return nil, fmt.Errorf("declaring the state bucket policy: %w", err)
	}

	trust := func(subjects []string) pulumi.StringOutput {
		return providerARN.ApplyT(func(arn string) (string, error) { return trustPolicy(arn, subjects) }).(pulumi.StringOutput)
	}
	access := func(write bool) pulumi.StringOutput {
		return pulumi.All(bucket.Arn, key.Arn).ApplyT(func(v []any) (string, error) {
			return stateAccessPolicy(v[0].(string), v[1].(string), write)
		}).(pulumi.StringOutput)
	}

	preview, err := iam.NewRole(ctx, name+"-preview-role", &iam.RoleArgs{
		Name:               pulumi.String(previewRoleName),
		Description:        pulumi.String("surge CI: pulumi preview from pull requests and branches of " + cfg.Repository + " (read-only)"),
		AssumeRolePolicy:   trust(cfg.PreviewSubjects()),
		MaxSessionDuration: pulumi.Int(3600),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("declaring the preview role: %w", err)
	}
	if _, err := iam.NewRolePolicyAttachment(ctx, name+"-preview-readonly", &iam.RolePolicyAttachmentArgs{
		Role: preview.Name, PolicyArn: pulumi.String("arn:aws:iam::aws:policy/ReadOnlyAccess"),
	}, parent); err != nil {
		return nil, fmt.Errorf("attaching ReadOnlyAccess: %w", err)
	}
	if _, err := iam.NewRolePolicy(ctx, name+"-preview-state", &iam.RolePolicyArgs{
		Role: preview.Name, Policy: access(false),
	}, parent); err != nil {
		return nil, fmt.Errorf("declaring the preview role's state access: %w", err)
	}

	deploy, err := iam.NewRole(ctx, name+"-deploy-role", &iam.RoleArgs{
		Name:               pulumi.String(deployRoleName),
		Description:        pulumi.String("surge CI: pulumi up from the " + strings.Join(cfg.Environments, ", ") + " environments of " + cfg.Repository),
		AssumeRolePolicy:   trust(cfg.DeploySubjects()),
		MaxSessionDuration: pulumi.Int(7200), // a first prod up outlasts the 1 h default
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("declaring the deploy role: %w", err)
	}
	if _, err := iam.NewRolePolicyAttachment(ctx, name+"-deploy-poweruser", &iam.RolePolicyAttachmentArgs{
		Role: deploy.Name, PolicyArn: pulumi.String("arn:aws:iam::aws:policy/PowerUserAccess"),
	}, parent); err != nil {
		return nil, fmt.Errorf("attaching PowerUserAccess: %w", err)
	}
	if _, err := iam.NewRolePolicy(ctx, name+"-deploy-state", &iam.RolePolicyArgs{
		Role: deploy.Name, Policy: access(true),
	}, parent); err != nil {
		return nil, fmt.Errorf("declaring the deploy role's state access: %w", err)
	}
	iamDoc, err := stackIAMPolicy(account, cfg.ResourcePrefix)
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicy(ctx, name+"-deploy-iam", &iam.RolePolicyArgs{
		Role: deploy.Name, Policy: pulumi.String(iamDoc),
	}, parent); err != nil {
		return nil, fmt.Errorf("declaring the deploy role's IAM access: %w", err)
	}

	c.StateBucket = bucket.Bucket
	c.KeyARN = key.Arn
	c.PreviewRoleARN = preview.Arn
	c.DeployRoleARN = deploy.Arn
	c.OIDCProviderARN = providerARN
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"stateBucket": c.StateBucket, "previewRoleArn": c.PreviewRoleARN, "deployRoleArn": c.DeployRoleARN,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

func marshal(doc map[string]any) (string, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encoding policy: %w", err)
	}
	return string(b), nil
}

// trustPolicy lets GitHub's OIDC tokens for the given subjects, and no
// other, assume the role.
func trustPolicy(providerARN string, subjects []string) (string, error) {
	return marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Federated": providerARN},
			"Action":    "sts:AssumeRoleWithWebIdentity",
			"Condition": map[string]any{
				"StringEquals": map[string]any{oidcHost + ":aud": oidcAudience},
				"StringLike":   map[string]any{oidcHost + ":sub": subjects},
			},
		}},
	})
}

// tlsOnlyPolicy denies every request to the state bucket that is not TLS.
func tlsOnlyPolicy(bucketARN string) (string, error) {
	return marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "DenyInsecureTransport",
			"Effect":    "Deny",
			"Principal": "*",
			"Action":    "s3:*",
			"Resource":  []string{bucketARN, bucketARN + "/*"},
			"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
		}},
	})
}

// stateAccessPolicy is a CI role's access to the state and the secrets
// key. Previews only read the state and decrypt: the S3 (DIY) backend
// takes the stack lock for updates, refreshes, imports and destroys, not
// for a preview (pkg/backend/diy: Preview applies without Lock). A preview
// role that could write lock files could delete a running deploy's lock.
// Deploys also write checkpoints, history and locks, and encrypt new
// secrets.
func stateAccessPolicy(bucketARN, keyARN string, write bool) (string, error) {
	stmts := []any{
		map[string]any{"Sid": "ListState", "Effect": "Allow", "Action": []string{"s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"}, "Resource": bucketARN},
		map[string]any{"Sid": "ReadState", "Effect": "Allow", "Action": []string{"s3:GetObject"}, "Resource": bucketARN + "/*"},
	}
	kmsActions := []string{"kms:Decrypt", "kms:DescribeKey"}
	if write {
		stmts = append(stmts, map[string]any{"Sid": "WriteState", "Effect": "Allow", "Action": []string{"s3:PutObject", "s3:DeleteObject"}, "Resource": []string{bucketARN + "/*"}})
		kmsActions = append(kmsActions, "kms:Encrypt", "kms:GenerateDataKey")
	}
	stmts = append(stmts, map[string]any{"Sid": "StackSecrets", "Effect": "Allow", "Action": kmsActions, "Resource": keyARN})
	return marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
}

// stackIAMPolicy is what PowerUserAccess lacks for the stacks: managing
// their own IAM roles, policies and instance profiles (by name prefix),
// passing those roles to EC2, RDS and VPC flow logs, and creating the
// service-linked roles AWS services need on first use.
func stackIAMPolicy(account, prefix string) (string, error) {
	roles := fmt.Sprintf("arn:aws:iam::%s:role/%s*", account, prefix)
	profiles := fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s*", account, prefix)
	return marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{
			map[string]any{
				"Sid": "StackRoles", "Effect": "Allow",
				"Action": []string{
					"iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
					"iam:TagRole", "iam:UntagRole", "iam:ListRoleTags",
					"iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
					"iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies",
					"iam:ListInstanceProfilesForRole", "iam:PassRole",
				},
				"Resource": roles,
			},
			map[string]any{
				"Sid": "StackInstanceProfiles", "Effect": "Allow",
				"Action": []string{
					"iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile",
					"iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
					"iam:TagInstanceProfile", "iam:UntagInstanceProfile",
				},
				"Resource": profiles,
			},
			map[string]any{
				"Sid": "ServiceLinkedRoles", "Effect": "Allow",
				"Action":   []string{"iam:CreateServiceLinkedRole", "iam:GetRole"},
				"Resource": fmt.Sprintf("arn:aws:iam::%s:role/aws-service-role/*", account),
			},
		},
	})
}
