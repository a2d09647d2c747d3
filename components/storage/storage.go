// Package storage declares the stack's S3 buckets: static site assets,
// user uploads (course materials), app artifacts and logs.
//
// Every bucket blocks public access, enforces bucket-owner object ownership
// (no ACLs), is encrypted by default and has exactly ONE bucket policy that
// denies non-TLS requests. A bucket can hold only one policy, so ownership
// of the policy document is split:
//   - logs and artifacts: this component writes the policy;
//   - static and uploads: the CDN component writes it (deny non-TLS plus
//     the origin-access grant for its own distribution), because the grant
//     needs the distribution's ARN and the distribution needs the buckets
//     (docs/decisions/oac-bucket-policy.md). Both documents start from PolicyDocument below, so the
//     deny-non-TLS statement cannot be forgotten.
package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
)

// Bucket kinds, also the suffixes of the physical names.
const (
	KindStatic    = "static"
	KindUploads   = "uploads"
	KindArtifacts = "artifacts"
	KindLogs      = "logs"
)

// MaterialsPrefix is where course materials live in the uploads bucket
// (the app's surge.MaterialsPrefix, app/internal/surge/materials.go): the
// app role may write there and nowhere else; CloudFront serves it under
// /media/* with signed URLs only.
const MaterialsPrefix = "media/materials/"

// Log prefixes inside the logs bucket. The load balancer and CDN components
// write under these (ALB: ALBLogPrefix or ALBLogPrefix/<anything>); S3
// server access logs go under S3AccessLogPrefix/<kind>/.
const (
	ALBLogPrefix        = "alb"
	CloudFrontLogPrefix = "cloudfront"
	S3AccessLogPrefix   = "s3"
)

// BucketsArgs configures the buckets.
type BucketsArgs struct {
	// AccountID is the 12-digit AWS account ID. Required: it makes the
	// physical bucket names globally unique (S3 names are global) while
	// staying readable and stable, which bucketPrefix's random tail is not.
	AccountID string
	// Region is the stack's region (e.g. "eu-west-1"). Required: it goes
	// into the bucket names and picks the ELB log-delivery principal
	// (docs/decisions/alb-log-bucket.md).
	Region string
	// AllowedOrigins are the site origins allowed to upload to the uploads
	// bucket with presigned POSTs (CORS), e.g. "https://surge.example.com";
	// no wildcards. Empty: no CORS rule is declared here and the stack calls
	// AllowUploadsFrom once the origin is known (a stack without a domain
	// only learns its https://<id>.cloudfront.net origin from the
	// distribution). Default none.
	AllowedOrigins []string
	// LogRetentionDays expires objects in the logs bucket. Default 90.
	LogRetentionDays int
	// NoncurrentVersionDays expires noncurrent object versions in the
	// versioned buckets (uploads, artifacts). Default 30.
	NoncurrentVersionDays int
	// AbortMultipartDays aborts incomplete multipart uploads. Default 7.
	AbortMultipartDays int
	// CORSMaxAgeSeconds is how long browsers cache the CORS preflight.
	// Default 3000.
	CORSMaxAgeSeconds int
	// ForceDestroy lets `pulumi destroy` delete non-empty buckets. Default
	// false; set it for throwaway dev stacks only.
	ForceDestroy bool
	// SiteFiles is the students' page, uploaded to the static bucket one
	// object per file. Default none (an empty bucket).
	SiteFiles []SiteFile
}

// Bucket is what other components need of one bucket.
type Bucket struct {
	Name               pulumi.StringOutput
	ARN                pulumi.StringOutput
	RegionalDomainName pulumi.StringOutput
	PhysicalName       string // the name requested, known before deployment
}

// Buckets is the storage component.
type Buckets struct {
	pulumi.ResourceState

	Static    Bucket
	Uploads   Bucket
	Artifacts Bucket
	Logs      Bucket

	// Convenience outputs.
	StaticBucketName    pulumi.StringOutput
	UploadsBucketName   pulumi.StringOutput
	ArtifactsBucketName pulumi.StringOutput
	LogsBucketName      pulumi.StringOutput

	name         string
	corsMaxAge   int
	corsDeclared bool
}

var (
	accountRe = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe  = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
)

