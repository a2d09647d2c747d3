package loadbalancer

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/naming"
	"github.com/surge-dev/surge/components/spec"
	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tLB       = "aws:lb/loadBalancer:LoadBalancer"
	tTG       = "aws:lb/targetGroup:TargetGroup"
	tListener = "aws:lb/listener:Listener"

	certARN = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
)

var subnets = []string{"subnet-app-a", "subnet-app-b", "subnet-app-c"}

func args() *ALBArgs {
	return &ALBArgs{
		VPCID:            pulumi.String("vpc-123"),
		SubnetIDs:        pulumi.ToStringArray(subnets),
		SecurityGroupID:  pulumi.String("sg-alb"),
		AccessLogsBucket: pulumi.String("surge-test-logs"),
	}
}

func prodArgs() *ALBArgs {
	a := args()
	a.HTTPS = true
	a.CertificateARN = pulumi.String(certARN)
	a.DeletionProtection = true
	a.DeregistrationDelaySeconds = 60
	a.SlowStartSeconds = 90
	return a
}

func run(t *testing.T, name string, a *ALBArgs) (*pulumitest.Mocks, *ALB) {
	t.Helper()
	m := pulumitest.New()
	var alb *ALB
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		var err error
		alb, err = NewALB(ctx, name, a)
		return err
	})
	require.NoError(t, err, "NewALB(%q, %+v)", name, a)
	return m, alb
}

func one(t *testing.T, m *pulumitest.Mocks, token string) pulumitest.Resource {
	t.Helper()
	rs := m.ByType(token)
	require.Len(t, rs, 1, "resources of %s", token)
	return rs[0]
}

func TestALB(t *testing.T) {
	tests := []struct {
		name          string
		args          *ALBArgs
		https         bool
		port          float64
		deletion      bool
		deregistation float64
		slowStart     float64
	}{
		{"dev HTTP inside the VPC", args(), false, 80, false, float64(Defaults(spec.Dev).DeregistrationDelaySeconds), 0},
		{"prod HTTPS", prodArgs(), true, 443, true, 60, 90},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, c := run(t, "surge-test", tt.args)
			assert.Equal(t, int(tt.port), c.ListenerPort)
			assert.Equal(t, tt.https, c.HTTPS)

			lb := one(t, m, tLB)
			assert.True(t, lb.Bool("internal"), "ALB must be internal (no public address)")
			assert.Equal(t, "application", lb.Str("loadBalancerType"))
			assert.Equal(t, subnets, lb.Strings("subnets"), "ALB in the app subnets of every AZ")
			assert.Equal(t, []string{"sg-alb"}, lb.Strings("securityGroups"))
			assert.Equal(t, tt.deletion, lb.Bool("enableDeletionProtection"), "ELB.6 deletion protection per arg")
			assert.True(t, lb.Has("enableDeletionProtection"), "deletion protection set explicitly")
			assert.Equal(t, float64(Defaults(spec.Dev).IdleTimeoutSeconds), lb.Num("idleTimeout"), "idle timeout explicit")
			assert.True(t, lb.Bool("enableHttp2"))
			assert.True(t, lb.Bool("preserveHostHeader"))
			assert.Equal(t, "surge-test-alb", lb.Str("name"))

			tg := one(t, m, tTG)
			assert.Equal(t, "vpc-123", tg.Str("vpcId"))
			assert.Equal(t, "instance", tg.Str("targetType"))
			assert.Equal(t, "HTTP", tg.Str("protocol"))
			assert.Equal(t, float64(DefaultAppPort), tg.Num("port"))
			assert.Equal(t, tt.deregistation, tg.Num("deregistrationDelay"))
			assert.Equal(t, tt.slowStart, tg.Num("slowStart"))
			assert.True(t, tg.Has("slowStart"), "slow start explicit")
			assert.Equal(t, HealthCheckPath, tg.Str("healthCheck.path"), "health check on the shallow endpoint")
			assert.Equal(t, "/healthz", tg.Str("healthCheck.path"), "the app's liveness path")
			assert.Equal(t, "200", tg.Str("healthCheck.matcher"), "CKV_AWS_261: matcher explicit")
			assert.True(t, tg.Bool("healthCheck.enabled"))
			for k, want := range map[string]float64{
				"interval": DefaultHealthCheckInterval, "timeout": DefaultHealthCheckTimeout,
				"healthyThreshold": DefaultHealthyThreshold, "unhealthyThreshold": DefaultUnhealthyThreshold,
			} {
				assert.Equal(t, want, tg.Num("healthCheck."+k), "CKV_AWS_261: health check %s explicit", k)
			}
			assert.Equal(t, "surge-test-app-8080", tg.Str("name"))

			l := one(t, m, tListener)
			assert.Contains(t, l.Str("loadBalancerArn"), "loadbalancer/app/surge-test-alb/")
			assert.Equal(t, tt.port, l.Num("port"))
			require.Equal(t, 1, l.Len("defaultActions"))
			assert.Equal(t, "forward", l.Str("defaultActions[0].type"))
			assert.Equal(t, pulumitest.FakeARN(tTG, tg.Name), l.Str("defaultActions[0].targetGroupArn"), "listener forwards to the target group")
			if tt.https {
				assert.Equal(t, "HTTPS", l.Str("protocol"))
				assert.Equal(t, TLSPolicy, l.Str("sslPolicy"))
				assert.Equal(t, certARN, l.Str("certificateArn"))
			} else {
				assert.Equal(t, "HTTP", l.Str("protocol"))
				assert.False(t, l.Has("certificateArn"))
				assert.False(t, l.Has("sslPolicy"))
			}
		})
	}
}

