// Package waf declares the CLOUDFRONT-scope WAF web ACL in front of the
// distribution: AWS managed rule groups, a per-IP rate limit, tighter limits
// on the state-changing enrollment requests (login per IP, queue join per
// session), an optional trusted-NAT exemption from the per-IP limits, and
// logging to CloudWatch Logs.
//
// A CloudFront web ACL lives in us-east-1 (docs/decisions/waf-in-us-east-1.md), so every child is
// created with the explicit us-east-1 provider; the distribution attaches
// it through webAclId (docs/decisions/waf-through-distribution.md), never a WebAclAssociation.
package waf

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/wafv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
	"github.com/surge-dev/surge/components/spec"
)

// Modes.
const (
	ModeBlock = "block"
	ModeCount = "count"
)

// LogGroupPrefix is required by WAF for CloudWatch Logs destinations (docs/decisions/waf-log-group-name.md).
const LogGroupPrefix = "aws-waf-logs-"

// The state-changing rush endpoints. Only POST is counted: students poll
// GET /api/courses/{id}/queue every few seconds while waiting, and those
// polls must never eat the enrollment budget.
const (
	LoginPathRegex     = `^/api/login/?$`
	QueueJoinPathRegex = `^/api/courses/[^/]+/queue/?$`
	EnrollmentMethod   = "POST"
	// SessionCookie is the app's session cookie (app/internal/httpapi),
	// the aggregation key of the queue-join limit.
	SessionCookie = "surge_session"
)

// Trusted CIDR limits: WAF IP sets take any IPv4 CIDR except /0 and at most
// 10,000 entries (developer guide, "IP set match rule statement").
// MinTrustedPrefixLen is ours: the exemption is for a campus's NAT egress
// pool, and a wider range would switch the per-IP limits off for a large
// part of the internet.
const (
	MaxTrustedCIDRs     = 10000
	MinTrustedPrefixLen = 16
)

// nonPublic are ranges CloudFront never sees as a viewer address: a trusted
// CIDR inside them is a misconfiguration (the campus's inside range instead
// of its NAT egress) that would silently exempt nobody.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// Rate-based rule limits (WAF developer guide, rate-based rule high-level
// settings): window 60, 120, 300 or 600 seconds, limit up to 2,000,000,000.
// AWS accepts 10 and more, but some pulumi-aws builds refuse less than 100
// (pulumi-aws #5841), so 100 is the floor here.
// https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html
const (
	MinRateLimit = 100
	MaxRateLimit = 2000000000
)

var evaluationWindows = []int{60, 120, 300, 600}

// ManagedRuleGroups are the AWS managed rule groups, in priority order
// (cheap IP reputation first).
var ManagedRuleGroups = []string{
	"AWSManagedRulesAmazonIpReputationList",
	"AWSManagedRulesCommonRuleSet",
	"AWSManagedRulesKnownBadInputsRuleSet",
	"AWSManagedRulesSQLiRuleSet",
}

// AdminPathPrefix is the app's admin API. The edge answers it 403 unless
// the viewer is in AdminCIDRs: operators reach it through SSM port
// forwarding to an instance, never through the internet by default.
const AdminPathPrefix = "/api/admin"

// AdminRuleName is the web ACL rule that keeps the admin API off the internet.
const AdminRuleName = "admin-off-internet"

// RedactedHeaders are never written to the WAF logs.
var RedactedHeaders = []string{"cookie", "authorization"}

