// Package waf declares the CLOUDFRONT-scope WAF web ACL in front of the
// distribution: AWS managed rule groups, a per-IP rate limit and a tighter
// one on the enrollment paths, with logging to CloudWatch Logs.
//
// A CloudFront web ACL lives in us-east-1 (PITFALLS 1), so every child is
// created with the explicit us-east-1 provider; the distribution attaches
// it through webAclId (PITFALLS 2), never a WebAclAssociation.
package waf

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/wafv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
)

// Modes.
const (
	ModeBlock = "block"
	ModeCount = "count"
)

// LogGroupPrefix is required by WAF for CloudWatch Logs destinations (PITFALLS 10).
const LogGroupPrefix = "aws-waf-logs-"

// EnrollmentPathRegex matches the rush endpoints: joining a course's
// waiting room (POST /api/courses/{id}/queue) and logging in.
const EnrollmentPathRegex = `^/api/(login|courses/[^/]+/queue)/?$`

// Rate-based rule limits (WAF developer guide, rate-based rule high-level
// settings): limit >= 10 requests per evaluation window, window 60, 120,
// 300 or 600 seconds.
const (
	MinRateLimit = 10
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

// RedactedHeaders are never written to the WAF logs.
var RedactedHeaders = []string{"cookie", "authorization"}

// WebACLArgs configures the web ACL.
type WebACLArgs struct {
	// USEast1 is an aws provider for us-east-1. Required (PITFALLS 1).
	USEast1 pulumi.ProviderResource
	// Mode is "block" (managed groups and rate rules act) or "count" (they
	// only count, for tuning). Default "block".
	Mode string
	// RateLimit is the per-IP request limit per EvaluationWindowSec over the
	// whole site. Default 2000. Minimum 10.
	RateLimit int
	// EnrollmentRateLimit is the per-IP limit on the enrollment paths
	// (EnrollmentPathRegex). Default 100. Minimum 10, at most RateLimit.
	EnrollmentRateLimit int
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
	if out.Mode == "" {
		out.Mode = ModeBlock
	}
	if out.RateLimit == 0 {
		out.RateLimit = 2000
	}
	if out.EnrollmentRateLimit == 0 {
		out.EnrollmentRateLimit = 100
	}
	if out.EvaluationWindowSec == 0 {
		out.EvaluationWindowSec = 300
	}
	if out.LogRetentionDays == 0 {
		out.LogRetentionDays = 365
	}
	return out
}

// validRetention are the values CloudWatch Logs accepts.
var validRetention = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// validate reports every problem with the (defaulted) args at once.
func (a *WebACLArgs) validate() error {
	var errs []error
	if a.USEast1 == nil {
		errs = append(errs, errors.New("USEast1 is required: a CLOUDFRONT web ACL must be created in us-east-1 (PITFALLS 1)"))
	}
	if a.Mode != ModeBlock && a.Mode != ModeCount {
		errs = append(errs, fmt.Errorf("Mode %q: want %q or %q", a.Mode, ModeBlock, ModeCount))
	}
	for _, r := range []struct {
		name string
		v    int
	}{{"RateLimit", a.RateLimit}, {"EnrollmentRateLimit", a.EnrollmentRateLimit}} {
		if r.v < MinRateLimit || r.v > MaxRateLimit {
			errs = append(errs, fmt.Errorf("%s %d: want %d-%d", r.name, r.v, MinRateLimit, MaxRateLimit))
		}
	}
	if a.EnrollmentRateLimit > a.RateLimit {
		errs = append(errs, fmt.Errorf("EnrollmentRateLimit %d must not exceed RateLimit %d", a.EnrollmentRateLimit, a.RateLimit))
	}
	if !slices.Contains(evaluationWindows, a.EvaluationWindowSec) {
		errs = append(errs, fmt.Errorf("EvaluationWindowSec %d: want one of %v", a.EvaluationWindowSec, evaluationWindows))
	}
	if !slices.Contains(validRetention, a.LogRetentionDays) {
		errs = append(errs, fmt.Errorf("LogRetentionDays %d: want one of %v", a.LogRetentionDays, validRetention))
	}
	return errors.Join(errs...)
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
	if a.Mode == ModeCount {
		override = &wafv2.WebAclRuleOverrideActionArgs{Count: &wafv2.WebAclRuleOverrideActionCountArgs{}}
		rateAction = &wafv2.WebAclRuleActionArgs{Count: &wafv2.WebAclRuleActionCountArgs{}}
	}

	var rules wafv2.WebAclRuleArray
	priority := 0
	add := func(r *wafv2.WebAclRuleArgs) {
		r.Priority = pulumi.Int(priority)
		priority++
		rules = append(rules, r)
	}
	// IP reputation first: cheapest (25 WCU) and drops known-bad sources
	// before they count against anything else.
	add(managedRule(ManagedRuleGroups[0], override, visibility("ip-reputation")))
	// Rate rules before the expensive groups: a flood is cut by the cheap check.
	add(&wafv2.WebAclRuleArgs{
		Name:   pulumi.String("rate-enrollment"),
		Action: rateAction,
		Statement: &wafv2.WebAclRuleStatementArgs{
			RateBasedStatement: &wafv2.WebAclRuleStatementRateBasedStatementArgs{
				Limit:               pulumi.Int(a.EnrollmentRateLimit),
				AggregateKeyType:    pulumi.String("IP"), // the viewer IP at the edge
				EvaluationWindowSec: pulumi.Int(a.EvaluationWindowSec),
				ScopeDownStatement: &wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgs{
					RegexMatchStatement: &wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementRegexMatchStatementArgs{
						RegexString: pulumi.String(EnrollmentPathRegex),
						FieldToMatch: &wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementRegexMatchStatementFieldToMatchArgs{
							UriPath: &wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementRegexMatchStatementFieldToMatchUriPathArgs{},
						},
						// Decode and lowercase so /API/Login or %2F tricks still match.
						TextTransformations: wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementRegexMatchStatementTextTransformationArray{
							&wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementRegexMatchStatementTextTransformationArgs{
								Priority: pulumi.Int(0), Type: pulumi.String("URL_DECODE"),
							},
							&wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementRegexMatchStatementTextTransformationArgs{
								Priority: pulumi.Int(1), Type: pulumi.String("LOWERCASE"),
							},
						},
					},
				},
			},
		},
		VisibilityConfig: visibility("rate-enrollment"),
	})
	add(&wafv2.WebAclRuleArgs{
		Name:   pulumi.String("rate-per-ip"),
		Action: rateAction,
		Statement: &wafv2.WebAclRuleStatementArgs{
			RateBasedStatement: &wafv2.WebAclRuleStatementRateBasedStatementArgs{
				Limit:               pulumi.Int(a.RateLimit),
				AggregateKeyType:    pulumi.String("IP"),
				EvaluationWindowSec: pulumi.Int(a.EvaluationWindowSec),
			},
		},
		VisibilityConfig: visibility("rate-per-ip"),
	})
	add(managedRule(ManagedRuleGroups[1], override, visibility("common")))
	add(managedRule(ManagedRuleGroups[2], override, visibility("known-bad-inputs")))
	add(managedRule(ManagedRuleGroups[3], override, visibility("sqli")))

	acl, err := wafv2.NewWebAcl(ctx, name, &wafv2.WebAclArgs{
		Name:          pulumi.String(aclName),
		Description:   pulumi.String("surge edge protection for " + name),
		Scope:         pulumi.String("CLOUDFRONT"), // PITFALLS 1
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

	// PITFALLS 10: the destination's name must start with aws-waf-logs- and
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