func (a *BucketsArgs) withDefaults() BucketsArgs {
	out := *a
	if out.LogRetentionDays == 0 {
		out.LogRetentionDays = 90
	}
	if out.NoncurrentVersionDays == 0 {
		out.NoncurrentVersionDays = 30
	}
	if out.AbortMultipartDays == 0 {
		out.AbortMultipartDays = 7
	}
	if out.CORSMaxAgeSeconds == 0 {
		out.CORSMaxAgeSeconds = 3000
	}
	return out
}

// validate reports every problem with the args at once.
func (a *BucketsArgs) validate() error {
	var errs []error
	if !accountRe.MatchString(a.AccountID) {
		errs = append(errs, fmt.Errorf("AccountID %q: want 12 digits", a.AccountID))
	}
	if !regionRe.MatchString(a.Region) {
		errs = append(errs, fmt.Errorf("Region %q: want an AWS region such as eu-west-1", a.Region))
	}
	for _, o := range a.AllowedOrigins {
		if err := validOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("AllowedOrigins %q: %w", o, err))
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"LogRetentionDays", a.LogRetentionDays},
		{"NoncurrentVersionDays", a.NoncurrentVersionDays},
		{"AbortMultipartDays", a.AbortMultipartDays},
		{"CORSMaxAgeSeconds", a.CORSMaxAgeSeconds},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d: must not be negative", f.name, f.v))
		}
	}
	errs = append(errs, validateSiteFiles(a.SiteFiles)...)
	return errors.Join(errs...)
}

