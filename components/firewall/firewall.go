// Package firewall declares surge's chained security groups: CloudFront ->
// ALB -> app -> database and cache, and nothing else.
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

// ChainArgs configure a Chain.
type ChainArgs struct {
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

// Chain holds the four security groups.
type Chain struct {
	pulumi.ResourceState

	ALBSecurityGroupID      pulumi.IDOutput
	AppSecurityGroupID      pulumi.IDOutput
	DatabaseSecurityGroupID pulumi.IDOutput
	CacheSecurityGroupID    pulumi.IDOutput
}

func (a *ChainArgs) withDefaults() ChainArgs {
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

// validate returns every problem at once, one per line.
func (a *ChainArgs) validate() error {
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
	if err := a.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Validate checks the plain fields (ports) only, so the stack can call it
// while validating config. NewChain also checks the inputs.
func (a *ChainArgs) Validate() error {
	if a == nil {
		return errors.New("firewall: args are required")
	}
	var errs []error
	d := a.withDefaults()
	ports := []struct {
		key  string
		port int
	}{
		{"listenerPort", d.ListenerPort},
		{"appPort", d.AppPort},
		{"databasePort", d.DatabasePort},
		{"cachePort", d.CachePort},
	}
	for _, p := range ports {
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

// NewChain declares the chained groups and their rules, one rule resource
// per rule so each has a description and an ID.
func NewChain(ctx *pulumi.Context, name string, args *ChainArgs, opts ...pulumi.ResourceOption) (*Chain, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("firewall %s: invalid args:\n%w", name, err)
	}
	a := args.withDefaults()

	c := &Chain{}
	if err := ctx.RegisterComponentResource("surge:firewall:Chain", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering firewall %s: %w", name, err)
	}
	parent := pulumi.Parent(c)

	// Groups without inline rules: the provider also removes the allow-all
	// egress rule AWS adds to every new group, so only the rules below exist.
	group := func(tier, description string) (*ec2.SecurityGroup, error) {
		sg, err := ec2.NewSecurityGroup(ctx, name+"-"+tier, &ec2.SecurityGroupArgs{
			VpcId:       a.VPCID,
			Description: pulumi.String(description),
			Tags:        pulumi.StringMap{"Name": pulumi.String(name + "-" + tier)},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating %s security group: %w", tier, err)
		}
		return sg, nil
	}
	alb, err := group("alb", "Internal ALB: listener port from CloudFront (VPC origin) only")
	if err != nil {
		return nil, err
	}
	app, err := group("app", "App instances: app port from the ALB only")
	if err != nil {
		return nil, err
	}
	db, err := group("db", "PostgreSQL: database port from the app instances only")
	if err != nil {
		return nil, err
	}
	cache, err := group("cache", "Redis/Valkey: cache port from the app instances only")
	if err != nil {
		return nil, err
	}

	type source struct {
		prefixList pulumi.StringInput
		group      pulumi.StringInput
		cidr       pulumi.StringInput
	}
	ingress := func(suffix string, sg *ec2.SecurityGroup, port int, src source, description string) error {
		_, err := vpc.NewSecurityGroupIngressRule(ctx, name+"-"+suffix, &vpc.SecurityGroupIngressRuleArgs{
			SecurityGroupId:           sg.ID(),
			Description:               pulumi.String(description),
			IpProtocol:                pulumi.String("tcp"),
			FromPort:                  pulumi.Int(port),
			ToPort:                    pulumi.Int(port),
			PrefixListId:              ptr(src.prefixList),
			ReferencedSecurityGroupId: ptr(src.group),
			CidrIpv4:                  ptr(src.cidr),
		}, parent)
		if err != nil {
			return fmt.Errorf("creating ingress rule %s: %w", suffix, err)
		}
		return nil
	}
	egress := func(suffix string, sg *ec2.SecurityGroup, port int, src source, description string) error {
		_, err := vpc.NewSecurityGroupEgressRule(ctx, name+"-"+suffix, &vpc.SecurityGroupEgressRuleArgs{
			SecurityGroupId:           sg.ID(),
			Description:               pulumi.String(description),
			IpProtocol:                pulumi.String("tcp"),
			FromPort:                  pulumi.Int(port),
			ToPort:                    pulumi.Int(port),
			PrefixListId:              ptr(src.prefixList),
			ReferencedSecurityGroupId: ptr(src.group),
			CidrIpv4:                  ptr(src.cidr),
		}, parent)
		if err != nil {
			return fmt.Errorf("creating egress rule %s: %w", suffix, err)
		}
		return nil
	}
	id := func(sg *ec2.SecurityGroup) pulumi.StringInput { return sg.ID().ToStringOutput() }

	steps := []func() error{
		// CloudFront -> ALB.
		func() error {
			if a.CloudFrontPrefixListID == nil {
				return nil
			}
			return ingress("alb-from-cloudfront", alb, a.ListenerPort, source{prefixList: a.CloudFrontPrefixListID},
				fmt.Sprintf("CloudFront origin-facing prefix list to the ALB listener on %d", a.ListenerPort))
		},
		func() error {
			if a.VPCOriginSecurityGroupID == nil {
				return nil
			}
			return ingress("alb-from-vpc-origin", alb, a.ListenerPort, source{group: a.VPCOriginSecurityGroupID},
				fmt.Sprintf("CloudFront VPC origin ENIs (%s) to the ALB listener on %d", VPCOriginServiceSecurityGroupName, a.ListenerPort))
		},
		// ALB -> app (traffic and health checks).
		func() error {
			return egress("alb-to-app", alb, a.AppPort, source{group: id(app)},
				fmt.Sprintf("ALB to the app instances on %d (requests and health checks)", a.AppPort))
		},
		func() error {
			return ingress("app-from-alb", app, a.AppPort, source{group: id(alb)},
				fmt.Sprintf("ALB to the app on %d", a.AppPort))
		},
		// app -> database and cache.
		func() error {
			return egress("app-to-db", app, a.DatabasePort, source{group: id(db)},
				fmt.Sprintf("App to PostgreSQL on %d", a.DatabasePort))
		},
		func() error {
			return egress("app-to-cache", app, a.CachePort, source{group: id(cache)},
				fmt.Sprintf("App to Redis/Valkey on %d", a.CachePort))
		},
		// app -> AWS APIs. SSM, Secrets Manager, CloudWatch Logs and S3
		// are HTTPS endpoints reached through the NAT (dev) or interface and
		// gateway endpoints (prod); their public addresses are not a fixed
		// set a group could name, so 443 is open to any destination.
		// Egress only: nothing can connect in through it.
		func() error {
			return egress("app-to-https", app, 443, source{cidr: pulumi.String("0.0.0.0/0")},
				"App to AWS APIs over HTTPS (SSM, Secrets Manager, Logs, S3) via NAT or VPC endpoints")
		},
		func() error {
			return ingress("db-from-app", db, a.DatabasePort, source{group: id(app)},
				fmt.Sprintf("App to PostgreSQL on %d", a.DatabasePort))
		},
		func() error {
			return ingress("cache-from-app", cache, a.CachePort, source{group: id(app)},
				fmt.Sprintf("App to Redis/Valkey on %d", a.CachePort))
		},
		// Database and cache get no egress rule at all: they never open
		// connections, and replies to inbound connections are stateful.
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}

	c.ALBSecurityGroupID = alb.ID()
	c.AppSecurityGroupID = app.ID()
	c.DatabaseSecurityGroupID = db.ID()
	c.CacheSecurityGroupID = cache.ID()
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
