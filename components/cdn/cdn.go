// Package cdn declares the CloudFront distribution in front of the whole
// site: the static and uploads buckets through origin access control, and
// /api/* through a CloudFront VPC origin to the INTERNAL load balancer, so
// the ALB is never reachable from the internet.
//
// VPC-origin requirements (CloudFront Developer Guide, "Restrict access
// with VPC origins", private-content-vpc-origins.html) and where each is
// enforced:
//   - the VPC must have an internet gateway (never used for routing): the
//     network component creates one;
//   - the origin is an ALB in a private subnet with at least one free IPv4
//     address for CloudFront's service-managed ENI, fully deployed (Active):
//     the VpcOrigin references the ALB's ARN, so it is created after it;
//   - the ALB's security group admits CloudFront, either from the
//     com.amazonaws.global.cloudfront.origin-facing prefix list or from the
//     CloudFront-VPCOrigins-Service-SG that exists only after the first VPC
//     origin: the firewall component;
//   - the region must support VPC origins (and some AZs do not):
//     SupportedVPCOriginRegion / VPCOriginAZSupported below;
//   - no WebSockets, gRPC or Lambda@Edge origin triggers on /api/*;
//   - HTTPS to the origin needs a certificate on the ALB whose name matches
//     the origin domain CloudFront uses for SNI and Host; *.elb.amazonaws.com
//     cannot be in an ACM certificate (docs/decisions/origin-name-on-certificate.md), so with HTTPS the origin
//     domain is OriginDomain (e.g. origin.<site domain>), never the ALB DNS
//     name.
package cdn

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudfront"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
	"github.com/surge-dev/surge/components/spec"
	"github.com/surge-dev/surge/components/storage"
)

// AWS managed policy IDs (stable, documented in "Use managed cache
// policies" / "Use managed origin request policies" / "Use managed response
// headers policies" of the CloudFront Developer Guide).
const (
	// Managed-CachingDisabled.
	CachingDisabledPolicyID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	// Managed-CachingOptimized.
	CachingOptimizedPolicyID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	// Managed-AllViewerExceptHostHeader: every viewer header, cookie and
	// query string except Host, so the origin sees the origin domain as Host
	// (which must match its certificate).
	AllViewerExceptHostHeaderPolicyID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
	// Managed-SecurityHeadersPolicy: HSTS, nosniff, frame options, referrer policy.
	SecurityHeadersPolicyID = "67f7725c-6f97-4210-82d7-5512b31e9d03"
)

// Progress counter TTLs (seconds): CloudFront follows the origin's
// Cache-Control max-age (1 s) within [min, max], and uses default when the
// origin sends none.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html
const (
	ProgressMinTTL     = 0
	ProgressDefaultTTL = 1
	ProgressMaxTTL     = 1
)

// VPCOriginTimeout bounds create, update and delete of the VPC origin.
const VPCOriginTimeout = "45m"

// Origin IDs and path patterns.
const (
	StaticOriginID  = "static"
	UploadsOriginID = "uploads"
	APIOriginID     = "api"

	APIPath = "/api/*"
	// ProgressPath is the per-course progress counter: the same answer for
	// every student. In a path pattern * matches any characters, / included
	// (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html#DownloadDistValuesPathPattern),
	// so it must come before APIPath, which also matches.
	ProgressPath = "/api/courses/*/progress"
	MediaPath    = "/media/*"
	AssetsPath   = "/assets/*"
)

// supportedVPCOriginRegions lists the commercial regions where CloudFront
// VPC origins are available ("Supported AWS Regions for VPC origins").
var supportedVPCOriginRegions = map[string]bool{
	"us-east-2": true, "us-east-1": true, "us-west-1": true, "us-west-2": true,
	"af-south-1": true, "ap-east-1": true, "ap-south-1": true, "ap-south-2": true,
	"ap-southeast-3": true, "ap-southeast-4": true, "ap-northeast-3": true,
	"ap-southeast-1": true, "ap-southeast-2": true, "ap-northeast-1": true,
	"ap-northeast-2": true, "ap-southeast-7": true, "ap-southeast-5": true,
	"ap-east-2": true, "ca-central-1": true, "ca-west-1": true,
	"eu-central-1": true, "eu-west-1": true, "eu-west-2": true, "eu-south-1": true,
	"eu-west-3": true, "eu-south-2": true, "eu-north-1": true, "eu-central-2": true,
	"il-central-1": true, "me-south-1": true, "me-central-1": true,
	"sa-east-1": true, "mx-central-1": true,
}

