package compute

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/release"
	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tLaunchTemplate = "aws:ec2/launchTemplate:LaunchTemplate"
	tGroup          = "aws:autoscaling/group:Group"
	tPolicy         = "aws:autoscaling/policy:Policy"
	tSchedule       = "aws:autoscaling/schedule:Schedule"
	tRolePolicy     = "aws:iam/rolePolicy:RolePolicy"
	tRole           = "aws:iam/role:Role"
	tAttach         = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	tASGAttachment  = "aws:autoscaling/attachment:Attachment"

	testDigest    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	dbSecretARN   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:surge-db-AbCdEf"
	appSecretARN  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:surge-db-app-StUvWx"
	rdsSecretARN  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:surge-redis-GhIjKl"
	adminTokenARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:surge-admin-MnOpQr"
	logGroupARN   = "arn:aws:logs:eu-west-1:123456789012:log-group:/surge/app"
)

var subnets = []string{"subnet-app-a", "subnet-app-b", "subnet-app-c"}

// baseArgs is a valid prod-like fleet; tests change what they need.
func baseArgs() *AppFleetArgs {
	return &AppFleetArgs{
		SubnetIDs:             pulumi.ToStringArray(subnets),
		SecurityGroupID:       pulumi.String("sg-app"),
		TargetGroupARN:        pulumi.String("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/surge/def456"),
		LoadBalancerARNSuffix: pulumi.String("app/surge-prod-alb/abc123"),
		TargetGroupARNSuffix:  pulumi.String("targetgroup/surge-prod-tg/def456"),
		Spec: Spec{
			InstanceTypes:           []string{"m7g.large"},
			MinSize:                 3,
			MaxSize:                 30,
			DesiredCapacity:         3,
			HealthCheckGraceSeconds: 240,
			TargetRequestsPerTarget: 800,
			TargetCPUPercent:        60,
			ScheduledScaleOuts: []ScheduledAction{
				{Name: "registration-opens", Recurrence: "30 9 * 2,8 MON", TimeZone: "Asia/Seoul", MinSize: 12, MaxSize: 30, DesiredCapacity: 12},
				{Name: "one-off", StartTime: "2026-02-02T09:30:00+09:00", TimeZone: "Asia/Seoul", MinSize: 6, MaxSize: 30, DesiredCapacity: 6},
			},
			InstanceRefreshMinHealthyPercent: 75,
			WarmPool:                         &WarmPool{MinSize: 2, MaxGroupPreparedCapacity: 5, State: "Stopped"},
			DetailedMonitoring:               true,
			AdmitBatch:                       200,
		},
		InstanceTags:        map[string]string{"project": "surge", "stack": "prod"},
		Artifact:            release.Artifact{SHA256: testDigest},
		ArtifactsBucket:     pulumi.String("surge-prod-artifacts"),
		ArtifactsBucketARN:  pulumi.String("arn:aws:s3:::surge-prod-artifacts"),
		Env:                 map[string]pulumi.StringInput{"SURGE_COOKIE_SECURE": pulumi.String("true")},
		DatabaseSecretARN:   pulumi.String(dbSecretARN),
		CacheSecretARN:      pulumi.String(rdsSecretARN),
		AdminTokenSecretARN: pulumi.String(adminTokenARN),
		LogGroup:            "/surge/app",
		Region:              "eu-west-1",

		AppDatabaseSecretARN: pulumi.String(appSecretARN),
	}
}

func devArgs() *AppFleetArgs {
	a := baseArgs()
	a.InstanceTypes = []string{"t4g.small", "t4g.medium"}
	a.MinSize, a.MaxSize, a.DesiredCapacity = 1, 3, 1
	a.SpotPercent = 100
	a.WarmPool = nil
	a.DetailedMonitoring = false
	a.ScheduledScaleOuts = nil
	return a
}

func run(t *testing.T, args *AppFleetArgs) *pulumitest.Mocks {
	t.Helper()
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		_, err := NewAppFleet(ctx, "surge-prod", args)
		return err
	})
	require.NoError(t, err)
	return m
}

