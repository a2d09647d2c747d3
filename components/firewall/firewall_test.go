package firewall

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tSG      = "aws:ec2/securityGroup:SecurityGroup"
	tIngress = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	tEgress  = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"

	prefixList = "pl-4fa04526"
)

var (
	groupDescRE = regexp.MustCompile(`^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}$`)
	ruleDescRE  = regexp.MustCompile(`^[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]{1,255}$`)
)

func args() *SecurityGroupsArgs {
	return &SecurityGroupsArgs{
		VPCID:                  pulumi.String("vpc-123"),
		CloudFrontPrefixListID: pulumi.String(prefixList),
	}
}

func run(t *testing.T, a *SecurityGroupsArgs) *pulumitest.Mocks {
	t.Helper()
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		_, err := NewSecurityGroups(ctx, "surge-test", a)
		return err
	})
	require.NoError(t, err, "NewSecurityGroups(%+v)", a)
	return m
}

// rule renders a rule as "group port source" with group names instead of
// the mock's IDs, so tables read like the design.
func rule(r pulumitest.Resource) string {
	name := func(id string) string { return strings.TrimSuffix(strings.TrimPrefix(id, "surge-test-"), "-id") }
	src := ""
	switch {
	case r.Has("prefixListId"):
		src = "pl:" + r.Str("prefixListId")
	case r.Has("referencedSecurityGroupId"):
		src = "sg:" + name(r.Str("referencedSecurityGroupId"))
	case r.Has("cidrIpv4"):
		src = "cidr:" + r.Str("cidrIpv4")
	case r.Has("cidrIpv6"):
		src = "cidr6:" + r.Str("cidrIpv6")
	}
	return fmt.Sprintf("%s %s %d-%d %s", name(r.Str("securityGroupId")), r.Str("ipProtocol"), int(r.Num("fromPort")), int(r.Num("toPort")), src)
}

func rules(m *pulumitest.Mocks, token string) []string {
	var out []string
	for _, r := range m.ByType(token) {
		out = append(out, rule(r))
	}
	sort.Strings(out)
	return out
}

func TestSecurityGroupRules(t *testing.T) {
	tests := []struct {
		name    string
		args    func() *SecurityGroupsArgs
		ingress []string
		egress  []string
	}{
		{
			name: "defaults: HTTPS listener, prefix list",
			args: args,
			ingress: []string{
				"alb tcp 443-443 pl:" + prefixList,
				"app tcp 8080-8080 sg:alb",
				"cache tcp 6379-6379 sg:app",
				"db tcp 5432-5432 sg:app",
			},
			egress: []string{
				"alb tcp 8080-8080 sg:app",
				"app tcp 443-443 cidr:0.0.0.0/0",
				"app tcp 5432-5432 sg:db",
				"app tcp 6379-6379 sg:cache",
			},
		},
		{
			name: "HTTP listener and custom ports",
			args: func() *SecurityGroupsArgs {
				a := args()
				a.ListenerPort, a.AppPort, a.DatabasePort, a.CachePort = 80, 9000, 6432, 6380
				return a
			},
			ingress: []string{
				"alb tcp 80-80 pl:" + prefixList,
				"app tcp 9000-9000 sg:alb",
				"cache tcp 6380-6380 sg:app",
				"db tcp 6432-6432 sg:app",
			},
			egress: []string{
				"alb tcp 9000-9000 sg:app",
				"app tcp 443-443 cidr:0.0.0.0/0",
				"app tcp 6380-6380 sg:cache",
				"app tcp 6432-6432 sg:db",
			},
		},
		{
			name: "VPC origin service group added",
			args: func() *SecurityGroupsArgs {
				a := args()
				a.VPCOriginSecurityGroupID = pulumi.String("surge-test-cf-vpc-origin-id")
				return a
			},
			ingress: []string{
				"alb tcp 443-443 pl:" + prefixList,
				"alb tcp 443-443 sg:cf-vpc-origin",
				"app tcp 8080-8080 sg:alb",
				"cache tcp 6379-6379 sg:app",
				"db tcp 5432-5432 sg:app",
			},
		},
		{
			name: "VPC origin service group only",
			args: func() *SecurityGroupsArgs {
				a := args()
				a.CloudFrontPrefixListID = nil
				a.VPCOriginSecurityGroupID = pulumi.String("surge-test-cf-vpc-origin-id")
				return a
			},
			ingress: []string{
				"alb tcp 443-443 sg:cf-vpc-origin",
				"app tcp 8080-8080 sg:alb",
				"cache tcp 6379-6379 sg:app",
				"db tcp 5432-5432 sg:app",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := run(t, tt.args())
			assert.Equal(t, tt.ingress, rules(m, tIngress), "ingress rules: exactly the chain")
			if tt.egress != nil {
				assert.Equal(t, tt.egress, rules(m, tEgress), "egress rules: exactly the chain")
			}
			sgs := m.ByType(tSG)
			require.Len(t, sgs, 4, "alb, app, db, cache groups")
			for _, sg := range sgs {
				assert.Equal(t, "vpc-123", sg.Str("vpcId"), "group %s VPC", sg.Name)
				assert.False(t, sg.Has("ingress"), "group %s has inline ingress (conflicts with rule resources)", sg.Name)
				assert.False(t, sg.Has("egress"), "group %s has inline egress", sg.Name)
				assert.NotEmpty(t, sg.Str("description"), "group %s description", sg.Name)
			}
		})
	}
}