// Spec is the web ACL's static shape: the WAF keys of `surge:edge` in the
// stack config. Defaults gives its per-environment values.
type Spec struct {
	WAFMode         string `json:"wafMode"`         // block (managed groups and rate rules act) or count (they only count, for tuning).
	RateLimit       int    `json:"rateLimit"`       // Requests per IP per 5 minutes, all paths, 100..2000000000 (list campus NATs in trustedCidrs).
	EnrollRateLimit int    `json:"enrollRateLimit"` // POST /api/login per IP and POST .../queue per session, per 5 minutes; at most rateLimit.
	// TrustedCIDRs are exempt from the per-IP rate rules only: IP
	// reputation, the managed groups and the per-session queue-join limit
	// still apply to them.
	TrustedCIDRs []string `json:"trustedCidrs"` // Campus NAT egress ranges (public IPv4, /16 or narrower) exempt from per-IP rate limits: thousands of students share one IP.
	// AdminCIDRs may reach AdminPathPrefix through CloudFront; every other
	// viewer, in every mode, gets 403 there.
	AdminCIDRs []string `json:"adminCidrs"` // Public IPv4 ranges allowed to reach /api/admin/* through CloudFront (403 for everyone else, IPv6 viewers included); none = admin only through SSM port forwarding.
}

// Defaults are the environment's values: dev counts (to tune the rules),
// prod blocks.
func Defaults(env spec.Env) Spec {
	s := Spec{WAFMode: ModeCount, RateLimit: 2000, EnrollRateLimit: 300}
	if env == spec.Prod {
		s.WAFMode = ModeBlock
	}
	return s
}

// Validate reports every problem of the Spec, keyed by its JSON path.
func (s Spec) Validate() error {
	var p spec.Problems
	if s.WAFMode != ModeBlock && s.WAFMode != ModeCount {
		p.Add("wafMode", "must be %q or %q, got %q", ModeBlock, ModeCount, s.WAFMode)
	}
	for _, r := range []struct {
		key string
		v   int
	}{{"rateLimit", s.RateLimit}, {"enrollRateLimit", s.EnrollRateLimit}} {
		if r.v < MinRateLimit || r.v > MaxRateLimit {
			p.Add(r.key, "%d is outside %d..%d (AWS WAF rate-based rule limits)", r.v, MinRateLimit, MaxRateLimit)
		}
	}
	if s.EnrollRateLimit > s.RateLimit {
		p.Add("enrollRateLimit", "%d is looser than rateLimit (%d); the enrollment paths should be the tighter limit", s.EnrollRateLimit, s.RateLimit)
	}
	validateIPSet(&p, "trustedCidrs", s.TrustedCIDRs)
	validateIPSet(&p, "adminCidrs", s.AdminCIDRs)
	return p.Err()
}

// WebACLArgs are the Spec plus the us-east-1 provider and the options the
// stack config does not expose. Zero Spec fields take prod's Defaults.
type WebACLArgs struct {
	Spec

	// USEast1 is an aws provider for us-east-1. Required (docs/decisions/waf-in-us-east-1.md).
	USEast1 pulumi.ProviderResource
	// EvaluationWindowSec is the rate window: 60, 120, 300 or 600. Default 300.
	EvaluationWindowSec int
	// LogRetentionDays is the retention of the WAF log group. Default 365
	// (CloudWatch.16).
	LogRetentionDays int
}

// WebACL is the WAF component.
type WebACL struct {
	pulumi.ResourceState

	ARN  pulumi.StringOutput
	ID   pulumi.IDOutput
	Name pulumi.StringOutput
	// MetricName is the web ACL's CloudWatch "WebACL" dimension value,
	// known at plan time (for alarms and dashboards).
	MetricName   string
	LogGroupName pulumi.StringOutput
}

func (a *WebACLArgs) withDefaults() WebACLArgs {
	out := *a
	prod := Defaults(spec.Prod)
	if out.WAFMode == "" {
		out.WAFMode = prod.WAFMode
	}
	if out.RateLimit == 0 {
		out.RateLimit = prod.RateLimit
	}
	if out.EnrollRateLimit == 0 {
		out.EnrollRateLimit = prod.EnrollRateLimit
	}
	if out.EvaluationWindowSec == 0 {
		out.EvaluationWindowSec = 300
	}
	if out.LogRetentionDays == 0 {
		out.LogRetentionDays = 365
	}
	return out
}

