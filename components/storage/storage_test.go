package storage

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tBucket = "aws:s3/bucketV2:BucketV2"
	tPAB    = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	tOwn    = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
	tSSE    = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
	tVer    = "aws:s3/bucketVersioningV2:BucketVersioningV2"
	tLife   = "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2"
	tCORS   = "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2"
	tPolicy = "aws:s3/bucketPolicy:BucketPolicy"
)

func validArgs() *BucketsArgs {
	return &BucketsArgs{
		AccountID:      pulumitest.Account,
		Region:         pulumitest.Region,
		AllowedOrigins: []string{"https://surge.example.com"},
	}
}

func run(t *testing.T, args *BucketsArgs, names ...string) *pulumitest.Mocks {
	t.Helper()
	m := pulumitest.New()
	err := m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		for _, n := range names {
			if _, err := NewBuckets(ctx, n, args); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	return m
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(a *BucketsArgs)
		wantErr []string
	}{
		{"valid", func(*BucketsArgs) {}, nil},
		{"bad account", func(a *BucketsArgs) { a.AccountID = "12" }, []string{"AccountID"}},
		{"bad region", func(a *BucketsArgs) { a.Region = "Europe" }, []string{"Region"}},
		{"no origins (CORS declared later)", func(a *BucketsArgs) { a.AllowedOrigins = nil }, nil},
		{"wildcard origin", func(a *BucketsArgs) { a.AllowedOrigins = []string{"*"} }, []string{"wildcards"}},
		{"origin with path", func(a *BucketsArgs) { a.AllowedOrigins = []string{"https://x.example.com/app"} }, []string{"no path"}},
		{"plain http origin", func(a *BucketsArgs) { a.AllowedOrigins = []string{"http://x.example.com"} }, []string{"https"}},
		{"negative days", func(a *BucketsArgs) { a.LogRetentionDays = -1 }, []string{"LogRetentionDays"}},
		{"every problem at once", func(a *BucketsArgs) { a.AccountID = ""; a.Region = ""; a.AllowedOrigins = []string{"*"} },
			[]string{"AccountID", "Region", "AllowedOrigins"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := validArgs()
			tt.mutate(a)
			err := a.validate()
			if len(tt.wantErr) == 0 {
				assert.NoError(t, err, "validate(%+v)", a)
				return
			}
			require.Error(t, err, "validate(%+v)", a)
			for _, w := range tt.wantErr {
				assert.Contains(t, err.Error(), w, "validate(%+v) = %v, want mention of %q", a, err, w)
			}
		})
	}
	t.Run("constructor rejects invalid args without declaring anything", func(t *testing.T) {
		m := pulumitest.New()
		err := m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
			_, err := NewBuckets(ctx, "surge-dev", &BucketsArgs{})
			return err
		})
		require.Error(t, err)
		assert.Empty(t, m.ByType(tBucket))
	})
}

