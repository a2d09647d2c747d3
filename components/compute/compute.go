// Package compute declares the app fleet: a launch template whose user data
// fetches, verifies and runs the pinned app artifact, the instance role, and
// an Auto Scaling group behind the ALB target group with target tracking,
// scheduled scale-out and rolling instance refresh.
package compute

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // scheduled-action time zones validate the same on every machine

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
)

// DefaultAMIParameter is the public SSM parameter of the latest Amazon Linux
// 2023 arm64 AMI.
const DefaultAMIParameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"

// MetricNamespace is the only CloudWatch namespace instances may publish to.
const MetricNamespace = "Surge"

// LaunchHookTimeoutSeconds is the launch lifecycle hook's heartbeat timeout.
// It is a constant, not derived from args: the hook is an initial lifecycle
// hook of the group, which the provider can only set at creation (every
// field forces a replacement), and a replacement group would collide with
// the group's fixed name. It must cover boot, the artifact download and the
// readiness gate (HealthCheckGraceSeconds, at most MaxHealthCheckGraceSeconds).
const LaunchHookTimeoutSeconds = 900

// MaxHealthCheckGraceSeconds bounds HealthCheckGraceSeconds, which is also
// the readiness gate's wait, so the gate always answers inside the hook.
const MaxHealthCheckGraceSeconds = 600

// Managed policy giving SSM Session Manager access (SSM.1): no SSH anywhere.
const ssmCorePolicyARN = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"

// Artifact is the app binary in S3, pinned by digest.
type Artifact struct {
	Bucket    pulumi.StringInput // bucket name; required
	Key       pulumi.StringInput // object key; required
	SHA256    pulumi.StringInput // 64 hex characters; required. Checked statically when a plain string.
	BucketARN pulumi.StringInput // bucket ARN, for the exact object ARN in the role policy; required
	// KMSKeyARN is the CMK the bucket encrypts with, if any (kms:Decrypt is
	// granted on exactly it). Nil for SSE-S3.
	KMSKeyARN pulumi.StringInput
	// ReleasesPrefix is the key prefix every release shares, ending in "/"
	// (the stack's is "releases/"). The role reads every object under it,
	// so a launch from an earlier launch template version (an instance
	// refresh in progress, a rollback) finds its binary. Required.
	ReleasesPrefix string
}

// ScheduledAction changes the group's size at a time: a cron recurrence in a
// time zone ("30 minutes before registration opens") or a one-off start time.
type ScheduledAction struct {
	Name       string // unique within the fleet; required
	Recurrence string // 5-field cron, e.g. "30 8 * 2,8 MON"; or empty with StartTime
	StartTime  string // RFC 3339 one-off time; converted to UTC
	TimeZone   string // IANA zone for Recurrence, e.g. "Asia/Seoul"; required with Recurrence
	Min        int
	Max        int
	Desired    int
}

// WarmPool keeps pre-initialised instances next to the group.
type WarmPool struct {
	MinSize int // instances kept warm; >= 0
	// MaxGroupPreparedCapacity bounds in-service plus warm instances: the
	// pool holds this minus the desired capacity, never fewer than MinSize.
	// Required (>= max(1, MinSize), <= Max): unset, AWS keeps Max minus
	// desired instances prepared, each launched, initialised and stopped
	// again on every instance refresh.
	MaxGroupPreparedCapacity int
	// State of warm instances: only "Stopped" (the default). A stopped
	// instance boots into the pool's InService transition and so reruns the
	// readiness gate that completes the lifecycle hook; a "Running" one would
	// not, and the hook would abandon it.
	State string
}