// validate reports every problem with the (defaulted) args at once.
func (a *WebACLArgs) validate() error {
	var errs []error
	if a.USEast1 == nil {
		errs = append(errs, errors.New("USEast1 is required: a CLOUDFRONT web ACL must be created in us-east-1 (docs/decisions/waf-in-us-east-1.md)"))
	}
	if err := a.Spec.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains(evaluationWindows, a.EvaluationWindowSec) {
		errs = append(errs, fmt.Errorf("EvaluationWindowSec %d: want one of %v", a.EvaluationWindowSec, evaluationWindows))
	}
	if !spec.ValidLogRetention(a.LogRetentionDays) {
		errs = append(errs, fmt.Errorf("LogRetentionDays %d: want one of %v", a.LogRetentionDays, spec.LogRetentionDays))
	}
	return errors.Join(errs...)
}

// validateIPSet reports every bad entry of an IP set's CIDRs under key:
// public IPv4, canonical, /16 or narrower, no duplicates.
func validateIPSet(p *spec.Problems, key string, cidrs []string) {
	if len(cidrs) > MaxTrustedCIDRs {
		p.Add(key, "%d entries, a WAF IP set holds at most %d", len(cidrs), MaxTrustedCIDRs)
	}
	seen := map[netip.Prefix]bool{}
	for i, c := range cidrs {
		k := fmt.Sprintf("%s[%d]", key, i)
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			p.Add(k, "%q: not a CIDR", c)
			continue
		}
		if !pfx.Addr().Is4() {
			p.Add(k, "%q: not IPv4 (the IP set is IPV4)", c)
			continue
		}
		if pfx.Bits() < MinTrustedPrefixLen {
			p.Add(k, "%q: wider than /%d; list the NAT egress addresses, not a whole network (WAF rejects /0)", c, MinTrustedPrefixLen)
		}
		// WAF stores the masked form; anything else shows a diff on every preview.
		if pfx.Masked() != pfx {
			p.Add(k, "%q: host bits set, want %s", c, pfx.Masked())
		}
		for _, np := range nonPublic {
			if np.Overlaps(pfx) {
				p.Add(k, "%q: in non-public range %s; CloudFront sees the campus's public NAT egress address", c, np)
				break
			}
		}
		if seen[pfx.Masked()] {
			p.Add(k, "%q: duplicate", c)
		}
		seen[pfx.Masked()] = true
	}
}

