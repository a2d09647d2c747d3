// Package network declares surge's VPC: public, private-app and private-data
// subnets in every availability zone, NAT, routing, VPC endpoints, flow logs
// and the stripped default security group.
package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/spec"
)

// NAT strategies.
const (
	// NATSingle shares one NAT gateway (in the first AZ) between all app
	// subnets: cheap, but losing that AZ cuts every instance's egress.
	NATSingle = "single"
	// NATPerAZ puts one NAT gateway in each AZ and routes each app subnet
	// through its own AZ's gateway, so an AZ failure stays in that AZ.
	NATPerAZ = "per-az"
)

// Flow log traffic types accepted here (Security Hub EC2.6 evaluates REJECT).
const (
	TrafficAll    = "ALL"
	TrafficReject = "REJECT"
)

// Limits on the number of AZs: an ALB needs two, and six is more than any
// region we target offers to a single account.
const (
	minAZs = 2
	maxAZs = 6
)

// InterfaceEndpointServices are the services the app instances reach through
// interface endpoints when they are on: Session Manager (ssm, ssmmessages,
// ec2messages), the DB and cache secrets, and CloudWatch Logs.
func InterfaceEndpointServices() []string {
	return []string{"ssm", "ssmmessages", "ec2messages", "secretsmanager", "logs"}
}

// Spec is the network's static shape: `surge:network` in the stack config.
// Defaults gives its per-environment values.
type Spec struct {
	CIDR               string   `json:"cidr"`               // VPC IPv4 block: private (RFC 1918), /16 to /28, large enough for 3 subnet tiers per AZ.
	AZCount            int      `json:"azCount"`            // Availability zones used, 2..6 (an ALB needs 2).
	AvailabilityZones  []string `json:"availabilityZones"`  // Explicit zone names, azCount of them; none = the region's first azCount usable zones.
	NATGateways        string   `json:"natGateways"`        // "single" or "per-az" (one NAT gateway per zone, so one zone's outage cuts no other off).
	InterfaceEndpoints bool     `json:"interfaceEndpoints"` // Interface endpoints for SSM, Secrets Manager and CloudWatch Logs in the app subnets; off, those go through the NAT.
	// FlowLogRetentionDays is kept a year in prod (CloudWatch.16).
	FlowLogRetentionDays int    `json:"flowLogRetentionDays"` // Days the VPC flow log group keeps events, a CloudWatch Logs retention value (CloudWatch.16 wants 365 or more).
	FlowLogTrafficType   string `json:"flowLogTrafficType"`   // ALL or REJECT (EC2.6 needs rejected traffic logged).
}

// Defaults are the environment's values: dev two zones and one NAT
// gateway, prod three zones each with its own NAT gateway and endpoints.
func Defaults(env spec.Env) Spec {
	if env == spec.Prod {
		return Spec{CIDR: "10.30.0.0/16", AZCount: 3, NATGateways: NATPerAZ, InterfaceEndpoints: true, FlowLogRetentionDays: 365, FlowLogTrafficType: TrafficAll}
	}
	return Spec{CIDR: "10.20.0.0/16", AZCount: 2, NATGateways: NATSingle, FlowLogRetentionDays: 14, FlowLogTrafficType: TrafficAll}
}