// unsupportedVPCOriginAZs are the AZ IDs the same page excludes.
var unsupportedVPCOriginAZs = map[string]bool{
	"use1-az3": true, "usw1-az2": true, "apne1-az3": true, "cac1-az3": true,
}

// SupportedVPCOriginRegion reports whether CloudFront VPC origins work in region.
func SupportedVPCOriginRegion(region string) bool { return supportedVPCOriginRegions[region] }

// VPCOriginAZSupported reports whether an AZ ID (e.g. "use1-az3", not the
// account-specific name "us-east-1a") may host the ALB of a VPC origin.
// The network component should skip the AZs for which it is false.
func VPCOriginAZSupported(zoneID string) bool { return !unsupportedVPCOriginAZs[zoneID] }

var (
	priceClasses = []string{"PriceClass_100", "PriceClass_200", "PriceClass_All"}
	hostnameRe   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	accountRe    = regexp.MustCompile(`^[0-9]{12}$`)
)

// Spec is the distribution's static shape: the CloudFront key of
// `surge:edge` in the stack config.
type Spec struct {
	PriceClass string `json:"priceClass"` // PriceClass_100, PriceClass_200 or PriceClass_All: the edge locations that serve viewers.
}

// Defaults are the environment's values: dev the cheapest edge locations,
// prod all of them.
func Defaults(env spec.Env) Spec {
	if env == spec.Prod {
		return Spec{PriceClass: "PriceClass_All"}
	}
	return Spec{PriceClass: "PriceClass_100"}
}

// Validate reports every problem of the Spec, keyed by its JSON path.
func (s Spec) Validate() error {
	var p spec.Problems
	if !slices.Contains(priceClasses, s.PriceClass) {
		p.Add("priceClass", "must be one of %v, got %q", priceClasses, s.PriceClass)
	}
	return p.Err()
}

// DistributionArgs are the Spec plus what comes from other resources and
// the options the stack config does not expose. A zero PriceClass takes
// dev's.
type DistributionArgs struct {
	Spec

	// USEast1 is an aws provider for us-east-1. Required: CloudFront's v2
	// standard-log delivery source (and its destination and delivery) must
	// be created there, with the distribution's global home region.
	USEast1 pulumi.ProviderResource
	// AccountID is the 12-digit account ID (for the physical names). Required.
	AccountID string

	// StaticBucket and UploadsBucket come from storage.NewBuckets. This
	// component writes their (single) bucket policies. Required.
	StaticBucket  storage.Bucket
	UploadsBucket storage.Bucket
	// LogsBucketARN is the logs bucket; CloudFront standard logs (v2) go
	// under storage.CloudFrontLogPrefix. Required.
	LogsBucketARN pulumi.StringInput

	// LoadBalancerARN is the INTERNAL ALB behind the VPC origin. Required.
	LoadBalancerARN pulumi.StringInput
	// LoadBalancerDNSName is the ALB's DNS name, used as the origin domain
	// when OriginDomain is empty (HTTP to the origin). Required.
	LoadBalancerDNSName pulumi.StringInput
	// OriginRegion is the ALB's region; it must support VPC origins. Required.
	OriginRegion string
	// OriginDomain is the name CloudFront sends as SNI and Host to the ALB.
	// Set it (e.g. "origin.surge.example.com", a name on the ALB's ACM
	// certificate) to use HTTPS to the origin; empty = HTTP to the origin
	// over the VPC origin's private path (stacks without a domain). Default "".
	OriginDomain string
	// HTTPPort and HTTPSPort are the ALB listener ports. Defaults 80 and 443.
	HTTPPort  int
	HTTPSPort int
	// OriginReadTimeout is how long CloudFront waits for the API (seconds,
	// 1-120). Default 30.
	OriginReadTimeout int

	// Aliases are the site's domain names; empty = CloudFront's default
	// domain and certificate. Default none.
	Aliases []string
	// CertificateARN is the VALIDATED us-east-1 ACM certificate covering
	// Aliases. Required exactly when Aliases is set.
	CertificateARN pulumi.StringInput
	// WebACLARN is the ARN of the CLOUDFRONT-scope WAF web ACL. Required.
	WebACLARN pulumi.StringInput

	// AssetsMaxAgeSeconds is the TTL of /assets/* (content-hashed file
	// names, so they never change in place). Default 31536000 (one year).
	AssetsMaxAgeSeconds int
	// LogFormat is the v2 standard log format: json, w3c, plain or parquet.
	// Default json.
	LogFormat string
	// SitePaths are the keys of the students' page in the static bucket
	// (index.html, 404.html, assets/...). With them, any other path of the
	// default behaviour gets the 404 page with status 404 (see site.go).
	// Default none: no 404 handling.
	SitePaths []string
	// MediaKeyGroupID is the key group (NewMediaSigning) whose keys sign
	// the course materials' URLs: /media/* then refuses any request
	// without a valid signed URL or cookie. Required.
	MediaKeyGroupID pulumi.StringInput
	// AssetsNotFoundPage is the key of a content-hashed copy of the 404 page
	// under assets/ (one of SitePaths), served for unknown /assets/* paths.
	// Default "": those get S3's 403.
	AssetsNotFoundPage string
}