var metricRe = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// metricName makes a CloudWatch-safe WAF metric name (A-Z a-z 0-9 - _, <= 128).
func metricName(s string) string {
	s = metricRe.ReplaceAllString(s, "-")
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

// NewWebACL declares the web ACL, its log group and logging configuration.
func NewWebACL(ctx *pulumi.Context, name string, args *WebACLArgs, opts ...pulumi.ResourceOption) (*WebACL, error) {
	if args == nil {
		return nil, errors.New("waf: args are required")
	}
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("waf %s: invalid args: %w", name, err)
	}

	c := &WebACL{}
	if err := ctx.RegisterComponentResource("surge:waf:WebACL", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering waf component: %w", err)
	}
	// Every child is regional to us-east-1 with the ACL.
	childOpts := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(a.USEast1)}

	aclName := naming.Physical(name, "edge", 128)
	c.MetricName = metricName(aclName)

	visibility := func(metric string) *wafv2.WebAclRuleVisibilityConfigArgs {
		// WAF.12: metrics and samples on every rule.
		return &wafv2.WebAclRuleVisibilityConfigArgs{
			CloudwatchMetricsEnabled: pulumi.Bool(true),
			SampledRequestsEnabled:   pulumi.Bool(true),
			MetricName:               pulumi.String(metricName(c.MetricName + "-" + metric)),
		}
	}
	override := &wafv2.WebAclRuleOverrideActionArgs{None: &wafv2.WebAclRuleOverrideActionNoneArgs{}}
	rateAction := &wafv2.WebAclRuleActionArgs{Block: &wafv2.WebAclRuleActionBlockArgs{}}
	if a.WAFMode == ModeCount {
		override = &wafv2.WebAclRuleOverrideActionArgs{Count: &wafv2.WebAclRuleOverrideActionCountArgs{}}
		rateAction = &wafv2.WebAclRuleActionArgs{Count: &wafv2.WebAclRuleActionCountArgs{}}
	}

	// Trusted campus NAT pools: an IP set, used only to exempt them from the
	// per-IP rate rules below.
	var trustedARN pulumi.StringInput
	if len(a.TrustedCIDRs) > 0 {
		addrs := slices.Clone(a.TrustedCIDRs)
		slices.Sort(addrs)
		set, err := wafv2.NewIpSet(ctx, name+"-trusted", &wafv2.IpSetArgs{
			Name:             pulumi.String(naming.Physical(name, "trusted-nat", naming.MaxDefault)),
			Description:      pulumi.String("campus NAT egress exempt from the per-IP rate limits of " + name),
			Scope:            pulumi.String("CLOUDFRONT"), // docs/decisions/waf-in-us-east-1.md: with the us-east-1 provider
			IpAddressVersion: pulumi.String("IPV4"),
			Addresses:        pulumi.ToStringArray(addrs),
		}, childOpts...)
		if err != nil {
			return nil, fmt.Errorf("creating trusted IP set: %w", err)
		}
		trustedARN = set.Arn
	}

	var adminARN pulumi.StringInput
	if len(a.AdminCIDRs) > 0 {
		addrs := slices.Clone(a.AdminCIDRs)
		slices.Sort(addrs)
		set, err := wafv2.NewIpSet(ctx, name+"-admin", &wafv2.IpSetArgs{
			Name:             pulumi.String(naming.Physical(name, "admin", naming.MaxDefault)),
			Description:      pulumi.String("sources allowed to reach " + AdminPathPrefix + " of " + name),
			Scope:            pulumi.String("CLOUDFRONT"),
			IpAddressVersion: pulumi.String("IPV4"),
			Addresses:        pulumi.ToStringArray(addrs),
		}, childOpts...)
		if err != nil {
			return nil, fmt.Errorf("creating admin IP set: %w", err)
		}
		adminARN = set.Arn
	}

	var rules wafv2.WebAclRuleArray
	priority := 0
	add := func(r *wafv2.WebAclRuleArgs) {
		r.Priority = pulumi.Int(priority)
		priority++
		rules = append(rules, r)
	}
	// The admin API first, and blocking in every mode (count mode is for
	// tuning the managed rules, not for opening the admin API).
	add(adminRule(adminARN, visibility("admin")))
	// IP reputation first: cheapest (25 WCU) and drops known-bad sources
	// before they count against anything else. Applies to trusted sources too.
	add(managedRule(ManagedRuleGroups[0], override, visibility("ip-reputation")))
	// Rate rules before the expensive groups: a flood is cut by the cheap check.
	//
	// Nesting: the provider schema (terraform-provider-aws wafv2, web ACL
	// root level 3) allows rule statement -> rateBased -> scopeDown -> and
	// -> not -> leaf and no deeper; enrollmentScope uses exactly that.
	//
	// Login has no session yet, so the source IP is the only key. Behind a
	// campus NAT every student shares it: list the NAT in TrustedCIDRs.
	add(&wafv2.WebAclRuleArgs{
		Name:   pulumi.String("rate-login"),
		Action: rateAction,
		Statement: &wafv2.WebAclRuleStatementArgs{
			RateBasedStatement: &wafv2.WebAclRuleStatementRateBasedStatementArgs{
				Limit:               pulumi.Int(a.EnrollRateLimit),
				AggregateKeyType:    pulumi.String("IP"), // the viewer IP at the edge
				EvaluationWindowSec: pulumi.Int(a.EvaluationWindowSec),
				ScopeDownStatement:  enrollmentScope(LoginPathRegex, trustedARN),
			},
		},
		VisibilityConfig: visibility("rate-login"),
	})
	// Queue join is authenticated: one budget per session, so students
	// behind one NAT do not share it. The session cookie alone, not
	// cookie+IP: adding the IP would only split one session's budget across
	// every address it uses (a bot farm sharing a stolen session gains, a
	// student gains nothing). WAF neither counts nor limits a request that
	// lacks an aggregation key, so a join without the cookie bypasses this
	// rule; the app answers it 401 without touching the queue, and it still
	// counts in rate-per-ip. Forged cookie values each get a budget for the
	// same reason and are bounded the same way. No TrustedCIDRs exemption:
	// this limit is per student, not per address.
	add(&wafv2.WebAclRuleArgs{
		Name:   pulumi.String("rate-queue-join"),
		Action: rateAction,
		Statement: &wafv2.WebAclRuleStatementArgs{
			RateBasedStatement: &wafv2.WebAclRuleStatementRateBasedStatementArgs{
				Limit:               pulumi.Int(a.EnrollRateLimit),
				AggregateKeyType:    pulumi.String("CUSTOM_KEYS"),
				EvaluationWindowSec: pulumi.Int(a.EvaluationWindowSec),
				CustomKeys: wafv2.WebAclRuleStatementRateBasedStatementCustomKeyArray{
					&wafv2.WebAclRuleStatementRateBasedStatementCustomKeyArgs{
						Cookie: &wafv2.WebAclRuleStatementRateBasedStatementCustomKeyCookieArgs{
							Name: pulumi.String(SessionCookie),
							// The token is opaque and case-sensitive: no folding.
							TextTransformations: wafv2.WebAclRuleStatementRateBasedStatementCustomKeyCookieTextTransformationArray{
								&wafv2.WebAclRuleStatementRateBasedStatementCustomKeyCookieTextTransformationArgs{
									Priority: pulumi.Int(0), Type: pulumi.String("NONE"),
								},
							},
						},
					},
				},
				ScopeDownStatement: enrollmentScope(QueueJoinPathRegex, nil),
			},
		},
		VisibilityConfig: visibility("rate-queue-join"),
	})
	perIP := &wafv2.WebAclRuleStatementRateBasedStatementArgs{
		Limit:               pulumi.Int(a.RateLimit),
		AggregateKeyType:    pulumi.String("IP"),
		EvaluationWindowSec: pulumi.Int(a.EvaluationWindowSec),
	}
	if trustedARN != nil {
		perIP.ScopeDownStatement = &wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgs{
			NotStatement: &wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementNotStatementArgs{
				Statements: wafv2.WebAclRuleStatementArray{trustedSource(trustedARN)},
			},
		}
	}
	add(&wafv2.WebAclRuleArgs{
		Name:             pulumi.String("rate-per-ip"),
		Action:           rateAction,
		Statement:        &wafv2.WebAclRuleStatementArgs{RateBasedStatement: perIP},
		VisibilityConfig: visibility("rate-per-ip"),
	})
	add(managedRule(ManagedRuleGroups[1], override, visibility("common")))
	add(managedRule(ManagedRuleGroups[2], override, visibility("known-bad-inputs")))
	add(managedRule(ManagedRuleGroups[3], override, visibility("sqli")))

	acl, err := wafv2.NewWebAcl(ctx, name, &wafv2.WebAclArgs{
		Name:          pulumi.String(aclName),
		Description:   pulumi.String("surge edge protection for " + name),
		Scope:         pulumi.String("CLOUDFRONT"), // docs/decisions/waf-in-us-east-1.md
		DefaultAction: &wafv2.WebAclDefaultActionArgs{Allow: &wafv2.WebAclDefaultActionAllowArgs{}},
		Rules:         rules,
		VisibilityConfig: &wafv2.WebAclVisibilityConfigArgs{
			CloudwatchMetricsEnabled: pulumi.Bool(true),
			SampledRequestsEnabled:   pulumi.Bool(true),
			MetricName:               pulumi.String(c.MetricName),
		},
	}, childOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating web ACL: %w", err)
	}

	// docs/decisions/waf-log-group-name.md: the destination's name must start with aws-waf-logs- and
	// live in the ACL's region (us-east-1).
	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(naming.Physical(LogGroupPrefix+name, "", naming.MaxLogGroup)),
		RetentionInDays: pulumi.Int(a.LogRetentionDays),
	}, childOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating WAF log group: %w", err)
	}

	var redacted wafv2.WebAclLoggingConfigurationRedactedFieldArray
	for _, h := range RedactedHeaders {
		redacted = append(redacted, &wafv2.WebAclLoggingConfigurationRedactedFieldArgs{
			SingleHeader: &wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs{Name: pulumi.String(h)},
		})
	}
	// WAF.11.
	if _, err := wafv2.NewWebAclLoggingConfiguration(ctx, name, &wafv2.WebAclLoggingConfigurationArgs{
		ResourceArn:           acl.Arn,
		LogDestinationConfigs: pulumi.StringArray{logGroup.Arn},
		RedactedFields:        redacted,
	}, childOpts...); err != nil {
		return nil, fmt.Errorf("configuring WAF logging: %w", err)
	}

	c.ARN = acl.Arn
	c.ID = acl.ID()
	c.Name = acl.Name
	c.LogGroupName = logGroup.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"arn":          acl.Arn,
		"id":           acl.ID(),
		"name":         acl.Name,
		"logGroupName": logGroup.Name,
	}); err != nil {
		return nil, fmt.Errorf("registering waf outputs: %w", err)
	}
	return c, nil
}