func only(t *testing.T, m *pulumitest.Mocks, token string) pulumitest.Resource {
	t.Helper()
	rs := m.ByType(token)
	require.Len(t, rs, 1, "want exactly one %s", token)
	return rs[0]
}

func decodeUserData(t *testing.T, lt pulumitest.Resource) string {
	t.Helper()
	raw := lt.Str("userData")
	require.NotEmpty(t, raw, "launch template userData")
	b, err := base64.StdEncoding.DecodeString(raw)
	require.NoError(t, err, "userData must be base64 (docs/decisions/launch-template-user-data.md, InvalidUserData.Malformed)")
	return string(b)
}

func TestControls(t *testing.T) {
	m := run(t, baseArgs())
	lt := only(t, m, tLaunchTemplate)

	t.Run("EC2.8_EC2.170_IMDSv2_required", func(t *testing.T) {
		assert.Equal(t, "required", lt.Str("metadataOptions.httpTokens"), "EC2.8/EC2.170")
		assert.Equal(t, "enabled", lt.Str("metadataOptions.httpEndpoint"), "EC2.8/EC2.170")
		assert.Equal(t, 1.0, lt.Num("metadataOptions.httpPutResponseHopLimit"), "AutoScaling.4 / CKV_AWS_341 hop limit")
	})
	t.Run("EC2.25_no_public_ip_string_false", func(t *testing.T) {
		require.Equal(t, 1, lt.Len("networkInterfaces"))
		v, ok := lt.Get("networkInterfaces[0].associatePublicIpAddress")
		require.True(t, ok, "EC2.25: associatePublicIpAddress must be set explicitly")
		assert.True(t, v.IsString(), "EC2.25: v6 types associatePublicIpAddress as a string")
		assert.Equal(t, "false", lt.Str("networkInterfaces[0].associatePublicIpAddress"), "EC2.25")
		assert.Equal(t, []string{"sg-app"}, lt.Strings("networkInterfaces[0].securityGroups"))
	})
	t.Run("EC2.181_EC2.3_root_volume_encrypted_gp3", func(t *testing.T) {
		require.Equal(t, 1, lt.Len("blockDeviceMappings"))
		assert.Equal(t, "/dev/xvda", lt.Str("blockDeviceMappings[0].deviceName"))
		assert.Equal(t, "true", lt.Str("blockDeviceMappings[0].ebs.encrypted"), "EC2.181: string \"true\"")
		assert.Equal(t, "true", lt.Str("blockDeviceMappings[0].ebs.deleteOnTermination"))
		assert.Equal(t, "gp3", lt.Str("blockDeviceMappings[0].ebs.volumeType"))
	})
	t.Run("EC2.24_Graviton_AL2023_through_ssm", func(t *testing.T) {
		assert.Equal(t, "resolve:ssm:"+DefaultAMIParameter, lt.Str("imageId"))
		assert.Equal(t, "m7g.large", lt.Str("instanceType"))
	})
	t.Run("CKV_AWS_126_detailed_monitoring_follows_arg", func(t *testing.T) {
		assert.True(t, lt.Bool("monitoring.enabled"), "prod args ask for detailed monitoring")
		dev := only(t, run(t, devArgs()), tLaunchTemplate)
		v, ok := dev.Get("monitoring.enabled")
		require.True(t, ok, "monitoring.enabled must be explicit")
		assert.False(t, v.BoolValue(), "dev args do not")
	})
	t.Run("CKV2_AWS_41_instance_profile_and_update_default", func(t *testing.T) {
		assert.True(t, lt.Has("iamInstanceProfile.arn"))
		assert.True(t, lt.Bool("updateDefaultVersion"))
		assert.Equal(t, 2, lt.Len("tagSpecifications"), "instance and volume tag specifications")
		assert.Equal(t, "surge", lt.Str("tagSpecifications[1].tags.project"), "volumes carry the stack's tags")
		assert.Equal(t, "surge-prod-app", lt.Str("tagSpecifications[0].tags.Name"))
	})
	t.Run("CKV_AWS_46_user_data_verifies_artifact_and_holds_no_secret", func(t *testing.T) {
		ud := decodeUserData(t, lt)
		assert.Less(t, len(ud), MaxUserDataBytes, "raw user data must stay under 16 KB")
		assert.True(t, strings.HasPrefix(ud, "#!/bin/bash\n"))
		for _, want := range []string{
			"set -euo pipefail", testDigest, "sha256sum --check", "exit 1",
			"s3://surge-prod-artifacts/releases/" + testDigest + "/surge", "aws s3 cp",
			`SURGE_DATABASE_SECRET_ARN="` + dbSecretARN + `"`, `SURGE_REDIS_SECRET_ARN="` + rdsSecretARN + `"`, `SURGE_ADMIN_TOKEN_SECRET_ARN="` + adminTokenARN + `"`,
			`SURGE_AWS_REGION="eu-west-1"`, `SURGE_LISTEN_ADDR=":8080"`, `SURGE_ADMIT_BATCH="200"`,
			`SURGE_DATABASE_APP_SECRET_ARN="` + appSecretARN + `"`, `SURGE_DATABASE_SSLMODE="verify-full"`,
			`SURGE_DATABASE_SSLROOTCERT="` + RDSCABundlePath + `"`,
			"User=surge", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
			"CapabilityBoundingSet=\n", "AmbientCapabilities=\n", "Restart=always", "KillSignal=SIGTERM",
			"TimeoutStopSec=35", "ExecStartPre=/opt/surge/bin/surge migrate", "ExecStart=/opt/surge/bin/surge serve",
			`chmod 0640 "$ROOT/etc/surge/surge.env"`, "--lifecycle-hook-name surge-launch-ready",
		} {
			assert.Contains(t, ud, want, "user data")
		}
		// The mock's random passwords are "xxxx..."; no credential-looking
		// setting may reach the script.
		for _, bad := range []string{"xxxxxxxxxxxxxxxx", "PASSWORD", "AUTH_TOKEN", "DATABASE_URL", "REDIS_URL", "AKIA"} {
			assert.NotContains(t, ud, bad, "user data must hold no secret")
		}
	})
	t.Run("SSM.1_managed_instance_core", func(t *testing.T) {
		a := only(t, m, tAttach)
		assert.Equal(t, ssmCorePolicyARN, a.Str("policyArn"))
		r := only(t, m, tRole)
		doc, err := r.JSON("assumeRolePolicy")
		require.NoError(t, err)
		assert.Contains(t, doc["Statement"].([]any)[0].(map[string]any)["Principal"], "Service")
	})
}

