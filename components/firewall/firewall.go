// Package firewall declares surge's security groups, chained CloudFront ->
// ALB -> app -> database and cache, and the rules between them, nothing
// else. The rules are a table of data (flows), declared by one loop.
package firewall

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Default ports.
const (
	DefaultListenerPort = 443
	DefaultAppPort      = 8080
	DefaultDatabasePort = 5432
	DefaultCachePort    = 6379
)

// CloudFrontOriginFacingPrefixList is the AWS-managed prefix list of
// CloudFront's origin-facing addresses. The stack looks its ID up with
// ec2.LookupManagedPrefixList and passes it as CloudFrontPrefixListID.
const CloudFrontOriginFacingPrefixList = "com.amazonaws.global.cloudfront.origin-facing"

// VPCOriginServiceSecurityGroupName is the group CloudFront creates in the
// VPC with its first VPC origin there; its ENIs carry the origin traffic.
const VPCOriginServiceSecurityGroupName = "CloudFront-VPCOrigins-Service-SG"

// sshPort is refused for every port: instances are reached through SSM.
const sshPort = 22

// SecurityGroupsArgs configure the security groups.
type SecurityGroupsArgs struct {
	// VPCID is the VPC the groups live in. Required.
	VPCID pulumi.StringInput
	// ListenerPort is the ALB listener port CloudFront connects to: 443
	// with a certificate, 80 otherwise. Default 443.
	ListenerPort int
	// AppPort is the port the app listens on behind the ALB. Default 8080.
	AppPort int
	// DatabasePort is PostgreSQL's port. Default 5432.
	DatabasePort int
	// CachePort is Redis/Valkey's port. Default 6379.
	CachePort int
	// CloudFrontPrefixListID is the ID of CloudFrontOriginFacingPrefixList.
	// The ALB accepts ListenerPort from it through ONE rule: the list
	// weighs 55 of the 60 rules a group may hold by default. Required
	// unless VPCOriginSecurityGroupID is set.
	CloudFrontPrefixListID pulumi.StringInput
	// VPCOriginSecurityGroupID, when set, is the ID of
	// VPCOriginServiceSecurityGroupName in this VPC; the ALB then also
	// accepts ListenerPort from that group (one more rule). It exists only
	// after the first VPC origin was deployed, so it is a second-phase
	// tightening; leave nil on the first deployment. Optional.
	VPCOriginSecurityGroupID pulumi.StringInput
}

// SecurityGroups are the four tiers' groups, the surge:firewall:Chain
// component. The type token keeps its first name: it is part of every
// child's URN, and a new token would make `pulumi up` replace the groups.
type SecurityGroups struct {
	pulumi.ResourceState

	ALBSecurityGroupID      pulumi.IDOutput
	AppSecurityGroupID      pulumi.IDOutput
	DatabaseSecurityGroupID pulumi.IDOutput
	CacheSecurityGroupID    pulumi.IDOutput
}

func (a *SecurityGroupsArgs) withDefaults() SecurityGroupsArgs {
	out := *a
	if out.ListenerPort == 0 {
		out.ListenerPort = DefaultListenerPort
	}
	if out.AppPort == 0 {
		out.AppPort = DefaultAppPort
	}
	if out.DatabasePort == 0 {
		out.DatabasePort = DefaultDatabasePort
	}
	if out.CachePort == 0 {
		out.CachePort = DefaultCachePort
	}
	return out
}

// validate returns every problem at once, one per line: missing inputs,
// then the ports (defaults applied).
func (a *SecurityGroupsArgs) validate() error {
	if a == nil {
		return errors.New("firewall: args are required")
	}
	var errs []error
	if a.VPCID == nil {
		errs = append(errs, errors.New("vpcId: is required"))
	}
	if a.CloudFrontPrefixListID == nil && a.VPCOriginSecurityGroupID == nil {
		errs = append(errs, errors.New("cloudFrontPrefixListId: is required unless vpcOriginSecurityGroupId is set"))
	}
	d := a.withDefaults()
	for _, p := range []struct {
		key  string
		port int
	}{
		{"listenerPort", d.ListenerPort},
		{"appPort", d.AppPort},
		{"databasePort", d.DatabasePort},
		{"cachePort", d.CachePort},
	} {
		switch {
		case p.port < 1 || p.port > 65535:
			errs = append(errs, fmt.Errorf("%s: %d is not a TCP port", p.key, p.port))
		case p.port == sshPort:
			errs = append(errs, fmt.Errorf("%s: %d is SSH, which surge never opens (use SSM)", p.key, p.port))
		}
	}
	if d.ListenerPort != 80 && d.ListenerPort != 443 {
		errs = append(errs, fmt.Errorf("listenerPort: %d must be 443 (HTTPS) or 80 (HTTP inside the VPC)", d.ListenerPort))
	}
	return errors.Join(errs...)
}