func TestControls(t *testing.T) {
	withOrigin := args()
	withOrigin.VPCOriginSecurityGroupID = pulumi.String("sg-cf")
	for name, a := range map[string]*SecurityGroupsArgs{"prefix list": args(), "prefix list and VPC origin SG": withOrigin} {
		m := run(t, a)
		t.Run(name+"/EC2.18_EC2.19_no_open_ingress", func(t *testing.T) {
			for _, r := range m.ByType(tIngress) {
				assert.False(t, r.Has("cidrIpv4"), "EC2.18/EC2.19: ingress %s uses a CIDR (%s); only groups and the CloudFront prefix list may be sources", r.Name, r.Str("cidrIpv4"))
				assert.NotEqual(t, "0.0.0.0/0", r.Str("cidrIpv4"), "EC2.18/EC2.19: ingress %s", r.Name)
				assert.NotEqual(t, "::/0", r.Str("cidrIpv6"), "EC2.18/EC2.19: ingress %s", r.Name)
				assert.NotEqual(t, "-1", r.Str("ipProtocol"), "ingress %s opens all protocols", r.Name)
			}
		})
		t.Run(name+"/no_SSH_anywhere", func(t *testing.T) {
			for _, tok := range []string{tIngress, tEgress} {
				for _, r := range m.ByType(tok) {
					from, to := r.Num("fromPort"), r.Num("toPort")
					assert.False(t, from <= 22 && 22 <= to, "rule %s covers port 22", r.Name)
				}
			}
		})
		t.Run(name+"/rule_descriptions", func(t *testing.T) {
			for _, tok := range []string{tIngress, tEgress} {
				for _, r := range m.ByType(tok) {
					assert.NotEmpty(t, r.Str("description"), "CKV_AWS_23: rule %s has no description", r.Name)
				}
			}
		})
		t.Run(name+"/descriptions_in_EC2_charset", func(t *testing.T) {
			// CreateSecurityGroup accepts a-z A-Z 0-9 space ._-:/()#,@[]+=&;{}!$*
			// and rule descriptions the same without "&"; anything else fails
			// only at apply ("Invalid security group description").
			for _, r := range m.ByType(tSG) {
				assert.Regexp(t, groupDescRE, r.Str("description"), "group %s description", r.Name)
			}
			for _, tok := range []string{tIngress, tEgress} {
				for _, r := range m.ByType(tok) {
					assert.Regexp(t, ruleDescRE, r.Str("description"), "rule %s description", r.Name)
				}
			}
		})
		t.Run(name+"/one_prefix_list_rule", func(t *testing.T) {
			n := 0
			for _, tok := range []string{tIngress, tEgress} {
				for _, r := range m.ByType(tok) {
					if r.Has("prefixListId") {
						n++
						assert.Equal(t, "surge-test-alb-id", r.Str("securityGroupId"), "prefix list only on the ALB group")
					}
				}
			}
			assert.Equal(t, 1, n, "the CloudFront list weighs 55 of 60 rules: one reference only")
		})
		t.Run(name+"/data_tier_no_egress", func(t *testing.T) {
			for _, r := range m.ByType(tEgress) {
				g := r.Str("securityGroupId")
				assert.NotEqual(t, "surge-test-db-id", g, "database group must have no egress (%s)", r.Name)
				assert.NotEqual(t, "surge-test-cache-id", g, "cache group must have no egress (%s)", r.Name)
			}
		})
	}
}