// Distribution is the CDN component.
type Distribution struct {
	pulumi.ResourceState

	DistributionID pulumi.StringOutput
	ARN            pulumi.StringOutput
	DomainName     pulumi.StringOutput
	// HostedZoneID is CloudFront's alias zone (Z2FDTNDATAQYW2), from the
	// resource rather than a literal (docs/decisions/route53-cloudfront-alias.md).
	HostedZoneID pulumi.StringOutput
	VPCOriginID  pulumi.IDOutput
	// OriginProtocolPolicy is "https-only" or "http-only", known at plan time.
	OriginProtocolPolicy string
}

func (a *DistributionArgs) withDefaults() DistributionArgs {
	out := *a
	if out.HTTPPort == 0 {
		out.HTTPPort = 80
	}
	if out.HTTPSPort == 0 {
		out.HTTPSPort = 443
	}
	if out.OriginReadTimeout == 0 {
		out.OriginReadTimeout = 30
	}
	if out.PriceClass == "" {
		out.PriceClass = Defaults(spec.Dev).PriceClass
	}
	if out.AssetsMaxAgeSeconds == 0 {
		out.AssetsMaxAgeSeconds = 31536000
	}
	if out.LogFormat == "" {
		out.LogFormat = "json"
	}
	return out
}

// validate reports every problem with the (defaulted) args at once.
func (a *DistributionArgs) validate() error {
	var errs []error
	req := func(ok bool, field string) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s is required", field))
		}
	}
	req(a.USEast1 != nil, "USEast1 (us-east-1 provider for log delivery)")
	req(a.StaticBucket.ARN != (pulumi.StringOutput{}), "StaticBucket")
	req(a.UploadsBucket.ARN != (pulumi.StringOutput{}), "UploadsBucket")
	req(a.LogsBucketARN != nil, "LogsBucketARN")
	req(a.LoadBalancerARN != nil, "LoadBalancerARN")
	req(a.LoadBalancerDNSName != nil, "LoadBalancerDNSName")
	req(a.WebACLARN != nil, "WebACLARN (CloudFront.6)")
	req(a.MediaKeyGroupID != nil, "MediaKeyGroupID (course materials are private)")
	if !accountRe.MatchString(a.AccountID) {
		errs = append(errs, fmt.Errorf("AccountID %q: want 12 digits", a.AccountID))
	}
	if !SupportedVPCOriginRegion(a.OriginRegion) {
		errs = append(errs, fmt.Errorf("OriginRegion %q: CloudFront VPC origins are not supported there", a.OriginRegion))
	}
	if a.OriginDomain != "" {
		if !hostnameRe.MatchString(a.OriginDomain) {
			errs = append(errs, fmt.Errorf("OriginDomain %q: want a lowercase DNS name", a.OriginDomain))
		}
		if strings.HasSuffix(a.OriginDomain, ".elb.amazonaws.com") {
			errs = append(errs, fmt.Errorf("OriginDomain %q: an ELB DNS name cannot be on an ACM certificate, HTTPS would fail with 502 (docs/decisions/origin-name-on-certificate.md)", a.OriginDomain))
		}
		if slices.Contains(a.Aliases, a.OriginDomain) {
			errs = append(errs, fmt.Errorf("OriginDomain %q must differ from the distribution's aliases", a.OriginDomain))
		}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"HTTPPort", a.HTTPPort}, {"HTTPSPort", a.HTTPSPort}} {
		if p.v < 1 || p.v > 65535 {
			errs = append(errs, fmt.Errorf("%s %d: want 1-65535", p.name, p.v))
		}
	}
	if a.OriginReadTimeout < 1 || a.OriginReadTimeout > 120 {
		errs = append(errs, fmt.Errorf("OriginReadTimeout %d: want 1-120 seconds", a.OriginReadTimeout))
	}
	for _, al := range a.Aliases {
		if !hostnameRe.MatchString(al) {
			errs = append(errs, fmt.Errorf("Aliases %q: want a lowercase DNS name", al))
		}
	}
	switch {
	case len(a.Aliases) > 0 && a.CertificateARN == nil:
		errs = append(errs, errors.New("CertificateARN is required when Aliases are set (CloudFront.7)"))
	case len(a.Aliases) == 0 && a.CertificateARN != nil:
		errs = append(errs, errors.New("CertificateARN without Aliases: the certificate would never be served"))
	}
	if err := a.Spec.Validate(); err != nil {
		errs = append(errs, err)
	}
	if a.AssetsMaxAgeSeconds < 1 || a.AssetsMaxAgeSeconds > 31536000 {
		errs = append(errs, fmt.Errorf("AssetsMaxAgeSeconds %d: want 1-31536000", a.AssetsMaxAgeSeconds))
	}
	if err := validSitePaths(a.SitePaths, a.AssetsNotFoundPage); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains([]string{"json", "w3c", "plain", "parquet"}, a.LogFormat) {
		errs = append(errs, fmt.Errorf("LogFormat %q: want json, w3c, plain or parquet", a.LogFormat))
	}
	return errors.Join(errs...)
}