// AppFleetArgs configure the fleet. Values from other resources are inputs;
// shape is plain Go, validated before anything is declared.
type AppFleetArgs struct {
	SubnetIDs             pulumi.StringArrayInput // private-app subnets, one per AZ; required
	SecurityGroupID       pulumi.StringInput      // the app security group; required
	TargetGroupARN        pulumi.StringInput      // ALB target group the group registers in; required
	LoadBalancerARNSuffix pulumi.StringInput      // for ALBRequestCountPerTarget; required when TargetRequestsPerTarget > 0
	TargetGroupARNSuffix  pulumi.StringInput      // for ALBRequestCountPerTarget; required when TargetRequestsPerTarget > 0

	// InstanceTypes are Graviton (arm64) types; the first is the launch
	// template's, all of them go in the mixed instances policy. Required.
	InstanceTypes []string
	Min           int // group minimum; >= 0
	Max           int // group maximum; >= 1 and >= Min
	Desired       int // initial desired capacity within [Min, Max]

	HealthCheckGraceSeconds int // ELB health check grace and readiness-gate wait; default 300 (30-MaxHealthCheckGraceSeconds)
	// TargetRequestsPerTarget is the target of the ALBRequestCountPerTarget
	// tracking policy; 0 declares no such policy.
	TargetRequestsPerTarget float64
	// TargetCPUPercent is the target of the ASGAverageCPUUtilization policy
	// (0-100); 0 declares no such policy.
	TargetCPUPercent float64
	ScheduledActions []ScheduledAction
	// InstanceRefreshMinHealthyPercent is the capacity kept healthy during a
	// rolling refresh; default 90 (AWS's), 0-100.
	InstanceRefreshMinHealthyPercent int
	WarmPool                         *WarmPool // nil: no warm pool. Incompatible with spot and several instance types.
	// SpotPercent is the spot share of capacity above OnDemandBase (0-100).
	// The stack only allows it in dev.
	SpotPercent        int
	OnDemandBase       int    // on-demand instances before any spot; default 0
	DetailedMonitoring bool   // 1-minute EC2 metrics (CKV_AWS_126)
	RootVolumeGiB      int    // gp3 root volume; default 20, >= 8 (the AL2023 snapshot size)
	AMIParameter       string // SSM parameter of the AMI; default DefaultAMIParameter
	// InstanceTags go on instances and their volumes (ASG tags propagated at
	// launch, launch template tag specifications): provider default tags do
	// not reach what the group launches. Pass the stack's default tags here.
	InstanceTags map[string]string

	Artifact Artifact

	AppPort           int                           // app listener; default 8080 (>= 1024)
	DrainSeconds      int                           // graceful drain after SIGTERM; default 30
	Env               map[string]pulumi.StringInput // non-secret SURGE_* settings
	DatabaseSecretARN pulumi.StringInput            // master credentials of the database, read by `surge migrate` only; required
	CacheSecretARN    pulumi.StringInput            // Secrets Manager secret of the cache; required
	// AdminTokenSecretARN is the Secrets Manager secret holding the admin
	// API bearer token (a plain string); required. The token itself never
	// reaches user data or the environment file.
	AdminTokenSecretARN pulumi.StringInput
	LogGroupName        pulumi.StringInput // CloudWatch Logs group for app logs; required
	LogGroupARN         pulumi.StringInput // its ARN (without ":*"); required
	Region              string             // AWS region, e.g. "eu-west-1"; required

	// AppDatabaseSecretARN holds the app role's credentials, the only ones
	// `surge serve` reads; required.
	AppDatabaseSecretARN pulumi.StringInput

	// Materials, when set, lets the app take course material uploads
	// (materials.go). Default nil: no S3 write rights at all.
	Materials *Materials
}

// RefreshMaxHealthyPercent is the instance refresh's upper bound: 110 %, so
// replacements launch first, within AWS's rule that the maximum is 100-200
// and at most 100 points above the minimum.
func RefreshMaxHealthyPercent(minHealthy int) int {
	return min(110, minHealthy+100)
}

// GroupName is the Auto Scaling group's physical name for a fleet named
// name. It is known before the fleet is declared, so alarms and dashboards
// can name the group without waiting for it.
func GroupName(name string) string { return naming.Physical(name, "app", 255) }

// AppFleet is the surge:compute:AppFleet component.
type AppFleet struct {
	pulumi.ResourceState

	ASGName                     pulumi.StringOutput
	ASGARN                      pulumi.StringOutput
	LaunchTemplateID            pulumi.IDOutput
	LaunchTemplateLatestVersion pulumi.IntOutput
	RoleARN                     pulumi.StringOutput
	InstanceProfileName         pulumi.StringOutput
}

