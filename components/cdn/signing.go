package cdn

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudfront"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
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
// The private key is derived from 32 random bytes that the stack keeps as
// a secret in its state (random.RandomBytes): every `pulumi up` derives the
// same key, so the public key changes only when the seed is replaced
// (`pulumi up --replace` on it). The key never appears in config or user
// data; the instances read it from the secret.
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

	seed, err := random.NewRandomBytes(ctx, name+"-media-signing-seed", &random.RandomBytesArgs{Length: pulumi.Int(32)}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating signing key seed: %w", err)
	}
	keys := seed.Base64.ApplyT(func(b64 string) ([]string, error) {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("decoding signing key seed: %w", err)
		}
		priv, pub, err := DeriveSigningKey(raw)
		if err != nil {
			return nil, err
		}
		return []string{priv, pub}, nil
	}).(pulumi.StringArrayOutput)
	privatePEM := pulumi.ToSecret(keys.Index(pulumi.Int(0))).(pulumi.StringOutput)
	// Derived from a secret, the public half would be marked secret too:
	// it is public by nature, and the plan should show it.
	publicPEM := pulumi.Unsecret(keys.Index(pulumi.Int(1))).(pulumi.StringOutput)

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

// signingKeyBits is the RSA size CloudFront accepts for public keys.
const signingKeyBits = 2048

// DeriveSigningKey derives an RSA 2048 key from a 32-byte seed, the same
// key for the same seed, and returns the private key (PKCS #1 PEM) and the
// public key (PKIX PEM, the form CloudFront's EncodedKey takes). The
// primes come from SHA-256 in counter mode over the seed: crypto/rsa's
// GenerateKey draws from the system's generator whatever reader it is
// given, which would change the key at every `pulumi up`.
func DeriveSigningKey(seed []byte) (privatePEM, publicPEM string, err error) {
	if len(seed) < 32 {
		return "", "", errors.New("signing key seed: want at least 32 bytes")
	}
	stream := &counterStream{seed: seed}
	e := big.NewInt(65537)
	one := big.NewInt(1)
	var p, q *big.Int
	for p == nil || q == nil || p.Cmp(q) == 0 {
		cand := stream.prime(signingKeyBits/2, e)
		if p == nil {
			p = cand
		} else {
			q = cand
		}
	}
	n := new(big.Int).Mul(p, q)
	pm1, qm1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	phi := new(big.Int).Mul(pm1, qm1)
	d := new(big.Int).ModInverse(e, phi)
	if d == nil {
		return "", "", errors.New("signing key: e has no inverse")
	}
	key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
	if err := key.Validate(); err != nil {
		return "", "", fmt.Errorf("signing key: %w", err)
	}
	key.Precompute()
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", fmt.Errorf("encoding public key: %w", err)
	}
	privatePEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	publicPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	return privatePEM, publicPEM, nil
}

// counterStream is SHA-256(seed || counter), block after block.
type counterStream struct {
	seed []byte
	n    uint64
}

func (s *counterStream) read(b []byte) {
	for off := 0; off < len(b); {
		var ctr [8]byte
		binary.BigEndian.PutUint64(ctr[:], s.n)
		s.n++
		sum := sha256.Sum256(append(append([]byte("surge cloudfront signing key\x00"), s.seed...), ctr[:]...))
		off += copy(b[off:], sum[:])
	}
}

// prime returns the next probable prime of exactly bits bits (top two
// bits set, so that the product has the full size) with gcd(e, p-1) = 1.
func (s *counterStream) prime(bits int, e *big.Int) *big.Int {
	buf := make([]byte, bits/8)
	one := big.NewInt(1)
	for {
		s.read(buf)
		buf[0] |= 0xc0
		buf[len(buf)-1] |= 1
		p := new(big.Int).SetBytes(buf)
		if !p.ProbablyPrime(32) {
			continue
		}
		if new(big.Int).GCD(nil, nil, e, new(big.Int).Sub(p, one)).Cmp(one) == 0 {
			return p
		}
	}
}
