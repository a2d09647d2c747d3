package network

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/spec"
	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tSubnet      = "aws:ec2/subnet:Subnet"
	tVpc         = "aws:ec2/vpc:Vpc"
	tIGW         = "aws:ec2/internetGateway:InternetGateway"
	tNAT         = "aws:ec2/natGateway:NatGateway"
	tEIP         = "aws:ec2/eip:Eip"
	tRouteTable  = "aws:ec2/routeTable:RouteTable"
	tRoute       = "aws:ec2/route:Route"
	tAssoc       = "aws:ec2/routeTableAssociation:RouteTableAssociation"
	tEndpoint    = "aws:ec2/vpcEndpoint:VpcEndpoint"
	tFlowLog     = "aws:ec2/flowLog:FlowLog"
	tLogGroup    = "aws:cloudwatch/logGroup:LogGroup"
	tRole        = "aws:iam/role:Role"
	tRolePolicy  = "aws:iam/rolePolicy:RolePolicy"
	tDefaultSG   = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
	tSG          = "aws:ec2/securityGroup:SecurityGroup"
	tIngressRule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	tEgressRule  = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
)

func devArgs() *NetworkArgs {
	return &NetworkArgs{
		Spec:   Spec{CIDR: "10.20.0.0/16", NATGateways: NATSingle, FlowLogTrafficType: TrafficReject},
		Region: "eu-west-1",
		Zones:  []string{"eu-west-1a", "eu-west-1b"},
	}
}

func prodArgs() *NetworkArgs {
	return &NetworkArgs{
		Spec: Spec{
			CIDR: "10.30.0.0/16", NATGateways: NATPerAZ, InterfaceEndpoints: true,
			FlowLogRetentionDays: 731, FlowLogTrafficType: TrafficAll,
		},
		Region: "eu-west-1",
		Zones:  []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
	}
}

// run declares one network and returns the monitor and the component.
func run(t *testing.T, args *NetworkArgs) (*pulumitest.Mocks, map[string]any) {
	t.Helper()
	m := pulumitest.New()
	outs := map[string]any{}
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		n, err := NewNetwork(ctx, "surge-test", args)
		if err != nil {
			return err
		}
		for k, o := range map[string]pulumi.Output{
			"app":    n.AppSubnetIDs,
			"public": n.PublicSubnetIDs,
			"data":   n.DataSubnetIDs,
			"nats":   n.NATGatewayIDs,
		} {
			v, _, err := pulumitest.Await(ctx.Context(), o)
			if err != nil {
				return err
			}
			outs[k] = v
		}
		return nil
	})
	require.NoError(t, err, "NewNetwork(%+v)", args)
	return m, outs
}

// id is the ID the mock gives a custom resource.
func id(r pulumitest.Resource) string { return r.Name + "-id" }

func byID(m *pulumitest.Mocks, token string) map[string]pulumitest.Resource {
	out := map[string]pulumitest.Resource{}
	for _, r := range m.ByType(token) {
		out[id(r)] = r
	}
	return out
}

func tierSubnets(m *pulumitest.Mocks, tier string) []pulumitest.Resource {
	var out []pulumitest.Resource
	for _, r := range m.ByType(tSubnet) {
		if strings.HasPrefix(r.Name, "surge-test-"+tier+"-") {
			out = append(out, r)
		}
	}
	return out
}

// subnetOfTable maps each route table ID to the subnet IDs associated with it.
func subnetsOfTables(m *pulumitest.Mocks) map[string][]string {
	out := map[string][]string{}
	for _, a := range m.ByType(tAssoc) {
		out[a.Str("routeTableId")] = append(out[a.Str("routeTableId")], a.Str("subnetId"))
	}
	return out
}