// The tiers, each one security group.
const (
	tierALB   = "alb"
	tierApp   = "app"
	tierDB    = "db"
	tierCache = "cache"
)

// tiers are the groups in declaration order, with their descriptions.
var tiers = []struct{ name, description string }{
	{tierALB, "Internal ALB: listener port from CloudFront (VPC origin) only"},
	{tierApp, "App instances: app port from the ALB only"},
	{tierDB, "PostgreSQL: database port from the app instances only"},
	{tierCache, "Redis/Valkey: cache port from the app instances only"},
}

// flow is one allowed TCP flow of a tier's group, to or from exactly one
// peer: another tier's group, a prefix list, a group outside, or a CIDR.
type flow struct {
	suffix  string // logical name suffix
	tier    string // the group the rule belongs to
	egress  bool   // false: ingress
	port    int
	peer    string             // another tier, or
	prefix  pulumi.StringInput // a managed prefix list, or
	group   pulumi.StringInput // a security group outside, or
	cidr    string             // an IPv4 block
	purpose string             // the rule's description
}

// flows is the whole firewall: every flow allowed, nothing else. The
// database and cache get no egress rule at all: they never open
// connections, and replies to inbound connections are stateful.
func flows(a SecurityGroupsArgs) []flow {
	var out []flow
	// CloudFront -> ALB.
	if a.CloudFrontPrefixListID != nil {
		out = append(out, flow{suffix: "alb-from-cloudfront", tier: tierALB, port: a.ListenerPort, prefix: a.CloudFrontPrefixListID,
			purpose: fmt.Sprintf("CloudFront origin-facing prefix list to the ALB listener on %d", a.ListenerPort)})
	}
	if a.VPCOriginSecurityGroupID != nil {
		out = append(out, flow{suffix: "alb-from-vpc-origin", tier: tierALB, port: a.ListenerPort, group: a.VPCOriginSecurityGroupID,
			purpose: fmt.Sprintf("CloudFront VPC origin ENIs (%s) to the ALB listener on %d", VPCOriginServiceSecurityGroupName, a.ListenerPort)})
	}
	return append(out,
		// ALB -> app (traffic and health checks).
		flow{suffix: "alb-to-app", tier: tierALB, egress: true, port: a.AppPort, peer: tierApp,
			purpose: fmt.Sprintf("ALB to the app instances on %d (requests and health checks)", a.AppPort)},
		flow{suffix: "app-from-alb", tier: tierApp, port: a.AppPort, peer: tierALB,
			purpose: fmt.Sprintf("ALB to the app on %d", a.AppPort)},
		// app -> database and cache.
		flow{suffix: "app-to-db", tier: tierApp, egress: true, port: a.DatabasePort, peer: tierDB,
			purpose: fmt.Sprintf("App to PostgreSQL on %d", a.DatabasePort)},
		flow{suffix: "app-to-cache", tier: tierApp, egress: true, port: a.CachePort, peer: tierCache,
			purpose: fmt.Sprintf("App to Redis/Valkey on %d", a.CachePort)},
		// app -> AWS APIs. SSM, Secrets Manager, CloudWatch Logs and S3 are
		// HTTPS endpoints reached through the NAT (dev) or interface and
		// gateway endpoints (prod); their public addresses are not a fixed
		// set a group could name, so 443 is open to any destination.
		// Egress only: nothing can connect in through it.
		flow{suffix: "app-to-https", tier: tierApp, egress: true, port: 443, cidr: "0.0.0.0/0",
			purpose: "App to AWS APIs over HTTPS (SSM, Secrets Manager, Logs, S3) via NAT or VPC endpoints"},
		flow{suffix: "db-from-app", tier: tierDB, port: a.DatabasePort, peer: tierApp,
			purpose: fmt.Sprintf("App to PostgreSQL on %d", a.DatabasePort)},
		flow{suffix: "cache-from-app", tier: tierCache, port: a.CachePort, peer: tierApp,
			purpose: fmt.Sprintf("App to Redis/Valkey on %d", a.CachePort)},
	)
}