// Validate reports every problem of the Spec, keyed by its JSON path. The
// zones' region is the stack's (aws:region) and checked there.
func (s Spec) Validate() error {
	var p spec.Problems
	prefix, err := netip.ParsePrefix(s.CIDR)
	switch {
	case err != nil:
		p.Add("cidr", "%q is not a CIDR block (e.g. 10.20.0.0/16)", s.CIDR)
	case !prefix.Addr().Is4():
		p.Add("cidr", "%q must be an IPv4 block", s.CIDR)
	case prefix.Masked() != prefix:
		p.Add("cidr", "%q has host bits set; did you mean %s?", s.CIDR, prefix.Masked())
	case prefix.Bits() < 16 || prefix.Bits() > 28:
		p.Add("cidr", "prefix /%d is outside /16../28 (the VPC sizes AWS allows)", prefix.Bits())
	case !prefix.Addr().IsPrivate():
		p.Add("cidr", "%q is not an RFC 1918 private range", s.CIDR)
	case s.AZCount >= 1:
		// Three tiers in every AZ must fit without overlapping.
		if _, err := Plan(s.CIDR, s.AZCount, SubnetBits{}); err != nil {
			p.Add("cidr", "%s cannot hold public, app and data subnets in %d AZs: %s", s.CIDR, s.AZCount, strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}
	if s.AZCount < minAZs || s.AZCount > maxAZs {
		p.Add("azCount", "%d is outside %d..%d (an ALB needs subnets in at least 2 AZs)", s.AZCount, minAZs, maxAZs)
	}
	if len(s.AvailabilityZones) > 0 && len(s.AvailabilityZones) != s.AZCount {
		p.Add("availabilityZones", "lists %d zones but azCount is %d", len(s.AvailabilityZones), s.AZCount)
	}
	seen := map[string]bool{}
	for i, az := range s.AvailabilityZones {
		if seen[az] {
			p.Add(fmt.Sprintf("availabilityZones[%d]", i), "%q is listed twice", az)
		}
		seen[az] = true
	}
	if s.NATGateways != NATSingle && s.NATGateways != NATPerAZ {
		p.Add("natGateways", "must be %q or %q, got %q", NATSingle, NATPerAZ, s.NATGateways)
	}
	if !spec.ValidLogRetention(s.FlowLogRetentionDays) {
		p.Add("flowLogRetentionDays", "%d is not a CloudWatch Logs retention value %v", s.FlowLogRetentionDays, spec.LogRetentionDays)
	}
	if s.FlowLogTrafficType != TrafficAll && s.FlowLogTrafficType != TrafficReject {
		p.Add("flowLogTrafficType", "must be ALL or REJECT (EC2.6 needs rejected traffic logged), got %q", s.FlowLogTrafficType)
	}
	return p.Err()
}

// NetworkArgs are the Spec plus the zones the stack resolved and the
// subnet sizes. Zero Spec fields take prod's values (NAT per AZ, a year of
// flow logs, all traffic).
type NetworkArgs struct {
	Spec
	// Region is the AWS region the stack deploys to, e.g. "eu-west-1"; it
	// names the endpoint services. Required (no getRegion invoke here).
	Region string
	// Zones are the zone names, 2 to 6, each in Region, e.g.
	// ["eu-west-1a", "eu-west-1b"]: Spec.AvailabilityZones or the region's
	// first usable ones. Each tier gets one subnet per zone, in this order.
	// Required.
	Zones []string
	// PublicNewBits, AppNewBits and DataNewBits are the bits each tier's
	// subnets add to the VPC prefix. Defaults: 8 (/24), 4 (/20), 8 (/24)
	// for a /16, shrunk for smaller VPCs down to /28 (public, data) and /27
	// (app, which holds the ALB). See Plan.
	PublicNewBits, AppNewBits, DataNewBits int
}

// Network is the VPC and everything routed inside it.
type Network struct {
	pulumi.ResourceState

	VPCID pulumi.IDOutput
	// CIDR is the VPC block, also as plain text for consumers that need it
	// while declaring (security group rules, config checks).
	CIDR string
	// AvailabilityZones are the zones in the order of the subnet outputs.
	AvailabilityZones []string
	// Plan is the subnet address plan that was declared.
	Plan SubnetPlan

	PublicSubnetIDs pulumi.StringArrayOutput
	AppSubnetIDs    pulumi.StringArrayOutput
	DataSubnetIDs   pulumi.StringArrayOutput

	NATGatewayIDs      pulumi.StringArrayOutput
	NATPublicIPs       pulumi.StringArrayOutput
	PublicRouteTableID pulumi.IDOutput
	AppRouteTableIDs   pulumi.StringArrayOutput
	DataRouteTableIDs  pulumi.StringArrayOutput

	S3EndpointID pulumi.IDOutput
	// EndpointSecurityGroupID is the interface endpoints' group; an empty
	// string when InterfaceEndpoints is off.
	EndpointSecurityGroupID pulumi.StringOutput

	FlowLogID        pulumi.IDOutput
	FlowLogGroupName pulumi.StringOutput
	FlowLogGroupARN  pulumi.StringOutput
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	azTailRE = regexp.MustCompile(`^[a-z0-9-]+$`)
)

func (a *NetworkArgs) withDefaults() NetworkArgs {
	out := *a
	out.Zones = append([]string(nil), a.Zones...)
	prod := Defaults(spec.Prod)
	if out.NATGateways == "" {
		out.NATGateways = prod.NATGateways
	}
	if out.FlowLogRetentionDays == 0 {
		out.FlowLogRetentionDays = prod.FlowLogRetentionDays
	}
	if out.FlowLogTrafficType == "" {
		out.FlowLogTrafficType = prod.FlowLogTrafficType
	}
	return out
}

func (a *NetworkArgs) bits() SubnetBits {
	return SubnetBits{Public: a.PublicNewBits, App: a.AppNewBits, Data: a.DataNewBits}
}

func (a *NetworkArgs) validate() error {
	if a == nil {
		return errors.New("network: args are required")
	}
	var errs []error
	regionOK := regionRE.MatchString(a.Region)
	if !regionOK {
		errs = append(errs, fmt.Errorf("region: %q is not an AWS region name", a.Region))
	}
	n := len(a.Zones)
	if n < minAZs || n > maxAZs {
		errs = append(errs, fmt.Errorf("availabilityZones: need %d to %d zones, got %d", minAZs, maxAZs, n))
	}
	seen := map[string]bool{}
	for _, az := range a.Zones {
		switch {
		case seen[az]:
			errs = append(errs, fmt.Errorf("availabilityZones: %q is listed twice", az))
		case regionOK && azSuffix(a.Region, az) == "":
			errs = append(errs, fmt.Errorf("availabilityZones: %q is not a zone of region %q", az, a.Region))
		}
		seen[az] = true
	}
	if n > 0 {
		if _, err := Plan(a.CIDR, n, a.bits()); err != nil {
			errs = append(errs, err)
		}
	} else if _, err := parseVPCCIDR(a.CIDR); err != nil {
		errs = append(errs, err)
	}
	switch a.NATGateways {
	case "", NATSingle, NATPerAZ:
	default:
		errs = append(errs, fmt.Errorf("natGateways: %q must be %q or %q", a.NATGateways, NATSingle, NATPerAZ))
	}
	if a.FlowLogRetentionDays != 0 && !spec.ValidLogRetention(a.FlowLogRetentionDays) {
		errs = append(errs, fmt.Errorf("flowLogRetentionDays: %d is not a CloudWatch Logs retention value %v", a.FlowLogRetentionDays, spec.LogRetentionDays))
	}
	switch a.FlowLogTrafficType {
	case "", TrafficAll, TrafficReject:
	default:
		errs = append(errs, fmt.Errorf("flowLogTrafficType: %q must be %q or %q", a.FlowLogTrafficType, TrafficAll, TrafficReject))
	}
	return errors.Join(errs...)
}

// azSuffix is the zone's part after the region ("a" for "eu-west-1a"),
// used in logical names so reordering zones never renames a subnet; "" when
// az is not in region.
func azSuffix(region, az string) string {
	if !strings.HasPrefix(az, region) {
		return ""
	}
	s := strings.Trim(strings.TrimPrefix(az, region), "-")
	if !azTailRE.MatchString(s) {
		return ""
	}
	return s
}

// partition is the ARN partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// NewNetwork declares the VPC of one stack.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("network %s: invalid args:\n%w", name, err)
	}
	a := args.withDefaults()
	plan, err := Plan(a.CIDR, len(a.Zones), a.bits())
	if err != nil {
		return nil, fmt.Errorf("network %s: planning subnets: %w", name, err)
	}

	c := &Network{CIDR: a.CIDR, AvailabilityZones: a.Zones, Plan: plan}
	if err := ctx.RegisterComponentResource("surge:network:Network", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering network %s: %w", name, err)
	}
	parent := pulumi.Parent(c)

	v, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(a.CIDR),
		EnableDnsHostnames: pulumi.Bool(true), // needed by private DNS of interface endpoints
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               nameTag(name),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating vpc: %w", err)
	}

	// The IGW serves the NAT gateways; CloudFront VPC origins also require
	// the VPC to have one attached, although their traffic does not use it.
	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: v.ID(),
		Tags:  nameTag(name + "-igw"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating internet gateway: %w", err)
	}

	pubCIDRs, appCIDRs, dataCIDRs := plan.Strings()
	var public, app, data []*ec2.Subnet
	for i, az := range a.Zones {
		sfx := azSuffix(a.Region, az)
		for _, t := range []struct {
			tier string
			cidr string
			out  *[]*ec2.Subnet
		}{
			{"public", pubCIDRs[i], &public},
			{"app", appCIDRs[i], &app},
			{"data", dataCIDRs[i], &data},
		} {
			sn, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-%s-%s", name, t.tier, sfx), &ec2.SubnetArgs{
				VpcId:            v.ID(),
				AvailabilityZone: pulumi.String(az),
				CidrBlock:        pulumi.String(t.cidr),
				// EC2.15: no subnet, public ones included, hands out public
				// IPs; NAT gateways get EIPs and the ALB is internal.
				MapPublicIpOnLaunch: pulumi.Bool(false),
				Tags:                nameTag(fmt.Sprintf("%s-%s-%s", name, t.tier, sfx)),
			}, parent)
			if err != nil {
				return nil, fmt.Errorf("creating %s subnet in %s: %w", t.tier, az, err)
			}
			*t.out = append(*t.out, sn)
		}
	}

	// NAT gateways with their EIPs, in the public subnets.
	natCount := 1
	if a.NATGateways == NATPerAZ {
		natCount = len(a.Zones)
	}
	var nats []*ec2.NatGateway
	var natIDs, natIPs pulumi.StringArray
	for i := 0; i < natCount; i++ {
		sfx := azSuffix(a.Region, a.Zones[i])
		eip, err := ec2.NewEip(ctx, fmt.Sprintf("%s-nat-%s", name, sfx), &ec2.EipArgs{
			Domain: pulumi.String("vpc"),
			Tags:   nameTag(fmt.Sprintf("%s-nat-%s", name, sfx)),
		}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
		if err != nil {
			return nil, fmt.Errorf("creating nat eip in %s: %w", a.Zones[i], err)
		}
		nat, err := ec2.NewNatGateway(ctx, fmt.Sprintf("%s-nat-%s", name, sfx), &ec2.NatGatewayArgs{
			AllocationId:     eip.ID(),
			SubnetId:         public[i].ID(),
			ConnectivityType: pulumi.String("public"),
			Tags:             nameTag(fmt.Sprintf("%s-nat-%s", name, sfx)),
		}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
		if err != nil {
			return nil, fmt.Errorf("creating nat gateway in %s: %w", a.Zones[i], err)
		}
		nats = append(nats, nat)
		natIDs = append(natIDs, nat.ID().ToStringOutput())
		natIPs = append(natIPs, eip.PublicIp)
	}

	// Public tier: one table, default route to the IGW.
	pubRT, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{
		VpcId: v.ID(),
		Tags:  nameTag(name + "-public"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating public route table: %w", err)
	}
	if _, err := ec2.NewRoute(ctx, name+"-public-default", &ec2.RouteArgs{
		RouteTableId:         pubRT.ID(),
		DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
		GatewayId:            igw.ID(),
	}, parent); err != nil {
		return nil, fmt.Errorf("creating public default route: %w", err)
	}

	var appRTIDs, dataRTIDs pulumi.StringArray
	for i, az := range a.Zones {
		sfx := azSuffix(a.Region, az)
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%s", name, sfx), &ec2.RouteTableAssociationArgs{
			RouteTableId: pubRT.ID(),
			SubnetId:     public[i].ID(),
		}, parent); err != nil {
			return nil, fmt.Errorf("associating public subnet in %s: %w", az, err)
		}

		// App tier: a table per AZ so that, per-az, each AZ egresses through
		// its own NAT and survives the loss of another AZ.
		appRT, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-app-%s", name, sfx), &ec2.RouteTableArgs{
			VpcId: v.ID(),
			Tags:  nameTag(fmt.Sprintf("%s-app-%s", name, sfx)),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating app route table in %s: %w", az, err)
		}
		nat := nats[0]
		if a.NATGateways == NATPerAZ {
			nat = nats[i]
		}
		if _, err := ec2.NewRoute(ctx, fmt.Sprintf("%s-app-%s-default", name, sfx), &ec2.RouteArgs{
			RouteTableId:         appRT.ID(),
			DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
			NatGatewayId:         nat.ID(),
		}, parent); err != nil {
			return nil, fmt.Errorf("creating app default route in %s: %w", az, err)
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-app-%s", name, sfx), &ec2.RouteTableAssociationArgs{
			RouteTableId: appRT.ID(),
			SubnetId:     app[i].ID(),
		}, parent); err != nil {
			return nil, fmt.Errorf("associating app subnet in %s: %w", az, err)
		}
		appRTIDs = append(appRTIDs, appRT.ID().ToStringOutput())

		// Data tier: local routes only (plus the S3 gateway endpoint), so
		// the databases have no path to or from the internet.
		dataRT, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-data-%s", name, sfx), &ec2.RouteTableArgs{
			VpcId: v.ID(),
			Tags:  nameTag(fmt.Sprintf("%s-data-%s", name, sfx)),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating data route table in %s: %w", az, err)
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-data-%s", name, sfx), &ec2.RouteTableAssociationArgs{
			RouteTableId: dataRT.ID(),
			SubnetId:     data[i].ID(),
		}, parent); err != nil {
			return nil, fmt.Errorf("associating data subnet in %s: %w", az, err)
		}
		dataRTIDs = append(dataRTIDs, dataRT.ID().ToStringOutput())
	}

	// S3 gateway endpoint: free, and keeps artifact downloads off the NAT.
	s3ep, err := ec2.NewVpcEndpoint(ctx, name+"-s3", &ec2.VpcEndpointArgs{
		VpcId:           v.ID(),
		ServiceName:     pulumi.Sprintf("com.amazonaws.%s.s3", a.Region),
		VpcEndpointType: pulumi.String("Gateway"),
		RouteTableIds:   append(append(pulumi.StringArray{}, appRTIDs...), dataRTIDs...),
		Tags:            nameTag(name + "-s3"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating s3 gateway endpoint: %w", err)
	}

	endpointSGID := pulumi.String("").ToStringOutput()
	if a.InterfaceEndpoints {
		id, err := interfaceEndpoints(ctx, name, v, a, app, parent)
		if err != nil {
			return nil, err
		}
		endpointSGID = id
	}

	logGroup, flowLog, err := flowLogs(ctx, name, v, a, parent)
	if err != nil {
		return nil, err
	}

	// EC2.2: adopting the default group with no rules makes the provider
	// revoke every rule AWS put in it.
	if _, err := ec2.NewDefaultSecurityGroup(ctx, name+"-default-sg", &ec2.DefaultSecurityGroupArgs{
		VpcId: v.ID(),
		Tags:  nameTag(name + "-default-do-not-use"),
	}, parent); err != nil {
		return nil, fmt.Errorf("adopting default security group: %w", err)
	}

	c.VPCID = v.ID()
	c.PublicSubnetIDs = subnetIDs(public)
	c.AppSubnetIDs = subnetIDs(app)
	c.DataSubnetIDs = subnetIDs(data)
	c.NATGatewayIDs = natIDs.ToStringArrayOutput()
	c.NATPublicIPs = natIPs.ToStringArrayOutput()
	c.PublicRouteTableID = pubRT.ID()
	c.AppRouteTableIDs = appRTIDs.ToStringArrayOutput()
	c.DataRouteTableIDs = dataRTIDs.ToStringArrayOutput()
	c.S3EndpointID = s3ep.ID()
	c.EndpointSecurityGroupID = endpointSGID
	c.FlowLogID = flowLog.ID()
	c.FlowLogGroupName = logGroup.Name
	c.FlowLogGroupARN = logGroup.Arn

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"vpcId":                   c.VPCID,
		"cidr":                    pulumi.String(c.CIDR),
		"publicSubnetIds":         c.PublicSubnetIDs,
		"appSubnetIds":            c.AppSubnetIDs,
		"dataSubnetIds":           c.DataSubnetIDs,
		"natGatewayIds":           c.NATGatewayIDs,
		"natPublicIps":            c.NATPublicIPs,
		"appRouteTableIds":        c.AppRouteTableIDs,
		"dataRouteTableIds":       c.DataRouteTableIDs,
		"endpointSecurityGroupId": c.EndpointSecurityGroupID,
		"flowLogGroupName":        c.FlowLogGroupName,
	}); err != nil {
		return nil, fmt.Errorf("registering network %s outputs: %w", name, err)
	}
	return c, nil
}

