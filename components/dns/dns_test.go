package dns

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tCert   = "aws:acm/certificate:Certificate"
	tValid  = "aws:acm/certificateValidation:CertificateValidation"
	tRecord = "aws:route53/record:Record"
	tZone   = "aws:route53/zone:Zone"
)

type result struct {
	certs *ZoneAndCertificates
	cfARN string
	orARN string
	zone  string
	// nameServers resolved, and whether the value was known.
	nameServers      []string
	nameServersKnown bool
}

func runCerts(t *testing.T, args ZoneAndCertificatesArgs, names ...string) (*pulumitest.Mocks, []result) {
	t.Helper()
	m := pulumitest.New()
	var out []result
	err := m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		east, err := aws.NewProvider(ctx, "us-east-1", &aws.ProviderArgs{Region: pulumi.String("us-east-1")})
		if err != nil {
			return err
		}
		for _, n := range names {
			a := args
			if a.Domain != "" {
				a.USEast1 = east
			}
			c, err := NewZoneAndCertificates(ctx, n, &a)
			if err != nil {
				return err
			}
			r := result{certs: c}
			ns, known, err := pulumitest.Await(ctx.Context(), c.NameServers)
			if err != nil {
				return err
			}
			r.nameServersKnown = known
			for _, v := range asSlice(ns) {
				if str, ok := v.(string); ok {
					r.nameServers = append(r.nameServers, str)
				}
			}
			if c.Enabled {
				for dst, o := range map[*string]pulumi.StringOutput{&r.cfARN: c.CloudFrontCertificateARN, &r.orARN: c.OriginCertificateARN, &r.zone: c.ZoneID} {
					v, _, err := pulumitest.Await(ctx.Context(), o)
					if err != nil {
						return err
					}
					*dst, _ = v.(string)
				}
			}
			out = append(out, r)
		}
		return nil
	})
	require.NoError(t, err)
	return m, out
}