func TestBuckets(t *testing.T) {
	m := run(t, validArgs(), "surge-dev")
	buckets := m.ByType(tBucket)
	require.Len(t, buckets, 4)
	for _, b := range buckets {
		name := b.Str("bucket")
		assert.LessOrEqual(t, len(name), 63, "bucket %s name length", name)
		assert.Contains(t, name, pulumitest.Account, "bucket %s name carries the account for global uniqueness", name)
	}

	t.Run("S3.8 every bucket blocks all public access", func(t *testing.T) {
		pabs := m.ByType(tPAB)
		require.Len(t, pabs, 4)
		for _, p := range pabs {
			for _, f := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
				assert.True(t, p.Bool(f), "S3.8: %s %s", p.Name, f)
			}
		}
	})
	t.Run("S3.12 ACLs disabled on every bucket", func(t *testing.T) {
		own := m.ByType(tOwn)
		require.Len(t, own, 4)
		for _, o := range own {
			assert.Equal(t, "BucketOwnerEnforced", o.Str("rule.objectOwnership"), "S3.12: %s", o.Name)
		}
	})
	t.Run("S3.4 default encryption SSE-S3, logs bucket never KMS (ELB.5)", func(t *testing.T) {
		sse := m.ByType(tSSE)
		require.Len(t, sse, 4)
		for _, s := range sse {
			assert.Equal(t, "AES256", s.Str("rules[0].applyServerSideEncryptionByDefault.sseAlgorithm"), "encryption of %s", s.Name)
		}
	})
	t.Run("S3.14 versioning on uploads and artifacts", func(t *testing.T) {
		var names []string
		for _, v := range m.ByType(tVer) {
			assert.Equal(t, "Enabled", v.Str("versioningConfiguration.status"), v.Name)
			names = append(names, v.Name)
		}
		assert.ElementsMatch(t, []string{"surge-dev-uploads", "surge-dev-artifacts"}, names)
	})
	t.Run("S3.13/S3.10 lifecycle rules", func(t *testing.T) {
		life := m.ByType(tLife)
		require.Len(t, life, 4)
		for _, l := range life {
			ids := map[string]pulumitest.Resource{}
			n := l.Len("rules")
			for i := 0; i < n; i++ {
				ids[l.Str(ruleKey(i, "id"))] = l
				assert.Equal(t, "Enabled", l.Str(ruleKey(i, "status")), l.Name)
			}
			assert.Contains(t, ids, "abort-incomplete-multipart-uploads", l.Name)
			switch l.Name {
			case "surge-dev-uploads", "surge-dev-artifacts":
				assert.Contains(t, ids, "expire-noncurrent-versions", "S3.10 versioned bucket %s", l.Name)
				assert.Equal(t, 30.0, l.Num("rules[1].noncurrentVersionExpiration.noncurrentDays"), l.Name)
			case "surge-dev-logs":
				assert.Contains(t, ids, "expire-logs", l.Name)
				assert.Equal(t, 90.0, l.Num("rules[1].expiration.days"), "log retention default")
			}
		}
	})
	t.Run("CORS on uploads only, from the site origin only", func(t *testing.T) {
		cors := m.ByType(tCORS)
		require.Len(t, cors, 1)
		c := cors[0]
		assert.Equal(t, "surge-dev-uploads", c.Name)
		assert.Equal(t, []string{"https://surge.example.com"}, c.Strings("corsRules[0].allowedOrigins"))
		assert.Equal(t, []string{"POST"}, c.Strings("corsRules[0].allowedMethods"), "presigned POSTs only")
		assert.NotContains(t, c.Strings("corsRules[0].allowedHeaders"), "*", "headers are limited")
		assert.Equal(t, []string{"ETag"}, c.Strings("corsRules[0].exposeHeaders"))
		assert.Equal(t, 3000.0, c.Num("corsRules[0].maxAgeSeconds"))
	})
	t.Run("S3.5 the policies written here deny non-TLS; static and uploads are left to the CDN", func(t *testing.T) {
		pols := m.ByType(tPolicy)
		var names []string
		for _, p := range pols {
			names = append(names, p.Name)
			doc, err := p.JSON("policy")
			require.NoError(t, err)
			assert.True(t, DeniesInsecureTransport(doc, "arn:aws:s3:::"+BucketName("surge-dev", strings.TrimPrefix(p.Name, "surge-dev-"), pulumitest.Account, pulumitest.Region)), "S3.5: %s", p.Name)
		}
		assert.ElementsMatch(t, []string{"surge-dev-artifacts", "surge-dev-logs"}, names)
	})
	t.Run("S3.6 logs bucket grants only ELB and log delivery, scoped to prefixes", func(t *testing.T) {
		p, ok := m.Named(tPolicy, "surge-dev-logs")
		require.True(t, ok)
		doc, err := p.JSON("policy")
		require.NoError(t, err)
		stmts := doc["Statement"].([]any)
		require.Len(t, stmts, 5)
		s3log := stmts[1].(map[string]any)
		assert.Equal(t, map[string]any{"Service": "logging.s3.amazonaws.com"}, s3log["Principal"])
		assert.Len(t, s3log["Condition"].(map[string]any)["ArnLike"].(map[string]any)["aws:SourceArn"], 3)
		alb := stmts[2].(map[string]any)
		assert.Equal(t, map[string]any{"AWS": "arn:aws:iam::156460612806:root"}, alb["Principal"], "eu-west-1 predates Aug 2022: regional ELB account")
		// The load balancer component writes under alb/<name>/AWSLogs/<account>/.
		res := alb["Resource"].(string)
		assert.Equal(t, "arn:aws:s3:::"+BucketName("surge-dev", KindLogs, pulumitest.Account, pulumitest.Region)+"/alb/*AWSLogs/"+pulumitest.Account+"/*", res)
		assert.True(t, wildcardMatch(res, "arn:aws:s3:::"+BucketName("surge-dev", KindLogs, pulumitest.Account, pulumitest.Region)+"/alb/surge-dev-alb/AWSLogs/"+pulumitest.Account+"/elasticloadbalancing/eu-west-1/x.log.gz"), "ALB log key with a name prefix is granted")
	})
	// The CloudWatch Logs "Logs sent to Amazon S3" page (VendedLogsDocURL)
	// requires both statements; a missing one is appended by AWS outside
	// Pulumi and dropped again by the next up.
	t.Run("CloudFront v2 log delivery: the documented ACL check and write statements", func(t *testing.T) {
		p, ok := m.Named(tPolicy, "surge-dev-logs")
		require.True(t, ok)
		doc, err := p.JSON("policy")
		require.NoError(t, err)
		bucketARN := "arn:aws:s3:::" + BucketName("surge-dev", KindLogs, pulumitest.Account, pulumitest.Region)
		bySid := map[string]map[string]any{}
		for _, raw := range doc["Statement"].([]any) {
			st := raw.(map[string]any)
			bySid[st["Sid"].(string)] = st
		}
		source := map[string]any{"aws:SourceArn": []any{"arn:aws:logs:us-east-1:" + pulumitest.Account + ":*"}}
		account := []any{pulumitest.Account}
		assert.Equal(t, map[string]any{
			"Sid": "AWSLogDeliveryAclCheck", "Effect": "Allow",
			"Principal": map[string]any{"Service": "delivery.logs.amazonaws.com"},
			"Action":    []any{"s3:GetBucketAcl", "s3:ListBucket"},
			"Resource":  bucketARN,
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": account}, "ArnLike": source},
		}, bySid["AWSLogDeliveryAclCheck"])
		assert.Equal(t, map[string]any{
			"Sid": "AWSLogDeliveryWrite", "Effect": "Allow",
			"Principal": map[string]any{"Service": "delivery.logs.amazonaws.com"},
			"Action":    "s3:PutObject",
			"Resource":  bucketARN + "/" + CloudFrontLogPrefix + "/*",
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": account, "s3:x-amz-acl": "bucket-owner-full-control"},
				"ArnLike":      source,
			},
		}, bySid["AWSLogDeliveryWrite"])
	})
	t.Run("S3.2 S3.3 no public read or write: every Allow names a service or account principal", func(t *testing.T) {
		for _, p := range m.ByType(tPolicy) {
			doc, err := p.JSON("policy")
			require.NoError(t, err)
			for _, raw := range doc["Statement"].([]any) {
				st := raw.(map[string]any)
				if st["Effect"] != "Allow" {
					continue
				}
				princ, ok := st["Principal"].(map[string]any)
				require.True(t, ok, "S3.2/S3.3: %s statement %v has a wildcard principal", p.Name, st["Sid"])
				for _, v := range princ {
					assert.NotEqual(t, "*", v, "S3.2/S3.3: %s statement %v", p.Name, st["Sid"])
				}
			}
		}
	})
	t.Run("bucket policies wait for the public access block", func(t *testing.T) {
		for _, p := range m.ByType(tPolicy) {
			assert.True(t, p.DependsOn(tPAB, p.Name), "%s must be attached after its bucket's public access block", p.Name)
		}
	})
	t.Run("S3.9 server access logs of static, uploads and artifacts go to the logs bucket", func(t *testing.T) {
		logs := BucketName("surge-dev", KindLogs, pulumitest.Account, pulumitest.Region)
		var names []string
		for _, l := range m.ByType("aws:s3/bucketLoggingV2:BucketLoggingV2") {
			names = append(names, l.Name)
			assert.Equal(t, logs, l.Str("targetBucket"), l.Name)
			assert.True(t, strings.HasPrefix(l.Str("targetPrefix"), "s3/"), l.Name)
		}
		assert.ElementsMatch(t, []string{"surge-dev-static", "surge-dev-uploads", "surge-dev-artifacts"}, names)
	})
	t.Run("no explicit provider: buckets live in the stack's region", func(t *testing.T) {
		for _, r := range m.Resources() {
			if r.Custom {
				assert.Empty(t, r.Provider, "%s %s must use the stack's provider", r.Type, r.Name)
			}
		}
	})
}