func TestLeastPrivilegePolicy(t *testing.T) {
	m := run(t, baseArgs())
	p := only(t, m, tRolePolicy)
	doc, err := p.JSON("policy")
	require.NoError(t, err)
	got := map[string]any{}
	for _, s := range doc["Statement"].([]any) {
		st := s.(map[string]any)
		assert.Equal(t, "Allow", st["Effect"])
		for _, a := range st["Action"].([]any) {
			got[a.(string)] = st["Resource"]
			if a == "cloudwatch:PutMetricData" {
				assert.Equal(t, map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": "Surge"}}, st["Condition"])
			}
		}
	}
	// Every release, not only the pinned one: launches from the previous
	// template version during a refresh, and rollbacks, fetch older ones.
	assert.Equal(t, "arn:aws:s3:::surge-prod-artifacts/releases/*", got["s3:GetObject"], "every release object, nothing else in the bucket")
	assert.Equal(t, []any{dbSecretARN, rdsSecretARN, adminTokenARN, appSecretARN}, got["secretsmanager:GetSecretValue"], "exactly the four runtime secrets")
	assert.Equal(t, []any{logGroupARN, logGroupARN + ":*"}, got["logs:PutLogEvents"], "only the app log group")
	assert.Equal(t, "arn:aws:autoscaling:eu-west-1:*:autoScalingGroup:*:autoScalingGroupName/surge-prod-app", got["autoscaling:CompleteLifecycleAction"])
	for action, res := range got {
		if action == "s3:GetObject" {
			continue // the releases prefix, asserted above
		}
		if strings.HasPrefix(action, "s3:") || strings.HasPrefix(action, "secretsmanager:") || strings.HasPrefix(action, "logs:") || strings.HasPrefix(action, "kms:") {
			assert.NotContains(t, res, "*", "%s must not use a wildcard resource", action)
			assert.NotEqual(t, "*", res, "%s must not use a wildcard resource", action)
		}
	}
	for _, a := range []string{"s3:PutObject", "s3:*", "secretsmanager:*", "iam:PassRole", "*"} {
		assert.NotContains(t, got, a)
	}
}

func TestAutoScalingGroup(t *testing.T) {
	m := run(t, baseArgs())
	g := only(t, m, tGroup)

	t.Run("AutoScaling.2_subnets_of_every_AZ", func(t *testing.T) {
		assert.Equal(t, subnets, g.Strings("vpcZoneIdentifiers"))
	})
	t.Run("AutoScaling.1_ELB_health_checks_with_grace", func(t *testing.T) {
		assert.Equal(t, "ELB", g.Str("healthCheckType"), "AutoScaling.1 / docs/decisions/asg-elb-health-checks.md")
		assert.Equal(t, 240.0, g.Num("healthCheckGracePeriod"))
		assert.Equal(t, []string{"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/surge/def456"}, g.Strings("targetGroupArns"))
		assert.Empty(t, m.ByType(tASGAttachment), "docs/decisions/asg-elb-health-checks.md: no separate attachment resource")
	})
	t.Run("AutoScaling.9_launch_template_concrete_version", func(t *testing.T) {
		assert.False(t, g.Has("launchConfiguration"))
		assert.True(t, g.Has("launchTemplate.id"))
		assert.Equal(t, "3", g.Str("launchTemplate.version"), "docs/decisions/launch-template-user-data.md: the template's latestVersion (mock: 3), never $Latest")
		assert.False(t, g.Has("mixedInstancesPolicy"), "single type, no spot: no mixed instances policy")
	})
	t.Run("instance_refresh_rolling", func(t *testing.T) {
		assert.Equal(t, "Rolling", g.Str("instanceRefresh.strategy"))
		assert.Equal(t, 75.0, g.Num("instanceRefresh.preferences.minHealthyPercentage"))
		assert.Equal(t, 110.0, g.Num("instanceRefresh.preferences.maxHealthyPercentage"), "replacements launch before old instances go")
		// Set explicitly, and false: AWS refuses to roll back a group whose
		// template resolves its AMI through SSM (RollbackInstanceRefresh API
		// reference), and the provider updates the group before starting
		// the refresh (terraform-provider-aws #34189).
		require.True(t, g.Has("instanceRefresh.preferences.autoRollback"), "autoRollback must be explicit")
		assert.False(t, g.Bool("instanceRefresh.preferences.autoRollback"),
			"autoRollback with imageId %q is unsupported by EC2 Auto Scaling", only(t, m, tLaunchTemplate).Str("imageId"))
	})
	t.Run("launch_hook_timeout_fixed_not_from_args", func(t *testing.T) {
		// initialLifecycleHooks force a replacement of the (fixed-name)
		// group on any change, so nothing in them may follow args.
		assert.Equal(t, float64(LaunchHookTimeoutSeconds), g.Num("initialLifecycleHooks[0].heartbeatTimeout"),
			"heartbeat timeout with healthCheckGraceSeconds 240")
		assert.Equal(t, "ABANDON", g.Str("initialLifecycleHooks[0].defaultResult"))
		assert.Greater(t, LaunchHookTimeoutSeconds, MaxHealthCheckGraceSeconds, "the readiness gate must answer inside the hook")
	})
	t.Run("sizes_warm_pool_metrics_hook", func(t *testing.T) {
		assert.Equal(t, 3.0, g.Num("minSize"))
		assert.Equal(t, 30.0, g.Num("maxSize"))
		assert.Equal(t, 3.0, g.Num("desiredCapacity"))
		assert.Equal(t, 2.0, g.Num("warmPool.minSize"))
		assert.Equal(t, "Stopped", g.Str("warmPool.poolState"))
		assert.Equal(t, 5.0, g.Num("warmPool.maxGroupPreparedCapacity"), "the pool is bounded, not max - desired")
		assert.Contains(t, g.Strings("enabledMetrics"), "GroupInServiceInstances")
		assert.Equal(t, "surge-launch-ready", g.Str("initialLifecycleHooks[0].name"))
		assert.Equal(t, "autoscaling:EC2_INSTANCE_LAUNCHING", g.Str("initialLifecycleHooks[0].lifecycleTransition"))
		assert.Equal(t, 240.0, g.Num("defaultInstanceWarmup"))
		tags := map[string]string{}
		for i := 0; i < g.Len("tags"); i++ {
			p := "tags[" + strconv.Itoa(i) + "]"
			assert.True(t, g.Bool(p+".propagateAtLaunch"), "CKV_AWS_153: %s propagates", g.Str(p+".key"))
			tags[g.Str(p+".key")] = g.Str(p + ".value")
		}
		assert.Equal(t, map[string]string{"Name": "surge-prod-app", "project": "surge", "stack": "prod"}, tags)
	})
	t.Run("target_tracking_policies", func(t *testing.T) {
		ps := m.ByType(tPolicy)
		require.Len(t, ps, 2)
		byMetric := map[string]pulumitest.Resource{}
		for _, p := range ps {
			byMetric[p.Str("targetTrackingConfiguration.predefinedMetricSpecification.predefinedMetricType")] = p
		}
		req := byMetric["ALBRequestCountPerTarget"]
		assert.Equal(t, "app/surge-prod-alb/abc123/targetgroup/surge-prod-tg/def456", req.Str("targetTrackingConfiguration.predefinedMetricSpecification.resourceLabel"))
		assert.Equal(t, 800.0, req.Num("targetTrackingConfiguration.targetValue"))
		assert.Equal(t, 60.0, byMetric["ASGAverageCPUUtilization"].Num("targetTrackingConfiguration.targetValue"))
	})
	t.Run("scheduled_actions_with_time_zone", func(t *testing.T) {
		ss := m.ByType(tSchedule)
		require.Len(t, ss, 2)
		byName := map[string]pulumitest.Resource{}
		for _, s := range ss {
			byName[s.Str("scheduledActionName")] = s
		}
		r := byName["registration-opens"]
		assert.Equal(t, "30 9 * 2,8 MON", r.Str("recurrence"))
		assert.Equal(t, "Asia/Seoul", r.Str("timeZone"))
		assert.Equal(t, 12.0, r.Num("desiredCapacity"))
		assert.Equal(t, "2026-02-02T00:30:00Z", byName["one-off"].Str("startTime"), "start time converted to UTC")
	})
}

// ignoreRecorder wraps the shared monitor to see resource options, which the
// recorded inputs do not carry.
type ignoreRecorder struct {
	*pulumitest.Mocks
	mu      sync.Mutex // resources register concurrently
	ignored map[string][]string
}

func (r *ignoreRecorder) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if a.RegisterRPC != nil {
		r.mu.Lock()
		r.ignored[a.TypeToken] = a.RegisterRPC.GetIgnoreChanges()
		r.mu.Unlock()
	}
	return r.Mocks.NewResource(a)
}

