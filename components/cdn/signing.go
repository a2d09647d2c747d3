package cdn

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudfront"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
	"github.com/surge-dev/surge/components/secrets"
)

// MediaSigningArgs configure the key that signs the course materials'
// download URLs.
type MediaSigningArgs struct {
	// RecoveryWindowDays of the private key's secret (0 deletes at once;
	// 7-30 otherwise). Default 7.
	RecoveryWindowDays *int
}

// MediaSigning is the key pair behind /media/*: the public key in a
// CloudFront key group that the behaviour trusts, the private key in a
// Secrets Manager secret that only the app reads
// (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-trusted-signers.html).
type MediaSigning struct {
	pulumi.ResourceState

	KeyGroupID  pulumi.StringOutput // for the behaviour's TrustedKeyGroups
	PublicKeyID pulumi.StringOutput // SURGE_MEDIA_KEY_PAIR_ID: signed URLs name it
	SecretARN   pulumi.StringOutput // SURGE_MEDIA_SIGNING_KEY_SECRET_ARN: the PEM private key
}

// NewMediaSigning declares the key pair.
//
// The private key is a tls.PrivateKey (RSA 2048, the size CloudFront takes
// for public keys): generated once by the TLS provider and kept, as a
// secret, in the stack's state, so every `pulumi up` after the first keeps
// the same key. Rotating it is `pulumi up --replace` on that resource. The
// key never appears in config or user data; the instances read it from the
// Secrets Manager secret
// (https://www.pulumi.com/registry/packages/tls/api-docs/privatekey/).
func NewMediaSigning(ctx *pulumi.Context, name string, args *MediaSigningArgs, opts ...pulumi.ResourceOption) (*MediaSigning, error) {
	a := MediaSigningArgs{}
	if args != nil {
		a = *args
	}
	if a.RecoveryWindowDays == nil {
		seven := 7
		a.RecoveryWindowDays = &seven
	}
	if d := *a.RecoveryWindowDays; d != 0 && (d < 7 || d > 30) {
		return nil, fmt.Errorf("cdn media signing %s: RecoveryWindowDays %d: want 0 or 7-30", name, d)
	}
	c := &MediaSigning{}
	if err := ctx.RegisterComponentResource("surge:cdn:MediaSigning", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering media signing component: %w", err)
	}
	parent := pulumi.Parent(c)

	key, err := tls.NewPrivateKey(ctx, name+"-media-signing-key", &tls.PrivateKeyArgs{
		Algorithm: pulumi.String("RSA"),
		RsaBits:   pulumi.Int(SigningKeyBits),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating signing key: %w", err)
	}
	// PKCS #1 PEM for RSA; the app reads PKCS #1 or #8.
	privatePEM := pulumi.ToSecret(key.PrivateKeyPem).(pulumi.StringOutput)
	// PKIX PEM, the form CloudFront's EncodedKey takes. The provider marks
	// it secret along with the key; it is public by nature, and the plan
	// should show it.
	publicPEM := pulumi.Unsecret(key.PublicKeyPem).(pulumi.StringOutput)

	pub, err := cloudfront.NewPublicKey(ctx, name+"-media", &cloudfront.PublicKeyArgs{
		Name:       pulumi.String(naming.Physical(name, "media", 128)),
		Comment:    pulumi.String("surge course materials: signed URLs for /media/*"),
		EncodedKey: publicPEM,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating CloudFront public key: %w", err)
	}
	group, err := cloudfront.NewKeyGroup(ctx, name+"-media", &cloudfront.KeyGroupArgs{
		Name:    pulumi.String(naming.Physical(name, "media", 128)),
		Comment: pulumi.String("keys trusted for /media/*"),
		Items:   pulumi.StringArray{pub.ID().ToStringOutput()},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating CloudFront key group: %w", err)
	}
	c.SecretARN, err = secrets.Store(ctx, name+"-media-signing-key", naming.Physical(name, "media-signing-key", 200),
		"surge CloudFront signing key for /media/* (SURGE_MEDIA_SIGNING_KEY_SECRET_ARN)", privatePEM, *a.RecoveryWindowDays, parent)
	if err != nil {
		return nil, err
	}
	c.KeyGroupID = group.ID().ToStringOutput()
	c.PublicKeyID = pub.ID().ToStringOutput()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"keyGroupId": c.KeyGroupID, "publicKeyId": c.PublicKeyID, "secretArn": c.SecretARN,
	}); err != nil {
		return nil, fmt.Errorf("registering media signing outputs: %w", err)
	}
	return c, nil
}

// SigningKeyBits is the RSA size CloudFront accepts for public keys
// (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-trusted-signers.html).
const SigningKeyBits = 2048
