package cdn

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/storage"
	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tDist      = "aws:cloudfront/distribution:Distribution"
	tVpcOrigin = "aws:cloudfront/vpcOrigin:VpcOrigin"
	tOAC       = "aws:cloudfront/originAccessControl:OriginAccessControl"
	tPolicy    = "aws:s3/bucketPolicy:BucketPolicy"
	tBucket    = "aws:s3/bucketV2:BucketV2"
	tPAB       = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	tLogSrc    = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
	tLogDst    = "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination"
	tLogDel    = "aws:cloudwatch/logDelivery:LogDelivery"
	tCachePol  = "aws:cloudfront/cachePolicy:CachePolicy"
	tReqPolicy = "aws:cloudfront/originRequestPolicy:OriginRequestPolicy"

	fakeALBARN     = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/surge-dev-alb/0ddba11"
	fakeALBDNS     = "internal-surge-dev-alb-0ddba11.eu-west-1.elb.amazonaws.com"
	fakeACLARN     = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/surge-dev-edge/feedface"
	fakeKeyGroupID = "b3a1c9e4-0f6d-4c55-9d1e-5a7d2f8e6c01"
	fakeCert       = "arn:aws:acm:us-east-1:123456789012:certificate/c0ffee"
)

type setup struct {
	domain bool // site domain + HTTPS to the origin
}

// program declares storage + cdn the way the stack does.
func program(names []string, s setup, mutate func(*DistributionArgs)) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		east, err := aws.NewProvider(ctx, "us-east-1", &aws.ProviderArgs{Region: pulumi.String("us-east-1")})
		if err != nil {
			return err
		}
		for _, n := range names {
			b, err := storage.NewBuckets(ctx, n, &storage.BucketsArgs{
				AccountID: pulumitest.Account, Region: pulumitest.Region,
				AllowedOrigins: []string{"https://surge.example.com"},
			})
			if err != nil {
				return err
			}
			args := &DistributionArgs{
				USEast1:             east,
				AccountID:           pulumitest.Account,
				StaticBucket:        b.Static,
				UploadsBucket:       b.Uploads,
				LogsBucketARN:       b.Logs.ARN,
				LoadBalancerARN:     pulumi.String(fakeALBARN),
				LoadBalancerDNSName: pulumi.String(fakeALBDNS),
				OriginRegion:        pulumitest.Region,
				WebACLARN:           pulumi.String(fakeACLARN),
				MediaKeyGroupID:     pulumi.String(fakeKeyGroupID),
				SitePaths:           testSitePaths,
				AssetsNotFoundPage:  testAssetsNotFound,
			}
			if s.domain {
				args.Aliases = []string{"surge.example.com"}
				args.CertificateARN = pulumi.String(fakeCert)
				args.OriginDomain = "origin.surge.example.com"
			}
			if mutate != nil {
				mutate(args)
			}
			if _, err := NewDistribution(ctx, n+"-cdn", args); err != nil {
				return err
			}
		}
		return nil
	}
}

func run(t *testing.T, s setup, names ...string) *pulumitest.Mocks {
	t.Helper()
	m := pulumitest.New()
	require.NoError(t, m.Run(t, "dev", nil, program(names, s, nil)))
	return m
}

func dist(t *testing.T, m *pulumitest.Mocks) pulumitest.Resource {
	t.Helper()
	ds := m.ByType(tDist)
	require.Len(t, ds, 1)
	return ds[0]
}

// behavior finds an ordered cache behavior by path pattern.
func behavior(t *testing.T, d pulumitest.Resource, path string) string {
	t.Helper()
	for i := 0; i < d.Len("orderedCacheBehaviors"); i++ {
		p := "orderedCacheBehaviors[" + itoa(i) + "]"
		if d.Str(p+".pathPattern") == path {
			return p
		}
	}
	t.Fatalf("no behavior for %s", path)
	return ""
}