// NewSecurityGroups declares the groups and the flows table, one rule
// resource per rule so each has a description and an ID.
func NewSecurityGroups(ctx *pulumi.Context, name string, args *SecurityGroupsArgs, opts ...pulumi.ResourceOption) (*SecurityGroups, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("firewall %s: invalid args:\n%w", name, err)
	}
	a := args.withDefaults()

	c := &SecurityGroups{}
	if err := ctx.RegisterComponentResource("surge:firewall:Chain", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering firewall %s: %w", name, err)
	}
	parent := pulumi.Parent(c)

	// Groups without inline rules: the provider also removes the allow-all
	// egress rule AWS adds to every new group, so only the rules below exist.
	groups := map[string]*ec2.SecurityGroup{}
	for _, t := range tiers {
		sg, err := ec2.NewSecurityGroup(ctx, name+"-"+t.name, &ec2.SecurityGroupArgs{
			VpcId:       a.VPCID,
			Description: pulumi.String(t.description),
			Tags:        pulumi.StringMap{"Name": pulumi.String(name + "-" + t.name)},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating %s security group: %w", t.name, err)
		}
		groups[t.name] = sg
	}

	for _, r := range flows(a) {
		peerGroup := r.group
		if r.peer != "" {
			peerGroup = groups[r.peer].ID().ToStringOutput()
		}
		var cidr pulumi.StringInput
		if r.cidr != "" {
			cidr = pulumi.String(r.cidr)
		}
		var err error
		if r.egress {
			_, err = vpc.NewSecurityGroupEgressRule(ctx, name+"-"+r.suffix, &vpc.SecurityGroupEgressRuleArgs{
				SecurityGroupId:           groups[r.tier].ID(),
				Description:               pulumi.String(r.purpose),
				IpProtocol:                pulumi.String("tcp"),
				FromPort:                  pulumi.Int(r.port),
				ToPort:                    pulumi.Int(r.port),
				PrefixListId:              ptr(r.prefix),
				ReferencedSecurityGroupId: ptr(peerGroup),
				CidrIpv4:                  ptr(cidr),
			}, parent)
		} else {
			_, err = vpc.NewSecurityGroupIngressRule(ctx, name+"-"+r.suffix, &vpc.SecurityGroupIngressRuleArgs{
				SecurityGroupId:           groups[r.tier].ID(),
				Description:               pulumi.String(r.purpose),
				IpProtocol:                pulumi.String("tcp"),
				FromPort:                  pulumi.Int(r.port),
				ToPort:                    pulumi.Int(r.port),
				PrefixListId:              ptr(r.prefix),
				ReferencedSecurityGroupId: ptr(peerGroup),
				CidrIpv4:                  ptr(cidr),
			}, parent)
		}
		if err != nil {
			return nil, fmt.Errorf("creating rule %s: %w", r.suffix, err)
		}
	}

	c.ALBSecurityGroupID = groups[tierALB].ID()
	c.AppSecurityGroupID = groups[tierApp].ID()
	c.DatabaseSecurityGroupID = groups[tierDB].ID()
	c.CacheSecurityGroupID = groups[tierCache].ID()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"albSecurityGroupId":      c.ALBSecurityGroupID,
		"appSecurityGroupId":      c.AppSecurityGroupID,
		"databaseSecurityGroupId": c.DatabaseSecurityGroupID,
		"cacheSecurityGroupId":    c.CacheSecurityGroupID,
	}); err != nil {
		return nil, fmt.Errorf("registering firewall %s outputs: %w", name, err)
	}
	return c, nil
}

// ptr turns an optional StringInput into the provider's pointer input,
// leaving the property unset when nil.
func ptr(in pulumi.StringInput) pulumi.StringPtrInput {
	if in == nil {
		return nil
	}
	return in.ToStringOutput().ToStringPtrOutput()
}
