// Package release uploads the app binary the fleet runs to the artifacts
// bucket under a key derived from its SHA-256.
package release

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

var digest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ArtifactArgs describe one built binary.
type ArtifactArgs struct {
	// Bucket is the artifacts bucket name (versioned, private). Required.
	Bucket pulumi.StringInput
	// Path is the local file to upload. Required.
	Path string
	// SHA256 is the file's digest, lowercase hex. Required.
	SHA256 string
}

func (a *ArtifactArgs) validate() error {
	var errs []error
	if a.Bucket == nil {
		errs = append(errs, errors.New("Bucket is required"))
	}
	if a.Path == "" {
		errs = append(errs, errors.New("Path is required"))
	}
	if !digest.MatchString(a.SHA256) {
		errs = append(errs, fmt.Errorf("SHA256 %q must be 64 lowercase hex characters", a.SHA256))
	}
	return errors.Join(errs...)
}

// Key is the object key of a digest: content-addressed, so the same build
// never changes the object and a new build never overwrites an old one that
// instances of the previous launch template version may still download
// (the object is retained on delete for the same reason).
func Key(sha256 string) string { return Prefix + sha256 + "/surge" }

// Prefix is the key prefix of every release; the instance role reads every
// object under it, so launches from earlier launch template versions, and
// rollbacks, find their binary.
const Prefix = "releases/"

// Artifact is the surge:release:Artifact component.
type Artifact struct {
	pulumi.ResourceState

	Bucket pulumi.StringOutput
	Key    pulumi.StringOutput
	SHA256 string
}

// NewArtifact uploads the binary. S3 checks the SHA-256 on upload
// (ChecksumAlgorithm) and the instances check it again after download.
func NewArtifact(ctx *pulumi.Context, name string, args *ArtifactArgs, opts ...pulumi.ResourceOption) (*Artifact, error) {
	if args == nil {
		return nil, errors.New("release: args are required")
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("release %s: %w", name, err)
	}
	c := &Artifact{SHA256: args.SHA256}
	if err := ctx.RegisterComponentResource("surge:release:Artifact", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering release %s: %w", name, err)
	}
	obj, err := s3.NewBucketObjectv2(ctx, name+"-binary", &s3.BucketObjectv2Args{
		Bucket:            args.Bucket,
		Key:               pulumi.String(Key(args.SHA256)),
		Source:            pulumi.NewFileAsset(args.Path),
		ContentType:       pulumi.String("application/octet-stream"),
		ChecksumAlgorithm: pulumi.String("SHA256"),
		Metadata:          pulumi.StringMap{"sha256": pulumi.String(args.SHA256)},
		// A new build replaces this resource (the key is the digest), and a
		// replaced object would be deleted at the end of that `pulumi up`,
		// while the instance refresh it started is still running: an
		// auto-rollback, or any launch from the previous template version,
		// would then fetch a key that no longer exists and never boot. Old
		// releases stay in the bucket (a few MB each).
	}, pulumi.Parent(c), pulumi.RetainOnDelete(true))
	if err != nil {
		return nil, fmt.Errorf("uploading artifact: %w", err)
	}
	c.Bucket = obj.Bucket
	c.Key = obj.Key
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"bucket": c.Bucket, "key": c.Key, "sha256": pulumi.String(c.SHA256)}); err != nil {
		return nil, fmt.Errorf("registering release outputs: %w", err)
	}
	return c, nil
}