func TestTwoInstancesDoNotCollide(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		if _, err := NewSecurityGroups(ctx, "surge-a", args()); err != nil {
			return err
		}
		_, err := NewSecurityGroups(ctx, "surge-b", args())
		return err
	})
	require.NoError(t, err)
	m.AssertUniqueNames(t)
	assert.Len(t, m.ByType(tSG), 8)
}

func TestOutputs(t *testing.T) {
	m := pulumitest.New()
	got := map[string]any{}
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		c, err := NewSecurityGroups(ctx, "surge-test", args())
		if err != nil {
			return err
		}
		for k, o := range map[string]pulumi.Output{
			"alb": c.ALBSecurityGroupID, "app": c.AppSecurityGroupID,
			"db": c.DatabaseSecurityGroupID, "cache": c.CacheSecurityGroupID,
		} {
			v, _, err := pulumitest.Await(ctx.Context(), o)
			if err != nil {
				return err
			}
			got[k] = v
		}
		return nil
	})
	require.NoError(t, err)
	for _, k := range []string{"alb", "app", "db", "cache"} {
		assert.EqualValues(t, "surge-test-"+k+"-id", got[k], "output %s", k)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(a *SecurityGroupsArgs)
		want []string
	}{
		{"valid", func(a *SecurityGroupsArgs) {}, nil},
		{"missing inputs", func(a *SecurityGroupsArgs) {
			a.VPCID = nil
			a.CloudFrontPrefixListID = nil
		}, []string{
			"vpcId: is required",
			"cloudFrontPrefixListId: is required unless vpcOriginSecurityGroupId is set",
		}},
		{"bad ports, all at once", func(a *SecurityGroupsArgs) {
			a.ListenerPort = 8443
			a.AppPort = 22
			a.DatabasePort = 70000
			a.CachePort = -1
		}, []string{
			"appPort: 22 is SSH, which surge never opens (use SSM)",
			"databasePort: 70000 is not a TCP port",
			"cachePort: -1 is not a TCP port",
			"listenerPort: 8443 must be 443 (HTTPS) or 80 (HTTP inside the VPC)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := args()
			tt.mut(a)
			err := a.validate()
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.want, strings.Split(err.Error(), "\n"), "validate(%+v)", a)
		})
	}
}

// The flows table is data: every row names exactly one peer, the only
// CIDR is the app's HTTPS egress, and the data tiers never connect out.
func TestRulesTable(t *testing.T) {
	a := args()
	a.VPCOriginSecurityGroupID = pulumi.String("sg-vpc-origin")
	rs := flows(a.withDefaults())
	require.Len(t, rs, 9)
	seen := map[string]bool{}
	for _, r := range rs {
		peers := 0
		for _, set := range []bool{r.peer != "", r.prefix != nil, r.group != nil, r.cidr != ""} {
			if set {
				peers++
			}
		}
		assert.Equal(t, 1, peers, "%s: exactly one peer", r.suffix)
		assert.NotEqual(t, sshPort, r.port, "%s", r.suffix)
		assert.NotEmpty(t, r.purpose, "%s", r.suffix)
		assert.False(t, seen[r.suffix], "%s twice", r.suffix)
		seen[r.suffix] = true
		if r.cidr != "" {
			assert.Equal(t, "app-to-https", r.suffix, "only the app's HTTPS egress names a CIDR")
		}
		if r.tier == tierDB || r.tier == tierCache {
			assert.False(t, r.egress, "%s: the data tiers never connect out", r.suffix)
		}
	}
	a.CloudFrontPrefixListID = nil
	assert.Len(t, flows(a.withDefaults()), 8, "no prefix list, no CloudFront rule")
}

func TestNilArgsFailWithoutPanic(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		_, err := NewSecurityGroups(ctx, "surge-test", nil)
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "firewall: args are required")
	assert.Empty(t, m.Resources())
}

// TestChildrenParentedAndNamedFromComponent guards STYLE: every resource
// the component declares is parented to it (so it inherits the stack's
// per-component provider and default tags) and named from its name.
func TestChildrenParentedAndNamedFromComponent(t *testing.T) {
	m := run(t, args())
	m.AssertChildrenOf(t, "surge:firewall:Chain", "surge-test")
}