// interfaceEndpoints declares the endpoints' security group (443 from the
// VPC only) and one interface endpoint per service in the app subnets.
func interfaceEndpoints(ctx *pulumi.Context, name string, v *ec2.Vpc, a NetworkArgs, app []*ec2.Subnet, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	sg, err := ec2.NewSecurityGroup(ctx, name+"-endpoints", &ec2.SecurityGroupArgs{
		VpcId:       v.ID(),
		Description: pulumi.String("VPC interface endpoints: HTTPS from inside the VPC only"),
		Tags:        nameTag(name + "-endpoints"),
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("creating endpoint security group: %w", err)
	}
	// The VPC CIDR rather than the app group: the network must not depend
	// on the firewall component, and nothing else in the VPC is trusted less.
	if _, err := vpc.NewSecurityGroupIngressRule(ctx, name+"-endpoints-https", &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId: sg.ID(),
		Description:     pulumi.String("HTTPS to the endpoints from inside the VPC"),
		IpProtocol:      pulumi.String("tcp"),
		FromPort:        pulumi.Int(443),
		ToPort:          pulumi.Int(443),
		CidrIpv4:        pulumi.String(a.CIDR),
	}, parent); err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("creating endpoint ingress rule: %w", err)
	}
	// No egress rule: security groups are stateful, replies need none.
	for _, svc := range InterfaceEndpointServices() {
		if _, err := ec2.NewVpcEndpoint(ctx, name+"-"+svc, &ec2.VpcEndpointArgs{
			VpcId:             v.ID(),
			ServiceName:       pulumi.Sprintf("com.amazonaws.%s.%s", a.Region, svc),
			VpcEndpointType:   pulumi.String("Interface"),
			PrivateDnsEnabled: pulumi.Bool(true),
			SubnetIds:         subnetIDs(app),
			SecurityGroupIds:  pulumi.StringArray{sg.ID().ToStringOutput()},
			Tags:              nameTag(name + "-" + svc),
		}, parent); err != nil {
			return pulumi.StringOutput{}, fmt.Errorf("creating %s interface endpoint: %w", svc, err)
		}
	}
	return sg.ID().ToStringOutput(), nil
}