func TestDesiredCapacityLeftToScaling(t *testing.T) {
	r := &ignoreRecorder{Mocks: pulumitest.New(), ignored: map[string][]string{}}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := NewAppFleet(ctx, "surge-prod", baseArgs())
		return err
	}, pulumi.WithMocks("surge", "test", r))
	require.NoError(t, err)
	assert.Equal(t, []string{"desiredCapacity"}, r.ignored[tGroup], "an up must not reset the capacity scaling chose")
}

func TestSpotUsesMixedInstancesPolicy(t *testing.T) {
	m := run(t, devArgs())
	g := only(t, m, tGroup)
	assert.False(t, g.Has("launchTemplate"), "launchTemplate and mixedInstancesPolicy are exclusive")
	assert.False(t, g.Has("warmPool"), "no warm pool with spot")
	assert.Equal(t, "3", g.Str("mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version"), "docs/decisions/launch-template-user-data.md")
	assert.Equal(t, "t4g.small", g.Str("mixedInstancesPolicy.launchTemplate.overrides[0].instanceType"))
	assert.Equal(t, "t4g.medium", g.Str("mixedInstancesPolicy.launchTemplate.overrides[1].instanceType"), "AutoScaling.6: several types")
	assert.Equal(t, 0.0, g.Num("mixedInstancesPolicy.instancesDistribution.onDemandPercentageAboveBaseCapacity"))
	assert.Equal(t, "price-capacity-optimized", g.Str("mixedInstancesPolicy.instancesDistribution.spotAllocationStrategy"))
	assert.True(t, g.Bool("capacityRebalance"))
	assert.Empty(t, m.ByType(tSchedule))
}