func origin(t *testing.T, d pulumitest.Resource, id string) string {
	t.Helper()
	for i := 0; i < d.Len("origins"); i++ {
		p := "origins[" + itoa(i) + "]"
		if d.Str(p+".originId") == id {
			return p
		}
	}
	t.Fatalf("no origin %s", id)
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestAPIGoesThroughVPCOriginUncached(t *testing.T) {
	for _, s := range []setup{{domain: true}, {domain: false}} {
		m := run(t, s, "surge-dev")
		d := dist(t, m)
		b := behavior(t, d, "/api/*")
		assert.Equal(t, CachingDisabledPolicyID, d.Str(b+".cachePolicyId"), "/api/* must not be cached (Managed-CachingDisabled)")
		assert.Equal(t, AllViewerExceptHostHeaderPolicyID, d.Str(b+".originRequestPolicyId"), "/api/* forwards cookies, query strings and headers except Host")
		assert.Equal(t, APIOriginID, d.Str(b+".targetOriginId"))
		assert.ElementsMatch(t, []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}, d.Strings(b+".allowedMethods"))

		vos := m.ByType(tVpcOrigin)
		require.Len(t, vos, 1)
		vo := vos[0]
		assert.Equal(t, fakeALBARN, vo.Str("vpcOriginEndpointConfig.arn"), "the VPC origin points at the internal ALB")
		assert.Equal(t, []string{"TLSv1.2"}, vo.Strings("vpcOriginEndpointConfig.originSslProtocols.items"), "CloudFront.10")
		assert.Equal(t, 80.0, vo.Num("vpcOriginEndpointConfig.httpPort"))
		assert.Equal(t, 443.0, vo.Num("vpcOriginEndpointConfig.httpsPort"))
		// The protocol of a VPC origin cannot be updated in place (the update
		// hangs): a change must replace it, under a new name.
		assert.Contains(t, vo.ReplaceOnChanges, "vpcOriginEndpointConfig.originProtocolPolicy")
		for _, op := range []string{"create", "update", "delete"} {
			assert.Equal(t, VPCOriginTimeout, vo.Str("timeouts."+op), "VPC origin %s can outlast the provider's 15m default", op)
		}
		assert.Contains(t, vo.Str("vpcOriginEndpointConfig.name"), strings.TrimSuffix(vo.Str("vpcOriginEndpointConfig.originProtocolPolicy"), "-only"))

		o := origin(t, d, APIOriginID)
		assert.Equal(t, vo.Name+"-id", d.Str(o+".vpcOriginConfig.vpcOriginId"), "api origin uses the VPC origin")
		assert.False(t, d.Has(o+".customOriginConfig"), "api origin must not be a public custom origin")
		if s.domain {
			assert.Equal(t, "https-only", vo.Str("vpcOriginEndpointConfig.originProtocolPolicy"), "CloudFront.9: HTTPS to the origin with a certificate")
			assert.Equal(t, "origin.surge.example.com", d.Str(o+".domainName"), "docs/decisions/origin-name-on-certificate.md: SNI/Host name must be on the ALB certificate, not *.elb.amazonaws.com")
		} else {
			assert.Equal(t, "http-only", vo.Str("vpcOriginEndpointConfig.originProtocolPolicy"), "no certificate: HTTP over the VPC origin's private path")
			assert.Equal(t, fakeALBDNS, d.Str(o+".domainName"))
		}
	}
}