func managedRule(group string, override *wafv2.WebAclRuleOverrideActionArgs, vis *wafv2.WebAclRuleVisibilityConfigArgs) *wafv2.WebAclRuleArgs {
	return &wafv2.WebAclRuleArgs{
		Name:           pulumi.String(group),
		OverrideAction: override,
		Statement: &wafv2.WebAclRuleStatementArgs{
			ManagedRuleGroupStatement: &wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs{
				Name:       pulumi.String(group),
				VendorName: pulumi.String("AWS"),
			},
		},
		VisibilityConfig: vis,
	}
}

// enrollmentScope matches POST requests to the path regex and, when
// trustedARN is set, from sources outside the trusted IP set.
func enrollmentScope(pathRegex string, trustedARN pulumi.StringInput) *wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgs {
	stmts := wafv2.WebAclRuleStatementArray{
		&wafv2.WebAclRuleStatementArgs{
			ByteMatchStatement: &wafv2.WebAclRuleStatementByteMatchStatementArgs{
				FieldToMatch:         &wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchArgs{Method: &wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchMethodArgs{}},
				PositionalConstraint: pulumi.String("EXACTLY"),
				// Methods are case-sensitive: the app routes only "POST".
				SearchString: pulumi.String(EnrollmentMethod),
				TextTransformations: wafv2.WebAclRuleStatementByteMatchStatementTextTransformationArray{
					&wafv2.WebAclRuleStatementByteMatchStatementTextTransformationArgs{Priority: pulumi.Int(0), Type: pulumi.String("NONE")},
				},
			},
		},
		&wafv2.WebAclRuleStatementArgs{
			RegexMatchStatement: &wafv2.WebAclRuleStatementRegexMatchStatementArgs{
				RegexString:  pulumi.String(pathRegex),
				FieldToMatch: &wafv2.WebAclRuleStatementRegexMatchStatementFieldToMatchArgs{UriPath: &wafv2.WebAclRuleStatementRegexMatchStatementFieldToMatchUriPathArgs{}},
				// Decode and lowercase so /API/Login or %2F tricks still match.
				TextTransformations: wafv2.WebAclRuleStatementRegexMatchStatementTextTransformationArray{
					&wafv2.WebAclRuleStatementRegexMatchStatementTextTransformationArgs{Priority: pulumi.Int(0), Type: pulumi.String("URL_DECODE")},
					&wafv2.WebAclRuleStatementRegexMatchStatementTextTransformationArgs{Priority: pulumi.Int(1), Type: pulumi.String("LOWERCASE")},
				},
			},
		},
	}
	if trustedARN != nil {
		stmts = append(stmts, &wafv2.WebAclRuleStatementArgs{
			NotStatement: &wafv2.WebAclRuleStatementNotStatementArgs{
				Statements: wafv2.WebAclRuleStatementArray{trustedSource(trustedARN)},
			},
		})
	}
	return &wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgs{
		AndStatement: &wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementAndStatementArgs{Statements: stmts},
	}
}