// flowLogs declares the VPC flow log (EC2.6) into its own log group, written
// by a role only the flow-logs service of this account can assume.
func flowLogs(ctx *pulumi.Context, name string, v *ec2.Vpc, a NetworkArgs, parent pulumi.ResourceOption) (*cloudwatch.LogGroup, *ec2.FlowLog, error) {
	lg, err := cloudwatch.NewLogGroup(ctx, name+"-flow-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.Sprintf("/%s/vpc-flow-logs", name),
		RetentionInDays: pulumi.Int(a.FlowLogRetentionDays),
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("creating flow log group: %w", err)
	}

	part := partition(a.Region)
	// Confused-deputy guard recommended by the VPC flow logs guide: only
	// flow logs of this account and region may use the role.
	trust := v.OwnerId.ApplyT(func(account string) (string, error) {
		return jsonString(map[string]any{
			"Version": "2012-10-17",
			"Statement": []map[string]any{{
				"Effect":    "Allow",
				"Principal": map[string]any{"Service": "vpc-flow-logs.amazonaws.com"},
				"Action":    "sts:AssumeRole",
				"Condition": map[string]any{
					"StringEquals": map[string]any{"aws:SourceAccount": account},
					"ArnLike":      map[string]any{"aws:SourceArn": fmt.Sprintf("arn:%s:ec2:%s:%s:vpc-flow-log/*", part, a.Region, account)},
				},
			}},
		})
	}).(pulumi.StringOutput)
	role, err := iam.NewRole(ctx, name+"-flow-logs", &iam.RoleArgs{
		Description:      pulumi.Sprintf("VPC flow logs of %s to CloudWatch Logs", name),
		AssumeRolePolicy: trust,
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("creating flow log role: %w", err)
	}
	policy := lg.Arn.ApplyT(func(arn string) (string, error) {
		return jsonString(map[string]any{
			"Version": "2012-10-17",
			"Statement": []map[string]any{
				{
					"Sid":      "WriteThisLogGroup",
					"Effect":   "Allow",
					"Action":   []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
					"Resource": []string{arn, arn + ":*"},
				},
				{
					// The service checks the group exists; DescribeLogGroups
					// cannot be scoped to one group.
					"Sid":      "FindLogGroup",
					"Effect":   "Allow",
					"Action":   "logs:DescribeLogGroups",
					"Resource": "*",
				},
			},
		})
	}).(pulumi.StringOutput)
	rolePolicy, err := iam.NewRolePolicy(ctx, name+"-flow-logs", &iam.RolePolicyArgs{
		Role:   role.ID(),
		Policy: policy,
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("creating flow log role policy: %w", err)
	}

	fl, err := ec2.NewFlowLog(ctx, name+"-flow-log", &ec2.FlowLogArgs{
		VpcId:                  v.ID(),
		TrafficType:            pulumi.String(a.FlowLogTrafficType),
		LogDestinationType:     pulumi.String("cloud-watch-logs"),
		LogDestination:         lg.Arn,
		IamRoleArn:             role.Arn,
		MaxAggregationInterval: pulumi.Int(600),
		Tags:                   nameTag(name + "-flow-log"),
		// The role ARN alone does not order the flow log after the role's
		// permissions: without this the service may start delivering with
		// a role that cannot write yet (DeliverLogsPermissionDenied).
	}, parent, pulumi.DependsOn([]pulumi.Resource{rolePolicy}))
	if err != nil {
		return nil, nil, fmt.Errorf("creating flow log: %w", err)
	}
	return lg, fl, nil
}

func subnetIDs(subnets []*ec2.Subnet) pulumi.StringArrayOutput {
	ids := make(pulumi.StringArray, len(subnets))
	for i, s := range subnets {
		ids[i] = s.ID().ToStringOutput()
	}
	return ids.ToStringArrayOutput()
}

func nameTag(n string) pulumi.StringMap {
	return pulumi.StringMap{"Name": pulumi.String(n)}
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding policy: %w", err)
	}
	return string(b), nil
}
