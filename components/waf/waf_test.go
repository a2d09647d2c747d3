package waf

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tACL     = "aws:wafv2/webAcl:WebAcl"
	tLogCfg  = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
	tLogGrp  = "aws:cloudwatch/logGroup:LogGroup"
	tAssocia = "aws:wafv2/webAclAssociation:WebAclAssociation"
)

func run(t *testing.T, args WebACLArgs, names ...string) *pulumitest.Mocks {
	t.Helper()
	m := pulumitest.New()
	err := m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		east, err := aws.NewProvider(ctx, "us-east-1", &aws.ProviderArgs{Region: pulumi.String("us-east-1")})
		if err != nil {
			return err
		}
		for _, n := range names {
			a := args
			a.USEast1 = east
			if _, err := NewWebACL(ctx, n, &a); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	return m
}

func acl(t *testing.T, m *pulumitest.Mocks) pulumitest.Resource {
	t.Helper()
	acls := m.ByType(tACL)
	require.Len(t, acls, 1)
	return acls[0]
}

func rule(t *testing.T, a pulumitest.Resource, name string) string {
	t.Helper()
	for i := 0; i < a.Len("rules"); i++ {
		p := fmt.Sprintf("rules[%d]", i)
		if a.Str(p+".name") == name {
			return p
		}
	}
	t.Fatalf("no rule %s", name)
	return ""
}

func TestWebACL(t *testing.T) {
	m := run(t, WebACLArgs{}, "surge-prod")
	a := acl(t, m)

	t.Run("PITFALLS 1 CLOUDFRONT scope through the us-east-1 provider", func(t *testing.T) {
		assert.Equal(t, "CLOUDFRONT", a.Str("scope"))
		for _, r := range m.Resources() {
			if r.Custom && !strings.HasPrefix(r.Type, "pulumi:providers:") {
				assert.True(t, r.UsesProvider("us-east-1"), "%s %s must be in us-east-1", r.Type, r.Name)
			}
		}
		assert.Empty(t, m.ByType(tAssocia), "PITFALLS 2: no WebAclAssociation for CloudFront")
	})
	t.Run("WAF.10 managed rule groups present, default allow", func(t *testing.T) {
		assert.True(t, a.Has("defaultAction.allow"))
		for _, g := range ManagedRuleGroups {
			p := rule(t, a, g)
			assert.Equal(t, g, a.Str(p+".statement.managedRuleGroupStatement.name"))
			assert.Equal(t, "AWS", a.Str(p+".statement.managedRuleGroupStatement.vendorName"))
			assert.True(t, a.Has(p+".overrideAction.none"), "block mode: %s keeps its own actions", g)
		}
	})
	t.Run("CKV_AWS_192 Log4j protection: AWSManagedRulesKnownBadInputsRuleSet is in the ACL", func(t *testing.T) {
		p := rule(t, a, "AWSManagedRulesKnownBadInputsRuleSet")
		assert.Equal(t, "AWSManagedRulesKnownBadInputsRuleSet", a.Str(p+".statement.managedRuleGroupStatement.name"), "CKV_AWS_192")
		assert.Equal(t, "AWS", a.Str(p+".statement.managedRuleGroupStatement.vendorName"), "CKV_AWS_192")
	})
	t.Run("WAF.12 metrics on every rule and the ACL, unique priorities, every rule has an action", func(t *testing.T) {
		seen := map[float64]bool{}
		metrics := map[string]bool{}
		n := a.Len("rules")
		require.Equal(t, 6, n)
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("rules[%d]", i)
			assert.True(t, a.Bool(p+".visibilityConfig.cloudwatchMetricsEnabled"), "WAF.12: %s", a.Str(p+".name"))
			assert.True(t, a.Bool(p+".visibilityConfig.sampledRequestsEnabled"), a.Str(p+".name"))
			mn := a.Str(p + ".visibilityConfig.metricName")
			assert.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`), mn)
			assert.False(t, metrics[mn], "duplicate metric name %s", mn)
			metrics[mn] = true
			prio := a.Num(p + ".priority")
			assert.False(t, seen[prio], "duplicate priority %v", prio)
			seen[prio] = true
			assert.True(t, a.Has(p+".action") || a.Has(p+".overrideAction"), "CKV_AWS_342: %s has an action", a.Str(p+".name"))
		}
		assert.True(t, a.Bool("visibilityConfig.cloudwatchMetricsEnabled"))
		assert.Equal(t, "surge-prod-edge", a.Str("visibilityConfig.metricName"))
	})
	t.Run("rate limits: per IP and tighter on enrollment paths", func(t *testing.T) {
		all := rule(t, a, "rate-per-ip")
		assert.Equal(t, 2000.0, a.Num(all+".statement.rateBasedStatement.limit"))
		assert.Equal(t, "IP", a.Str(all+".statement.rateBasedStatement.aggregateKeyType"))
		assert.Equal(t, 300.0, a.Num(all+".statement.rateBasedStatement.evaluationWindowSec"))
		assert.True(t, a.Has(all+".action.block"))

		enr := rule(t, a, "rate-enrollment")
		assert.Equal(t, 100.0, a.Num(enr+".statement.rateBasedStatement.limit"))
		re := a.Str(enr + ".statement.rateBasedStatement.scopeDownStatement.regexMatchStatement.regexString")
		assert.Equal(t, EnrollmentPathRegex, re)
		assert.True(t, a.Has(enr+".statement.rateBasedStatement.scopeDownStatement.regexMatchStatement.fieldToMatch.uriPath"))
		rx := regexp.MustCompile(re)
		for path, want := range map[string]bool{
			"/api/courses/cs101/queue": true, "/api/login": true, "/api/courses/cs101/queue/": true,
			"/api/courses": false, "/api/courses/cs101": false, "/assets/app.js": false, "/api/login/x": false,
		} {
			assert.Equal(t, want, rx.MatchString(path), "enrollment scope-down on %s", path)
		}
	})
	t.Run("WAF.11 logging to aws-waf-logs- group with redacted headers (PITFALLS 10)", func(t *testing.T) {
		groups := m.ByType(tLogGrp)
		require.Len(t, groups, 1)
		g := groups[0]
		assert.True(t, strings.HasPrefix(g.Str("name"), LogGroupPrefix), "log group %q", g.Str("name"))
		assert.Equal(t, 365.0, g.Num("retentionInDays"), "CloudWatch.16")
		cfgs := m.ByType(tLogCfg)
		require.Len(t, cfgs, 1)
		cfg := cfgs[0]
		assert.Equal(t, []string{pulumitest.FakeARN("aws:cloudwatch/logGroup:LogGroup", g.Name)}, cfg.Strings("logDestinationConfigs"))
		var redacted []string
		for i := 0; i < cfg.Len("redactedFields"); i++ {
			redacted = append(redacted, cfg.Str(fmt.Sprintf("redactedFields[%d].singleHeader.name", i)))
		}
		assert.ElementsMatch(t, []string{"cookie", "authorization"}, redacted)
	})
}

func TestCountMode(t *testing.T) {
	m := run(t, WebACLArgs{Mode: ModeCount, RateLimit: 500, EnrollmentRateLimit: 20, EvaluationWindowSec: 60}, "surge-dev")
	a := acl(t, m)
	for _, g := range ManagedRuleGroups {
		assert.True(t, a.Has(rule(t, a, g)+".overrideAction.count"), "count mode: %s", g)
	}
	for _, r := range []string{"rate-per-ip", "rate-enrollment"} {
		p := rule(t, a, r)
		assert.True(t, a.Has(p+".action.count"), "count mode: %s", r)
		assert.Equal(t, 60.0, a.Num(p+".statement.rateBasedStatement.evaluationWindowSec"))
	}
	assert.Equal(t, 500.0, a.Num(rule(t, a, "rate-per-ip")+".statement.rateBasedStatement.limit"))
	assert.Equal(t, 20.0, a.Num(rule(t, a, "rate-enrollment")+".statement.rateBasedStatement.limit"))
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		args WebACLArgs
		want []string
	}{
		{"defaults", WebACLArgs{}, nil},
		{"unknown mode", WebACLArgs{Mode: "monitor"}, []string{"Mode"}},
		{"rate below AWS minimum", WebACLArgs{RateLimit: 5, EnrollmentRateLimit: 5}, []string{"RateLimit 5", "EnrollmentRateLimit 5"}},
		{"enrollment looser than global", WebACLArgs{RateLimit: 100, EnrollmentRateLimit: 200}, []string{"must not exceed"}},
		{"bad window", WebACLArgs{EvaluationWindowSec: 30}, []string{"EvaluationWindowSec"}},
		{"bad retention", WebACLArgs{LogRetentionDays: 42}, []string{"LogRetentionDays"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.args
			a.USEast1 = &fakeProvider{}
			d := a.withDefaults()
			err := d.validate()
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
	t.Run("missing provider", func(t *testing.T) {
		d := (&WebACLArgs{}).withDefaults()
		err := d.validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "PITFALLS 1")
	})
}

func TestTwoInstancesDoNotCollide(t *testing.T) {
	m := run(t, WebACLArgs{}, "surge-dev", "surge-prod")
	seen := map[string]bool{}
	for _, r := range m.Resources() {
		k := r.Type + "/" + r.Name
		assert.False(t, seen[k], "duplicate %s", k)
		seen[k] = true
	}
	names := map[string]bool{}
	for _, a := range append(m.ByType(tACL), m.ByType(tLogGrp)...) {
		assert.False(t, names[a.Str("name")], "duplicate physical name %s", a.Str("name"))
		names[a.Str("name")] = true
	}
}

type fakeProvider struct{ pulumi.ProviderResourceState }