// validOrigin accepts exactly a browser origin: scheme https (or http for
// localhost), a host, an optional port and nothing else.
func validOrigin(o string) error {
	if strings.Contains(o, "*") {
		return errors.New("wildcards are not allowed")
	}
	u, err := url.Parse(o)
	if err != nil {
		return err
	}
	switch {
	case u.Host == "":
		return errors.New("want scheme://host")
	case u.Scheme != "https" && !(u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1")):
		return errors.New("want https (http only for localhost)")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return errors.New("an origin has no path, query, fragment or user info")
	}
	return nil
}

// NewBuckets declares the four buckets.
func NewBuckets(ctx *pulumi.Context, name string, args *BucketsArgs, opts ...pulumi.ResourceOption) (*Buckets, error) {
	if args == nil {
		return nil, errors.New("storage: args are required")
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("storage %s: invalid args: %w", name, err)
	}
	a := args.withDefaults()

	c := &Buckets{name: name, corsMaxAge: a.CORSMaxAgeSeconds, corsDeclared: len(a.AllowedOrigins) > 0}
	if err := ctx.RegisterComponentResource("surge:storage:Buckets", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering storage component: %w", err)
	}
	parent := pulumi.Parent(c)

	// The logs bucket first: the others send their access logs to it.
	specs := []bucketSpec{
		{kind: KindLogs, logs: true, ownPolicy: true},
		{kind: KindStatic, accessLogs: true},
		{kind: KindUploads, versioned: true, cors: true, accessLogs: true},
		{kind: KindArtifacts, versioned: true, ownPolicy: true, accessLogs: true},
	}
	made := map[string]Bucket{}
	for _, s := range specs {
		b, err := declareBucket(ctx, name, s, a, made[KindLogs], parent)
		if err != nil {
			return nil, err
		}
		made[s.kind] = b
	}
	c.Static, c.Uploads, c.Artifacts, c.Logs = made[KindStatic], made[KindUploads], made[KindArtifacts], made[KindLogs]
	c.StaticBucketName, c.UploadsBucketName = c.Static.Name, c.Uploads.Name
	c.ArtifactsBucketName, c.LogsBucketName = c.Artifacts.Name, c.Logs.Name
	if err := declareSiteObjects(ctx, name, c.Static.Name, a.SiteFiles, parent); err != nil {
		return nil, fmt.Errorf("storage %s: %w", name, err)
	}

	out := pulumi.Map{}
	for kind, b := range made {
		out[kind+"BucketName"] = b.Name
		out[kind+"BucketArn"] = b.ARN
		out[kind+"BucketRegionalDomainName"] = b.RegionalDomainName
	}
	if err := ctx.RegisterResourceOutputs(c, out); err != nil {
		return nil, fmt.Errorf("registering storage outputs: %w", err)
	}
	return c, nil
}

type bucketSpec struct {
	kind       string
	versioned  bool
	cors       bool
	logs       bool
	ownPolicy  bool // false: the CDN component writes this bucket's policy
	accessLogs bool // S3.9 server access logs to the logs bucket
}

// BucketName is the physical name of one bucket: the component name, the
// kind, the account and the region, cut to S3's 63 characters.
func BucketName(name, kind, accountID, region string) string {
	return naming.Physical(name, kind+"-"+accountID+"-"+region, naming.MaxS3Bucket)
}

func declareBucket(ctx *pulumi.Context, name string, s bucketSpec, a BucketsArgs, logs Bucket, parent pulumi.ResourceOption) (Bucket, error) {
	logical := name + "-" + s.kind
	physical := BucketName(name, s.kind, a.AccountID, a.Region)

	b, err := s3.NewBucketV2(ctx, logical, &s3.BucketV2Args{
		Bucket:       pulumi.String(physical),
		ForceDestroy: pulumi.Bool(a.ForceDestroy),
	}, parent)
	if err != nil {
		return Bucket{}, fmt.Errorf("creating %s bucket: %w", s.kind, err)
	}
	// The bucket's name (its ID in S3) carries the dependency on the bucket.
	bucketID := b.Bucket

	// S3.8: all four public-access flags.
	pab, err := s3.NewBucketPublicAccessBlock(ctx, logical, &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucketID,
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return Bucket{}, fmt.Errorf("blocking public access on %s bucket: %w", s.kind, err)
	}

	// S3.12: ACLs disabled everywhere. The logs bucket can keep this too:
	// ALB logs are written under a bucket policy and CloudFront logs go
	// through v2 log delivery, neither needs an ACL (docs/decisions/cloudfront-logs-v2.md).
	if _, err := s3.NewBucketOwnershipControls(ctx, logical, &s3.BucketOwnershipControlsArgs{
		Bucket: bucketID,
		Rule: &s3.BucketOwnershipControlsRuleArgs{
			ObjectOwnership: pulumi.String("BucketOwnerEnforced"),
		},
	}, parent); err != nil {
		return Bucket{}, fmt.Errorf("setting ownership controls on %s bucket: %w", s.kind, err)
	}

	// SSE-S3 on every bucket: the ALB can only write logs to SSE-S3 buckets
	// (docs/decisions/alb-log-bucket.md), and the CloudFront-served buckets would otherwise need a
	// KMS key policy granting CloudFront decrypt; SSE-KMS buys little for
	// public-by-design assets and presigned uploads.
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, logical, &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucketID,
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{
			&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
				ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
					SseAlgorithm: pulumi.String("AES256"),
				},
			},
		},
	}, parent); err != nil {
		return Bucket{}, fmt.Errorf("configuring encryption on %s bucket: %w", s.kind, err)
	}

	var lifecycleDeps []pulumi.Resource
	if s.versioned {
		v, err := s3.NewBucketVersioningV2(ctx, logical, &s3.BucketVersioningV2Args{
			Bucket: bucketID,
			VersioningConfiguration: &s3.BucketVersioningV2VersioningConfigurationArgs{
				Status: pulumi.String("Enabled"),
			},
		}, parent)
		if err != nil {
			return Bucket{}, fmt.Errorf("enabling versioning on %s bucket: %w", s.kind, err)
		}
		// AWS recommends the lifecycle rule after versioning is on.
		lifecycleDeps = append(lifecycleDeps, v)
	}

	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, logical, &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucketID,
		Rules:  lifecycleRules(s, a),
	}, parent, pulumi.DependsOn(lifecycleDeps)); err != nil {
		return Bucket{}, fmt.Errorf("configuring lifecycle on %s bucket: %w", s.kind, err)
	}

	if s.cors && len(a.AllowedOrigins) > 0 {
		if err := uploadsCORS(ctx, logical, bucketID, pulumi.ToStringArray(a.AllowedOrigins), a.CORSMaxAgeSeconds, parent); err != nil {
			return Bucket{}, err
		}
	}

	if s.accessLogs {
		// S3.9: server access logs; the logs bucket grants the logging
		// service (no ACLs needed with BucketOwnerEnforced).
		if _, err := s3.NewBucketLoggingV2(ctx, logical, &s3.BucketLoggingV2Args{
			Bucket:       bucketID,
			TargetBucket: logs.Name,
			TargetPrefix: pulumi.String(S3AccessLogPrefix + "/" + s.kind + "/"),
		}, parent); err != nil {
			return Bucket{}, fmt.Errorf("enabling access logs on %s bucket: %w", s.kind, err)
		}
	}

	out := Bucket{
		Name:               b.Bucket,
		ARN:                b.Arn,
		RegionalDomainName: b.BucketRegionalDomainName,
		PhysicalName:       physical,
	}
	if s.ownPolicy {
		extra := []Statement(nil)
		if s.logs {
			var sources []string
			for _, k := range []string{KindStatic, KindUploads, KindArtifacts} {
				sources = append(sources, "arn:aws:s3:::"+BucketName(name, k, a.AccountID, a.Region))
			}
			extra = logDeliveryStatements(physical, a.AccountID, a.Region, sources)
		}
		doc, err := PolicyDocument("arn:aws:s3:::"+physical, extra...)
		if err != nil {
			return Bucket{}, fmt.Errorf("building %s bucket policy: %w", s.kind, err)
		}
		// After the public access block so a policy is never briefly
		// evaluated against a half-configured bucket.
		pol, err := s3.NewBucketPolicy(ctx, logical, &s3.BucketPolicyArgs{
			Bucket: bucketID,
			Policy: pulumi.String(doc),
		}, parent, pulumi.DependsOn([]pulumi.Resource{pab}))
		if err != nil {
			return Bucket{}, fmt.Errorf("attaching %s bucket policy: %w", s.kind, err)
		}
		// Consumers get the name and ARN only once the policy exists: the
		// ALB checks that it may write its logs when access logging is
		// turned on and fails the update otherwise, and log delivery
		// should find its grant in place rather than add its own.
		out.Name = pol.Bucket
		out.ARN = pulumi.All(b.Arn, pol.Bucket).ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput)
	}
	return out, nil
}