func TestCertificates(t *testing.T) {
	m, res := runCerts(t, ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", HostedZoneID: "Z0123456789ABC"}}, "surge-prod")
	require.Len(t, res, 1)
	r := res[0]
	assert.True(t, r.certs.Enabled)
	assert.Equal(t, "origin.surge.example.com", r.certs.OriginDomain)
	assert.Equal(t, "Z0123456789ABC", r.zone)

	certs := m.ByType(tCert)
	require.Len(t, certs, 2)
	byDomain := map[string]pulumitest.Resource{}
	for _, c := range certs {
		byDomain[c.Str("domainName")] = c
		assert.Equal(t, "DNS", c.Str("validationMethod"), "ACM.1: DNS validation renews automatically (%s)", c.Name)
		assert.Equal(t, "RSA_2048", c.Str("keyAlgorithm"), "ACM.2: %s", c.Name)
	}
	t.Run("the CloudFront certificate uses the us-east-1 provider, the ALB one the stack's", func(t *testing.T) {
		cf := byDomain["surge.example.com"]
		assert.True(t, cf.UsesProvider("us-east-1"), "CloudFront certificate must be in us-east-1")
		or := byDomain["origin.surge.example.com"]
		assert.False(t, or.UsesProvider("us-east-1"), "ALB certificate is regional")
		vals := map[string]pulumitest.Resource{}
		for _, v := range m.ByType(tValid) {
			vals[v.Name] = v
		}
		require.Len(t, vals, 2)
		assert.True(t, vals["surge-prod-cloudfront"].UsesProvider("us-east-1"), "validation of the CloudFront cert runs in us-east-1")
		assert.False(t, vals["surge-prod-origin"].UsesProvider("us-east-1"))
		for _, rec := range m.ByType(tRecord) {
			assert.False(t, rec.UsesProvider("us-east-1"), "records are global: %s", rec.Name)
		}
	})
	t.Run("validation records from domainValidationOptions and validations wait on them", func(t *testing.T) {
		recs := m.ByType(tRecord)
		require.Len(t, recs, 2)
		for _, rec := range recs {
			assert.Equal(t, "Z0123456789ABC", rec.Str("zoneId"))
			assert.Equal(t, "CNAME", rec.Str("type"))
			assert.True(t, rec.Bool("allowOverwrite"))
			assert.Equal(t, []string{"_y1.acm-validations.aws."}, rec.Strings("records"))
			assert.True(t, strings.HasPrefix(rec.Str("name"), "_x1."))
		}
		for _, v := range m.ByType(tValid) {
			assert.Len(t, v.Strings("validationRecordFqdns"), 1, v.Name)
			assert.True(t, strings.HasPrefix(v.Strings("validationRecordFqdns")[0], "_x1."), v.Name)
		}
		assert.Contains(t, r.cfARN, "surge-prod-cloudfront", "exported ARN is the validated one")
		assert.Contains(t, r.orARN, "surge-prod-origin")
	})
}

func TestZoneSources(t *testing.T) {
	t.Run("by name", func(t *testing.T) {
		m, res := runCerts(t, ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", HostedZoneName: "example.com"}}, "surge-prod")
		assert.Equal(t, "ZLOOKUPEXAMPLECOM", res[0].zone)
		var found bool
		for _, c := range m.Calls() {
			if c.Token == "aws:route53/getZone:getZone" {
				found = true
				assert.Equal(t, "example.com", c.Args["name"].StringValue())
				assert.False(t, c.Args["privateZone"].BoolValue(), "docs/decisions/route53-cloudfront-alias.md: public zone only")
			}
		}
		assert.True(t, found)
		assert.Empty(t, m.ByType(tZone))
	})
	t.Run("create", func(t *testing.T) {
		m, res := runCerts(t, ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", CreateZone: true, ZoneDelegated: true}}, "surge-prod")
		zones := m.ByType(tZone)
		require.Len(t, zones, 1)
		assert.Equal(t, "surge.example.com", zones[0].Str("name"))
		assert.Equal(t, "ZNEWSURGEPRODZONE", res[0].zone)
	})
	t.Run("existing zone: name servers are a known empty list (the stack exports them)", func(t *testing.T) {
		_, res := runCerts(t, ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", HostedZoneID: "Z0123456789ABC"}}, "surge-prod")
		assert.True(t, res[0].nameServersKnown, "an unknown stack output would show as [unknown] after `pulumi up`")
		assert.Empty(t, res[0].nameServers)
	})
	t.Run("no domain declares nothing", func(t *testing.T) {
		m, res := runCerts(t, ZoneAndCertificatesArgs{}, "surge-dev")
		assert.False(t, res[0].certs.Enabled)
		assert.Empty(t, m.ByType(tCert))
		assert.Empty(t, m.ByType(tRecord))
	})
}

func TestValidate(t *testing.T) {
	east := &fakeProvider{}
	tests := []struct {
		name string
		args ZoneAndCertificatesArgs
		want []string
	}{
		{"no domain", ZoneAndCertificatesArgs{}, nil},
		{"zone id", ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", HostedZoneID: "Z0123456789ABC"}, USEast1: east}, nil},
		{"zone name", ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", HostedZoneName: "example.com."}, USEast1: east}, nil},
		{"create", ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", CreateZone: true, ZoneDelegated: true}, USEast1: east}, nil},
		{"none of the three", ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com"}, USEast1: east}, []string{"exactly one"}},
		{"two of the three", ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", HostedZoneID: "Z0123456789ABC", CreateZone: true, ZoneDelegated: true}, USEast1: east}, []string{"exactly one"}},
		{"zone without domain", ZoneAndCertificatesArgs{Spec: Spec{HostedZoneID: "Z0123456789ABC"}}, []string{"domain: is empty but a hosted zone is configured"}},
		{"domain outside zone", ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.org", HostedZoneName: "example.com"}, USEast1: east}, []string{"does not contain domain"}},
		{"bad zone id", ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", HostedZoneID: "zone-1"}, USEast1: east}, []string{"hostedZoneId"}},
		{"missing us-east-1 provider", ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", CreateZone: true, ZoneDelegated: true}}, []string{"docs/decisions/cloudfront-certificate-region.md"}},
		{"bad domain", ZoneAndCertificatesArgs{Spec: Spec{Domain: "Surge Example", CreateZone: true, ZoneDelegated: true}, USEast1: east}, []string{"domain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.args.validate()
			if len(tt.want) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestAliasRecords(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "prod", nil, func(ctx *pulumi.Context) error {
		_, err := NewAliasRecords(ctx, "surge-prod", &AliasRecordsArgs{
			ZoneID:                   pulumi.String("Z0123456789ABC"),
			SiteDomain:               "surge.example.com",
			DistributionDomainName:   pulumi.String("d111111abcdef8.cloudfront.net"),
			DistributionHostedZoneID: pulumi.String("Z2FDTNDATAQYW2"),
			OriginDomain:             "origin.surge.example.com",
			LoadBalancerDNSName:      pulumi.String("internal-surge-prod-alb.eu-west-1.elb.amazonaws.com"),
			LoadBalancerZoneID:       pulumi.String("Z32O12XQLNTSW2"),
		})
		return err
	})
	require.NoError(t, err)
	recs := m.ByType(tRecord)
	require.Len(t, recs, 3)
	types := map[string]bool{}
	for _, r := range recs {
		if r.Str("name") != "surge.example.com" {
			continue
		}
		types[r.Str("type")] = true
		assert.Equal(t, "d111111abcdef8.cloudfront.net", r.Str("aliases[0].name"))
		assert.Equal(t, "Z2FDTNDATAQYW2", r.Str("aliases[0].zoneId"), "zone from the distribution's hostedZoneId")
		assert.False(t, r.Bool("aliases[0].evaluateTargetHealth"), "docs/decisions/route53-cloudfront-alias.md: %s", r.Name)
		v, ok := r.Get("aliases[0].evaluateTargetHealth")
		assert.True(t, ok && v.IsBool(), "evaluateTargetHealth set explicitly")
	}
	assert.Equal(t, map[string]bool{"A": true, "AAAA": true}, types)
	o, ok := m.Named(tRecord, "surge-prod-origin-a")
	require.True(t, ok)
	assert.Equal(t, "origin.surge.example.com", o.Str("name"))
	assert.Equal(t, "Z32O12XQLNTSW2", o.Str("aliases[0].zoneId"))

	t.Run("validation", func(t *testing.T) {
		err := (&AliasRecordsArgs{SiteDomain: "x", OriginDomain: "origin.x.com"}).validate()
		require.Error(t, err)
		for _, w := range []string{"ZoneID", "SiteDomain", "DistributionDomainName", "LoadBalancerDNSName"} {
			assert.Contains(t, err.Error(), w)
		}
	})
}

func TestTwoInstancesDoNotCollide(t *testing.T) {
	m, _ := runCerts(t, ZoneAndCertificatesArgs{Spec: Spec{Domain: "surge.example.com", HostedZoneID: "Z0123456789ABC"}}, "surge-a", "surge-b")
	seen := map[string]bool{}
	for _, r := range m.Resources() {
		k := r.Type + "/" + r.Name
		assert.False(t, seen[k], "duplicate %s", k)
		seen[k] = true
	}
}

type fakeProvider struct{ pulumi.ProviderResourceState }

// asSlice converts an awaited array value to []any.
func asSlice(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return nil
}