func TestRefreshMaxHealthyPercent(t *testing.T) {
	for _, tt := range []struct{ min, want int }{{90, 110}, {50, 110}, {0, 100}, {100, 110}} {
		got := RefreshMaxHealthyPercent(tt.min)
		assert.Equal(t, tt.want, got, "RefreshMaxHealthyPercent(%d)", tt.min)
		assert.True(t, got >= 100 && got <= 200 && got-tt.min <= 100, "AWS bounds for min %d", tt.min)
	}
}

func TestTwoFleetsDoNotCollide(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		if _, err := NewAppFleet(ctx, "surge-blue", baseArgs()); err != nil {
			return err
		}
		_, err := NewAppFleet(ctx, "surge-green", devArgs())
		return err
	})
	require.NoError(t, err)
	m.AssertUniqueNames(t)
	names := map[string]bool{}
	for _, tok := range []string{tGroup, tLaunchTemplate, tRole} {
		for _, r := range m.ByType(tok) {
			n := r.Str("name")
			assert.False(t, names[tok+n], "physical name %s reused for %s", n, tok)
			names[tok+n] = true
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(a *AppFleetArgs)
		want   []string // substrings, all must appear
	}{
		{"valid prod", func(a *AppFleetArgs) {}, nil},
		{"non-Graviton type", func(a *AppFleetArgs) { a.InstanceTypes = []string{"m5.large"} }, []string{`"m5.large" is not a Graviton`}},
		{"x86 Intel type", func(a *AppFleetArgs) { a.InstanceTypes = []string{"m7i.large"} }, []string{`"m7i.large" is not a Graviton`}},
		{"min > max", func(a *AppFleetArgs) { a.MinSize, a.MaxSize, a.DesiredCapacity = 5, 3, 4 }, []string{"minSize: 5 is greater than maxSize (3)", "desiredCapacity: 4 is outside"}},
		{"desired outside", func(a *AppFleetArgs) { a.DesiredCapacity = 31 }, []string{"desiredCapacity: 31 is outside minSize..maxSize (3..30)"}},
		{"bad digest", func(a *AppFleetArgs) { a.Artifact.SHA256 = "abc" }, []string{`Artifact.SHA256 "abc" must be 64`}},
		{"spot > 100", func(a *AppFleetArgs) { a.SpotPercent, a.WarmPool = 120, nil }, []string{"spotPercent: 120 is outside 0..100"}},
		{"warm pool with spot", func(a *AppFleetArgs) { a.SpotPercent = 50 }, []string{"warmPool: needs exactly one instance type and spotPercent 0"}},
		{"running warm pool", func(a *AppFleetArgs) { a.WarmPool.State = "Running" }, []string{"Running is not supported"}},
		{"reserved tag", func(a *AppFleetArgs) { a.InstanceTags = map[string]string{"aws:x": "y"} }, []string{`InstanceTags key "aws:x"`}},
		{"unbounded warm pool", func(a *AppFleetArgs) { a.WarmPool.MaxGroupPreparedCapacity = 0 }, []string{"warmPool.maxGroupPreparedCapacity: 0 is outside max(1, warmPool.minSize)..maxSize (2..30)"}},
		{"warm pool above max", func(a *AppFleetArgs) { a.WarmPool.MaxGroupPreparedCapacity = 31 }, []string{"warmPool.maxGroupPreparedCapacity: 31 is outside"}},
		{"hibernated warm pool", func(a *AppFleetArgs) { a.WarmPool.State = "Hibernated" }, []string{"Hibernated is not supported"}},
		{"privileged port", func(a *AppFleetArgs) { a.Port = 80 }, []string{"port: 80 is outside 1024..65535"}},
		{"grace longer than the launch hook", func(a *AppFleetArgs) { a.HealthCheckGraceSeconds = 900 }, []string{"healthCheckGraceSeconds: 900 is outside 30..600"}},
		{"secret in env", func(a *AppFleetArgs) {
			a.Env = map[string]pulumi.StringInput{"SURGE_DATABASE_URL": pulumi.String("postgres://u:p@h/db")}
		}, []string{"SURGE_DATABASE_URL looks like a credential"}},
		{"reserved env", func(a *AppFleetArgs) { a.Env = map[string]pulumi.StringInput{"SURGE_AWS_REGION": pulumi.String("x")} }, []string{"SURGE_AWS_REGION is set by the component"}},
		{"redis mode is the component's", func(a *AppFleetArgs) {
			a.Env = map[string]pulumi.StringInput{"SURGE_REDIS_MODE": pulumi.String("cluster")}
		}, []string{"SURGE_REDIS_MODE is set by the component"}},
		{"unknown cache mode", func(a *AppFleetArgs) { a.CacheMode = "sentinel" }, []string{`CacheMode "sentinel": want one of [standalone cluster]`}},
		{"cluster cache mode", func(a *AppFleetArgs) { a.CacheMode = "cluster" }, nil},
		{"request policy without suffixes", func(a *AppFleetArgs) { a.TargetGroupARNSuffix = nil }, []string{"needs LoadBalancerARNSuffix and TargetGroupARNSuffix"}},
		{"schedule without zone", func(a *AppFleetArgs) { a.ScheduledScaleOuts[0].TimeZone = "" }, []string{"scheduledScaleOuts[0].timeZone: is required"}},
		{"schedule bad zone and cron", func(a *AppFleetArgs) {
			a.ScheduledScaleOuts[0].TimeZone, a.ScheduledScaleOuts[0].Recurrence = "Mars/Olympus", "every monday"
		}, []string{`scheduledScaleOuts[0].timeZone: "Mars/Olympus" is not an IANA`, "5-field cron"}},
		{"schedule names collide once sanitized", func(a *AppFleetArgs) { a.ScheduledScaleOuts[1].Name = "Registration-Opens" }, []string{"duplicate name once sanitized"}},
		{"schedule bad sizes", func(a *AppFleetArgs) { a.ScheduledScaleOuts[1].DesiredCapacity = 40 }, []string{"scheduledScaleOuts[1]: needs 0 <= minSize <= desiredCapacity <= maxSize, got 6/40/30"}},
		{"missing inputs", func(a *AppFleetArgs) { a.SubnetIDs, a.DatabaseSecretARN = nil, nil }, []string{"SubnetIDs is required", "DatabaseSecretARN is required"}},
		{"missing app secret", func(a *AppFleetArgs) { a.AppDatabaseSecretARN = nil }, []string{"AppDatabaseSecretARN is required"}},
		{"sslmode is the component's", func(a *AppFleetArgs) {
			a.Env = map[string]pulumi.StringInput{"SURGE_DATABASE_SSLMODE": pulumi.String("require")}
		}, []string{"SURGE_DATABASE_SSLMODE is set by the component"}},
		{"every problem at once", func(a *AppFleetArgs) {
			a.InstanceTypes = []string{"c5.xlarge"}
			a.MinSize, a.MaxSize = 4, 2
			a.RootVolumeGiB = 4
			a.Region = ""
		}, []string{"c5.xlarge", "minSize: 4 is greater than maxSize (2)", "rootVolumeGiB: 4", `Region ""`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := baseArgs()
			tt.mutate(a)
			d := a.withDefaults()
			err := d.validate()
			if tt.want == nil {
				assert.NoError(t, err, "validate(%s)", tt.name)
				return
			}
			require.Error(t, err, "validate(%s)", tt.name)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w, "validate(%s)", tt.name)
			}
		})
	}
}