// uploadsCORS lets browsers on the site's origins POST presigned uploads
// (the app issues presigned POSTs only: their policy fixes the key, type
// and size, which a presigned PUT cannot bound), with the few headers such
// an upload sends.
func uploadsCORS(ctx *pulumi.Context, logical string, bucket pulumi.StringInput, origins pulumi.StringArrayInput, maxAge int, opts ...pulumi.ResourceOption) error {
	if _, err := s3.NewBucketCorsConfigurationV2(ctx, logical, &s3.BucketCorsConfigurationV2Args{
		Bucket: bucket,
		CorsRules: s3.BucketCorsConfigurationV2CorsRuleArray{
			&s3.BucketCorsConfigurationV2CorsRuleArgs{
				Id:             pulumi.String("presigned-upload"),
				AllowedMethods: pulumi.ToStringArray([]string{"POST"}),
				AllowedOrigins: origins,
				AllowedHeaders: pulumi.ToStringArray([]string{"Content-Type", "Content-MD5", "x-amz-checksum-sha256", "x-amz-content-sha256", "x-amz-date"}),
				ExposeHeaders:  pulumi.ToStringArray([]string{"ETag"}),
				MaxAgeSeconds:  pulumi.Int(maxAge),
			},
		},
	}, opts...); err != nil {
		return fmt.Errorf("configuring CORS on uploads bucket: %w", err)
	}
	return nil
}

// AllowUploadsFrom declares the uploads bucket's CORS rule for origins that
// are only known later in the program (e.g. pulumi.StringArray{
// pulumi.Sprintf("https://%s", cdn.DomainName)}). It is an error when
// AllowedOrigins was set or when called twice: a bucket has one CORS
// configuration.
func (b *Buckets) AllowUploadsFrom(ctx *pulumi.Context, origins pulumi.StringArrayInput) error {
	if b.corsDeclared {
		return errors.New("storage: the uploads bucket already has its CORS rule")
	}
	if origins == nil {
		return errors.New("storage: AllowUploadsFrom needs origins")
	}
	if err := uploadsCORS(ctx, b.name+"-"+KindUploads, b.Uploads.Name, origins, b.corsMaxAge, pulumi.Parent(b)); err != nil {
		return err
	}
	b.corsDeclared = true
	return nil
}