// wildcardMatch is IAM's "*" matching (any run of characters, "/" included).
func wildcardMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

func ruleKey(i int, field string) string {
	return "rules[" + string(rune('0'+i)) + "]." + field
}

func TestELBLogPrincipal(t *testing.T) {
	tests := []struct {
		region string
		want   map[string]any
	}{
		{"us-east-1", map[string]any{"AWS": "arn:aws:iam::127311923021:root"}},
		{"eu-central-1", map[string]any{"AWS": "arn:aws:iam::054676820928:root"}},
		{"eu-central-2", map[string]any{"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}},
		{"ap-southeast-4", map[string]any{"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ELBLogPrincipal(tt.region), "ELBLogPrincipal(%q)", tt.region)
	}
}

func TestAllowUploadsFromLaterOrigin(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		a := validArgs()
		a.AllowedOrigins = nil
		b, err := NewBuckets(ctx, "surge-dev", a)
		if err != nil {
			return err
		}
		// Stands in for the distribution's domain name output.
		domain := pulumi.String("d111111abcdef8.cloudfront.net").ToStringOutput()
		if err := b.AllowUploadsFrom(ctx, pulumi.StringArray{pulumi.Sprintf("https://%s", domain)}); err != nil {
			return err
		}
		if err := b.AllowUploadsFrom(ctx, pulumi.StringArray{pulumi.String("https://x.example.com")}); err == nil {
			t.Error("second AllowUploadsFrom must fail: one CORS configuration per bucket")
		}
		return nil
	})
	require.NoError(t, err)
	cors := m.ByType(tCORS)
	require.Len(t, cors, 1)
	assert.Equal(t, []string{"https://d111111abcdef8.cloudfront.net"}, cors[0].Strings("corsRules[0].allowedOrigins"))
	assert.Equal(t, BucketName("surge-dev", KindUploads, pulumitest.Account, pulumitest.Region), cors[0].Str("bucket"))

	t.Run("not allowed when AllowedOrigins already declared the rule", func(t *testing.T) {
		m := pulumitest.New()
		err := m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
			b, err := NewBuckets(ctx, "surge-dev", validArgs())
			if err != nil {
				return err
			}
			return b.AllowUploadsFrom(ctx, pulumi.StringArray{pulumi.String("https://x.example.com")})
		})
		require.Error(t, err)
	})
}

func TestTwoInstancesDoNotCollide(t *testing.T) {
	m := run(t, validArgs(), "surge-dev", "surge-staging")
	seenLogical := map[string]bool{}
	for _, r := range m.Resources() {
		key := r.Type + "/" + r.Name
		assert.False(t, seenLogical[key], "duplicate logical name %s", key)
		seenLogical[key] = true
	}
	seenPhysical := map[string]bool{}
	for _, b := range m.ByType(tBucket) {
		assert.False(t, seenPhysical[b.Str("bucket")], "duplicate bucket name %s", b.Str("bucket"))
		seenPhysical[b.Str("bucket")] = true
	}
	assert.Len(t, seenPhysical, 8)
}
