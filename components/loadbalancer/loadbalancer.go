// Package loadbalancer declares surge's internal Application Load Balancer:
// no public address at all, reached only by CloudFront through a VPC origin.
package loadbalancer

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
	"github.com/surge-dev/surge/components/spec"
)

// HealthCheckPath is the app's shallow liveness endpoint. The target group
// must not probe the deep /readyz: a database or cache outage would then
// fail every target and the ASG would replace the whole fleet.
const HealthCheckPath = "/healthz"

// TLSPolicy is the HTTPS listener's policy (TLS 1.3 + 1.2, recommended by
// the ALB guide, accepted by Security Hub ELB.17).
const TLSPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// Desync mitigation modes accepted by ELB.12.
const (
	DesyncDefensive = "defensive"
	DesyncStrictest = "strictest"
)

// Listener ports.
const (
	HTTPSPort = 443
	HTTPPort  = 80
)

// Defaults of the settings outside the Spec.
const (
	DefaultAppPort             = 8080
	DefaultHealthCheckInterval = 15
	DefaultHealthCheckTimeout  = 5
	DefaultHealthyThreshold    = 2
	DefaultUnhealthyThreshold  = 3
)

// ListenerPort is the listener port for a stack with (HTTPS) or without a
// certificate; the firewall's ListenerPort must be the same.
func ListenerPort(https bool) int {
	if https {
		return HTTPSPort
	}
	return HTTPPort
}

// Spec is the load balancer's static shape: `surge:loadBalancer` in the
// stack config. Defaults gives its per-environment values.
type Spec struct {
	// DeregistrationDelaySeconds lets in-flight requests finish when a
	// target leaves: requests are short, and rolling refreshes should not
	// wait the AWS default of 300 s per batch.
	DeregistrationDelaySeconds int  `json:"deregistrationDelaySeconds"` // Seconds a deregistering target keeps its requests, 0..3600; at least app.drainTimeoutSeconds.
	SlowStartSeconds           int  `json:"slowStartSeconds"`           // Seconds a new target's share ramps up: 0 (off) or 30..900.
	IdleTimeoutSeconds         int  `json:"idleTimeoutSeconds"`         // Seconds a connection may sit idle, 1..4000.
	DeletionProtection         bool `json:"deletionProtection"`         // Refuse deletion of the load balancer (ELB.6); off lets a dev stack be destroyed.
}

// Defaults are the environment's values: prod waits longer for in-flight
// requests, ramps new targets up and refuses deletion.
func Defaults(env spec.Env) Spec {
	if env == spec.Prod {
		return Spec{DeregistrationDelaySeconds: 60, SlowStartSeconds: 60, IdleTimeoutSeconds: 60, DeletionProtection: true}
	}
	return Spec{DeregistrationDelaySeconds: 30, IdleTimeoutSeconds: 60}
}

// Validate reports every problem of the Spec, keyed by its JSON path.
func (s Spec) Validate() error {
	var p spec.Problems
	rng := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			p.Add(key, "%d must be between %d and %d", v, lo, hi)
		}
	}
	rng("deregistrationDelaySeconds", s.DeregistrationDelaySeconds, 0, 3600)
	if s.SlowStartSeconds != 0 {
		rng("slowStartSeconds", s.SlowStartSeconds, 30, 900)
	}
	rng("idleTimeoutSeconds", s.IdleTimeoutSeconds, 1, 4000)
	return p.Err()
}

