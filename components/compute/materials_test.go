package compute

import (
	"path"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	uploadsARN    = "arn:aws:s3:::surge-prod-uploads-123456789012-eu-west-1"
	signingKeyARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:surge-prod-media-signing-key-XyZaBc"
)

func withMaterials() *AppFleetArgs {
	a := baseArgs()
	a.Materials = &Materials{BucketARN: pulumi.String(uploadsARN), Prefix: "media/materials/", SigningKeySecretARN: pulumi.String(signingKeyARN)}
	return a
}

// allows evaluates an identity policy the way IAM does for Allow
// statements without conditions: some statement names the action and a
// resource pattern (* and ? wildcards) that matches.
func allows(t *testing.T, doc map[string]any, action, res string) bool {
	t.Helper()
	for _, s := range doc["Statement"].([]any) {
		st := s.(map[string]any)
		if st["Effect"] != "Allow" {
			continue
		}
		var actions, resources []string
		for _, a := range st["Action"].([]any) {
			actions = append(actions, a.(string))
		}
		switch r := st["Resource"].(type) {
		case string:
			resources = []string{r}
		case []any:
			for _, x := range r {
				resources = append(resources, x.(string))
			}
		}
		for _, a := range actions {
			if ok, _ := path.Match(a, action); !ok {
				continue
			}
			for _, r := range resources {
				// path.Match's * stops at "/"; IAM's does not.
				if ok, _ := path.Match(strings.ReplaceAll(r, "/", "\x00"), strings.ReplaceAll(res, "/", "\x00")); ok {
					return true
				}
			}
		}
	}
	return false
}

func TestMaterialsPolicy(t *testing.T) {
	m := run(t, withMaterials())
	doc, err := only(t, m, tRolePolicy).JSON("policy")
	require.NoError(t, err)
	for _, tc := range []struct {
		action, resource string
		allowed          bool
	}{
		{"s3:PutObject", uploadsARN + "/media/materials/7/0f0f0f0f-0000-4000-8000-000000000000", true},
		{"s3:GetObject", uploadsARN + "/media/materials/7/0f0f0f0f-0000-4000-8000-000000000000", true}, // HeadObject
		{"s3:ListBucket", uploadsARN, true},
		{"secretsmanager:GetSecretValue", signingKeyARN, true},
		{"s3:PutObject", uploadsARN + "/media/materials", false},
		{"s3:PutObject", uploadsARN + "/media/other/x", false},
		{"s3:PutObject", uploadsARN + "/index.html", false},
		{"s3:PutObject", "arn:aws:s3:::surge-prod-artifacts/releases/x", false},
		{"s3:PutObject", "arn:aws:s3:::surge-prod-static/media/materials/7/x", false},
		{"s3:DeleteObject", uploadsARN + "/media/materials/7/x", false},
		{"s3:PutObjectAcl", uploadsARN + "/media/materials/7/x", false},
		{"s3:PutBucketPolicy", uploadsARN, false},
		{"s3:PutBucketCors", uploadsARN, false},
		{"s3:GetObject", uploadsARN + "/other/x", false},
		{"s3:ListBucket", "arn:aws:s3:::surge-prod-artifacts", false},
	} {
		assert.Equal(t, tc.allowed, allows(t, doc, tc.action, tc.resource), "%s on %s", tc.action, tc.resource)
	}

	ud := decodeUserData(t, only(t, m, tLaunchTemplate))
	assert.Contains(t, ud, "SURGE_MEDIA_SIGNING_KEY_SECRET_ARN=\""+signingKeyARN+"\"", "the app finds the key by its ARN")
	assert.NotContains(t, ud, "PRIVATE KEY")

	// Without materials: no S3 write right at all, no signing key.
	doc, err = only(t, run(t, baseArgs()), tRolePolicy).JSON("policy")
	require.NoError(t, err)
	assert.False(t, allows(t, doc, "s3:PutObject", uploadsARN+"/media/materials/7/x"))
	assert.False(t, allows(t, doc, "secretsmanager:GetSecretValue", signingKeyARN))
}

func TestMaterialsArgsValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *Materials
		want []string
	}{
		{"empty", &Materials{}, []string{"Materials.BucketARN is required", "Materials.SigningKeySecretARN is required", "Materials.Prefix"}},
		{"wildcard prefix", &Materials{BucketARN: pulumi.String(uploadsARN), SigningKeySecretARN: pulumi.String(signingKeyARN), Prefix: "media/*"}, []string{"Materials.Prefix"}},
		{"root", &Materials{BucketARN: pulumi.String(uploadsARN), SigningKeySecretARN: pulumi.String(signingKeyARN), Prefix: "/"}, []string{"Materials.Prefix"}},
	} {
		a := baseArgs()
		a.Materials = tc.m
		m := pulumitest.New()
		err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
			_, err := NewAppFleet(ctx, "surge-prod", a)
			return err
		})
		require.Error(t, err, tc.name)
		for _, w := range tc.want {
			assert.Contains(t, err.Error(), w, tc.name)
		}
		assert.Empty(t, m.ByType(tRolePolicy), "%s: nothing declared", tc.name)
	}
	a := baseArgs()
	a.Env["SURGE_MEDIA_SIGNING_KEY_SECRET_ARN"] = pulumi.String(signingKeyARN)
	err := pulumitest.New().Run(t, "test", nil, func(ctx *pulumi.Context) error {
		_, err := NewAppFleet(ctx, "surge-prod", a)
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "set by the component")
}