func TestNetworkShape(t *testing.T) {
	tests := []struct {
		name      string
		args      *NetworkArgs
		wantNATs  int
		endpoints int
		traffic   string
		retention float64
	}{
		{"dev single NAT", devArgs(), 1, 0, TrafficReject, float64(Defaults(spec.Prod).FlowLogRetentionDays)},
		{"prod NAT per AZ", prodArgs(), 3, 5, TrafficAll, 731},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, outs := run(t, tt.args)
			azs := tt.args.Zones
			plan, err := Plan(tt.args.CIDR, len(azs), SubnetBits{})
			require.NoError(t, err)
			pub, app, data := plan.Strings()

			vpcs := m.ByType(tVpc)
			require.Len(t, vpcs, 1)
			vpcID := id(vpcs[0])
			assert.Equal(t, tt.args.CIDR, vpcs[0].Str("cidrBlock"))
			assert.True(t, vpcs[0].Bool("enableDnsHostnames"), "VPC DNS hostnames (needed by endpoint private DNS)")
			assert.True(t, vpcs[0].Bool("enableDnsSupport"), "VPC DNS support")

			// One subnet per tier per AZ, in distinct AZs, on the plan.
			for tier, cidrs := range map[string][]string{"public": pub, "app": app, "data": data} {
				subnets := tierSubnets(m, tier)
				require.Len(t, subnets, len(azs), "%s subnets for AZs %v", tier, azs)
				byAZ := map[string]string{}
				for _, s := range subnets {
					byAZ[s.Str("availabilityZone")] = s.Str("cidrBlock")
					assert.Equal(t, vpcID, s.Str("vpcId"), "subnet %s vpc", s.Name)
				}
				for i, az := range azs {
					assert.Equal(t, cidrs[i], byAZ[az], "%s subnet CIDR in %s", tier, az)
				}
				got, ok := outs[tier].([]string)
				require.True(t, ok, "%s subnet output %T", tier, outs[tier])
				require.Len(t, got, len(azs))
				for i, az := range azs {
					assert.Equal(t, fmt.Sprintf("surge-test-%s-%s-id", tier, az[len(az)-1:]), got[i], "%s output ordered like AZs", tier)
				}
			}

			// NAT gateways: count, EIPs, placed in public subnets.
			nats := m.ByType(tNAT)
			assert.Len(t, nats, tt.wantNATs, "NAT gateways for %q", tt.args.NATGateways)
			assert.Len(t, m.ByType(tEIP), tt.wantNATs, "EIPs for NAT")
			subnets := byID(m, tSubnet)
			natAZ := map[string]string{}
			for _, n := range nats {
				sn, ok := subnets[n.Str("subnetId")]
				require.True(t, ok, "NAT %s subnet %s", n.Name, n.Str("subnetId"))
				assert.Contains(t, sn.Name, "-public-", "NAT %s must sit in a public subnet", n.Name)
				natAZ[id(n)] = sn.Str("availabilityZone")
				assert.NotEmpty(t, n.Str("allocationId"), "NAT %s EIP", n.Name)
			}
			assert.Len(t, outs["nats"], tt.wantNATs)

			// Routing per table.
			tableSubnets := subnetsOfTables(m)
			routesOf := map[string][]pulumitest.Resource{}
			for _, r := range m.ByType(tRoute) {
				routesOf[r.Str("routeTableId")] = append(routesOf[r.Str("routeTableId")], r)
			}
			tables := m.ByType(tRouteTable)
			require.Len(t, tables, 1+2*len(azs), "route tables: 1 public + app and data per AZ")
			usedNATs := map[string]bool{}
			for _, rt := range tables {
				assert.False(t, rt.Has("routes"), "route table %s has inline routes", rt.Name)
				routes := routesOf[id(rt)]
				assoc := tableSubnets[id(rt)]
				switch {
				case strings.HasPrefix(rt.Name, "surge-test-public"):
					require.Len(t, routes, 1, "public routes")
					assert.Equal(t, "0.0.0.0/0", routes[0].Str("destinationCidrBlock"))
					assert.Equal(t, "surge-test-igw-id", routes[0].Str("gatewayId"), "public default route to the IGW")
					assert.Len(t, assoc, len(azs), "public table serves every public subnet")
				case strings.HasPrefix(rt.Name, "surge-test-app-"):
					require.Len(t, routes, 1, "app table %s routes", rt.Name)
					require.Len(t, assoc, 1, "app table %s subnets", rt.Name)
					r := routes[0]
					assert.Equal(t, "0.0.0.0/0", r.Str("destinationCidrBlock"))
					assert.False(t, r.Has("gatewayId"), "app table %s must not route to the IGW", rt.Name)
					nat := r.Str("natGatewayId")
					require.Contains(t, natAZ, nat, "app table %s NAT", rt.Name)
					usedNATs[nat] = true
					if tt.args.NATGateways == NATPerAZ {
						assert.Equal(t, subnets[assoc[0]].Str("availabilityZone"), natAZ[nat],
							"app table %s must use its own AZ's NAT", rt.Name)
					}
				case strings.HasPrefix(rt.Name, "surge-test-data-"):
					assert.Empty(t, routes, "data table %s must have no route (no 0.0.0.0/0, no internet)", rt.Name)
					require.Len(t, assoc, 1, "data table %s subnets", rt.Name)
					assert.Contains(t, subnets[assoc[0]].Name, "-data-")
				default:
					t.Errorf("unexpected route table %s", rt.Name)
				}
			}
			assert.Len(t, usedNATs, tt.wantNATs, "every NAT is used by an app table")
			for _, r := range m.ByType(tRoute) {
				if r.Str("destinationCidrBlock") == "0.0.0.0/0" && strings.Contains(r.Str("routeTableId"), "-data-") {
					t.Errorf("route %s gives a data table internet access", r.Name)
				}
			}
			assert.Len(t, m.ByType(tAssoc), 3*len(azs), "every subnet associated once")

			// Endpoints.
			var gateway, iface []pulumitest.Resource
			for _, e := range m.ByType(tEndpoint) {
				if e.Str("vpcEndpointType") == "Gateway" {
					gateway = append(gateway, e)
				} else {
					iface = append(iface, e)
				}
			}
			require.Len(t, gateway, 1, "S3 gateway endpoint")
			assert.Equal(t, "com.amazonaws.eu-west-1.s3", gateway[0].Str("serviceName"))
			var wantRTs []string
			for _, rt := range tables {
				if !strings.HasPrefix(rt.Name, "surge-test-public") {
					wantRTs = append(wantRTs, id(rt))
				}
			}
			gotRTs := gateway[0].Strings("routeTableIds")
			sort.Strings(gotRTs)
			sort.Strings(wantRTs)
			assert.Equal(t, wantRTs, gotRTs, "S3 endpoint on every app and data table")

			assert.Len(t, iface, tt.endpoints, "interface endpoints with InterfaceEndpoints=%v", tt.args.InterfaceEndpoints)
			var appIDs []string
			for _, s := range tierSubnets(m, "app") {
				appIDs = append(appIDs, id(s))
			}
			for _, e := range iface {
				assert.Equal(t, "Interface", e.Str("vpcEndpointType"))
				assert.True(t, e.Bool("privateDnsEnabled"), "endpoint %s private DNS", e.Name)
				got := e.Strings("subnetIds")
				sort.Strings(got)
				assert.Equal(t, appIDs, got, "endpoint %s in the app subnets", e.Name)
				assert.Equal(t, []string{"surge-test-endpoints-id"}, e.Strings("securityGroupIds"))
			}
			if tt.endpoints > 0 {
				var svcs []string
				for _, e := range iface {
					svcs = append(svcs, strings.TrimPrefix(e.Str("serviceName"), "com.amazonaws.eu-west-1."))
				}
				sort.Strings(svcs)
				assert.Equal(t, []string{"ec2messages", "logs", "secretsmanager", "ssm", "ssmmessages"}, svcs)
				rules := m.ByType(tIngressRule)
				require.Len(t, rules, 1, "endpoint SG ingress rules")
				assert.Equal(t, tt.args.CIDR, rules[0].Str("cidrIpv4"), "endpoint SG: 443 from the VPC only")
				assert.Equal(t, 443.0, rules[0].Num("fromPort"))
				assert.Equal(t, 443.0, rules[0].Num("toPort"))
				assert.Empty(t, m.ByType(tEgressRule), "endpoint SG needs no egress")
			} else {
				assert.Empty(t, m.ByType(tSG), "no endpoint SG without endpoints")
			}

			// Flow logs.
			logs := m.ByType(tFlowLog)
			require.Len(t, logs, 1)
			fl := logs[0]
			assert.Equal(t, vpcID, fl.Str("vpcId"))
			assert.Equal(t, tt.traffic, fl.Str("trafficType"))
			assert.Equal(t, "cloud-watch-logs", fl.Str("logDestinationType"))
			groups := m.ByType(tLogGroup)
			require.Len(t, groups, 1)
			assert.Equal(t, pulumitest.LogGroupARN(groups[0].Str("name")), fl.Str("logDestination"))
			assert.Equal(t, tt.retention, groups[0].Num("retentionInDays"))
			assert.Equal(t, "/surge-test/vpc-flow-logs", groups[0].Str("name"))
			roles := m.ByType(tRole)
			require.Len(t, roles, 1)
			assert.Equal(t, pulumitest.FakeARN(tRole, roles[0].Name), fl.Str("iamRoleArn"))
		})
	}
}