func TestInvalidArgsFailBeforeDeclaring(t *testing.T) {
	a := baseArgs()
	a.InstanceTypes = []string{"m5.large"}
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		_, err := NewAppFleet(ctx, "surge-prod", a)
		return err
	})
	require.Error(t, err)
	assert.Empty(t, m.Resources(), "nothing may be declared for invalid args")
}

func TestOutputs(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		f, err := NewAppFleet(ctx, "surge-prod", baseArgs())
		if err != nil {
			return err
		}
		for want, out := range map[any]pulumi.Output{
			"surge-prod-app": f.ASGName,
			3:                f.LaunchTemplateLatestVersion,
		} {
			got, known, err := pulumitest.Await(ctx.Context(), out)
			require.NoError(t, err)
			assert.True(t, known)
			assert.Equal(t, want, got)
		}
		for _, out := range []pulumi.Output{f.ASGARN, f.RoleARN, f.InstanceProfileName, f.LaunchTemplateID} {
			got, _, err := pulumitest.Await(ctx.Context(), out)
			require.NoError(t, err)
			assert.NotEmpty(t, got)
		}
		return nil
	})
	require.NoError(t, err)
}

// TestChildrenParentedAndNamedFromComponent guards STYLE: every resource
// the component declares is parented to it (so it inherits the stack's
// per-component provider and default tags) and named from its name.
func TestChildrenParentedAndNamedFromComponent(t *testing.T) {
	m := run(t, baseArgs())
	m.AssertChildrenOf(t, "surge:compute:AppFleet", "surge-prod")
}

