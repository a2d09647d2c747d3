package release

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestArtifactIsContentAddressed(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "surge")
	require.NoError(t, os.WriteFile(bin, []byte("test"), 0o755))
	m := pulumitest.New()
	err := m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		for _, n := range []string{"surge-dev", "surge-dev-canary"} {
			if _, err := NewUpload(ctx, n, &UploadArgs{Bucket: pulumi.String("artifacts"), Artifact: Artifact{Path: bin, SHA256: sum}}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err, "two instances must not collide")
	objs := m.ByType("aws:s3/bucketObjectv2:BucketObjectv2")
	require.Len(t, objs, 2)
	o := objs[0]
	assert.Equal(t, "releases/"+sum+"/surge", o.Str("key"), "key is derived from the digest")
	assert.Equal(t, "SHA256", o.Str("checksumAlgorithm"), "S3 verifies the digest on upload")
	assert.Equal(t, sum, o.Str("metadata.sha256"))
	assert.Equal(t, "artifacts", o.Str("bucket"))
	src, ok := o.Get("source")
	require.True(t, ok)
	assert.True(t, src.IsAsset(), "source is the built file")
	assert.Equal(t, bin, src.AssetValue().Path)
	for _, o := range objs {
		assert.True(t, o.RetainOnDelete, "%s: a new build must not delete the release the previous launch template (and an instance-refresh rollback) still downloads", o.Name)
	}
}

func TestArtifactValidate(t *testing.T) {
	tests := []struct {
		name string
		args UploadArgs
		want []string
	}{
		{"empty", UploadArgs{}, []string{"Bucket is required", "Path is required", `SHA256 "" must be 64 lowercase hex characters`}},
		{"uppercase digest", UploadArgs{Bucket: pulumi.String("b"), Artifact: Artifact{Path: "x", SHA256: "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"}}, []string{"must be 64 lowercase hex"}},
	}
	for _, tt := range tests {
		err := tt.args.validate()
		require.Error(t, err, tt.name)
		for _, w := range tt.want {
			assert.Contains(t, err.Error(), w, "validate(%s)", tt.name)
		}
	}
	m := pulumitest.New()
	err := m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		_, err := NewUpload(ctx, "bad", &UploadArgs{})
		return err
	})
	require.Error(t, err)
	assert.Empty(t, m.Resources(), "invalid args declare nothing")
}