func TestControls(t *testing.T) {
	m, _ := run(t, prodArgs())

	t.Run("EC2.15_no_public_ip_on_launch", func(t *testing.T) {
		subnets := m.ByType(tSubnet)
		require.NotEmpty(t, subnets)
		for _, s := range subnets {
			v, ok := s.Get("mapPublicIpOnLaunch")
			require.True(t, ok, "EC2.15: subnet %s must set mapPublicIpOnLaunch explicitly", s.Name)
			assert.False(t, v.BoolValue(), "EC2.15: subnet %s maps public IPs", s.Name)
		}
	})

	t.Run("EC2.2_default_sg_no_rules", func(t *testing.T) {
		sgs := m.ByType(tDefaultSG)
		require.Len(t, sgs, 1, "EC2.2: default SG adopted")
		assert.Equal(t, "surge-test-vpc-id", sgs[0].Str("vpcId"))
		assert.False(t, sgs[0].Has("ingress"), "EC2.2: default SG has ingress")
		assert.False(t, sgs[0].Has("egress"), "EC2.2: default SG has egress")
	})

	t.Run("EC2.6_flow_logs", func(t *testing.T) {
		fls := m.ByType(tFlowLog)
		require.Len(t, fls, 1, "EC2.6: one flow log per VPC")
		assert.Contains(t, []string{TrafficAll, TrafficReject}, fls[0].Str("trafficType"), "EC2.6")
		assert.True(t, fls[0].DependsOn(tRolePolicy, "surge-test-flow-logs"),
			"EC2.6: flow log %s must wait for its role policy (deps %v)", fls[0].Name, fls[0].Dependencies)
		role := m.ByType(tRole)[0]
		trust, err := role.JSON("assumeRolePolicy")
		require.NoError(t, err)
		st := trust["Statement"].([]any)[0].(map[string]any)
		assert.Equal(t, "vpc-flow-logs.amazonaws.com", st["Principal"].(map[string]any)["Service"])
		cond := st["Condition"].(map[string]any)
		assert.Equal(t, pulumitest.Account, cond["StringEquals"].(map[string]any)["aws:SourceAccount"], "confused-deputy guard")
		assert.Equal(t, "arn:aws:ec2:eu-west-1:"+pulumitest.Account+":vpc-flow-log/*", cond["ArnLike"].(map[string]any)["aws:SourceArn"])

		pols := m.ByType(tRolePolicy)
		require.Len(t, pols, 1)
		doc, err := pols[0].JSON("policy")
		require.NoError(t, err)
		lg := pulumitest.LogGroupARN("/surge-test/vpc-flow-logs")
		for _, s := range doc["Statement"].([]any) {
			s := s.(map[string]any)
			if s["Sid"] == "WriteThisLogGroup" {
				assert.ElementsMatch(t, []any{lg, lg + ":*"}, s["Resource"], "writes scoped to the flow log group")
			} else {
				assert.Equal(t, "logs:DescribeLogGroups", s["Action"], "only DescribeLogGroups is unscoped")
			}
		}
	})

	t.Run("endpoint_SG_descriptions_in_EC2_charset", func(t *testing.T) {
		groupRE := regexp.MustCompile(`^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}$`)
		ruleRE := regexp.MustCompile(`^[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]{1,255}$`)
		for _, r := range m.ByType(tSG) {
			assert.Regexp(t, groupRE, r.Str("description"), "group %s description", r.Name)
		}
		for _, r := range m.ByType(tIngressRule) {
			assert.Regexp(t, ruleRE, r.Str("description"), "rule %s description", r.Name)
		}
	})

	t.Run("EC2.18_EC2.19_no_open_ingress", func(t *testing.T) {
		for _, r := range m.ByType(tIngressRule) {
			assert.NotEqual(t, "0.0.0.0/0", r.Str("cidrIpv4"), "EC2.18/19: rule %s", r.Name)
			assert.NotEqual(t, "::/0", r.Str("cidrIpv6"), "EC2.18/19: rule %s", r.Name)
			assert.NotEqual(t, 22.0, r.Num("fromPort"), "no SSH: rule %s", r.Name)
		}
	})
}