// TestProgressCachedBriefly: the progress counter has its own behaviour,
// before /api/* (the first matching pattern wins, and /api/* matches it too),
// to the same VPC origin, read-only, cached for the origin's max-age and keyed
// on the path alone; no cookie reaches the app.
func TestProgressCachedBriefly(t *testing.T) {
	for _, s := range []setup{{domain: true}, {domain: false}} {
		m := run(t, s, "surge-dev")
		d := dist(t, m)
		var order []string
		for i := 0; i < d.Len("orderedCacheBehaviors"); i++ {
			order = append(order, d.Str("orderedCacheBehaviors["+itoa(i)+"].pathPattern"))
		}
		require.Equal(t, []string{ProgressPath, APIPath, MediaPath, AssetsPath}, order, "the progress counter is matched before /api/*")

		b := behavior(t, d, ProgressPath)
		assert.Equal(t, "/api/courses/*/progress", d.Str(b+".pathPattern"))
		assert.Equal(t, APIOriginID, d.Str(b+".targetOriginId"), "the same VPC origin as /api/*")
		assert.Equal(t, []string{"GET", "HEAD"}, d.Strings(b+".allowedMethods"))
		assert.Equal(t, []string{"GET", "HEAD"}, d.Strings(b+".cachedMethods"))
		assert.Equal(t, "redirect-to-https", d.Str(b+".viewerProtocolPolicy"))
		assert.Equal(t, SecurityHeadersPolicyID, d.Str(b+".responseHeadersPolicyId"))
		assert.Zero(t, d.Len(b+".functionAssociations"), "no function")

		cp, ok := m.Named(tCachePol, "surge-dev-cdn-progress")
		require.True(t, ok)
		assert.Equal(t, cp.Name+"-id", d.Str(b+".cachePolicyId"))
		assert.Equal(t, 0.0, cp.Num("minTtl"), "the origin's max-age decides")
		assert.Equal(t, 1.0, cp.Num("defaultTtl"))
		assert.Equal(t, 1.0, cp.Num("maxTtl"), "never older than a second")
		key := "parametersInCacheKeyAndForwardedToOrigin."
		assert.Equal(t, "none", cp.Str(key+"cookiesConfig.cookieBehavior"), "no cookie in the cache key")
		assert.Equal(t, "none", cp.Str(key+"headersConfig.headerBehavior"), "no header in the cache key")
		assert.Equal(t, "none", cp.Str(key+"queryStringsConfig.queryStringBehavior"), "no query string in the cache key")

		rp, ok := m.Named(tReqPolicy, "surge-dev-cdn-progress")
		require.True(t, ok)
		assert.Equal(t, rp.Name+"-id", d.Str(b+".originRequestPolicyId"))
		assert.Equal(t, "none", rp.Str("cookiesConfig.cookieBehavior"), "no session cookie reaches the app")
		assert.Equal(t, "none", rp.Str("queryStringsConfig.queryStringBehavior"))
		assert.Equal(t, "whitelist", rp.Str("headersConfig.headerBehavior"))
		assert.Equal(t, []string{"CloudFront-Viewer-Address"}, rp.Strings("headersConfig.headers.items"), "only the client address")
	}
}