// ALBArgs are the Spec plus what comes from other resources and the
// options the stack config does not expose. Zero Spec fields take dev's
// Defaults.
type ALBArgs struct {
	Spec

	// VPCID is the VPC of the target group. Required.
	VPCID pulumi.StringInput
	// SubnetIDs are the private app subnets, one per AZ. Required.
	SubnetIDs pulumi.StringArrayInput
	// SecurityGroupID is the firewall chain's ALB group. Required.
	SecurityGroupID pulumi.StringInput

	// HTTPS selects an HTTPS listener on 443 with TLSPolicy and
	// CertificateARN; false gives an HTTP listener on 80 that is reachable
	// only inside the VPC (CloudFront's VPC origin). Default false.
	HTTPS bool
	// CertificateARN is the ACM certificate of the listener (same region as
	// the ALB). Required when HTTPS, must be nil otherwise.
	CertificateARN pulumi.StringPtrInput

	// AppPort is the instances' HTTP port. Default 8080.
	AppPort int
	// HealthCheckIntervalSeconds (5-300, default 15), HealthCheckTimeoutSeconds
	// (2-120, below the interval, default 5), HealthyThreshold and
	// UnhealthyThreshold (2-10, defaults 2 and 3): a dead target leaves
	// after about 45 s, a new one serves after about 30 s.
	HealthCheckIntervalSeconds int
	HealthCheckTimeoutSeconds  int
	HealthyThreshold           int
	UnhealthyThreshold         int
	// DesyncMitigationMode is DesyncDefensive or DesyncStrictest. Default
	// DesyncDefensive (see docs/security/network.md for the choice).
	DesyncMitigationMode string
	// AccessLogsBucket is the name of the access-log bucket (same region,
	// SSE-S3, ELB log-delivery policy), owned by the storage component.
	// AWS checks that it may write there when logging is enabled, so the
	// ALB must be created after the bucket policy: pass the policy's
	// Bucket output, or list the policy in AccessLogsDependsOn. Required
	// (ELB.5).
	AccessLogsBucket pulumi.StringInput
	// AccessLogsDependsOn are resources (the bucket policy, the encryption
	// configuration) the ALB must wait for. Optional.
	AccessLogsDependsOn []pulumi.Resource
	// AccessLogsPrefix is the key prefix inside it. Default "alb/<name>".
	AccessLogsPrefix string
}

// ALB is the load balancer, its target group and its listener.
type ALB struct {
	pulumi.ResourceState

	LoadBalancerARN      pulumi.StringOutput
	ARNSuffix            pulumi.StringOutput
	DNSName              pulumi.StringOutput
	ZoneID               pulumi.StringOutput
	TargetGroupARN       pulumi.StringOutput
	TargetGroupARNSuffix pulumi.StringOutput
	ListenerARN          pulumi.StringOutput
	// ListenerPort and HTTPS say how CloudFront's VPC origin must connect.
	ListenerPort int
	HTTPS        bool
}

func (a *ALBArgs) withDefaults(name string) ALBArgs {
	out := *a
	out.AppPort = cmp.Or(out.AppPort, DefaultAppPort)
	dev := Defaults(spec.Dev)
	out.DeregistrationDelaySeconds = cmp.Or(out.DeregistrationDelaySeconds, dev.DeregistrationDelaySeconds)
	out.IdleTimeoutSeconds = cmp.Or(out.IdleTimeoutSeconds, dev.IdleTimeoutSeconds)
	out.HealthCheckIntervalSeconds = cmp.Or(out.HealthCheckIntervalSeconds, DefaultHealthCheckInterval)
	out.HealthCheckTimeoutSeconds = cmp.Or(out.HealthCheckTimeoutSeconds, DefaultHealthCheckTimeout)
	out.HealthyThreshold = cmp.Or(out.HealthyThreshold, DefaultHealthyThreshold)
	out.UnhealthyThreshold = cmp.Or(out.UnhealthyThreshold, DefaultUnhealthyThreshold)
	out.DesyncMitigationMode = cmp.Or(out.DesyncMitigationMode, DesyncDefensive)
	out.AccessLogsPrefix = cmp.Or(out.AccessLogsPrefix, "alb/"+name)
	return out
}

