package compute

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Materials gives the app what course materials need: S3 rights under the
// materials prefix of the uploads bucket, and the CloudFront signing key.
type Materials struct {
	// BucketARN is the uploads bucket. Required.
	BucketARN pulumi.StringInput
	// Prefix is the key prefix of the materials, e.g. "media/materials/";
	// the role may write nowhere else. Required, ends with "/".
	Prefix string
	// SigningKeySecretARN holds the CloudFront private key; the component
	// writes it to SURGE_MEDIA_SIGNING_KEY_SECRET_ARN and lets the role read
	// it. Required.
	SigningKeySecretARN pulumi.StringInput
}

func (m *Materials) validate() []error {
	if m == nil {
		return nil
	}
	var errs []error
	if isNil(m.BucketARN) {
		errs = append(errs, fmt.Errorf("Materials.BucketARN is required"))
	}
	if isNil(m.SigningKeySecretARN) {
		errs = append(errs, fmt.Errorf("Materials.SigningKeySecretARN is required"))
	}
	if p := m.Prefix; p == "" || p == "/" || !strings.HasSuffix(p, "/") || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "*?") {
		errs = append(errs, fmt.Errorf("Materials.Prefix %q must be a key prefix such as media/materials/ (ending in \"/\", no wildcards)", p))
	}
	return errs
}

// materialsStatements let the app sign POST policies for keys under the
// prefix (a presigned POST carries the signer's rights: s3:PutObject),
// check an upload with HeadObject (s3:GetObject) and copy it to its
// recorded key (CopyObject: s3:GetObject on the source, s3:PutObject on
// the destination, both under the prefix). s3:ListBucket makes a
// HEAD of a key not uploaded yet answer 404 instead of 403 (HeadObject,
// Amazon S3 API Reference, "Permissions"); it names keys, never reads them.
// No delete, no ACLs, nothing outside the prefix.
func materialsStatements(bucketARN, prefix string) []statement {
	if bucketARN == "" {
		return nil
	}
	return []statement{
		{Sid: "WriteCourseMaterials", Effect: "Allow", Action: []string{"s3:PutObject", "s3:GetObject"}, Resource: bucketARN + "/" + prefix + "*"},
		{Sid: "FindCourseMaterials", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: bucketARN},
	}
}