func lifecycleRules(s bucketSpec, a BucketsArgs) s3.BucketLifecycleConfigurationV2RuleArray {
	// An explicit empty-prefix filter applies the rule to the whole bucket
	// (omitting the filter is deprecated by the provider).
	all := &s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")}
	rules := s3.BucketLifecycleConfigurationV2RuleArray{
		&s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:     pulumi.String("abort-incomplete-multipart-uploads"),
			Status: pulumi.String("Enabled"),
			Filter: all,
			AbortIncompleteMultipartUpload: &s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{
				DaysAfterInitiation: pulumi.Int(a.AbortMultipartDays),
			},
		},
	}
	if s.versioned {
		rules = append(rules, &s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:     pulumi.String("expire-noncurrent-versions"),
			Status: pulumi.String("Enabled"),
			Filter: all,
			NoncurrentVersionExpiration: &s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{
				NoncurrentDays: pulumi.Int(a.NoncurrentVersionDays),
			},
		})
	}
	if s.logs {
		rules = append(rules, &s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:     pulumi.String("expire-logs"),
			Status: pulumi.String("Enabled"),
			Filter: all,
			Expiration: &s3.BucketLifecycleConfigurationV2RuleExpirationArgs{
				Days: pulumi.Int(a.LogRetentionDays),
			},
		})
	}
	return rules
}

// Statement is one IAM policy statement.
type Statement = map[string]any

// DenyInsecureTransport is the S3.5 statement: deny every request to the
// bucket and its objects that does not use TLS.
func DenyInsecureTransport(bucketARN string) Statement {
	return Statement{
		"Sid":       "DenyInsecureTransport",
		"Effect":    "Deny",
		"Principal": "*",
		"Action":    "s3:*",
		"Resource":  []string{bucketARN, bucketARN + "/*"},
		"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
	}
}

// PolicyDocument returns the one policy document of a bucket: the
// deny-non-TLS statement first, then extra. Every bucket policy in the
// stack is built here.
func PolicyDocument(bucketARN string, extra ...Statement) (string, error) {
	stmts := append([]Statement{DenyInsecureTransport(bucketARN)}, extra...)
	b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	if err != nil {
		return "", fmt.Errorf("encoding bucket policy: %w", err)
	}
	return string(b), nil
}

// elbAccounts are the regional Elastic Load Balancing accounts for the
// regions that existed before August 2022, from the ALB user guide
// "Enable access logs" (also terraform-aws-s3-bucket's elb_service_accounts).
// A static map rather than the elb.getServiceAccount invoke: no extra
// invoke to mock or to fail in preview, and newer regions use the service
// principal anyway (docs/decisions/alb-log-bucket.md).
var elbAccounts = map[string]string{
	"us-east-1":      "127311923021",
	"us-east-2":      "033677994240",
	"us-west-1":      "027434742980",
	"us-west-2":      "797873946194",
	"af-south-1":     "098369216593",
	"ap-east-1":      "754344448648",
	"ap-south-1":     "718504428378",
	"ap-northeast-1": "582318560864",
	"ap-northeast-2": "600734575887",
	"ap-northeast-3": "383597477331",
	"ap-southeast-1": "114774131450",
	"ap-southeast-2": "783225319266",
	"ap-southeast-3": "589379963580",
	"ca-central-1":   "985666609251",
	"eu-central-1":   "054676820928",
	"eu-west-1":      "156460612806",
	"eu-west-2":      "652711504416",
	"eu-west-3":      "009996457667",
	"eu-south-1":     "635631232127",
	"eu-north-1":     "897822967062",
	"me-south-1":     "076674570225",
	"sa-east-1":      "507241528517",
	"us-gov-west-1":  "048591011584",
	"us-gov-east-1":  "190560391635",
}