func TestControls(t *testing.T) {
	m := run(t, setup{domain: true}, "surge-dev")
	d := dist(t, m)

	t.Run("CloudFront.1 default root object", func(t *testing.T) {
		assert.Equal(t, "index.html", d.Str("defaultRootObject"))
		assert.Equal(t, StaticOriginID, d.Str("defaultCacheBehavior.targetOriginId"), "/ is served from S3, so index.html exists there")
	})
	t.Run("CloudFront.3 viewer HTTPS on every behavior", func(t *testing.T) {
		assert.Equal(t, "redirect-to-https", d.Str("defaultCacheBehavior.viewerProtocolPolicy"))
		n := d.Len("orderedCacheBehaviors")
		require.Equal(t, 4, n)
		for i := 0; i < n; i++ {
			p := "orderedCacheBehaviors[" + itoa(i) + "]"
			assert.Equal(t, "redirect-to-https", d.Str(p+".viewerProtocolPolicy"), "CloudFront.3: %s", d.Str(p+".pathPattern"))
			assert.True(t, d.Bool(p+".compress"), "compression on %s", d.Str(p+".pathPattern"))
		}
	})
	t.Run("CloudFront.6 WAF through webAclId, no WebAclAssociation", func(t *testing.T) {
		assert.Equal(t, fakeACLARN, d.Str("webAclId"))
		assert.Empty(t, m.ByType("aws:wafv2/webAclAssociation:WebAclAssociation"))
	})
	t.Run("CloudFront.7 CloudFront.8 CloudFront.15 custom certificate, SNI, TLSv1.2_2021", func(t *testing.T) {
		assert.Equal(t, fakeCert, d.Str("viewerCertificate.acmCertificateArn"))
		assert.False(t, d.Bool("viewerCertificate.cloudfrontDefaultCertificate"))
		assert.Equal(t, "sni-only", d.Str("viewerCertificate.sslSupportMethod"))
		assert.Equal(t, "TLSv1.2_2021", d.Str("viewerCertificate.minimumProtocolVersion"))
		assert.Equal(t, []string{"surge.example.com"}, d.Strings("aliases"))
	})
	t.Run("CloudFront.9 CloudFront.10 encrypted origin traffic", func(t *testing.T) {
		vo := m.ByType(tVpcOrigin)[0]
		assert.Equal(t, "https-only", vo.Str("vpcOriginEndpointConfig.originProtocolPolicy"))
		assert.Equal(t, []string{"TLSv1.2"}, vo.Strings("vpcOriginEndpointConfig.originSslProtocols.items"))
	})
	t.Run("CloudFront.12 CloudFront.13 S3 origins are declared buckets behind OAC", func(t *testing.T) {
		oacs := m.ByType(tOAC)
		require.Len(t, oacs, 1)
		assert.Equal(t, "s3", oacs[0].Str("originAccessControlOriginType"))
		assert.Equal(t, "always", oacs[0].Str("signingBehavior"))
		assert.Equal(t, "sigv4", oacs[0].Str("signingProtocol"))
		for _, id := range []string{StaticOriginID, UploadsOriginID} {
			o := origin(t, d, id)
			assert.Equal(t, oacs[0].Name+"-id", d.Str(o+".originAccessControlId"), "origin %s", id)
			assert.False(t, d.Has(o+".s3OriginConfig.originAccessIdentity"), "no legacy OAI on %s", id)
			kind := map[string]string{StaticOriginID: storage.KindStatic, UploadsOriginID: storage.KindUploads}[id]
			want := storage.BucketName("surge-dev", kind, pulumitest.Account, pulumitest.Region) + ".s3.eu-west-1.amazonaws.com"
			assert.Equal(t, want, d.Str(o+".domainName"), "CloudFront.12: origin %s is the declared bucket", id)
		}
	})
	t.Run("routing and caching", func(t *testing.T) {
		media := behavior(t, d, "/media/*")
		assert.Equal(t, UploadsOriginID, d.Str(media+".targetOriginId"))
		assert.Equal(t, []string{fakeKeyGroupID}, d.Strings(media+".trustedKeyGroups"), "/media/* serves signed URLs only")
		assert.Equal(t, []string{"GET", "HEAD"}, d.Strings(media+".allowedMethods"), "no uploads through CloudFront")
		a := behavior(t, d, "/assets/*")
		assert.Equal(t, StaticOriginID, d.Str(a+".targetOriginId"))
		cp, ok := m.Named(tCachePol, "surge-dev-cdn-assets")
		require.True(t, ok)
		assert.Equal(t, cp.Name+"-id", d.Str(a+".cachePolicyId"), "hashed assets use the long-TTL policy")
		assert.Equal(t, 31536000.0, cp.Num("defaultTtl"))
		assert.Equal(t, "http2and3", d.Str("httpVersion"))
		assert.Equal(t, "PriceClass_100", d.Str("priceClass"))
		assert.True(t, d.Bool("isIpv6Enabled"))
		assert.Equal(t, SecurityHeadersPolicyID, d.Str("defaultCacheBehavior.responseHeadersPolicyId"))
	})
	t.Run("CloudFront.5 v2 standard logs in us-east-1 to the logs bucket", func(t *testing.T) {
		src := m.ByType(tLogSrc)
		require.Len(t, src, 1)
		assert.Equal(t, "ACCESS_LOGS", src[0].Str("logType"))
		assert.Equal(t, "arn:aws:cloudfront::123456789012:distribution/surge-dev-cdn", src[0].Str("resourceArn"))
		dst := m.ByType(tLogDst)
		require.Len(t, dst, 1)
		logs := storage.BucketName("surge-dev", storage.KindLogs, pulumitest.Account, pulumitest.Region)
		assert.Equal(t, "arn:aws:s3:::"+logs+"/cloudfront", dst[0].Str("deliveryDestinationConfiguration.destinationResourceArn"))
		require.Len(t, m.ByType(tLogDel), 1)
		assert.False(t, d.Has("loggingConfig"), "no legacy logging (needs ACLs, docs/decisions/cloudfront-logs-v2.md)")
	})
}