func TestControls(t *testing.T) {
	m, _ := run(t, "surge-prod", prodArgs())
	lb := one(t, m, tLB)
	l := one(t, m, tListener)

	t.Run("ELB.4_drop_invalid_headers", func(t *testing.T) {
		assert.True(t, lb.Bool("dropInvalidHeaderFields"), "ELB.4")
	})
	t.Run("ELB.5_access_logs", func(t *testing.T) {
		assert.True(t, lb.Bool("accessLogs.enabled"), "ELB.5: enabled must be explicit (defaults false)")
		assert.Equal(t, "surge-test-logs", lb.Str("accessLogs.bucket"), "ELB.5 bucket")
		assert.Equal(t, "alb/surge-prod", lb.Str("accessLogs.prefix"), "ELB.5 prefix")
	})
	t.Run("ELB.6_deletion_protection_prod", func(t *testing.T) {
		assert.True(t, lb.Bool("enableDeletionProtection"), "ELB.6")
	})
	t.Run("ELB.12_desync_mitigation", func(t *testing.T) {
		assert.Contains(t, []string{DesyncDefensive, DesyncStrictest}, lb.Str("desyncMitigationMode"), "ELB.12")
		assert.Equal(t, DesyncDefensive, lb.Str("desyncMitigationMode"))
	})
	t.Run("ELB.13_multi_AZ", func(t *testing.T) {
		assert.GreaterOrEqual(t, len(lb.Strings("subnets")), 2, "ELB.13: subnets in >= 2 AZs")
	})
	t.Run("ELB.17_TLS_policy", func(t *testing.T) {
		assert.Equal(t, "ELBSecurityPolicy-TLS13-1-2-2021-06", l.Str("sslPolicy"), "ELB.17")
	})
	t.Run("ELB.18_HTTPS_listener", func(t *testing.T) {
		assert.Equal(t, "HTTPS", l.Str("protocol"), "ELB.18 with a certificate")
	})
	t.Run("AVD-AWS-0053_internal", func(t *testing.T) {
		assert.True(t, lb.Bool("internal"), "trivy AVD-AWS-0053 / EC2.15 no public ALB")
	})
	t.Run("WAF_fail_closed", func(t *testing.T) {
		v, ok := lb.Get("enableWafFailOpen")
		require.True(t, ok)
		assert.False(t, v.BoolValue())
	})
}

func TestNamesWithinLimits(t *testing.T) {
	for _, name := range []string{"surge-dev", "surge-production-eu-central-blue-green"} {
		m, _ := run(t, name, args())
		lb := one(t, m, tLB)
		tg := one(t, m, tTG)
		assert.LessOrEqual(t, len(lb.Str("name")), naming.MaxLoadBalancer, "ALB name %q for %q", lb.Str("name"), name)
		assert.LessOrEqual(t, len(tg.Str("name")), naming.MaxLoadBalancer, "target group name %q for %q", tg.Str("name"), name)
		assert.NotEqual(t, lb.Str("name"), tg.Str("name"))
	}
}

func TestTwoALBsDoNotCollide(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		if _, err := NewALB(ctx, "surge-a", args()); err != nil {
			return err
		}
		_, err := NewALB(ctx, "surge-b", prodArgs())
		return err
	})
	require.NoError(t, err)
	seen := map[string]bool{}
	physical := map[string]bool{}
	for _, r := range m.Resources() {
		key := r.Type + "::" + r.Name
		assert.False(t, seen[key], "duplicate logical name %s", key)
		seen[key] = true
		if n := r.Str("name"); n != "" && r.Custom {
			assert.False(t, physical[r.Type+"::"+n], "duplicate physical name %s", n)
			physical[r.Type+"::"+n] = true
		}
	}
}