// validate returns every problem at once, one per line: missing inputs,
// then the static fields'.
func (a *ALBArgs) validate() error {
	if a == nil {
		return errors.New("loadbalancer: args are required")
	}
	var errs []error
	add := func(format string, v ...any) { errs = append(errs, fmt.Errorf(format, v...)) }
	if a.VPCID == nil {
		add("vpcId: is required")
	}
	if a.SubnetIDs == nil {
		add("subnetIds: is required")
	}
	if a.SecurityGroupID == nil {
		add("securityGroupId: is required")
	}
	if a.AccessLogsBucket == nil {
		add("accessLogsBucket: is required (ELB.5)")
	}
	if a.HTTPS && a.CertificateARN == nil {
		add("certificateArn: is required when https is on")
	}
	if !a.HTTPS && a.CertificateARN != nil {
		add("certificateArn: is set but https is off")
	}
	if err := a.validateStatic(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateStatic checks the plain fields, defaults applied.
func (a *ALBArgs) validateStatic() error {
	var errs []error
	add := func(format string, v ...any) { errs = append(errs, fmt.Errorf(format, v...)) }
	d := a.withDefaults("x")
	rng := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			add("%s: %d must be between %d and %d", key, v, lo, hi)
		}
	}
	rng("appPort", d.AppPort, 1, 65535)
	if d.AppPort == 22 {
		add("appPort: 22 is SSH, which surge never opens")
	}
	if err := d.Spec.Validate(); err != nil {
		errs = append(errs, err)
	}
	rng("healthCheckIntervalSeconds", d.HealthCheckIntervalSeconds, 5, 300)
	rng("healthCheckTimeoutSeconds", d.HealthCheckTimeoutSeconds, 2, 120)
	if d.HealthCheckTimeoutSeconds >= d.HealthCheckIntervalSeconds {
		add("healthCheckTimeoutSeconds: %d must be less than healthCheckIntervalSeconds %d", d.HealthCheckTimeoutSeconds, d.HealthCheckIntervalSeconds)
	}
	rng("healthyThreshold", d.HealthyThreshold, 2, 10)
	rng("unhealthyThreshold", d.UnhealthyThreshold, 2, 10)
	switch d.DesyncMitigationMode {
	case DesyncDefensive, DesyncStrictest:
	default:
		add("desyncMitigationMode: %q must be %q or %q (ELB.12)", d.DesyncMitigationMode, DesyncDefensive, DesyncStrictest)
	}
	// ALB access-log prefixes must not start or end with "/" nor contain
	// "AWSLogs" (the service adds it).
	if p := a.AccessLogsPrefix; p != "" && (strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "AWSLogs")) {
		add("accessLogsPrefix: %q must not start or end with \"/\" or contain \"AWSLogs\"", p)
	}
	return errors.Join(errs...)
}