// NewDistribution declares the distribution, its origins, the bucket
// policies of the two buckets it serves and its v2 standard logging.
func NewDistribution(ctx *pulumi.Context, name string, args *DistributionArgs, opts ...pulumi.ResourceOption) (*Distribution, error) {
	if args == nil {
		return nil, errors.New("cdn: args are required")
	}
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("cdn %s: invalid args: %w", name, err)
	}

	c := &Distribution{}
	if err := ctx.RegisterComponentResource("surge:cdn:Distribution", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering cdn component: %w", err)
	}
	parent := pulumi.Parent(c)

	// The origin protocol follows from whether the ALB has a certificate
	// for a name CloudFront can verify (docs/decisions/origin-name-on-certificate.md).
	protocol := "http-only"
	if a.OriginDomain != "" {
		protocol = "https-only"
	}
	c.OriginProtocolPolicy = protocol

	// CloudFront.13: one OAC for both buckets; sigv4 on every request.
	siteFns, err := siteFunctions(ctx, name, a, parent)
	if err != nil {
		return nil, err
	}

	oac, err := cloudfront.NewOriginAccessControl(ctx, name+"-s3", &cloudfront.OriginAccessControlArgs{
		Name:                          pulumi.String(naming.Physical(name, "s3-"+a.AccountID, 64)),
		Description:                   pulumi.String("surge S3 origins (sigv4, always signed)"),
		OriginAccessControlOriginType: pulumi.String("s3"),
		SigningBehavior:               pulumi.String("always"),
		SigningProtocol:               pulumi.String("sigv4"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating origin access control: %w", err)
	}

	// The VPC origin's protocol cannot be changed in place (the update
	// hangs), so a protocol change replaces it, under a new name, before
	// the old one is deleted. Deploying a VPC origin can take longer than
	// the provider's 15-minute default wait (terraform-aws-modules/
	// terraform-aws-cloudfront#163, provider 5.95): a timed-out create
	// leaves a tainted origin and a failed `up`, hence explicit timeouts.
	vpcOrigin, err := cloudfront.NewVpcOrigin(ctx, name+"-api", &cloudfront.VpcOriginArgs{
		Timeouts: &cloudfront.VpcOriginTimeoutsArgs{
			Create: pulumi.String(VPCOriginTimeout),
			Update: pulumi.String(VPCOriginTimeout),
			Delete: pulumi.String(VPCOriginTimeout),
		},
		VpcOriginEndpointConfig: &cloudfront.VpcOriginVpcOriginEndpointConfigArgs{
			Name:                 pulumi.String(naming.Physical(name, "api-"+strings.TrimSuffix(protocol, "-only"), 64)),
			Arn:                  a.LoadBalancerARN,
			HttpPort:             pulumi.Int(a.HTTPPort),
			HttpsPort:            pulumi.Int(a.HTTPSPort),
			OriginProtocolPolicy: pulumi.String(protocol),
			// CloudFront.10: never SSLv3/TLS1.0/1.1 to the origin.
			OriginSslProtocols: &cloudfront.VpcOriginVpcOriginEndpointConfigOriginSslProtocolsArgs{
				Items:    pulumi.ToStringArray([]string{"TLSv1.2"}),
				Quantity: pulumi.Int(1),
			},
		},
	}, parent, pulumi.ReplaceOnChanges([]string{"vpcOriginEndpointConfig.originProtocolPolicy"}))
	if err != nil {
		return nil, fmt.Errorf("creating VPC origin: %w", err)
	}

	// Hashed static assets never change in place: cache them for a year,
	// keyed on the path only.
	assetsPolicy, err := pathOnlyCachePolicy(ctx, name+"-assets", naming.Physical(name, "hashed-assets", 128), "content-hashed static assets",
		a.AssetsMaxAgeSeconds, a.AssetsMaxAgeSeconds, a.AssetsMaxAgeSeconds, parent)
	if err != nil {
		return nil, fmt.Errorf("creating assets cache policy: %w", err)
	}

	// The progress counter is keyed on the path only: no cookie, query
	// string or header can split (or personalise) the cached copy.
	progressPolicy, err := pathOnlyCachePolicy(ctx, name+"-progress", naming.Physical(name, "progress", 128), "admission progress counter: honours the origin's max-age",
		ProgressMinTTL, ProgressDefaultTTL, ProgressMaxTTL, parent)
	if err != nil {
		return nil, fmt.Errorf("creating progress cache policy: %w", err)
	}
	// What reaches the app on a miss: as for /api/* the viewer's Host stays
	// out (the origin name must match the ALB certificate), and so do the
	// cookies and query strings; only the client address, which the app
	// logs and sheds by.
	progressRequests, err := cloudfront.NewOriginRequestPolicy(ctx, name+"-progress", &cloudfront.OriginRequestPolicyArgs{
		Name:    pulumi.String(naming.Physical(name, "progress", 128)),
		Comment: pulumi.String("admission progress counter: no cookies, no query strings"),
		CookiesConfig: &cloudfront.OriginRequestPolicyCookiesConfigArgs{
			CookieBehavior: pulumi.String("none"),
		},
		HeadersConfig: &cloudfront.OriginRequestPolicyHeadersConfigArgs{
			HeaderBehavior: pulumi.String("whitelist"),
			Headers: &cloudfront.OriginRequestPolicyHeadersConfigHeadersArgs{
				Items: pulumi.ToStringArray([]string{"CloudFront-Viewer-Address"}),
			},
		},
		QueryStringsConfig: &cloudfront.OriginRequestPolicyQueryStringsConfigArgs{
			QueryStringBehavior: pulumi.String("none"),
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating progress origin request policy: %w", err)
	}

	apiDomain := a.LoadBalancerDNSName
	if a.OriginDomain != "" {
		apiDomain = pulumi.String(a.OriginDomain)
	}

	readOnly := pulumi.ToStringArray([]string{"GET", "HEAD"})
	s3Behavior := func(path, origin string, cachePolicy pulumi.StringInput) *cloudfront.DistributionOrderedCacheBehaviorArgs {
		return &cloudfront.DistributionOrderedCacheBehaviorArgs{
			PathPattern:             pulumi.String(path),
			TargetOriginId:          pulumi.String(origin),
			AllowedMethods:          readOnly,
			CachedMethods:           readOnly,
			CachePolicyId:           cachePolicy,
			ResponseHeadersPolicyId: pulumi.String(SecurityHeadersPolicyID),
			ViewerProtocolPolicy:    pulumi.String("redirect-to-https"),
			Compress:                pulumi.Bool(true),
		}
	}

	assetsBehavior := s3Behavior(AssetsPath, StaticOriginID, assetsPolicy.ID())
	// Course materials: only URLs signed by the app with a key of this
	// group (private-content-signed-urls.html); the query string stays out
	// of the cache key, so every signed URL of an object shares one copy.
	mediaBehavior := s3Behavior(MediaPath, UploadsOriginID, pulumi.String(CachingOptimizedPolicyID))
	mediaBehavior.TrustedKeyGroups = pulumi.StringArray{a.MediaKeyGroupID}
	assetsBehavior.FunctionAssociations = siteFns.Assets

	viewerCert := &cloudfront.DistributionViewerCertificateArgs{
		// Without a domain only the default *.cloudfront.net certificate
		// is possible, and CloudFront then allows TLSv1 viewers.
		CloudfrontDefaultCertificate: pulumi.Bool(true),
	}
	if len(a.Aliases) > 0 {
		viewerCert = &cloudfront.DistributionViewerCertificateArgs{
			AcmCertificateArn:      a.CertificateARN, // CloudFront.7
			SslSupportMethod:       pulumi.String("sni-only"),
			MinimumProtocolVersion: pulumi.String("TLSv1.2_2021"), // CloudFront.15
		}
	}

	dist, err := cloudfront.NewDistribution(ctx, name, &cloudfront.DistributionArgs{
		Enabled:              pulumi.Bool(true),
		Comment:              pulumi.String(name),
		Aliases:              pulumi.ToStringArray(a.Aliases),
		DefaultRootObject:    pulumi.String("index.html"), // CloudFront.1
		HttpVersion:          pulumi.String("http2and3"),
		IsIpv6Enabled:        pulumi.Bool(true),
		PriceClass:           pulumi.String(a.PriceClass),
		WebAclId:             a.WebACLARN, // CloudFront.6, never a WebAclAssociation (docs/decisions/waf-through-distribution.md)
		CustomErrorResponses: uncachedErrors(),
		Origins: cloudfront.DistributionOriginArray{
			&cloudfront.DistributionOriginArgs{
				OriginId:              pulumi.String(StaticOriginID),
				DomainName:            a.StaticBucket.RegionalDomainName, // CloudFront.12
				OriginAccessControlId: oac.ID(),
			},
			&cloudfront.DistributionOriginArgs{
				OriginId:              pulumi.String(UploadsOriginID),
				DomainName:            a.UploadsBucket.RegionalDomainName,
				OriginAccessControlId: oac.ID(),
			},
			&cloudfront.DistributionOriginArgs{
				OriginId:   pulumi.String(APIOriginID),
				DomainName: apiDomain,
				VpcOriginConfig: &cloudfront.DistributionOriginVpcOriginConfigArgs{
					VpcOriginId:            vpcOrigin.ID(),
					OriginReadTimeout:      pulumi.Int(a.OriginReadTimeout),
					OriginKeepaliveTimeout: pulumi.Int(5),
				},
			},
		},
		DefaultCacheBehavior: &cloudfront.DistributionDefaultCacheBehaviorArgs{
			TargetOriginId:          pulumi.String(StaticOriginID),
			AllowedMethods:          readOnly,
			CachedMethods:           readOnly,
			CachePolicyId:           pulumi.String(CachingOptimizedPolicyID),
			ResponseHeadersPolicyId: pulumi.String(SecurityHeadersPolicyID),
			ViewerProtocolPolicy:    pulumi.String("redirect-to-https"), // CloudFront.3
			Compress:                pulumi.Bool(true),
			FunctionAssociations:    siteFns.Default,
		},
		// CloudFront applies the first behaviour whose pattern matches.
		OrderedCacheBehaviors: cloudfront.DistributionOrderedCacheBehaviorArray{
			&cloudfront.DistributionOrderedCacheBehaviorArgs{
				PathPattern:             pulumi.String(ProgressPath),
				TargetOriginId:          pulumi.String(APIOriginID),
				AllowedMethods:          readOnly,
				CachedMethods:           readOnly,
				CachePolicyId:           progressPolicy.ID(),
				OriginRequestPolicyId:   progressRequests.ID(),
				ResponseHeadersPolicyId: pulumi.String(SecurityHeadersPolicyID),
				ViewerProtocolPolicy:    pulumi.String("redirect-to-https"),
				Compress:                pulumi.Bool(true),
			},
			&cloudfront.DistributionOrderedCacheBehaviorArgs{
				PathPattern:    pulumi.String(APIPath),
				TargetOriginId: pulumi.String(APIOriginID),
				AllowedMethods: pulumi.ToStringArray([]string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}),
				CachedMethods:  readOnly,
				// Dynamic and per-user: never cached; cookies, query strings
				// and headers (except Host) reach the app.
				CachePolicyId:           pulumi.String(CachingDisabledPolicyID),
				OriginRequestPolicyId:   pulumi.String(AllViewerExceptHostHeaderPolicyID),
				ResponseHeadersPolicyId: pulumi.String(SecurityHeadersPolicyID),
				ViewerProtocolPolicy:    pulumi.String("redirect-to-https"),
				Compress:                pulumi.Bool(true),
			},
			mediaBehavior,
			assetsBehavior,
		},
		Restrictions: &cloudfront.DistributionRestrictionsArgs{
			GeoRestriction: &cloudfront.DistributionRestrictionsGeoRestrictionArgs{
				RestrictionType: pulumi.String("none"),
			},
		},
		ViewerCertificate: viewerCert,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating distribution: %w", err)
	}

	// Bucket policies after the distribution (docs/decisions/oac-bucket-policy.md): deny non-TLS
	// plus s3:GetObject for THIS distribution only. These are the only
	// policies of the two buckets (storage leaves them to us).
	for _, b := range []struct {
		kind   string
		bucket storage.Bucket
	}{{storage.KindStatic, a.StaticBucket}, {storage.KindUploads, a.UploadsBucket}} {
		doc := pulumi.All(b.bucket.ARN, dist.Arn).ApplyT(func(v []any) (string, error) {
			return OACPolicy(v[0].(string), v[1].(string))
		}).(pulumi.StringOutput)
		if _, err := s3.NewBucketPolicy(ctx, name+"-"+b.kind, &s3.BucketPolicyArgs{
			Bucket: b.bucket.Name,
			Policy: doc,
		}, parent); err != nil {
			return nil, fmt.Errorf("attaching %s bucket policy: %w", b.kind, err)
		}
	}

	// CloudFront.5: standard logging v2 (CloudWatch Logs delivery) to the
	// logs bucket, which keeps ACLs disabled (legacy logging needs ACLs,
	// docs/decisions/cloudfront-logs-v2.md). All three objects must live in us-east-1.
	east := pulumi.Provider(a.USEast1)
	src, err := cloudwatch.NewLogDeliverySource(ctx, name+"-access-logs", &cloudwatch.LogDeliverySourceArgs{
		Name:        pulumi.String(naming.Physical(name, "cf-access-logs", 60)),
		LogType:     pulumi.String("ACCESS_LOGS"),
		ResourceArn: dist.Arn,
	}, parent, east)
	if err != nil {
		return nil, fmt.Errorf("creating log delivery source: %w", err)
	}
	dst, err := cloudwatch.NewLogDeliveryDestination(ctx, name+"-access-logs", &cloudwatch.LogDeliveryDestinationArgs{
		Name:         pulumi.String(naming.Physical(name, "cf-access-logs-s3", 60)),
		OutputFormat: pulumi.String(a.LogFormat),
		DeliveryDestinationConfiguration: &cloudwatch.LogDeliveryDestinationDeliveryDestinationConfigurationArgs{
			DestinationResourceArn: pulumi.Sprintf("%s/%s", a.LogsBucketARN, storage.CloudFrontLogPrefix),
		},
	}, parent, east)
	if err != nil {
		return nil, fmt.Errorf("creating log delivery destination: %w", err)
	}
	if _, err := cloudwatch.NewLogDelivery(ctx, name+"-access-logs", &cloudwatch.LogDeliveryArgs{
		DeliverySourceName:     src.Name,
		DeliveryDestinationArn: dst.Arn,
	}, parent, east); err != nil {
		return nil, fmt.Errorf("creating log delivery: %w", err)
	}

	c.DistributionID = dist.ID().ToStringOutput()
	c.ARN = dist.Arn
	c.DomainName = dist.DomainName
	c.HostedZoneID = dist.HostedZoneId
	c.VPCOriginID = vpcOrigin.ID()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"distributionId": dist.ID(),
		"arn":            dist.Arn,
		"domainName":     dist.DomainName,
		"hostedZoneId":   dist.HostedZoneId,
		"vpcOriginId":    vpcOrigin.ID(),
	}); err != nil {
		return nil, fmt.Errorf("registering cdn outputs: %w", err)
	}
	return c, nil
}

// OACPolicy is the policy of a bucket served through origin access
// control: deny non-TLS, allow cloudfront.amazonaws.com to read objects
// only on behalf of the given distribution (AWS:SourceArn, docs/decisions/oac-bucket-policy.md).
func OACPolicy(bucketARN, distributionARN string) (string, error) {
	return storage.PolicyDocument(bucketARN, storage.Statement{
		"Sid":       "AllowCloudFrontOAC",
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": "cloudfront.amazonaws.com"},
		"Action":    "s3:GetObject",
		"Resource":  bucketARN + "/*",
		"Condition": map[string]any{"StringEquals": map[string]any{"AWS:SourceArn": distributionARN}},
	})
}

// pathOnlyCachePolicy declares a cache policy keyed on the path alone: no
// cookie, header or query string splits the cached copy, and compressed
// copies are cached apart.
func pathOnlyCachePolicy(ctx *pulumi.Context, name, physical, comment string, minTTL, defaultTTL, maxTTL int, opts ...pulumi.ResourceOption) (*cloudfront.CachePolicy, error) {
	return cloudfront.NewCachePolicy(ctx, name, &cloudfront.CachePolicyArgs{
		Name:       pulumi.String(physical),
		Comment:    pulumi.String(comment),
		MinTtl:     pulumi.Int(minTTL),
		DefaultTtl: pulumi.Int(defaultTTL),
		MaxTtl:     pulumi.Int(maxTTL),
		ParametersInCacheKeyAndForwardedToOrigin: &cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginArgs{
			CookiesConfig:              &cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs{CookieBehavior: pulumi.String("none")},
			HeadersConfig:              &cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs{HeaderBehavior: pulumi.String("none")},
			QueryStringsConfig:         &cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs{QueryStringBehavior: pulumi.String("none")},
			EnableAcceptEncodingGzip:   pulumi.Bool(true),
			EnableAcceptEncodingBrotli: pulumi.Bool(true),
		},
	}, opts...)
}

// UncachedErrorCodes are the origin errors CloudFront would otherwise cache
// for 10 s, whatever the behaviour's cache policy and ignoring the origin's
// no-store (honoured only on 404, 410, 414 and 501):
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html
// and .../custom-error-pages-expiration.html. The API's errors are per
// student (a 503 to one student's GET .../queue would be served to every
// student of the course) or transient (an overloaded instance's 503 on the
// progress counter would hide admission for 10 s), so none is cached.
var UncachedErrorCodes = []int{400, 403, 404, 405, 414, 500, 501, 502, 503, 504}

// uncachedErrors sets an error caching minimum TTL of 0 for
// UncachedErrorCodes. No response page or code: the origin's answer reaches
// the viewer unchanged (the site's 404 page is done by functions, see
// site.go).
func uncachedErrors() cloudfront.DistributionCustomErrorResponseArray {
	out := make(cloudfront.DistributionCustomErrorResponseArray, 0, len(UncachedErrorCodes))
	for _, code := range UncachedErrorCodes {
		out = append(out, &cloudfront.DistributionCustomErrorResponseArgs{
			ErrorCode:          pulumi.Int(code),
			ErrorCachingMinTtl: pulumi.Int(0),
		})
	}
	return out
}