func TestOutputs(t *testing.T) {
	m := pulumitest.New()
	got := map[string]any{}
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		c, err := NewALB(ctx, "surge-test", prodArgs())
		if err != nil {
			return err
		}
		for k, o := range map[string]pulumi.Output{
			"dns": c.DNSName, "zone": c.ZoneID, "arnSuffix": c.ARNSuffix,
			"tgSuffix": c.TargetGroupARNSuffix, "listener": c.ListenerARN, "arn": c.LoadBalancerARN,
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
	assert.Equal(t, "internal-surge-test-alb.eu-west-1.elb.amazonaws.com", got["dns"])
	assert.Equal(t, "Z32O12XQLNTSW2", got["zone"])
	assert.Equal(t, "app/surge-test-alb/abc123", got["arnSuffix"])
	assert.Equal(t, "targetgroup/surge-test-app/def456", got["tgSuffix"])
	assert.Equal(t, pulumitest.FakeARN(tListener, "surge-test-https"), got["listener"])
	assert.NotEmpty(t, got["arn"])
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(a *ALBArgs)
		want []string
	}{
		{"valid dev", func(a *ALBArgs) {}, nil},
		{"valid prod", func(a *ALBArgs) { *a = *prodArgs() }, nil},
		{"missing inputs", func(a *ALBArgs) {
			a.VPCID, a.SubnetIDs, a.SecurityGroupID, a.AccessLogsBucket = nil, nil, nil, nil
		}, []string{
			"vpcId: is required",
			"subnetIds: is required",
			"securityGroupId: is required",
			"accessLogsBucket: is required (ELB.5)",
		}},
		{"https without certificate", func(a *ALBArgs) { a.HTTPS = true }, []string{
			"certificateArn: is required when https is on",
		}},
		{"certificate without https", func(a *ALBArgs) { a.CertificateARN = pulumi.String(certARN) }, []string{
			"certificateArn: is set but https is off",
		}},
		{"bad numbers, all at once", func(a *ALBArgs) {
			a.AppPort = 22
			a.DeregistrationDelaySeconds = 4000
			a.SlowStartSeconds = 10
			a.IdleTimeoutSeconds = 5000
			a.HealthCheckIntervalSeconds = 10
			a.HealthCheckTimeoutSeconds = 10
			a.HealthyThreshold = 1
			a.UnhealthyThreshold = 11
			a.DesyncMitigationMode = "monitor"
			a.AccessLogsPrefix = "/AWSLogs/"
		}, []string{
			"appPort: 22 is SSH, which surge never opens",
			"deregistrationDelaySeconds: 4000 must be between 0 and 3600",
			"slowStartSeconds: 10 must be between 30 and 900",
			"idleTimeoutSeconds: 5000 must be between 1 and 4000",
			"healthCheckTimeoutSeconds: 10 must be less than healthCheckIntervalSeconds 10",
			"healthyThreshold: 1 must be between 2 and 10",
			"unhealthyThreshold: 11 must be between 2 and 10",
			`desyncMitigationMode: "monitor" must be "defensive" or "strictest" (ELB.12)`,
			`accessLogsPrefix: "/AWSLogs/" must not start or end with "/" or contain "AWSLogs"`,
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

func TestListenerPort(t *testing.T) {
	assert.Equal(t, 443, ListenerPort(true))
	assert.Equal(t, 80, ListenerPort(false))
}

func TestSpecValidate(t *testing.T) {
	for _, env := range []spec.Env{spec.Dev, spec.Prod} {
		assert.NoError(t, Defaults(env).Validate(), "%s defaults", env)
	}
	s := Defaults(spec.Prod)
	s.IdleTimeoutSeconds, s.SlowStartSeconds = 5000, 10
	err := s.Validate()
	require.Error(t, err)
	assert.Equal(t, "slowStartSeconds: 10 must be between 30 and 900\nidleTimeoutSeconds: 5000 must be between 1 and 4000", err.Error())
}

func TestNilArgsFailWithoutPanic(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		_, err := NewALB(ctx, "surge-test", nil)
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "loadbalancer: args are required")
	assert.Empty(t, m.Resources())
}

// TestChildrenParentedAndNamedFromComponent guards STYLE: every resource
// the component declares is parented to it (so it inherits the stack's
// per-component provider and default tags) and named from its name.
func TestChildrenParentedAndNamedFromComponent(t *testing.T) {
	m, _ := run(t, "surge-prod", prodArgs())
	m.AssertChildrenOf(t, "surge:loadbalancer:ALB", "surge-prod")
}