// adminRule answers 403 (WAF's block response) to AdminPathPrefix, unless
// the viewer is in the admin IP set. The path is URL-decoded, normalised
// (duplicate slashes, dot segments) and lowercased first, so
// /api/%61dmin, //api/admin or /API/ADMIN do not slip past.
func adminRule(adminARN pulumi.StringInput, vis *wafv2.WebAclRuleVisibilityConfigArgs) *wafv2.WebAclRuleArgs {
	path := &wafv2.WebAclRuleStatementArgs{
		ByteMatchStatement: &wafv2.WebAclRuleStatementByteMatchStatementArgs{
			FieldToMatch:         &wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchArgs{UriPath: &wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchUriPathArgs{}},
			PositionalConstraint: pulumi.String("STARTS_WITH"),
			SearchString:         pulumi.String(AdminPathPrefix),
			TextTransformations: wafv2.WebAclRuleStatementByteMatchStatementTextTransformationArray{
				&wafv2.WebAclRuleStatementByteMatchStatementTextTransformationArgs{Priority: pulumi.Int(0), Type: pulumi.String("URL_DECODE")},
				&wafv2.WebAclRuleStatementByteMatchStatementTextTransformationArgs{Priority: pulumi.Int(1), Type: pulumi.String("NORMALIZE_PATH")},
				&wafv2.WebAclRuleStatementByteMatchStatementTextTransformationArgs{Priority: pulumi.Int(2), Type: pulumi.String("LOWERCASE")},
			},
		},
	}
	stmt := path
	if adminARN != nil {
		stmt = &wafv2.WebAclRuleStatementArgs{
			AndStatement: &wafv2.WebAclRuleStatementAndStatementArgs{Statements: wafv2.WebAclRuleStatementArray{
				path,
				&wafv2.WebAclRuleStatementArgs{NotStatement: &wafv2.WebAclRuleStatementNotStatementArgs{
					Statements: wafv2.WebAclRuleStatementArray{trustedSource(adminARN)},
				}},
			}},
		}
	}
	return &wafv2.WebAclRuleArgs{
		Name:             pulumi.String(AdminRuleName),
		Action:           &wafv2.WebAclRuleActionArgs{Block: &wafv2.WebAclRuleActionBlockArgs{}},
		Statement:        stmt,
		VisibilityConfig: vis,
	}
}

// trustedSource matches the viewer IP (no forwarded-IP config: at
// CloudFront the origin IP is the viewer) against the trusted IP set.
func trustedSource(arn pulumi.StringInput) *wafv2.WebAclRuleStatementArgs {
	return &wafv2.WebAclRuleStatementArgs{
		IpSetReferenceStatement: &wafv2.WebAclRuleStatementIpSetReferenceStatementArgs{Arn: arn},
	}
}