var (
	// Graviton families: the generation digits are followed by "g"
	// (t4g, m7g, m7gd, c7gn, r8g, x2gd, im4gn, is4gen...).
	gravitonType = regexp.MustCompile(`^[a-z]+[0-9]+g[a-z]*\.[0-9]*[a-z]+$`)
	cronExpr     = regexp.MustCompile(`^\S+ \S+ \S+ \S+ \S+$`)
	actionName   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,255}$`)
)

// reservedEnv are the settings the component writes itself.
var reservedEnv = []string{"SURGE_LISTEN_ADDR", "SURGE_DATABASE_SECRET_ARN", "SURGE_REDIS_SECRET_ARN", "SURGE_ADMIN_TOKEN_SECRET_ARN", "SURGE_AWS_REGION", "SURGE_DRAIN_TIMEOUT",
	"SURGE_DATABASE_APP_SECRET_ARN", "SURGE_DATABASE_SSLMODE", "SURGE_DATABASE_SSLROOTCERT", "SURGE_MEDIA_SIGNING_KEY_SECRET_ARN"}

func (a AppFleetArgs) withDefaults() AppFleetArgs {
	if a.HealthCheckGraceSeconds == 0 {
		a.HealthCheckGraceSeconds = 300
	}
	if a.InstanceRefreshMinHealthyPercent == 0 {
		a.InstanceRefreshMinHealthyPercent = 90
	}
	if a.RootVolumeGiB == 0 {
		a.RootVolumeGiB = 20
	}
	if a.AMIParameter == "" {
		a.AMIParameter = DefaultAMIParameter
	}
	if a.AppPort == 0 {
		a.AppPort = 8080
	}
	if a.DrainSeconds == 0 {
		a.DrainSeconds = 30
	}
	if a.WarmPool != nil && a.WarmPool.State == "" {
		wp := *a.WarmPool
		wp.State = "Stopped"
		a.WarmPool = &wp
	}
	return a
}

// mixed reports whether the group needs a mixed instances policy.
func (a *AppFleetArgs) mixed() bool { return a.SpotPercent > 0 || len(a.InstanceTypes) > 1 }

// validate returns every problem of the (defaulted) args at once.
func (a *AppFleetArgs) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for field, v := range map[string]any{
		"SubnetIDs": a.SubnetIDs, "SecurityGroupID": a.SecurityGroupID, "TargetGroupARN": a.TargetGroupARN,
		"Artifact.Bucket": a.Artifact.Bucket, "Artifact.Key": a.Artifact.Key, "Artifact.SHA256": a.Artifact.SHA256,
		"Artifact.BucketARN": a.Artifact.BucketARN, "DatabaseSecretARN": a.DatabaseSecretARN, "AppDatabaseSecretARN": a.AppDatabaseSecretARN,
		"CacheSecretARN": a.CacheSecretARN, "AdminTokenSecretARN": a.AdminTokenSecretARN,
		"LogGroupName": a.LogGroupName, "LogGroupARN": a.LogGroupARN,
	} {
		if isNil(v) {
			add("%s is required", field)
		}
	}
	errs = append(errs, a.Materials.validate()...)
	if len(a.InstanceTypes) == 0 {
		add("InstanceTypes: at least one Graviton instance type is required")
	}
	seen := map[string]bool{}
	for _, t := range a.InstanceTypes {
		if !gravitonType.MatchString(t) {
			add("InstanceTypes: %q is not a Graviton (arm64) type such as t4g.small, m7g.large or c8g.xlarge", t)
		}
		if seen[t] {
			add("InstanceTypes: %q is listed twice", t)
		}
		seen[t] = true
	}
	if a.Min < 0 || a.Max < 1 {
		add("Min %d must be >= 0 and Max %d >= 1", a.Min, a.Max)
	}
	if a.Min > a.Max {
		add("Min %d is greater than Max %d", a.Min, a.Max)
	}
	if a.Desired < a.Min || a.Desired > a.Max {
		add("Desired %d is outside [Min %d, Max %d]", a.Desired, a.Min, a.Max)
	}
	if a.HealthCheckGraceSeconds < 30 || a.HealthCheckGraceSeconds > MaxHealthCheckGraceSeconds {
		add("HealthCheckGraceSeconds %d must be within 30-%d (the readiness gate must answer inside the fixed %d s launch hook)",
			a.HealthCheckGraceSeconds, MaxHealthCheckGraceSeconds, LaunchHookTimeoutSeconds)
	}
	if a.TargetRequestsPerTarget < 0 {
		add("TargetRequestsPerTarget %v must be >= 0", a.TargetRequestsPerTarget)
	}
	if a.TargetRequestsPerTarget > 0 && (isNil(a.LoadBalancerARNSuffix) || isNil(a.TargetGroupARNSuffix)) {
		add("TargetRequestsPerTarget needs LoadBalancerARNSuffix and TargetGroupARNSuffix")
	}
	if a.TargetCPUPercent < 0 || a.TargetCPUPercent > 100 {
		add("TargetCPUPercent %v must be within 0-100", a.TargetCPUPercent)
	}
	if a.InstanceRefreshMinHealthyPercent < 0 || a.InstanceRefreshMinHealthyPercent > 100 {
		add("InstanceRefreshMinHealthyPercent %d must be within 0-100", a.InstanceRefreshMinHealthyPercent)
	}
	if a.SpotPercent < 0 || a.SpotPercent > 100 {
		add("SpotPercent %d must be within 0-100", a.SpotPercent)
	}
	if a.OnDemandBase < 0 || a.OnDemandBase > a.Max {
		add("OnDemandBase %d must be within 0-Max (%d)", a.OnDemandBase, a.Max)
	}
	if wp := a.WarmPool; wp != nil {
		if wp.MinSize < 0 {
			add("WarmPool.MinSize %d must be >= 0", wp.MinSize)
		}
		if wp.MaxGroupPreparedCapacity < max(1, wp.MinSize) || wp.MaxGroupPreparedCapacity > a.Max {
			add("WarmPool.MaxGroupPreparedCapacity %d must be within max(1, MinSize)-Max (%d-%d)", wp.MaxGroupPreparedCapacity, max(1, wp.MinSize), a.Max)
		}
		switch wp.State {
		case "Stopped":
		case "Running":
			add("WarmPool.State Running is not supported: the readiness gate runs at boot, so the lifecycle hook would abandon a running warm instance")
		case "Hibernated":
			add("WarmPool.State Hibernated is not supported: it needs hibernation in the launch template and a root volume sized to RAM")
		default:
			add("WarmPool.State %q must be Stopped", wp.State)
		}
		if a.mixed() {
			add("WarmPool cannot be combined with spot or several instance types: AWS refuses a warm pool on a group with a mixed instances policy")
		}
	}
	for k := range a.InstanceTags {
		if k == "" || strings.HasPrefix(strings.ToLower(k), "aws:") || k == "Name" {
			add("InstanceTags key %q is empty, reserved (aws:) or set by the component (Name)", k)
		}
	}
	if a.RootVolumeGiB < 8 || a.RootVolumeGiB > 16384 {
		add("RootVolumeGiB %d must be within 8-16384", a.RootVolumeGiB)
	}
	if !strings.HasPrefix(a.AMIParameter, "/") {
		add("AMIParameter %q must be an SSM parameter name starting with /", a.AMIParameter)
	}
	if a.AppPort < 1024 || a.AppPort > 65535 {
		add("AppPort %d must be within 1024-65535 (the unit grants no capabilities)", a.AppPort)
	}
	if a.DrainSeconds < 1 || a.DrainSeconds > 3600 {
		add("DrainSeconds %d must be within 1-3600", a.DrainSeconds)
	}
	if !regionName.MatchString(a.Region) {
		add("Region %q is not an AWS region name", a.Region)
	}
	for k := range a.Env {
		for _, r := range reservedEnv {
			if k == r {
				add("Env %s is set by the component", k)
			}
		}
		if !envKey.MatchString(k) {
			add("Env key %q must match %s", k, envKey)
		} else if secretLooking.MatchString(k) && !strings.HasSuffix(k, "_ARN") {
			add("Env %s looks like a credential: user data must hold none, pass a Secrets Manager ARN", k)
		}
	}
	if p := a.Artifact.ReleasesPrefix; p == "" || !strings.HasSuffix(p, "/") || strings.ContainsAny(p, "*?") {
		add("Artifact.ReleasesPrefix %q must be a key prefix ending in \"/\" without wildcards", p)
	}
	if s, ok := a.Artifact.SHA256.(pulumi.String); ok && !hexDigest.MatchString(string(s)) {
		add("Artifact.SHA256 %q must be 64 lowercase hex characters", string(s))
	}
	names := map[string]bool{}
	for i, sa := range a.ScheduledActions {
		p := fmt.Sprintf("ScheduledActions[%d] %q", i, sa.Name)
		if !actionName.MatchString(sa.Name) {
			add("%s: name must be 1-255 of [A-Za-z0-9._-]", p)
		}
		// Logical names derive from the sanitized name, which must stay unique.
		if key := naming.Physical(sa.Name, "", 64); names[key] {
			add("%s: duplicate name", p)
		} else {
			names[key] = true
		}
		if sa.Recurrence == "" && sa.StartTime == "" {
			add("%s: needs Recurrence (cron) or StartTime", p)
		}
		if sa.Recurrence != "" {
			if !cronExpr.MatchString(sa.Recurrence) {
				add("%s: Recurrence %q must be a 5-field cron expression", p, sa.Recurrence)
			}
			if sa.TimeZone == "" {
				add("%s: TimeZone is required with Recurrence", p)
			}
		}
		if sa.TimeZone != "" {
			if _, err := time.LoadLocation(sa.TimeZone); err != nil || sa.TimeZone == "Local" {
				add("%s: TimeZone %q is not an IANA time zone", p, sa.TimeZone)
			}
		}
		if sa.StartTime != "" {
			if _, err := time.Parse(time.RFC3339, sa.StartTime); err != nil {
				add("%s: StartTime %q is not RFC 3339", p, sa.StartTime)
			}
		}
		if sa.Min < 0 || sa.Min > sa.Max || sa.Desired < sa.Min || sa.Desired > sa.Max {
			add("%s: needs 0 <= Min (%d) <= Desired (%d) <= Max (%d)", p, sa.Min, sa.Desired, sa.Max)
		}
	}
	return errors.Join(errs...)
}

// isNil reports an unset input (a nil interface stored in an any).
func isNil(v any) bool { return v == nil }

// NewAppFleet declares the fleet.
func NewAppFleet(ctx *pulumi.Context, name string, args *AppFleetArgs, opts ...pulumi.ResourceOption) (*AppFleet, error) {
	if args == nil {
		return nil, errors.New("compute: args are required")
	}
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("compute %s: invalid args: %w", name, err)
	}

	c := &AppFleet{}
	if err := ctx.RegisterComponentResource("surge:compute:AppFleet", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering fleet %s: %w", name, err)
	}
	parent := pulumi.Parent(c)

	// Static physical names: the user data needs the group's name before the
	// group exists (the lifecycle hook), and the role policy names it exactly.
	asgName := GroupName(name)
	hookName := "surge-launch-ready"

	// --- IAM -----------------------------------------------------------
	role, err := iam.NewRole(ctx, name+"-app-role", &iam.RoleArgs{
		Name:             pulumi.String(naming.Physical(name, "app", naming.MaxIAMRole)),
		Description:      pulumi.String("surge app instances"),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating app role: %w", err)
	}
	ssmAttach, err := iam.NewRolePolicyAttachment(ctx, name+"-app-ssm", &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.String(ssmCorePolicyARN),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("attaching SSM core policy: %w", err)
	}
	releasesARN := pulumi.Sprintf("%s/%s*", a.Artifact.BucketARN, a.Artifact.ReleasesPrefix)
	kmsKey := pulumi.StringInput(pulumi.String(""))
	if a.Artifact.KMSKeyARN != nil {
		kmsKey = a.Artifact.KMSKeyARN
	}
	asgARNPattern := fmt.Sprintf("arn:aws:autoscaling:%s:*:autoScalingGroup:*:autoScalingGroupName/%s", a.Region, asgName)
	materialsBucket, signingKey, materialsPrefix := pulumi.StringInput(pulumi.String("")), pulumi.StringInput(pulumi.String("")), ""
	if a.Materials != nil {
		materialsBucket, signingKey, materialsPrefix = a.Materials.BucketARN, a.Materials.SigningKeySecretARN, a.Materials.Prefix
	}
	policyDoc := pulumi.All(releasesARN, a.DatabaseSecretARN, a.CacheSecretARN, a.LogGroupARN, kmsKey, a.AdminTokenSecretARN, a.AppDatabaseSecretARN,
		materialsBucket, signingKey).ApplyT(
		func(v []any) (string, error) {
			secretARNs := []string{v[1].(string), v[2].(string), v[5].(string), v[6].(string)}
			if a.Materials != nil {
				secretARNs = append(secretARNs, v[8].(string))
			}
			return instancePolicy(policyInputs{
				ReleasesARN:        v[0].(string),
				SecretARNs:         secretARNs,
				LogGroupARN:        v[3].(string),
				KMSKeyARN:          v[4].(string),
				ASGARN:             asgARNPattern,
				MaterialsBucketARN: v[7].(string),
				MaterialsPrefix:    materialsPrefix,
			})
		}).(pulumi.StringOutput)
	inline, err := iam.NewRolePolicy(ctx, name+"-app-policy", &iam.RolePolicyArgs{
		Name:   pulumi.String("surge-app"),
		Role:   role.Name,
		Policy: policyDoc,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating app role policy: %w", err)
	}
	profile, err := iam.NewInstanceProfile(ctx, name+"-app-profile", &iam.InstanceProfileArgs{
		Name: pulumi.String(naming.Physical(name, "app", naming.MaxIAMRole)),
		Role: role.Name,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating instance profile: %w", err)
	}

	// --- user data -----------------------------------------------------
	envKeys := make([]string, 0, len(a.Env))
	envInputs := []any{a.Artifact.Bucket, a.Artifact.Key, a.Artifact.SHA256, a.DatabaseSecretARN, a.CacheSecretARN, a.LogGroupName, a.AdminTokenSecretARN, a.AppDatabaseSecretARN, signingKey}
	const fixedInputs = 9
	for k := range a.Env {
		envKeys = append(envKeys, k)
	}
	sortStrings(envKeys)
	for _, k := range envKeys {
		envInputs = append(envInputs, a.Env[k])
	}
	userData := pulumi.All(envInputs...).ApplyT(func(v []any) (string, error) {
		env := map[string]string{
			"SURGE_LISTEN_ADDR":            ":" + strconv.Itoa(a.AppPort),
			"SURGE_DATABASE_SECRET_ARN":    v[3].(string),
			"SURGE_REDIS_SECRET_ARN":       v[4].(string),
			"SURGE_ADMIN_TOKEN_SECRET_ARN": v[6].(string),
			"SURGE_AWS_REGION":             a.Region,
			"SURGE_DRAIN_TIMEOUT":          strconv.Itoa(a.DrainSeconds) + "s",
			// serve reads only the app role's secret; TLS verified against
			// the RDS bundle the boot script installs.
			"SURGE_DATABASE_APP_SECRET_ARN": v[7].(string),
			"SURGE_DATABASE_SSLMODE":        "verify-full",
			"SURGE_DATABASE_SSLROOTCERT":    RDSCABundlePath,
		}
		if a.Materials != nil {
			env["SURGE_MEDIA_SIGNING_KEY_SECRET_ARN"] = v[8].(string) // the ARN only: the key stays in the secret
		}
		for i, k := range envKeys {
			env[k] = v[fixedInputs+i].(string)
		}
		script, err := RenderUserData(UserDataParams{
			Bucket: v[0].(string), Key: v[1].(string), SHA256: v[2].(string), Region: a.Region,
			AppPort: a.AppPort, DrainSeconds: a.DrainSeconds, Env: env, LogGroupName: v[5].(string),
			ASGName: asgName, LifecycleHookName: hookName, ReadyTimeout: a.HealthCheckGraceSeconds,
			HookTimeout: LaunchHookTimeoutSeconds,
		})
		if err != nil {
			return "", err
		}
		// ec2.LaunchTemplate sends userData as is: it must already be base64
		// (pulumi-aws #2284, PITFALLS 8).
		return base64.StdEncoding.EncodeToString([]byte(script)), nil
	}).(pulumi.StringOutput)

	// --- launch template -----------------------------------------------
	nameTag := pulumi.StringMap{}
	for k, v := range a.InstanceTags {
		nameTag[k] = pulumi.String(v)
	}
	nameTag["Name"] = pulumi.String(naming.Physical(name, "app", naming.MaxDefault))
	tagKeys := make([]string, 0, len(nameTag))
	for k := range nameTag {
		tagKeys = append(tagKeys, k)
	}
	sortStrings(tagKeys)
	asgTags := autoscaling.GroupTagArray{}
	for _, k := range tagKeys {
		asgTags = append(asgTags, &autoscaling.GroupTagArgs{Key: pulumi.String(k), Value: nameTag[k], PropagateAtLaunch: pulumi.Bool(true)})
	}
	lt, err := ec2.NewLaunchTemplate(ctx, name+"-app-lt", &ec2.LaunchTemplateArgs{
		Name:        pulumi.String(naming.Physical(name, "app", naming.MaxDefault)),
		Description: pulumi.String("surge app fleet"),
		// Resolved by EC2 at every launch: no invoke, an honest preview, and
		// new instances always start from the latest patched AL2023.
		ImageId:      pulumi.String("resolve:ssm:" + a.AMIParameter),
		InstanceType: pulumi.String(a.InstanceTypes[0]),
		UserData:     userData,
		IamInstanceProfile: &ec2.LaunchTemplateIamInstanceProfileArgs{
			Arn: profile.Arn,
		},
		MetadataOptions: &ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint: pulumi.String("enabled"),
			HttpTokens:   pulumi.String("required"),
			// 1: no container on the host needs IMDS through an extra hop.
			HttpPutResponseHopLimit: pulumi.Int(1),
			InstanceMetadataTags:    pulumi.String("disabled"),
		},
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{
			&ec2.LaunchTemplateBlockDeviceMappingArgs{
				DeviceName: pulumi.String("/dev/xvda"),
				Ebs: &ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
					VolumeType:          pulumi.String("gp3"),
					VolumeSize:          pulumi.Int(a.RootVolumeGiB),
					Encrypted:           pulumi.String("true"), // string-typed in v6
					DeleteOnTermination: pulumi.String("true"),
				},
			},
		},
		NetworkInterfaces: ec2.LaunchTemplateNetworkInterfaceArray{
			&ec2.LaunchTemplateNetworkInterfaceArgs{
				DeviceIndex:              pulumi.Int(0),
				AssociatePublicIpAddress: pulumi.String("false"), // string-typed in v6
				DeleteOnTermination:      pulumi.String("true"),
				SecurityGroups:           pulumi.StringArray{a.SecurityGroupID},
			},
		},
		Monitoring:           &ec2.LaunchTemplateMonitoringArgs{Enabled: pulumi.Bool(a.DetailedMonitoring)},
		UpdateDefaultVersion: pulumi.Bool(true),
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: nameTag},
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: nameTag},
		},
	}, parent, pulumi.DependsOn([]pulumi.Resource{inline, ssmAttach}))
	if err != nil {
		return nil, fmt.Errorf("creating launch template: %w", err)
	}
	// A concrete version, never "$Latest": only a changed version makes the
	// group start an instance refresh (PITFALLS 8).
	ltVersion := lt.LatestVersion.ApplyT(func(v int) string { return strconv.Itoa(v) }).(pulumi.StringOutput)

	// --- Auto Scaling group ---------------------------------------------
	ga := &autoscaling.GroupArgs{
		Name:               pulumi.String(asgName),
		VpcZoneIdentifiers: a.SubnetIDs,
		// Registration only here, never also through an Attachment resource
		// (PITFALLS 14).
		TargetGroupArns:        pulumi.StringArray{a.TargetGroupARN},
		HealthCheckType:        pulumi.String("ELB"),
		HealthCheckGracePeriod: pulumi.Int(a.HealthCheckGraceSeconds),
		DefaultInstanceWarmup:  pulumi.Int(a.HealthCheckGraceSeconds),
		MinSize:                pulumi.Int(a.Min),
		MaxSize:                pulumi.Int(a.Max),
		DesiredCapacity:        pulumi.Int(a.Desired),
		InstanceRefresh: &autoscaling.GroupInstanceRefreshArgs{
			Strategy: pulumi.String("Rolling"),
			Preferences: &autoscaling.GroupInstanceRefreshPreferencesArgs{
				MinHealthyPercentage: pulumi.Int(a.InstanceRefreshMinHealthyPercent),
				// Launch before terminating: with the default maximum of 100
				// a refresh first takes instances away, dips below the
				// group minimum (and trips the in-service alarm) mid-rush.
				MaxHealthyPercentage: pulumi.Int(RefreshMaxHealthyPercent(a.InstanceRefreshMinHealthyPercent)),
				InstanceWarmup:       pulumi.String(strconv.Itoa(a.HealthCheckGraceSeconds)),
				// Off: AWS cannot roll back a group whose launch template
				// resolves its AMI through an SSM parameter (resolve:ssm:),
				// and the provider updates the group before starting the
				// refresh, so a "rollback" would target the new version
				// anyway (terraform-provider-aws #34189).
				AutoRollback: pulumi.Bool(false),
				SkipMatching: pulumi.Bool(true),
			},
		},
		// The hook holds new instances until the app answers /healthz (see
		// RenderUserData); initial hooks exist from the first launch on.
		InitialLifecycleHooks: autoscaling.GroupInitialLifecycleHookArray{
			&autoscaling.GroupInitialLifecycleHookArgs{
				Name:                pulumi.String(hookName),
				LifecycleTransition: pulumi.String("autoscaling:EC2_INSTANCE_LAUNCHING"),
				// Fixed: any change to an initial hook replaces the group.
				HeartbeatTimeout: pulumi.Int(LaunchHookTimeoutSeconds),
				DefaultResult:    pulumi.String("ABANDON"),
			},
		},
		EnabledMetrics: pulumi.StringArray{
			pulumi.String("GroupMinSize"), pulumi.String("GroupMaxSize"), pulumi.String("GroupDesiredCapacity"),
			pulumi.String("GroupInServiceInstances"), pulumi.String("GroupPendingInstances"),
			pulumi.String("GroupTerminatingInstances"), pulumi.String("GroupTotalInstances"),
		},
		MetricsGranularity: pulumi.String("1Minute"),
		Tags:               asgTags,
	}
	if a.mixed() {
		overrides := autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArray{}
		for _, t := range a.InstanceTypes {
			overrides = append(overrides, &autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs{InstanceType: pulumi.String(t)})
		}
		// The launch template goes inside the policy: the two are exclusive.
		ga.MixedInstancesPolicy = &autoscaling.GroupMixedInstancesPolicyArgs{
			LaunchTemplate: &autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs{
				LaunchTemplateSpecification: &autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs{
					LaunchTemplateId: lt.ID(),
					Version:          ltVersion,
				},
				Overrides: overrides,
			},
			InstancesDistribution: &autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs{
				OnDemandBaseCapacity:                pulumi.Int(a.OnDemandBase),
				OnDemandPercentageAboveBaseCapacity: pulumi.Int(100 - a.SpotPercent),
				OnDemandAllocationStrategy:          pulumi.String("prioritized"),
				SpotAllocationStrategy:              pulumi.String("price-capacity-optimized"),
			},
		}
		if a.SpotPercent > 0 {
			// Replace spot instances proactively when AWS signals interruption risk.
			ga.CapacityRebalance = pulumi.Bool(true)
		}
	} else {
		ga.LaunchTemplate = &autoscaling.GroupLaunchTemplateArgs{Id: lt.ID(), Version: ltVersion}
	}
	if wp := a.WarmPool; wp != nil {
		ga.WarmPool = &autoscaling.GroupWarmPoolArgs{
			MinSize:                  pulumi.Int(wp.MinSize),
			MaxGroupPreparedCapacity: pulumi.Int(wp.MaxGroupPreparedCapacity),
			PoolState:                pulumi.String(wp.State),
			InstanceReusePolicy:      &autoscaling.GroupWarmPoolInstanceReusePolicyArgs{ReuseOnScaleIn: pulumi.Bool(true)},
		}
	}
	// Target tracking and scheduled actions own the desired capacity once
	// the group exists: an `up` during a rush must not reset it to Desired.
	asg, err := autoscaling.NewGroup(ctx, name+"-app-asg", ga, parent, pulumi.IgnoreChanges([]string{"desiredCapacity"}))
	if err != nil {
		return nil, fmt.Errorf("creating auto scaling group: %w", err)
	}

	// --- scaling policies -------------------------------------------------
	if a.TargetRequestsPerTarget > 0 {
		_, err := autoscaling.NewPolicy(ctx, name+"-app-requests", &autoscaling.PolicyArgs{
			AutoscalingGroupName: asg.Name,
			PolicyType:           pulumi.String("TargetTrackingScaling"),
			TargetTrackingConfiguration: &autoscaling.PolicyTargetTrackingConfigurationArgs{
				TargetValue: pulumi.Float64(a.TargetRequestsPerTarget),
				PredefinedMetricSpecification: &autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs{
					PredefinedMetricType: pulumi.String("ALBRequestCountPerTarget"),
					ResourceLabel:        pulumi.Sprintf("%s/%s", a.LoadBalancerARNSuffix, a.TargetGroupARNSuffix),
				},
			},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating request-count policy: %w", err)
		}
	}
	if a.TargetCPUPercent > 0 {
		_, err := autoscaling.NewPolicy(ctx, name+"-app-cpu", &autoscaling.PolicyArgs{
			AutoscalingGroupName: asg.Name,
			PolicyType:           pulumi.String("TargetTrackingScaling"),
			TargetTrackingConfiguration: &autoscaling.PolicyTargetTrackingConfigurationArgs{
				TargetValue: pulumi.Float64(a.TargetCPUPercent),
				PredefinedMetricSpecification: &autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs{
					PredefinedMetricType: pulumi.String("ASGAverageCPUUtilization"),
				},
			},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating CPU policy: %w", err)
		}
	}
	for _, sa := range a.ScheduledActions {
		sargs := &autoscaling.ScheduleArgs{
			AutoscalingGroupName: asg.Name,
			ScheduledActionName:  pulumi.String(sa.Name),
			MinSize:              pulumi.Int(sa.Min),
			MaxSize:              pulumi.Int(sa.Max),
			DesiredCapacity:      pulumi.Int(sa.Desired),
		}
		if sa.Recurrence != "" {
			sargs.Recurrence = pulumi.String(sa.Recurrence)
		}
		if sa.TimeZone != "" {
			sargs.TimeZone = pulumi.String(sa.TimeZone)
		}
		if sa.StartTime != "" {
			t, _ := time.Parse(time.RFC3339, sa.StartTime) // validated above
			// The API wants UTC as YYYY-MM-DDThh:mm:ssZ.
			sargs.StartTime = pulumi.String(t.UTC().Format("2006-01-02T15:04:05Z"))
		}
		if _, err := autoscaling.NewSchedule(ctx, name+"-app-sched-"+naming.Physical(sa.Name, "", 64), sargs, parent); err != nil {
			return nil, fmt.Errorf("creating scheduled action %s: %w", sa.Name, err)
		}
	}

	c.ASGName = asg.Name
	c.ASGARN = asg.Arn
	c.LaunchTemplateID = lt.ID()
	c.LaunchTemplateLatestVersion = lt.LatestVersion
	c.RoleARN = role.Arn
	c.InstanceProfileName = profile.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"asgName":                     c.ASGName,
		"asgArn":                      c.ASGARN,
		"launchTemplateId":            c.LaunchTemplateID,
		"launchTemplateLatestVersion": c.LaunchTemplateLatestVersion,
		"roleArn":                     c.RoleARN,
		"instanceProfileName":         c.InstanceProfileName,
	}); err != nil {
		return nil, fmt.Errorf("registering fleet outputs: %w", err)
	}
	return c, nil
}
