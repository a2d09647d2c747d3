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
	tIPSet   = "aws:wafv2/ipSet:IpSet"
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

	t.Run("CLOUDFRONT scope through the us-east-1 provider", func(t *testing.T) {
		assert.Equal(t, "CLOUDFRONT", a.Str("scope"))
		for _, r := range m.Resources() {
			if r.Custom && !strings.HasPrefix(r.Type, "pulumi:providers:") {
				assert.True(t, r.UsesProvider("us-east-1"), "%s %s must be in us-east-1", r.Type, r.Name)
			}
		}
		assert.Empty(t, m.ByType(tAssocia), "docs/decisions/waf-through-distribution.md: no WebAclAssociation for CloudFront")
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
		require.Equal(t, 8, n)
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
	t.Run("REL05-BP02 rate limits: per IP, login per IP, queue join per session, POST only", func(t *testing.T) {
		rateRules := 0
		for i := 0; i < a.Len("rules"); i++ {
			if a.Has(fmt.Sprintf("rules[%d].statement.rateBasedStatement", i)) {
				rateRules++
			}
		}
		assert.Equal(t, 3, rateRules, "REL05-BP02: three rate rules (WAF allows at most 10 per web ACL)")
		all := rule(t, a, "rate-per-ip")
		assert.Equal(t, 2000.0, a.Num(all+".statement.rateBasedStatement.limit"))
		assert.Equal(t, "IP", a.Str(all+".statement.rateBasedStatement.aggregateKeyType"))
		assert.Equal(t, 300.0, a.Num(all+".statement.rateBasedStatement.evaluationWindowSec"))
		assert.True(t, a.Has(all+".action.block"))
		assert.False(t, a.Has(all+".statement.rateBasedStatement.scopeDownStatement"), "no TrustedCIDRs: rate-per-ip counts every source")

		for _, tc := range []struct {
			rule, regex, keyType string
			match, noMatch       []string
		}{
			{"rate-login", LoginPathRegex, "IP",
				[]string{"/api/login", "/api/login/"},
				[]string{"/api/login/x", "/api/courses/cs101/queue", "/assets/app.js"}},
			{"rate-queue-join", QueueJoinPathRegex, "CUSTOM_KEYS",
				[]string{"/api/courses/cs101/queue", "/api/courses/cs101/queue/"},
				[]string{"/api/courses", "/api/courses/cs101", "/api/login", "/api/courses/a/b/queue"}},
		} {
			p := rule(t, a, tc.rule)
			rb := p + ".statement.rateBasedStatement"
			assert.Equal(t, 300.0, a.Num(rb+".limit"), tc.rule)
			assert.Equal(t, 300.0, a.Num(rb+".evaluationWindowSec"), tc.rule)
			assert.Equal(t, tc.keyType, a.Str(rb+".aggregateKeyType"), tc.rule)
			assert.True(t, a.Has(p+".action.block"), tc.rule)
			and := rb + ".scopeDownStatement.andStatement.statements"
			require.Equal(t, 2, a.Len(and), "%s: method AND path, no trusted exclusion without TrustedCIDRs", tc.rule)
			// Only state-changing POSTs count, never the polling GETs.
			bm := and + "[0].byteMatchStatement"
			assert.True(t, a.Has(bm+".fieldToMatch.method"), "%s inspects the method", tc.rule)
			assert.Equal(t, "POST", a.Str(bm+".searchString"), tc.rule)
			assert.Equal(t, "EXACTLY", a.Str(bm+".positionalConstraint"), tc.rule)
			assert.Equal(t, "NONE", a.Str(bm+".textTransformations[0].type"), tc.rule)
			rm := and + "[1].regexMatchStatement"
			assert.Equal(t, tc.regex, a.Str(rm+".regexString"), tc.rule)
			assert.True(t, a.Has(rm+".fieldToMatch.uriPath"), tc.rule)
			assert.Equal(t, "URL_DECODE", a.Str(rm+".textTransformations[0].type"), tc.rule)
			assert.Equal(t, "LOWERCASE", a.Str(rm+".textTransformations[1].type"), tc.rule)
			rx := regexp.MustCompile(tc.regex)
			for _, path := range tc.match {
				assert.True(t, rx.MatchString(path), "%s scope-down must match %s", tc.rule, path)
			}
			for _, path := range tc.noMatch {
				assert.False(t, rx.MatchString(path), "%s scope-down must not match %s", tc.rule, path)
			}
		}

		// Queue joins: one budget per session so a campus NAT is not one bucket.
		qj := rule(t, a, "rate-queue-join") + ".statement.rateBasedStatement"
		require.Equal(t, 1, a.Len(qj+".customKeys"), "session cookie is the only key")
		assert.Equal(t, SessionCookie, a.Str(qj+".customKeys[0].cookie.name"))
		assert.Equal(t, "surge_session", SessionCookie, "must match app/internal/httpapi cookieName")
		assert.Equal(t, "NONE", a.Str(qj+".customKeys[0].cookie.textTransformations[0].type"), "opaque token: no case folding")
		assert.False(t, a.Has(qj+".customKeys[0].ip"), "no IP key")
		assert.Empty(t, m.ByType(tIPSet), "no IP set without TrustedCIDRs")
	})
	t.Run("rule statements fit the provider schema nesting depth", func(t *testing.T) {
		for i := 0; i < a.Len("rules"); i++ {
			p := fmt.Sprintf("rules[%d]", i)
			v, ok := a.Get(p + ".statement")
			require.True(t, ok)
			assert.NoError(t, fitsRoot(v.Mappable().(map[string]any)), a.Str(p+".name"))
		}
	})
	t.Run("WAF.11 logging to aws-waf-logs- group with redacted headers", func(t *testing.T) {
		groups := m.ByType(tLogGrp)
		require.Len(t, groups, 1)
		g := groups[0]
		assert.True(t, strings.HasPrefix(g.Str("name"), LogGroupPrefix), "log group %q", g.Str("name"))
		assert.Equal(t, 365.0, g.Num("retentionInDays"), "CloudWatch.16")
		cfgs := m.ByType(tLogCfg)
		require.Len(t, cfgs, 1)
		cfg := cfgs[0]
		assert.Equal(t, []string{pulumitest.LogGroupARN(g.Str("name"))}, cfg.Strings("logDestinationConfigs"))
		var redacted []string
		for i := 0; i < cfg.Len("redactedFields"); i++ {
			redacted = append(redacted, cfg.Str(fmt.Sprintf("redactedFields[%d].singleHeader.name", i)))
		}
		assert.ElementsMatch(t, []string{"cookie", "authorization"}, redacted)
	})
}

func TestCountMode(t *testing.T) {
	m := run(t, WebACLArgs{Spec: Spec{WAFMode: ModeCount, RateLimit: 500, EnrollRateLimit: 120}, EvaluationWindowSec: 60}, "surge-dev")
	a := acl(t, m)
	for _, g := range ManagedRuleGroups {
		assert.True(t, a.Has(rule(t, a, g)+".overrideAction.count"), "count mode: %s", g)
	}
	for _, r := range []string{"rate-per-ip", "rate-login", "rate-queue-join"} {
		p := rule(t, a, r)
		assert.True(t, a.Has(p+".action.count"), "count mode: %s", r)
		assert.Equal(t, 60.0, a.Num(p+".statement.rateBasedStatement.evaluationWindowSec"))
	}
	assert.Equal(t, 500.0, a.Num(rule(t, a, "rate-per-ip")+".statement.rateBasedStatement.limit"))
	assert.Equal(t, 120.0, a.Num(rule(t, a, "rate-login")+".statement.rateBasedStatement.limit"))
	assert.Equal(t, 120.0, a.Num(rule(t, a, "rate-queue-join")+".statement.rateBasedStatement.limit"))
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		args WebACLArgs
		want []string
	}{
		{"defaults", WebACLArgs{}, nil},
		{"unknown mode", WebACLArgs{Spec: Spec{WAFMode: "monitor"}}, []string{"wafMode"}},
		{"rate below the floor", WebACLArgs{Spec: Spec{RateLimit: 50, EnrollRateLimit: 50}}, []string{"rateLimit: 50 is outside 100..", "enrollRateLimit: 50 is outside 100.."}},
		{"enrollment looser than global", WebACLArgs{Spec: Spec{RateLimit: 100, EnrollRateLimit: 200}}, []string{"enrollRateLimit: 200 is looser than rateLimit (100)"}},
		{"bad window", WebACLArgs{EvaluationWindowSec: 30}, []string{"EvaluationWindowSec"}},
		{"bad retention", WebACLArgs{LogRetentionDays: 42}, []string{"LogRetentionDays"}},
		{"trusted CIDRs valid", WebACLArgs{Spec: Spec{TrustedCIDRs: []string{"203.0.113.0/24", "198.51.100.7/32"}}}, nil},
		{"trusted CIDR not a CIDR", WebACLArgs{Spec: Spec{TrustedCIDRs: []string{"203.0.113.7"}}}, []string{`trustedCidrs[0]: "203.0.113.7": not a CIDR`}},
		{"trusted CIDR IPv6", WebACLArgs{Spec: Spec{TrustedCIDRs: []string{"2001:db8::/48"}}}, []string{"not IPv4"}},
		{"trusted CIDR /0", WebACLArgs{Spec: Spec{TrustedCIDRs: []string{"0.0.0.0/0"}}}, []string{"wider than /16", "non-public range 0.0.0.0/8"}},
		{"trusted CIDR too wide", WebACLArgs{Spec: Spec{TrustedCIDRs: []string{"8.0.0.0/8"}}}, []string{`trustedCidrs[0]: "8.0.0.0/8": wider than /16`}},
		{"trusted CIDR host bits", WebACLArgs{Spec: Spec{TrustedCIDRs: []string{"203.0.113.7/24"}}}, []string{"host bits set, want 203.0.113.0/24"}},
		{"trusted CIDR private", WebACLArgs{Spec: Spec{TrustedCIDRs: []string{"10.20.0.0/16", "192.168.1.0/24", "100.64.1.0/24"}}}, []string{"trustedCidrs[0]", "trustedCidrs[1]", "trustedCidrs[2]", "non-public"}},
		{"trusted CIDR duplicate", WebACLArgs{Spec: Spec{TrustedCIDRs: []string{"203.0.113.0/24", "203.0.113.0/24"}}}, []string{`trustedCidrs[1]: "203.0.113.0/24": duplicate`}},
		{"every problem at once", WebACLArgs{Spec: Spec{WAFMode: "monitor", TrustedCIDRs: []string{"x", "10.0.0.0/8"}}}, []string{"wafMode", "trustedCidrs[0]", "trustedCidrs[1]"}},
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
		assert.Contains(t, err.Error(), "waf-in-us-east-1.md")
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

func TestTrustedCIDRs(t *testing.T) {
	m := run(t, WebACLArgs{Spec: Spec{TrustedCIDRs: []string{"203.0.113.0/24", "198.51.100.7/32"}}}, "surge-prod")
	a := acl(t, m)
	sets := m.ByType(tIPSet)
	require.Len(t, sets, 1)
	set := sets[0]
	assert.Equal(t, "surge-prod-trusted", set.Name)
	assert.Equal(t, "CLOUDFRONT", set.Str("scope"), "docs/decisions/waf-in-us-east-1.md")
	assert.True(t, set.UsesProvider("us-east-1"), "docs/decisions/waf-in-us-east-1.md: IP set in us-east-1")
	assert.Equal(t, "IPV4", set.Str("ipAddressVersion"))
	assert.Equal(t, []string{"198.51.100.7/32", "203.0.113.0/24"}, set.Strings("addresses"))
	assert.Regexp(t, `^[A-Za-z0-9_-]{1,128}$`, set.Str("name"))
	arn := pulumitest.FakeARN(tIPSet, set.Name)

	// Exempt from the per-IP rules only.
	all := rule(t, a, "rate-per-ip") + ".statement.rateBasedStatement.scopeDownStatement.notStatement.statements"
	require.Equal(t, 1, a.Len(all))
	assert.Equal(t, arn, a.Str(all+"[0].ipSetReferenceStatement.arn"), "rate-per-ip excludes the trusted set")
	assert.False(t, a.Has(all+"[0].ipSetReferenceStatement.ipSetForwardedIpConfig"), "viewer IP, not a header")

	login := rule(t, a, "rate-login") + ".statement.rateBasedStatement.scopeDownStatement.andStatement.statements"
	require.Equal(t, 3, a.Len(login), "method AND path AND NOT trusted")
	assert.Equal(t, "POST", a.Str(login+"[0].byteMatchStatement.searchString"))
	assert.Equal(t, LoginPathRegex, a.Str(login+"[1].regexMatchStatement.regexString"))
	assert.Equal(t, arn, a.Str(login+"[2].notStatement.statements[0].ipSetReferenceStatement.arn"), "rate-login excludes the trusted set")

	// Per-session and managed rules apply to everyone.
	qj := rule(t, a, "rate-queue-join") + ".statement.rateBasedStatement.scopeDownStatement.andStatement.statements"
	assert.Equal(t, 2, a.Len(qj), "queue join per session applies to trusted sources too")
	for i := 0; i < a.Len("rules"); i++ {
		p := fmt.Sprintf("rules[%d]", i)
		v, ok := a.Get(p + ".statement")
		require.True(t, ok)
		stmt := v.Mappable().(map[string]any)
		assert.NoError(t, fitsRoot(stmt), a.Str(p+".name"))
		if a.Has(p + ".statement.managedRuleGroupStatement") {
			assert.NotContains(t, fmt.Sprint(stmt), arn, "%s must not exempt trusted sources", a.Str(p+".name"))
			assert.False(t, a.Has(p+".statement.managedRuleGroupStatement.scopeDownStatement"), a.Str(p+".name"))
		}
	}
	assert.Equal(t, 8, a.Len("rules"))
}

// The admin API is off the internet: the first rule answers 403 (WAF's
// block response) to /api/admin..., in count mode too, unless the viewer
// is in AdminCIDRs.
func TestAdminAPIOffTheInternet(t *testing.T) {
	pathChecks := func(t *testing.T, a pulumitest.Resource, p string) {
		t.Helper()
		assert.True(t, a.Has(p+".fieldToMatch.uriPath"))
		assert.Equal(t, "STARTS_WITH", a.Str(p+".positionalConstraint"))
		assert.Equal(t, "/api/admin", a.Str(p+".searchString"))
		var types []string
		for i := 0; i < a.Len(p+".textTransformations"); i++ {
			assert.Equal(t, float64(i), a.Num(fmt.Sprintf("%s.textTransformations[%d].priority", p, i)))
			types = append(types, a.Str(fmt.Sprintf("%s.textTransformations[%d].type", p, i)))
		}
		assert.Equal(t, []string{"URL_DECODE", "NORMALIZE_PATH", "LOWERCASE"}, types, "no %61dmin, //api/admin or /API/ADMIN bypass")
	}
	for _, mode := range []string{ModeBlock, ModeCount} {
		t.Run("default "+mode, func(t *testing.T) {
			m := run(t, WebACLArgs{Spec: Spec{WAFMode: mode}}, "surge-prod")
			a := acl(t, m)
			assert.Equal(t, AdminRuleName, a.Str("rules[0].name"), "first rule")
			assert.Equal(t, 0.0, a.Num("rules[0].priority"))
			assert.True(t, a.Has("rules[0].action.block"), "blocks (403) even in %s mode", mode)
			assert.False(t, a.Has("rules[0].action.count"))
			pathChecks(t, a, "rules[0].statement.byteMatchStatement")
			assert.Empty(t, m.ByType(tIPSet), "no admin IP set without AdminCIDRs")
		})
	}
	t.Run("adminCidrs", func(t *testing.T) {
		m := run(t, WebACLArgs{Spec: Spec{AdminCIDRs: []string{"203.0.113.0/28"}}}, "surge-prod")
		a := acl(t, m)
		set, ok := m.Named(tIPSet, "surge-prod-admin")
		require.True(t, ok)
		assert.Equal(t, "CLOUDFRONT", set.Str("scope"))
		assert.Equal(t, "IPV4", set.Str("ipAddressVersion"))
		assert.True(t, set.UsesProvider("us-east-1"))
		assert.Equal(t, []string{"203.0.113.0/28"}, set.Strings("addresses"))
		and := "rules[0].statement.andStatement.statements"
		require.Equal(t, 2, a.Len(and))
		pathChecks(t, a, and+"[0].byteMatchStatement")
		assert.Equal(t, pulumitest.FakeARN(tIPSet, set.Name), a.Str(and+"[1].notStatement.statements[0].ipSetReferenceStatement.arn"))
		v, _ := a.Get("rules[0].statement")
		assert.NoError(t, fitsRoot(v.Mappable().(map[string]any)), "fits the provider's nesting")
	})
	t.Run("bad adminCidrs", func(t *testing.T) {
		err := Spec{WAFMode: ModeBlock, RateLimit: 2000, EnrollRateLimit: 300, AdminCIDRs: []string{"10.0.0.0/24", "2001:db8::/32", "203.0.113.1/24"}}.Validate()
		require.Error(t, err)
		assert.Len(t, strings.Split(err.Error(), "\n"), 3)
		assert.Contains(t, err.Error(), "adminCidrs[0]")
	})
}

// The terraform-provider-aws wafv2 schema (webACLRootStatementSchema(3),
// rateBasedStatementSchema -> scopeDownStatementSchema(level-1),
// statementSchema(level) allowing and/or/not inside only while level > 1)
// bounds nesting; the Pulumi Go types are recursive and would accept more,
// failing only at preview. These mirror that schema.
const webACLRootLevel = 3

func fitsRoot(stmt map[string]any) error {
	if err := fitsLogical(stmt, webACLRootLevel); err != nil {
		return err
	}
	if rb, ok := stmt["rateBasedStatement"].(map[string]any); ok {
		if sd, ok := rb["scopeDownStatement"].(map[string]any); ok {
			if _, nested := sd["rateBasedStatement"]; nested {
				return fmt.Errorf("rate-based statement inside a scope-down")
			}
			return fitsLogical(sd, webACLRootLevel-1)
		}
	}
	return nil
}

// fitsLogical checks the and/or/not children of stmt against statementSchema(level).
func fitsLogical(stmt map[string]any, level int) error {
	for _, k := range []string{"andStatement", "orStatement", "notStatement"} {
		l, ok := stmt[k].(map[string]any)
		if !ok {
			continue
		}
		children, _ := l["statements"].([]any)
		for _, c := range children {
			cm := c.(map[string]any)
			for _, kk := range []string{"andStatement", "orStatement", "notStatement", "rateBasedStatement", "managedRuleGroupStatement"} {
				if _, has := cm[kk]; has && (level <= 1 || kk == "rateBasedStatement" || kk == "managedRuleGroupStatement") {
					return fmt.Errorf("%s nested too deep under %s (schema level %d)", kk, k, level)
				}
			}
			if err := fitsLogical(cm, level-1); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestDepthCheckerRejectsTooDeep(t *testing.T) {
	leaf := map[string]any{"ipSetReferenceStatement": map[string]any{"arn": "x"}}
	not := func(s map[string]any) map[string]any {
		return map[string]any{"notStatement": map[string]any{"statements": []any{s}}}
	}
	and := func(s ...any) map[string]any { return map[string]any{"andStatement": map[string]any{"statements": s}} }
	rb := func(sd map[string]any) map[string]any {
		return map[string]any{"rateBasedStatement": map[string]any{"scopeDownStatement": sd}}
	}
	for _, tc := range []struct {
		name string
		stmt map[string]any
		ok   bool
	}{
		{"scope-down and(not(leaf)) fits", rb(and(leaf, not(leaf))), true},
		{"scope-down not(leaf) fits", rb(not(leaf)), true},
		{"scope-down and(not(not(leaf))) too deep", rb(and(not(not(leaf)))), false},
		{"root and(and(not(leaf))) fits", and(and(not(leaf))), true},
		{"root and(and(and(not(leaf)))) too deep", and(and(and(not(leaf)))), false},
	} {
		err := fitsRoot(tc.stmt)
		assert.Equal(t, tc.ok, err == nil, "%s: %v", tc.name, err)
	}
}

type fakeProvider struct{ pulumi.ProviderResourceState }