// NewALB declares the internal load balancer, its target group and listener.
func NewALB(ctx *pulumi.Context, name string, args *ALBArgs, opts ...pulumi.ResourceOption) (*ALB, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("loadbalancer %s: invalid args:\n%w", name, err)
	}
	a := args.withDefaults(name)

	c := &ALB{ListenerPort: ListenerPort(a.HTTPS), HTTPS: a.HTTPS}
	if err := ctx.RegisterComponentResource("surge:loadbalancer:ALB", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering loadbalancer %s: %w", name, err)
	}
	parent := pulumi.Parent(c)

	alb, err := lb.NewLoadBalancer(ctx, name+"-alb", &lb.LoadBalancerArgs{
		Name:             pulumi.String(naming.Physical(name, "alb", naming.MaxLoadBalancer)),
		LoadBalancerType: pulumi.String("application"),
		// Internal: no public address; CloudFront reaches it through a VPC
		// origin (trivy AVD-AWS-0053, docs/decisions/internal-alb-vpc-origin.md).
		Internal:                pulumi.Bool(true),
		IpAddressType:           pulumi.String("ipv4"),
		Subnets:                 a.SubnetIDs,
		SecurityGroups:          pulumi.StringArray{a.SecurityGroupID},
		DropInvalidHeaderFields: pulumi.Bool(true), // ELB.4
		DesyncMitigationMode:    pulumi.String(a.DesyncMitigationMode),
		// Off in dev so the stack can be destroyed (docs/decisions/alb-deletion-protection.md).
		EnableDeletionProtection: pulumi.Bool(a.DeletionProtection),
		EnableHttp2:              pulumi.Bool(true),
		EnableWafFailOpen:        pulumi.Bool(false),
		IdleTimeout:              pulumi.Int(a.IdleTimeoutSeconds),
		// The app sees the Host header exactly as CloudFront sent it.
		PreserveHostHeader:      pulumi.Bool(true),
		XffHeaderProcessingMode: pulumi.String("append"),
		AccessLogs: &lb.LoadBalancerAccessLogsArgs{
			Bucket:  a.AccessLogsBucket,
			Prefix:  pulumi.String(a.AccessLogsPrefix),
			Enabled: pulumi.Bool(true), // ELB.5; defaults to false even with a bucket
		},
	}, parent, pulumi.DependsOn(a.AccessLogsDependsOn))
	if err != nil {
		return nil, fmt.Errorf("creating load balancer: %w", err)
	}

	// The port is part of the name: a changed port replaces the target group,
	// and the replacement must not collide with the old name.
	tg, err := lb.NewTargetGroup(ctx, name+"-app", &lb.TargetGroupArgs{
		Name:                pulumi.String(naming.Physical(name, fmt.Sprintf("app-%d", a.AppPort), naming.MaxLoadBalancer)),
		VpcId:               a.VPCID,
		TargetType:          pulumi.String("instance"),
		Protocol:            pulumi.String("HTTP"),
		ProtocolVersion:     pulumi.String("HTTP1"),
		Port:                pulumi.Int(a.AppPort),
		DeregistrationDelay: pulumi.Int(a.DeregistrationDelaySeconds),
		SlowStart:           pulumi.Int(a.SlowStartSeconds),
		HealthCheck: &lb.TargetGroupHealthCheckArgs{
			Enabled:            pulumi.Bool(true),
			Protocol:           pulumi.String("HTTP"),
			Port:               pulumi.String("traffic-port"),
			Path:               pulumi.String(HealthCheckPath),
			Matcher:            pulumi.String("200"),
			Interval:           pulumi.Int(a.HealthCheckIntervalSeconds),
			Timeout:            pulumi.Int(a.HealthCheckTimeoutSeconds),
			HealthyThreshold:   pulumi.Int(a.HealthyThreshold),
			UnhealthyThreshold: pulumi.Int(a.UnhealthyThreshold),
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating target group: %w", err)
	}

	listener := &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn,
		Port:            pulumi.Int(HTTPPort),
		Protocol:        pulumi.String("HTTP"),
		DefaultActions: lb.ListenerDefaultActionArray{&lb.ListenerDefaultActionArgs{
			Type:           pulumi.String("forward"),
			TargetGroupArn: tg.Arn,
		}},
	}
	if a.HTTPS {
		listener.Port = pulumi.Int(HTTPSPort)
		listener.Protocol = pulumi.String("HTTPS")
		listener.SslPolicy = pulumi.String(TLSPolicy) // ELB.17
		listener.CertificateArn = a.CertificateARN
	}
	l, err := lb.NewListener(ctx, name+"-"+strings.ToLower(listenerProtocol(a.HTTPS)), listener, parent)
	if err != nil {
		return nil, fmt.Errorf("creating listener: %w", err)
	}

	c.LoadBalancerARN = alb.Arn
	c.ARNSuffix = alb.ArnSuffix
	c.DNSName = alb.DnsName
	c.ZoneID = alb.ZoneId
	c.TargetGroupARN = tg.Arn
	c.TargetGroupARNSuffix = tg.ArnSuffix
	c.ListenerARN = l.Arn
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"loadBalancerArn":      c.LoadBalancerARN,
		"arnSuffix":            c.ARNSuffix,
		"dnsName":              c.DNSName,
		"zoneId":               c.ZoneID,
		"targetGroupArn":       c.TargetGroupARN,
		"targetGroupArnSuffix": c.TargetGroupARNSuffix,
		"listenerArn":          c.ListenerARN,
		"listenerPort":         pulumi.Int(c.ListenerPort),
	}); err != nil {
		return nil, fmt.Errorf("registering loadbalancer %s outputs: %w", name, err)
	}
	return c, nil
}

func listenerProtocol(https bool) string {
	if https {
		return "HTTPS"
	}
	return "HTTP"
}