func TestProviders(t *testing.T) {
	m := run(t, setup{domain: true}, "surge-dev")
	east := map[string]bool{tLogSrc: true, tLogDst: true, tLogDel: true}
	for _, r := range m.Resources() {
		if !r.Custom || strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		if east[r.Type] {
			assert.True(t, r.UsesProvider("us-east-1"), "%s %s must be created in us-east-1", r.Type, r.Name)
		} else {
			assert.False(t, r.UsesProvider("us-east-1"), "%s %s belongs to the stack's region", r.Type, r.Name)
		}
	}
}

func TestEveryBucketHasOnePolicyDenyingNonTLS(t *testing.T) {
	m := run(t, setup{domain: true}, "surge-dev")
	pols := map[string][]pulumitest.Resource{}
	for _, p := range m.ByType(tPolicy) {
		pols[p.Str("bucket")] = append(pols[p.Str("bucket")], p)
	}
	buckets := m.ByType(tBucket)
	require.Len(t, buckets, 4)
	for _, b := range buckets {
		name := b.Str("bucket")
		ps := pols[name]
		require.Len(t, ps, 1, "bucket %s must have exactly one policy (S3 allows only one)", name)
		doc, err := ps[0].JSON("policy")
		require.NoError(t, err)
		assert.True(t, storage.DeniesInsecureTransport(doc, "arn:aws:s3:::"+name), "S3.5: bucket %s denies non-TLS", name)
	}
	pabs := m.ByType(tPAB)
	require.Len(t, pabs, 4, "S3.8: every bucket blocks public access")
}

func TestOACPoliciesNameOnlyThisDistribution(t *testing.T) {
	m := run(t, setup{domain: true}, "surge-dev", "surge-two")
	dists := map[string]string{}
	for _, d := range m.ByType(tDist) {
		dists[d.Name] = "arn:aws:cloudfront::123456789012:distribution/" + d.Name
	}
	require.Len(t, dists, 2)
	checked := 0
	for _, p := range m.ByType(tPolicy) {
		doc, err := p.JSON("policy")
		require.NoError(t, err)
		for _, s := range doc["Statement"].([]any) {
			st := s.(map[string]any)
			if st["Effect"] != "Allow" {
				continue
			}
			princ := st["Principal"].(map[string]any)
			if princ["Service"] != "cloudfront.amazonaws.com" {
				continue
			}
			checked++
			owner := strings.Split(p.Name, "-cdn-")[0] + "-cdn"
			cond := st["Condition"].(map[string]any)["StringEquals"].(map[string]any)
			assert.Equal(t, dists[owner], cond["AWS:SourceArn"], "policy %s grants only its own distribution", p.Name)
			assert.Equal(t, "s3:GetObject", st["Action"], "read-only grant in %s", p.Name)
		}
	}
	assert.Equal(t, 4, checked, "two OAC statements per distribution")
}

func TestOACPoliciesAreNotPublic(t *testing.T) {
	m := run(t, setup{domain: true}, "surge-dev")
	n := 0
	for _, p := range m.ByType(tPolicy) {
		if !strings.Contains(p.Name, "-cdn-") {
			continue // the storage component's own policies are tested there
		}
		n++
		doc, err := p.JSON("policy")
		require.NoError(t, err)
		for _, raw := range doc["Statement"].([]any) {
			st := raw.(map[string]any)
			if st["Effect"] != "Allow" {
				continue
			}
			assert.Equal(t, map[string]any{"Service": "cloudfront.amazonaws.com"}, st["Principal"], "S3.2/S3.3: %s allows only CloudFront", p.Name)
			cond, _ := st["Condition"].(map[string]any)
			assert.NotEmpty(t, cond["StringEquals"], "S3.2/S3.3: %s grant is conditioned on the distribution", p.Name)
		}
	}
	assert.Equal(t, 2, n, "static and uploads policies")
}

func TestNoDomainUsesDefaultCertificate(t *testing.T) {
	m := run(t, setup{domain: false}, "surge-dev")
	d := dist(t, m)
	assert.True(t, d.Bool("viewerCertificate.cloudfrontDefaultCertificate"))
	assert.False(t, d.Has("viewerCertificate.acmCertificateArn"))
	assert.Empty(t, d.Strings("aliases"))
}

