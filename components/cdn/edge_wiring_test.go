package cdn

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/dns"
	"github.com/surge-dev/surge/components/monitoring"
	"github.com/surge-dev/surge/components/storage"
	"github.com/surge-dev/surge/components/waf"
	"github.com/surge-dev/surge/internal/pulumitest"
)

// edgeProgram wires the edge components the way stacks/ should: dns
// certificates -> (loadbalancer) -> waf -> storage -> cdn -> dns aliases ->
// monitoring. The load balancer, ASG, database and cache are stand-ins.
func edgeProgram(domain string) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		name := "surge-" + ctx.Stack()
		east, err := aws.NewProvider(ctx, "us-east-1", &aws.ProviderArgs{Region: pulumi.String("us-east-1")})
		if err != nil {
			return err
		}
		certs, err := dns.NewZoneAndCertificates(ctx, name, &dns.ZoneAndCertificatesArgs{Spec: dns.Spec{Domain: domain, HostedZoneName: zoneOf(domain)}, USEast1: east})
		if err != nil {
			return err
		}
		acl, err := waf.NewWebACL(ctx, name, &waf.WebACLArgs{USEast1: east})
		if err != nil {
			return err
		}
		var origins []string
		if domain != "" {
			origins = []string{"https://" + domain}
		}
		b, err := storage.NewBuckets(ctx, name, &storage.BucketsArgs{AccountID: pulumitest.Account, Region: pulumitest.Region, AllowedOrigins: origins})
		if err != nil {
			return err
		}
		args := &DistributionArgs{
			USEast1: east, AccountID: pulumitest.Account,
			StaticBucket: b.Static, UploadsBucket: b.Uploads, LogsBucketARN: b.Logs.ARN,
			LoadBalancerARN: pulumi.String(fakeALBARN), LoadBalancerDNSName: pulumi.String(fakeALBDNS),
			OriginRegion: pulumitest.Region, WebACLARN: acl.ARN, MediaKeyGroupID: pulumi.String(fakeKeyGroupID),
		}
		if certs.Enabled {
			args.Aliases = []string{certs.SiteDomain}
			args.CertificateARN = certs.CloudFrontCertificateARN
			args.OriginDomain = certs.OriginDomain
		}
		d, err := NewDistribution(ctx, name, args)
		if err != nil {
			return err
		}
		if !certs.Enabled {
			// The only origin is the distribution's own name.
			if err := b.AllowUploadsFrom(ctx, pulumi.StringArray{pulumi.Sprintf("https://%s", d.DomainName)}); err != nil {
				return err
			}
		}
		if certs.Enabled {
			if _, err := dns.NewAliasRecords(ctx, name, &dns.AliasRecordsArgs{
				ZoneID: certs.ZoneID, SiteDomain: certs.SiteDomain,
				DistributionDomainName: d.DomainName, DistributionHostedZoneID: d.HostedZoneID,
				OriginDomain: certs.OriginDomain, LoadBalancerDNSName: pulumi.String(fakeALBDNS), LoadBalancerZoneID: pulumi.String("Z32O12XQLNTSW2"),
			}); err != nil {
				return err
			}
		}
		_, err = monitoring.NewAlarms(ctx, name, &monitoring.AlarmsArgs{
			USEast1: east, AccountID: pulumitest.Account, Region: pulumitest.Region,
			LoadBalancerARNSuffix: pulumi.String("app/lb/1"), TargetGroupARNSuffix: pulumi.String("targetgroup/tg/2"),
			AutoScalingGroupName: pulumi.String("asg"), MinInstances: 1,
			DBInstanceID: pulumi.String("db"), CacheReplicationGroupID: pulumi.String("cache"), CacheNodes: 1,
			DistributionID: d.DistributionID, WebACLMetricName: acl.MetricName,
		})
		return err
	}
}

func zoneOf(domain string) string {
	if i := strings.IndexByte(domain, '.'); i > 0 {
		return domain[i+1:]
	}
	return ""
}