func TestTwoNetworksDoNotCollide(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		if _, err := NewNetwork(ctx, "surge-a", prodArgs()); err != nil {
			return err
		}
		_, err := NewNetwork(ctx, "surge-b", devArgs())
		return err
	})
	require.NoError(t, err)
	m.AssertUniqueNames(t)
	var names []string
	for _, g := range m.ByType(tLogGroup) {
		names = append(names, g.Str("name"))
	}
	assert.ElementsMatch(t, []string{"/surge-a/vpc-flow-logs", "/surge-b/vpc-flow-logs"}, names, "log group physical names")
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(a *NetworkArgs)
		want []string
	}{
		{"valid dev", func(a *NetworkArgs) {}, nil},
		{"malformed CIDR", func(a *NetworkArgs) { a.CIDR = "10.20.0.0/33" }, []string{
			`cidr: "10.20.0.0/33" is not an IPv4 CIDR block`,
		}},
		{"host bits set", func(a *NetworkArgs) { a.CIDR = "10.20.1.0/16" }, []string{
			`cidr: "10.20.1.0/16" has host bits set, did you mean "10.20.0.0/16"?`,
		}},
		{"IPv6 CIDR", func(a *NetworkArgs) { a.CIDR = "fd00::/56" }, []string{
			`cidr: "fd00::/56" is not an IPv4 CIDR block`,
		}},
		{"VPC too large", func(a *NetworkArgs) { a.CIDR = "10.0.0.0/8" }, []string{
			`cidr: "10.0.0.0/8" must be between /16 and /28`,
		}},
		{"too few AZs", func(a *NetworkArgs) { a.Zones = []string{"eu-west-1a"} }, []string{
			`availabilityZones: need 2 to 6 zones, got 1`,
		}},
		{"duplicate and foreign AZ", func(a *NetworkArgs) { a.Zones = []string{"eu-west-1a", "eu-west-1a", "us-east-1a"} }, []string{
			`availabilityZones: "eu-west-1a" is listed twice`,
			`availabilityZones: "us-east-1a" is not a zone of region "eu-west-1"`,
		}},
		{"plan does not fit", func(a *NetworkArgs) {
			a.CIDR = "10.20.0.0/20"
			a.AppNewBits = 1
		}, []string{
			`cidr: 2 AZs x 3 tiers (app /21, public /28, data /28) do not fit in 10.20.0.0/20`,
		}},
		{"subnet too small", func(a *NetworkArgs) {
			a.CIDR = "10.20.0.0/24"
			a.PublicNewBits, a.AppNewBits, a.DataNewBits = 6, 4, 5
		}, []string{
			`publicNewBits: 6 gives /30 subnets in 10.20.0.0/24, smaller than the /28 AWS allows here`,
			`appNewBits: 4 gives /28 subnets in 10.20.0.0/24, smaller than the /27 AWS allows here`,
			`dataNewBits: 5 gives /29 subnets in 10.20.0.0/24, smaller than the /28 AWS allows here`,
		}},
		{"bad NAT mode", func(a *NetworkArgs) { a.NATGateways = "two" }, []string{
			`natGateways: "two" must be "single" or "per-az"`,
		}},
		{"bad flow logs and region, all at once", func(a *NetworkArgs) {
			a.Region = "Ireland"
			a.FlowLogRetentionDays = 10
			a.FlowLogTrafficType = "ACCEPT"
		}, []string{
			`region: "Ireland" is not an AWS region name`,
			`flowLogRetentionDays: 10 is not a CloudWatch Logs retention value [1 3 5 7 14 30 60 90 120 150 180 365 400 545 731 1096 1827 2192 2557 2922 3288 3653]`,
			`flowLogTrafficType: "ACCEPT" must be "ALL" or "REJECT"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := devArgs()
			tt.mut(a)
			err := a.validate()
			if tt.want == nil {
				assert.NoError(t, err, "validate(%+v)", a)
				return
			}
			require.Error(t, err, "validate(%+v)", a)
			assert.Equal(t, tt.want, strings.Split(err.Error(), "\n"), "validate(%+v)", a)
		})
	}
}

func TestNewNetworkRejectsBadArgsWithoutDeclaring(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		a := devArgs()
		a.NATGateways = "two"
		_, err := NewNetwork(ctx, "surge-test", a)
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `natGateways: "two" must be "single" or "per-az"`)
	assert.Empty(t, m.Resources(), "nothing declared for invalid args")
}

func TestPlan(t *testing.T) {
	p, err := Plan("10.20.0.0/16", 3, SubnetBits{})
	require.NoError(t, err)
	pub, app, data := p.Strings()
	assert.Equal(t, []string{"10.20.0.0/20", "10.20.16.0/20", "10.20.32.0/20"}, app)
	assert.Equal(t, []string{"10.20.48.0/24", "10.20.49.0/24", "10.20.50.0/24"}, pub)
	assert.Equal(t, []string{"10.20.51.0/24", "10.20.52.0/24", "10.20.53.0/24"}, data)

	again, err := Plan("10.20.0.0/16", 3, SubnetBits{Public: 8, App: 4, Data: 8})
	require.NoError(t, err)
	assert.Equal(t, p, again, "explicit defaults give the same plan")

	// Small VPCs shrink the default sizes to what AWS allows.
	small, err := Plan("10.20.0.0/22", 3, SubnetBits{})
	require.NoError(t, err)
	pub, app, data = small.Strings()
	assert.Equal(t, []string{"10.20.0.0/26", "10.20.0.64/26", "10.20.0.128/26"}, app)
	assert.Equal(t, []string{"10.20.0.192/28", "10.20.0.208/28", "10.20.0.224/28"}, pub)
	assert.Equal(t, []string{"10.20.0.240/28", "10.20.1.0/28", "10.20.1.16/28"}, data)

	// Six AZs with mixed sizes still pack without overlap.
	six, err := Plan("10.0.0.0/16", 6, SubnetBits{Public: 6, App: 4, Data: 5})
	require.NoError(t, err)
	require.NoError(t, six.Check())
	assert.Len(t, six.App, 6)
	assert.Equal(t, "10.0.96.0/21", six.Data[0].String(), "data (/21) packed after the six /20 app subnets")
	assert.Equal(t, "10.0.144.0/22", six.Public[0].String(), "public (/22) last")

	_, err = Plan("10.0.0.0/16", 5, SubnetBits{App: 2})
	require.Error(t, err, "five /18 app subnets cannot fit in a /16")
}

func TestSubnetPlanCheck(t *testing.T) {
	pp := netip.MustParsePrefix
	bad := SubnetPlan{
		VPC:    pp("10.0.0.0/16"),
		Public: []netip.Prefix{pp("10.0.0.0/24")},
		App:    []netip.Prefix{pp("10.0.0.0/20")},
		Data:   []netip.Prefix{pp("10.1.0.0/24")},
	}
	err := bad.Check()
	require.Error(t, err)
	assert.Equal(t, []string{
		"subnet data[0] 10.1.0.0/24 is outside the VPC 10.0.0.0/16",
		"subnet app[0] 10.0.0.0/20 overlaps subnet public[0] 10.0.0.0/24",
	}, strings.Split(err.Error(), "\n"))
}

func TestNilArgsFailWithoutPanic(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		_, err := NewNetwork(ctx, "surge-test", nil)
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "network: args are required")
	assert.Empty(t, m.Resources())
}

// TestChildrenParentedAndNamedFromComponent guards STYLE: every resource
// the component declares is parented to it (so it inherits the stack's
// per-component provider and default tags) and named from its name.
func TestChildrenParentedAndNamedFromComponent(t *testing.T) {
	m, _ := run(t, prodArgs())
	m.AssertChildrenOf(t, "surge:network:Network", "surge-test")
}