// The fleet owns the app's log group (CloudWatch.16: a year by default),
// and grants its instances exactly that group, by the group's own ARN.
func TestFleetOwnsItsLogGroup(t *testing.T) {
	a := baseArgs()
	a.LogGroup = ""
	m := run(t, a)
	lg := only(t, m, "aws:cloudwatch/logGroup:LogGroup")
	assert.Equal(t, "surge-prod-app", lg.Name)
	assert.Equal(t, "/surge/test/app", lg.Str("name"), "LogGroupName(stack)")
	assert.Equal(t, 365.0, lg.Num("retentionInDays"))
	assert.True(t, strings.HasSuffix(lg.Parent, "surge:compute:AppFleet::surge-prod"), "parent %s", lg.Parent)
	policy, err := only(t, m, "aws:iam/rolePolicy:RolePolicy").JSON("policy")
	require.NoError(t, err)
	assert.Contains(t, fmt.Sprint(policy), "arn:aws:logs:eu-west-1:123456789012:log-group:/surge/test/app")
}

// TestRedisModeEnv: the environment file always names how the app reaches
// the cache, standalone unless the cache is in cluster mode.
func TestRedisModeEnv(t *testing.T) {
	for _, tt := range []struct{ mode, want string }{
		{"", `SURGE_REDIS_MODE="standalone"`},
		{"standalone", `SURGE_REDIS_MODE="standalone"`},
		{"cluster", `SURGE_REDIS_MODE="cluster"`},
	} {
		t.Run(cmp.Or(tt.mode, "default"), func(t *testing.T) {
			a := baseArgs()
			a.CacheMode = tt.mode
			ud := decodeUserData(t, only(t, run(t, a), tLaunchTemplate))
			assert.Contains(t, ud, tt.want)
			assert.Equal(t, 1, strings.Count(ud, "SURGE_REDIS_MODE="), "set once")
		})
	}
}