// ELBLogPrincipal is the principal allowed to write ALB access logs in a
// region: the regional ELB account for regions older than August 2022,
// the log-delivery service principal for the others.
func ELBLogPrincipal(region string) map[string]any {
	if acct, ok := elbAccounts[region]; ok {
		return map[string]any{"AWS": "arn:aws:iam::" + acct + ":root"}
	}
	return map[string]any{"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
}

// VendedLogsDocURL is the CloudWatch Logs page whose bucket policy the
// CloudFront (v2) log delivery requires (docs/security/edge.md).
const VendedLogsDocURL = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-infrastructure-V2-S3.html"

// logDeliveryStatements grant S3 server access logging (under s3/), the ALB
// (access logs under alb/) and CloudWatch Logs v2 delivery (CloudFront
// standard logs under cloudfront/) write access to the logs bucket, and
// nothing else.
//
// The two delivery.logs.amazonaws.com statements are the ones
// VendedLogsDocURL requires, with its Sids and condition forms
// (aws:SourceAccount = the account, aws:SourceArn like
// arn:aws:logs:<source region>:<account>:*; the source is the us-east-1
// delivery source of the distribution). Without them AWS appends its own
// statements to the bucket policy when the delivery is created, outside
// Pulumi, and the next `up` silently removes them.
func logDeliveryStatements(bucket, accountID, region string, accessLogSources []string) []Statement {
	arn := "arn:aws:s3:::" + bucket
	deliverySource := map[string]any{"aws:SourceArn": []string{"arn:aws:logs:us-east-1:" + accountID + ":*"}}
	return []Statement{

		{
			"Sid":       "S3ServerAccessLogs",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "logging.s3.amazonaws.com"},
			"Action":    "s3:PutObject",
			"Resource":  arn + "/" + S3AccessLogPrefix + "/*",
			"Condition": map[string]any{
				"ArnLike":      map[string]any{"aws:SourceArn": accessLogSources},
				"StringEquals": map[string]any{"aws:SourceAccount": accountID},
			},
		},
		{
			"Sid":       "ALBAccessLogs",
			"Effect":    "Allow",
			"Principal": ELBLogPrincipal(region),
			"Action":    "s3:PutObject",
			// Any prefix under alb/ (the ALB component uses alb/<name>).
			"Resource": arn + "/" + ALBLogPrefix + "/*AWSLogs/" + accountID + "/*",
		},
		{
			// The delivery checks the bucket's ACL (ownership) before it
			// writes; ListBucket as the page's note advises, or CloudTrail
			// fills with AccessDenied.
			"Sid":       "AWSLogDeliveryAclCheck",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "delivery.logs.amazonaws.com"},
			"Action":    []string{"s3:GetBucketAcl", "s3:ListBucket"},
			"Resource":  arn,
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": []string{accountID}},
				"ArnLike":      deliverySource,
			},
		},
		{
			// CloudFront standard logging v2 writes under cloudfront/.
			"Sid":       "AWSLogDeliveryWrite",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "delivery.logs.amazonaws.com"},
			"Action":    "s3:PutObject",
			"Resource":  arn + "/" + CloudFrontLogPrefix + "/*",
			"Condition": map[string]any{
				"StringEquals": map[string]any{
					"s3:x-amz-acl":      "bucket-owner-full-control",
					"aws:SourceAccount": []string{accountID},
				},
				"ArnLike": deliverySource,
			},
		},
	}
}

// DeniesInsecureTransport reports whether a decoded policy document holds
// the S3.5 statement for bucketARN: Deny, every principal, s3:*, on the
// bucket and its objects, when aws:SecureTransport is false. Tests of every
// component that writes a bucket policy use it.
func DeniesInsecureTransport(doc map[string]any, bucketARN string) bool {
	stmts, _ := doc["Statement"].([]any)
	for _, s := range stmts {
		st, _ := s.(map[string]any)
		if st["Effect"] != "Deny" || st["Principal"] != "*" || st["Action"] != "s3:*" {
			continue
		}
		res, _ := st["Resource"].([]any)
		if len(res) != 2 || res[0] != bucketARN || res[1] != bucketARN+"/*" {
			continue
		}
		cond, _ := st["Condition"].(map[string]any)
		b, _ := cond["Bool"].(map[string]any)
		if b["aws:SecureTransport"] == "false" {
			return true
		}
	}
	return false
}
