// Package release names the app binary the fleet runs (Artifact, the one
// type the stack, the upload and the fleet share) and uploads it to the
// artifacts bucket under a key derived from its SHA-256.
package release

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

var digest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Artifact is the app binary the fleet runs, pinned by its SHA-256: a
// build of this checkout, or a release an earlier `up` uploaded.
type Artifact struct {
	SHA256 string // lowercase hex; the instances refuse any other bytes
	Path   string // local file to upload; "" for a release already uploaded

	Toolchain string // Go toolchain that built it, e.g. go1.26.8 (builds only)
	Source    string // SHA-256 of the source it was built from, stamped into the binary
}

// Key is the artifact's object key (see Key).
func (a Artifact) Key() string { return Key(a.SHA256) }

// ValidDigest reports whether d is a SHA-256 in lowercase hex.
func ValidDigest(d string) bool { return digest.MatchString(d) }

// UploadArgs name the artifact and the bucket it goes to.
type UploadArgs struct {
	// Bucket is the artifacts bucket name (versioned, private). Required.
	Bucket pulumi.StringInput
	// Artifact is the build to upload; its Path is required.
	Artifact Artifact
}

func (a *UploadArgs) validate() error {
	var errs []error
	if a.Bucket == nil {
		errs = append(errs, errors.New("Bucket is required"))
	}
	if a.Artifact.Path == "" {
		errs = append(errs, errors.New("Path is required"))
	}
	if !ValidDigest(a.Artifact.SHA256) {
		errs = append(errs, fmt.Errorf("SHA256 %q must be 64 lowercase hex characters", a.Artifact.SHA256))
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

// Upload is the uploaded binary, the surge:release:Artifact component. The
// type token keeps its first name: it is part of the object's URN, and a
// new token would make `pulumi up` replace (and, retained, orphan) it.
type Upload struct {
	pulumi.ResourceState

	// Bucket is the bucket name, as an output of the object: the fleet
	// waits for the upload by reading it.
	Bucket pulumi.StringOutput
	Key    pulumi.StringOutput
	SHA256 string
}

// NewUpload uploads the binary. S3 checks the SHA-256 on upload
// (ChecksumAlgorithm) and the instances check it again after download.
func NewUpload(ctx *pulumi.Context, name string, args *UploadArgs, opts ...pulumi.ResourceOption) (*Upload, error) {
	if args == nil {
		return nil, errors.New("release: args are required")
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("release %s: %w", name, err)
	}
	art := args.Artifact
	c := &Upload{SHA256: art.SHA256}
	if err := ctx.RegisterComponentResource("surge:release:Artifact", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering release %s: %w", name, err)
	}
	obj, err := s3.NewBucketObjectv2(ctx, name+"-binary", &s3.BucketObjectv2Args{
		Bucket:            args.Bucket,
		Key:               pulumi.String(art.Key()),
		Source:            pulumi.NewFileAsset(art.Path),
		ContentType:       pulumi.String("application/octet-stream"),
		ChecksumAlgorithm: pulumi.String("SHA256"),
		Metadata:          pulumi.StringMap{"sha256": pulumi.String(art.SHA256)},
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