// usEast1Types are the only resources of the edge that must live in
// us-east-1; everything else belongs to the stack's region.
var usEast1Types = map[string]bool{
	"aws:wafv2/webAcl:WebAcl": true,
	"aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": true,
	"aws:cloudwatch/logDeliverySource:LogDeliverySource":              true,
	"aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination":    true,
	"aws:cloudwatch/logDelivery:LogDelivery":                          true,
}

func TestEdgeWiring(t *testing.T) {
	for _, tc := range []struct{ stack, domain string }{{"prod", "surge.example.com"}, {"dev", ""}} {
		t.Run(tc.stack, func(t *testing.T) {
			m := pulumitest.New()
			require.NoError(t, m.Run(t, tc.stack, nil, edgeProgram(tc.domain)))

			acls := m.ByType("aws:wafv2/webAcl:WebAcl")
			require.Len(t, acls, 1)
			assert.True(t, acls[0].UsesProvider("us-east-1"), "docs/decisions/waf-in-us-east-1.md: web ACL in us-east-1")
			d := dist(t, m)
			assert.Equal(t, pulumitest.FakeARN("aws:wafv2/webAcl:WebAcl", acls[0].Name), d.Str("webAclId"), "CloudFront.6: the ACL is attached by ARN")

			for _, r := range m.Resources() {
				if !r.Custom || strings.HasPrefix(r.Type, "pulumi:providers:") {
					continue
				}
				want := usEast1Types[r.Type]
				switch {
				case r.Type == "aws:acm/certificate:Certificate" || r.Type == "aws:acm/certificateValidation:CertificateValidation":
					want = strings.HasSuffix(r.Name, "-cloudfront") // docs/decisions/cloudfront-certificate-region.md
				case r.Type == "aws:cloudwatch/logGroup:LogGroup":
					want = strings.HasPrefix(r.Str("name"), waf.LogGroupPrefix) // docs/decisions/waf-log-group-name.md
				case r.Type == "aws:cloudwatch/metricAlarm:MetricAlarm":
					ns := r.Str("namespace")
					want = ns == "AWS/CloudFront" || ns == "AWS/WAFV2"
				case r.Type == "aws:sns/topic:Topic" || r.Type == "aws:kms/key:Key" || r.Type == "aws:sns/topicSubscription:TopicSubscription":
					want = strings.Contains(r.Name, "edge-alarms")
				}
				assert.Equal(t, want, r.UsesProvider("us-east-1"), "%s %s: us-east-1 = %v", r.Type, r.Name, want)
			}

			cors := m.ByType("aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2")
			require.Len(t, cors, 1)
			wantOrigin := "https://" + tc.domain
			if tc.domain == "" {
				wantOrigin = "https://d111111abcdef8.cloudfront.net"
			}
			assert.Equal(t, []string{wantOrigin}, cors[0].Strings("corsRules[0].allowedOrigins"), "uploads CORS: the site's origin only")

			if tc.domain == "" {
				assert.True(t, d.Bool("viewerCertificate.cloudfrontDefaultCertificate"), "no domain: default certificate")
				assert.Empty(t, m.ByType("aws:acm/certificate:Certificate"))
				assert.Empty(t, m.ByType("aws:route53/record:Record"))
				vo := m.ByType(tVpcOrigin)[0]
				assert.Equal(t, "http-only", vo.Str("vpcOriginEndpointConfig.originProtocolPolicy"))
				return
			}
			certs := m.ByType("aws:acm/certificate:Certificate")
			require.Len(t, certs, 2)
			var cfCert string
			for _, c := range certs {
				if c.UsesProvider("us-east-1") {
					assert.Equal(t, tc.domain, c.Str("domainName"))
					cfCert = pulumitest.FakeARN("aws:acm/certificate:Certificate", c.Name)
				}
			}
			assert.Equal(t, cfCert, d.Str("viewerCertificate.acmCertificateArn"), "the distribution uses the us-east-1 certificate")
			assert.Equal(t, []string{tc.domain}, d.Strings("aliases"))
			for _, r := range m.ByType("aws:route53/record:Record") {
				if r.Str("name") == tc.domain {
					assert.Equal(t, "Z2FDTNDATAQYW2", r.Str("aliases[0].zoneId"), "docs/decisions/route53-cloudfront-alias.md: zone from the distribution")
				}
			}
		})
	}
}