func TestTwoInstancesDoNotCollide(t *testing.T) {
	m := run(t, setup{domain: true}, "surge-dev", "surge-two")
	seen := map[string]bool{}
	physical := map[string]bool{}
	for _, r := range m.Resources() {
		key := r.Type + "/" + r.Name
		assert.False(t, seen[key], "duplicate logical name %s", key)
		seen[key] = true
		for _, path := range []string{"name", "vpcOriginEndpointConfig.name"} {
			if n := r.Str(path); n != "" && r.Custom {
				pk := r.Type + "/" + n
				assert.False(t, physical[pk], "duplicate physical name %s", pk)
				physical[pk] = true
			}
		}
	}
}

func TestValidate(t *testing.T) {
	base := func() *DistributionArgs {
		return &DistributionArgs{
			USEast1:             &nilProvider{},
			AccountID:           pulumitest.Account,
			StaticBucket:        storage.Bucket{ARN: pulumi.String("x").ToStringOutput()},
			UploadsBucket:       storage.Bucket{ARN: pulumi.String("y").ToStringOutput()},
			LogsBucketARN:       pulumi.String("z"),
			LoadBalancerARN:     pulumi.String(fakeALBARN),
			LoadBalancerDNSName: pulumi.String(fakeALBDNS),
			OriginRegion:        "eu-west-1",
			WebACLARN:           pulumi.String(fakeACLARN),
			MediaKeyGroupID:     pulumi.String(fakeKeyGroupID),
		}
	}
	tests := []struct {
		name   string
		mutate func(*DistributionArgs)
		want   []string
	}{
		{"valid without domain", func(*DistributionArgs) {}, nil},
		{"valid with domain", func(a *DistributionArgs) {
			a.Aliases = []string{"surge.example.com"}
			a.CertificateARN = pulumi.String(fakeCert)
			a.OriginDomain = "origin.surge.example.com"
		}, nil},
		{"missing WAF", func(a *DistributionArgs) { a.WebACLARN = nil }, []string{"WebACLARN"}},
		{"missing us-east-1 provider", func(a *DistributionArgs) { a.USEast1 = nil }, []string{"USEast1"}},
		{"alias without certificate", func(a *DistributionArgs) { a.Aliases = []string{"surge.example.com"} }, []string{"CertificateARN is required"}},
		{"certificate without alias", func(a *DistributionArgs) { a.CertificateARN = pulumi.String(fakeCert) }, []string{"without Aliases"}},
		{"ELB DNS name as HTTPS origin", func(a *DistributionArgs) { a.OriginDomain = fakeALBDNS }, []string{"origin-name-on-certificate.md"}},
		{"origin domain equal to alias", func(a *DistributionArgs) {
			a.Aliases = []string{"surge.example.com"}
			a.CertificateARN = pulumi.String(fakeCert)
			a.OriginDomain = "surge.example.com"
		}, []string{"must differ"}},
		{"region without VPC origins", func(a *DistributionArgs) { a.OriginRegion = "us-gov-west-1" }, []string{"VPC origins are not supported"}},
		{"bad price class", func(a *DistributionArgs) { a.PriceClass = "cheap" }, []string{"PriceClass"}},
		{"bad read timeout", func(a *DistributionArgs) { a.OriginReadTimeout = 500 }, []string{"OriginReadTimeout"}},
		{"bad log format", func(a *DistributionArgs) { a.LogFormat = "xml" }, []string{"LogFormat"}},
		{"everything at once", func(a *DistributionArgs) { a.WebACLARN = nil; a.AccountID = "1"; a.PriceClass = "x" },
			[]string{"WebACLARN", "AccountID", "PriceClass"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base()
			tt.mutate(a)
			d := a.withDefaults()
			err := d.validate()
			if len(tt.want) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w, "validate() = %v, want mention of %q", err, w)
			}
		})
	}
}

func TestVPCOriginAZs(t *testing.T) {
	assert.False(t, VPCOriginAZSupported("use1-az3"))
	assert.True(t, VPCOriginAZSupported("euw1-az1"))
	assert.True(t, SupportedVPCOriginRegion("eu-west-1"))
	assert.False(t, SupportedVPCOriginRegion("cn-north-1"))
}

// nilProvider satisfies pulumi.ProviderResource for pure validation tests.
type nilProvider struct{ pulumi.ProviderResourceState }
