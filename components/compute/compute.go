// Package compute declares the app fleet: a launch template whose user data
// fetches, verifies and runs the pinned app artifact, the instance role, and
// an Auto Scaling group behind the ALB target group with target tracking,
// scheduled scale-out and rolling instance refresh.
package compute

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // scheduled-action time zones validate the same on every machine

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
	"github.com/surge-dev/surge/components/release"
	"github.com/surge-dev/surge/components/spec"
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

// ScheduledAction changes the group's size at a time: a cron recurrence in a
// time zone ("30 minutes before registration opens") or a one-off start time.
type ScheduledAction struct {
	Name            string `json:"name"`                 // Unique action name: 1..64 letters, digits or dashes.
	Recurrence      string `json:"recurrence,omitempty"` // cron, 5 fields, in timeZone; or startTime.
	StartTime       string `json:"startTime,omitempty"`  // RFC 3339 time of a one-off rush, in the future.
	TimeZone        string `json:"timeZone"`             // IANA name, e.g. Asia/Seoul (required).
	MinSize         int    `json:"minSize"`              // Fleet minimum from that time.
	MaxSize         int    `json:"maxSize"`              // Fleet maximum from that time.
	DesiredCapacity int    `json:"desiredCapacity"`      // Fleet size at that time.
}

// WarmPool keeps pre-initialised instances next to the group.
type WarmPool struct {
	MinSize int `json:"minSize"` // Instances kept pre-initialised, 0..maxSize.
	// MaxGroupPreparedCapacity bounds in-service plus warm instances.
	// Unset, AWS keeps maxSize minus desired instances prepared (27 in
	// prod), each launched, initialised and stopped again on every
	// instance refresh.
	MaxGroupPreparedCapacity int `json:"maxGroupPreparedCapacity"` // In service plus warm, at most, max(1, minSize)..maxSize; the pool holds this minus the desired capacity, never fewer than minSize.
	// A stopped instance boots into the pool's InService transition and
	// so reruns the readiness gate that completes the lifecycle hook; a
	// running one would not, and the hook would abandon it.
	State string `json:"state"` // Stopped (the only state whose instances rerun the boot readiness gate).
}

// Spec is the fleet's static shape and the app's runtime settings:
// `surge:app` in the stack config. Defaults gives its per-environment
// values.
type Spec struct {
	InstanceTypes      []string  `json:"instanceTypes"`      // Graviton (arm64) types, the first the launch template's; several need spot or no warm pool.
	MinSize            int       `json:"minSize"`            // Fleet minimum; prod at least 2.
	MaxSize            int       `json:"maxSize"`            // Fleet maximum.
	DesiredCapacity    int       `json:"desiredCapacity"`    // Fleet size at creation, within minSize..maxSize.
	SpotPercent        int       `json:"spotPercent"`        // Share of capacity above the on-demand base on spot, 0..100; dev only.
	WarmPool           *WarmPool `json:"warmPool"`           // Pre-initialised instances for scale-out (one instance type, no spot); none = no pool.
	DetailedMonitoring bool      `json:"detailedMonitoring"` // 1-minute EC2 metrics (CKV_AWS_126).
	RootVolumeGiB      int       `json:"rootVolumeGiB"`      // Encrypted gp3 root volume, 8..16384 GiB (the AL2023 snapshot is 8).
	Port               int       `json:"port"`               // Port the app listens on behind the ALB, 1024..65535 (the unit grants no capabilities).
	// HealthCheckGraceSeconds is also the boot readiness gate's wait, so it
	// stays inside the fixed launch lifecycle hook.
	HealthCheckGraceSeconds          int               `json:"healthCheckGraceSeconds"`          // ELB health-check grace and boot readiness wait, 30..600.
	TargetRequestsPerTarget          float64           `json:"targetRequestsPerTarget"`          // ALB requests per target per minute for target tracking; 0 = no such policy.
	TargetCPUPercent                 float64           `json:"targetCpuPercent"`                 // Target-tracking average CPU, 0..100; 0 = no such policy.
	InstanceRefreshMinHealthyPercent int               `json:"instanceRefreshMinHealthyPercent"` // Share of the fleet kept in service while an instance refresh rolls, 0..100.
	ScheduledScaleOuts               []ScheduledAction `json:"scheduledScaleOuts"`               // Capacity raised ahead of known rushes.
	AdmitBatch                       int               `json:"admitBatch"`                       // Upper bound of the admitter's adaptive batch, 1..10000 (SURGE_ADMIT_BATCH).
	AdmitInterval                    string            `json:"admitInterval"`                    // Idle poll of the admitter, e.g. 50ms (SURGE_ADMIT_INTERVAL).
	AdmitLease                       string            `json:"admitLease"`                       // Admitter leadership lease, at least 500ms and 4x admitInterval (SURGE_ADMIT_LEASE).
	DrainTimeoutSeconds              int               `json:"drainTimeoutSeconds"`              // Seconds the app finishes in-flight requests after SIGTERM, 1..300 (SURGE_DRAIN_TIMEOUT).
	MaxInflight                      int               `json:"maxInflight"`                      // Requests served at once per instance before shedding with 503 (SURGE_MAX_INFLIGHT).
}

// Defaults are the environment's values: dev one small instance (spot
// allowed), prod three larger ones with a warm pool and a stricter refresh.
func Defaults(env spec.Env) Spec {
	s := Spec{
		InstanceTypes: []string{"t4g.small"}, MinSize: 1, MaxSize: 3, DesiredCapacity: 1,
		RootVolumeGiB: 20, Port: 8080, HealthCheckGraceSeconds: 120,
		TargetRequestsPerTarget: 1000, TargetCPUPercent: 60, InstanceRefreshMinHealthyPercent: 50,
		AdmitBatch: 500, AdmitInterval: "50ms", AdmitLease: "5s", DrainTimeoutSeconds: 20, MaxInflight: 1000,
	}
	if env == spec.Prod {
		s.InstanceTypes = []string{"m7g.large"}
		s.MinSize, s.MaxSize, s.DesiredCapacity = 3, 30, 3
		s.WarmPool = &WarmPool{MinSize: 2, MaxGroupPreparedCapacity: 5, State: "Stopped"}
		s.DetailedMonitoring = true
		s.InstanceRefreshMinHealthyPercent = 90
	}
	return s
}

var (
	scheduleName  = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	durationValue = regexp.MustCompile(`^[0-9]+(ms|s|m)$`)
)

// Validate reports every problem of the Spec, keyed by its JSON path. A
// one-off startTime in the past is the stack's to refuse (it knows the
// time).
func (s Spec) Validate() error {
	var p spec.Problems
	if len(s.InstanceTypes) == 0 {
		p.Add("instanceTypes", "needs at least one Graviton instance type")
	}
	seen := map[string]bool{}
	for i, t := range s.InstanceTypes {
		key := fmt.Sprintf("instanceTypes[%d]", i)
		if !spec.Graviton("", t) {
			p.Add(key, "%q is not a Graviton (arm64) instance type; the app binary is built for linux/arm64 (e.g. t4g.small, m7g.large, c7g.xlarge)", t)
		}
		if seen[t] {
			p.Add(key, "%q is listed twice", t)
		}
		seen[t] = true
	}
	if s.MinSize < 0 {
		p.Add("minSize", "%d is negative", s.MinSize)
	}
	if s.MaxSize < 1 {
		p.Add("maxSize", "%d must be at least 1", s.MaxSize)
	}
	if s.MinSize > s.MaxSize {
		p.Add("minSize", "%d is greater than maxSize (%d)", s.MinSize, s.MaxSize)
	}
	if s.DesiredCapacity < s.MinSize || s.DesiredCapacity > s.MaxSize {
		p.Add("desiredCapacity", "%d is outside minSize..maxSize (%d..%d)", s.DesiredCapacity, s.MinSize, s.MaxSize)
	}
	if s.SpotPercent < 0 || s.SpotPercent > 100 {
		p.Add("spotPercent", "%d is outside 0..100", s.SpotPercent)
	}
	if wp := s.WarmPool; wp != nil {
		if wp.MinSize < 0 || wp.MinSize > s.MaxSize {
			p.Add("warmPool.minSize", "%d is outside 0..maxSize (%d)", wp.MinSize, s.MaxSize)
		}
		if mp := wp.MaxGroupPreparedCapacity; mp < max(1, wp.MinSize) || mp > s.MaxSize {
			p.Add("warmPool.maxGroupPreparedCapacity", "%d is outside max(1, warmPool.minSize)..maxSize (%d..%d): unset, AWS keeps maxSize minus desired instances prepared",
				mp, max(1, wp.MinSize), s.MaxSize)
		}
		switch wp.State {
		case "Stopped":
		case "Running":
			p.Add("warmPool.state", "Running is not supported: the readiness gate runs at boot, so the lifecycle hook would abandon a running warm instance")
		case "Hibernated":
			p.Add("warmPool.state", "Hibernated is not supported: it needs hibernation in the launch template and a root volume sized to RAM")
		default:
			p.Add("warmPool.state", "must be \"Stopped\", got %q", wp.State)
		}
		if s.mixed() {
			p.Add("warmPool", "needs exactly one instance type and spotPercent 0 (EC2 Auto Scaling warm pools do not support mixed instances policies)")
		}
	}
	if s.RootVolumeGiB < 8 || s.RootVolumeGiB > 16384 {
		p.Add("rootVolumeGiB", "%d is outside 8..16384", s.RootVolumeGiB)
	}
	if s.Port < 1024 || s.Port > 65535 {
		p.Add("port", "%d is outside 1024..65535 (the app runs without privileges)", s.Port)
	}
	if s.HealthCheckGraceSeconds < 30 || s.HealthCheckGraceSeconds > MaxHealthCheckGraceSeconds {
		p.Add("healthCheckGraceSeconds", "%d is outside 30..%d (the readiness gate must answer inside the fixed %d s launch hook)",
			s.HealthCheckGraceSeconds, MaxHealthCheckGraceSeconds, LaunchHookTimeoutSeconds)
	}
	if s.TargetRequestsPerTarget < 0 {
		p.Add("targetRequestsPerTarget", "%v must not be negative", s.TargetRequestsPerTarget)
	}
	if s.TargetCPUPercent < 0 || s.TargetCPUPercent > 100 {
		p.Add("targetCpuPercent", "%v is outside 0..100", s.TargetCPUPercent)
	}
	if s.InstanceRefreshMinHealthyPercent < 0 || s.InstanceRefreshMinHealthyPercent > 100 {
		p.Add("instanceRefreshMinHealthyPercent", "%d is outside 0..100", s.InstanceRefreshMinHealthyPercent)
	}
	names := map[string]bool{}
	for i, sa := range s.ScheduledScaleOuts {
		key := fmt.Sprintf("scheduledScaleOuts[%d]", i)
		if !scheduleName.MatchString(sa.Name) {
			p.Add(key+".name", "%q must be 1-64 letters, digits or dashes", sa.Name)
		} else if names[sa.Name] {
			p.Add(key+".name", "%q is used twice", sa.Name)
		}
		names[sa.Name] = true
		switch {
		case (sa.Recurrence == "") == (sa.StartTime == ""):
			p.Add(key, "needs exactly one of recurrence (cron) or startTime (RFC 3339)")
		case sa.Recurrence != "" && len(strings.Fields(sa.Recurrence)) != 5:
			p.Add(key+".recurrence", "%q is not a 5-field cron expression (minute hour day month weekday)", sa.Recurrence)
		case sa.StartTime != "":
			if _, err := time.Parse(time.RFC3339, sa.StartTime); err != nil {
				p.Add(key+".startTime", "%q is not an RFC 3339 time", sa.StartTime)
			}
		}
		if sa.TimeZone == "" {
			p.Add(key+".timeZone", "is required (an IANA name such as Asia/Seoul): cron in UTC is a classic off-by-hours rush")
		} else if _, err := time.LoadLocation(sa.TimeZone); err != nil || sa.TimeZone == "Local" {
			p.Add(key+".timeZone", "%q is not an IANA time zone", sa.TimeZone)
		}
		if sa.MinSize < 0 || sa.MinSize > sa.MaxSize || sa.DesiredCapacity < sa.MinSize || sa.DesiredCapacity > sa.MaxSize {
			p.Add(key, "needs 0 <= minSize <= desiredCapacity <= maxSize, got %d/%d/%d", sa.MinSize, sa.DesiredCapacity, sa.MaxSize)
		}
	}
	if s.AdmitBatch < 1 || s.AdmitBatch > 10000 {
		p.Add("admitBatch", "%d is outside 1..10000", s.AdmitBatch)
	}
	interval, errI := time.ParseDuration(s.AdmitInterval)
	if errI != nil || !durationValue.MatchString(s.AdmitInterval) || interval <= 0 {
		p.Add("admitInterval", "%q is not a duration such as 50ms or 1s", s.AdmitInterval)
	}
	lease, errL := time.ParseDuration(s.AdmitLease)
	switch {
	case errL != nil || !durationValue.MatchString(s.AdmitLease):
		p.Add("admitLease", "%q is not a duration such as 5s or 1m", s.AdmitLease)
	case lease < 500*time.Millisecond || (errI == nil && lease < 4*interval):
		// A lease shorter than a few admitter ticks would expire under a
		// healthy admitter and hand students back twice.
		p.Add("admitLease", "%s must be at least 500ms and 4x admitInterval (%s)", s.AdmitLease, s.AdmitInterval)
	}
	if s.DrainTimeoutSeconds < 1 || s.DrainTimeoutSeconds > 300 {
		p.Add("drainTimeoutSeconds", "%d is outside 1..300", s.DrainTimeoutSeconds)
	}
	if s.MaxInflight < 1 {
		p.Add("maxInflight", "%d must be at least 1", s.MaxInflight)
	}
	return p.Err()
}

// mixed reports whether the group needs a mixed instances policy.
func (s Spec) mixed() bool { return s.SpotPercent > 0 || len(s.InstanceTypes) > 1 }

// AppFleetArgs are the Spec plus what comes from other resources and the
// options the stack config does not expose. Zero Spec fields take dev's
// Defaults.
type AppFleetArgs struct {
	Spec

	SubnetIDs             pulumi.StringArrayInput // private-app subnets, one per AZ; required
	SecurityGroupID       pulumi.StringInput      // the app security group; required
	TargetGroupARN        pulumi.StringInput      // ALB target group the group registers in; required
	LoadBalancerARNSuffix pulumi.StringInput      // for ALBRequestCountPerTarget; required when TargetRequestsPerTarget > 0
	TargetGroupARNSuffix  pulumi.StringInput      // for ALBRequestCountPerTarget; required when TargetRequestsPerTarget > 0

	OnDemandBase int    // on-demand instances before any spot; default 0
	AMIParameter string // SSM parameter of the AMI; default DefaultAMIParameter
	// InstanceTags go on instances and their volumes (ASG tags propagated at
	// launch, launch template tag specifications): provider default tags do
	// not reach what the group launches. Pass the stack's default tags here.
	InstanceTags map[string]string

	// Artifact is the binary the instances run, by digest (its key is
	// release.Key). The role reads every release (release.Prefix), so a
	// launch from an earlier launch template version (an instance refresh
	// in progress, a rollback) finds its binary.
	Artifact release.Artifact
	// ArtifactsBucket is the artifacts bucket's name: pass the upload's
	// Bucket output so the fleet waits for the upload. Required.
	ArtifactsBucket pulumi.StringInput
	// ArtifactsBucketARN is its ARN, for the releases prefix in the role
	// policy. Required.
	ArtifactsBucketARN pulumi.StringInput
	// ArtifactsKMSKeyARN is the CMK the bucket encrypts with, if any
	// (kms:Decrypt is granted on exactly it). Nil for SSE-S3.
	ArtifactsKMSKeyARN pulumi.StringInput

	// Env are further non-secret SURGE_* settings; the Spec's (listener,
	// drain, admitter, in-flight bound) are the component's own.
	Env               map[string]pulumi.StringInput
	DatabaseSecretARN pulumi.StringInput // master credentials of the database, read by `surge migrate` only; required
	CacheSecretARN    pulumi.StringInput // Secrets Manager secret of the cache; required
	// CacheMode is how the app connects to the cache (SURGE_REDIS_MODE):
	// "standalone" (default) or "cluster", a cluster client on the
	// configuration endpoint the secret names (cache.Redis.Mode).
	CacheMode string
	// AdminTokenSecretARN is the Secrets Manager secret holding the admin
	// API bearer token (a plain string); required. The token itself never
	// reaches user data or the environment file.
	AdminTokenSecretARN pulumi.StringInput
	// LogGroup is the name of the app's log group, which the fleet owns;
	// default LogGroupName(stack). A second fleet in one stack sets its own.
	LogGroup string
	// LogRetentionDays is the app log group's retention, a CloudWatch Logs
	// value; default 365 (CloudWatch.16).
	LogRetentionDays int
	Region           string // AWS region, e.g. "eu-west-1"; required

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
// name: static, because the user data needs it before the group exists.
func GroupName(name string) string { return naming.Physical(name, "app", 255) }

// LogGroupName is the app's log group for a stack.
func LogGroupName(stack string) string { return "/surge/" + stack + "/app" }

// logGroupName matches a CloudWatch Logs group name.
var logGroupName = regexp.MustCompile(`^[A-Za-z0-9_/.#-]{1,512}$`)

// AppFleet is the surge:compute:AppFleet component.
type AppFleet struct {
	pulumi.ResourceState

	ASGName                     pulumi.StringOutput
	ASGARN                      pulumi.StringOutput
	LogGroupName                pulumi.StringOutput // the app's log group, which the fleet owns
	LaunchTemplateID            pulumi.IDOutput
	LaunchTemplateLatestVersion pulumi.IntOutput
	RoleARN                     pulumi.StringOutput
	InstanceProfileName         pulumi.StringOutput
}

var ()

// reservedEnv are the settings the component writes itself.
var reservedEnv = []string{"SURGE_LISTEN_ADDR", "SURGE_DATABASE_SECRET_ARN", "SURGE_REDIS_SECRET_ARN", "SURGE_ADMIN_TOKEN_SECRET_ARN", "SURGE_AWS_REGION", "SURGE_DRAIN_TIMEOUT",
	"SURGE_DATABASE_APP_SECRET_ARN", "SURGE_DATABASE_SSLMODE", "SURGE_DATABASE_SSLROOTCERT",
	"SURGE_ADMIT_BATCH", "SURGE_ADMIT_INTERVAL", "SURGE_ADMIT_LEASE", "SURGE_MAX_INFLIGHT",
	"SURGE_MEDIA_SIGNING_KEY_SECRET_ARN", "SURGE_REDIS_MODE"}

// cacheModes are the values of AppFleetArgs.CacheMode.
var cacheModes = []string{"standalone", "cluster"}

func (a AppFleetArgs) withDefaults() AppFleetArgs {
	dev := Defaults(spec.Dev)
	a.HealthCheckGraceSeconds = cmp.Or(a.HealthCheckGraceSeconds, dev.HealthCheckGraceSeconds)
	a.InstanceRefreshMinHealthyPercent = cmp.Or(a.InstanceRefreshMinHealthyPercent, dev.InstanceRefreshMinHealthyPercent)
	a.RootVolumeGiB = cmp.Or(a.RootVolumeGiB, dev.RootVolumeGiB)
	a.Port = cmp.Or(a.Port, dev.Port)
	a.DrainTimeoutSeconds = cmp.Or(a.DrainTimeoutSeconds, dev.DrainTimeoutSeconds)
	a.AdmitBatch = cmp.Or(a.AdmitBatch, dev.AdmitBatch)
	a.MaxInflight = cmp.Or(a.MaxInflight, dev.MaxInflight)
	a.AdmitInterval = cmp.Or(a.AdmitInterval, dev.AdmitInterval)
	a.AdmitLease = cmp.Or(a.AdmitLease, dev.AdmitLease)
	a.AMIParameter = cmp.Or(a.AMIParameter, DefaultAMIParameter)
	a.LogRetentionDays = cmp.Or(a.LogRetentionDays, 365)
	a.CacheMode = cmp.Or(a.CacheMode, cacheModes[0])
	if a.WarmPool != nil && a.WarmPool.State == "" {
		wp := *a.WarmPool
		wp.State = "Stopped"
		a.WarmPool = &wp
	}
	return a
}

// validate returns every problem of the (defaulted) args at once.
func (a *AppFleetArgs) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for field, v := range map[string]any{
		"SubnetIDs": a.SubnetIDs, "SecurityGroupID": a.SecurityGroupID, "TargetGroupARN": a.TargetGroupARN,
		"ArtifactsBucket": a.ArtifactsBucket, "ArtifactsBucketARN": a.ArtifactsBucketARN, "DatabaseSecretARN": a.DatabaseSecretARN, "AppDatabaseSecretARN": a.AppDatabaseSecretARN,
		"CacheSecretARN": a.CacheSecretARN, "AdminTokenSecretARN": a.AdminTokenSecretARN,
	} {
		if isNil(v) {
			add("%s is required", field)
		}
	}
	errs = append(errs, a.Materials.validate()...)
	if err := a.Spec.Validate(); err != nil {
		errs = append(errs, err)
	}
	if a.TargetRequestsPerTarget > 0 && (isNil(a.LoadBalancerARNSuffix) || isNil(a.TargetGroupARNSuffix)) {
		add("TargetRequestsPerTarget needs LoadBalancerARNSuffix and TargetGroupARNSuffix")
	}
	if a.OnDemandBase < 0 || a.OnDemandBase > a.MaxSize {
		add("OnDemandBase %d must be within 0-MaxSize (%d)", a.OnDemandBase, a.MaxSize)
	}
	for k := range a.InstanceTags {
		if k == "" || strings.HasPrefix(strings.ToLower(k), "aws:") || k == "Name" {
			add("InstanceTags key %q is empty, reserved (aws:) or set by the component (Name)", k)
		}
	}
	if !strings.HasPrefix(a.AMIParameter, "/") {
		add("AMIParameter %q must be an SSM parameter name starting with /", a.AMIParameter)
	}
	if a.LogGroup != "" && !logGroupName.MatchString(a.LogGroup) {
		add("LogGroup %q: want 1-512 characters of [A-Za-z0-9_/.#-]", a.LogGroup)
	}
	if !spec.ValidLogRetention(a.LogRetentionDays) {
		add("LogRetentionDays %d: want one of %v", a.LogRetentionDays, spec.LogRetentionDays)
	}
	if !regionName.MatchString(a.Region) {
		add("Region %q is not an AWS region name", a.Region)
	}
	if !slices.Contains(cacheModes, a.CacheMode) {
		add("CacheMode %q: want one of %v", a.CacheMode, cacheModes)
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
	if !release.ValidDigest(a.Artifact.SHA256) {
		add("Artifact.SHA256 %q must be 64 lowercase hex characters", a.Artifact.SHA256)
	}
	names := map[string]bool{}
	for i, sa := range a.ScheduledScaleOuts {
		// Logical names derive from the sanitized name, which must stay unique.
		if key := naming.Physical(sa.Name, "", 64); names[key] {
			add("ScheduledScaleOuts[%d] %q: duplicate name once sanitized", i, sa.Name)
		} else {
			names[key] = true
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

	// --- logs ----------------------------------------------------------
	// The app's log group. CloudWatch.16: a year's retention by default;
	// AWS-managed encryption at rest (a CMK would need a logs key policy).
	// It was monitoring's child before the fleet owned it: the alias keeps
	// the group (and its logs) instead of replacing it.
	logGroup := a.LogGroup
	logGroup = cmp.Or(logGroup, LogGroupName(ctx.Stack()))
	formerParent := pulumi.URN(fmt.Sprintf("urn:pulumi:%s::%s::surge:monitoring:Alarms::%s", ctx.Stack(), ctx.Project(), name))
	logs, err := cloudwatch.NewLogGroup(ctx, name+"-app", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(logGroup),
		RetentionInDays: pulumi.Int(a.LogRetentionDays),
	}, parent, pulumi.Aliases([]pulumi.Alias{{ParentURN: formerParent}}))
	if err != nil {
		return nil, fmt.Errorf("creating app log group: %w", err)
	}
	c.LogGroupName = logs.Name

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
	releasesARN := pulumi.Sprintf("%s/%s*", a.ArtifactsBucketARN, release.Prefix)
	kmsKey := pulumi.StringInput(pulumi.String(""))
	if a.ArtifactsKMSKeyARN != nil {
		kmsKey = a.ArtifactsKMSKeyARN
	}
	asgARNPattern := fmt.Sprintf("arn:aws:autoscaling:%s:*:autoScalingGroup:*:autoScalingGroupName/%s", a.Region, asgName)
	materialsBucket, signingKey, materialsPrefix := pulumi.StringInput(pulumi.String("")), pulumi.StringInput(pulumi.String("")), ""
	if a.Materials != nil {
		materialsBucket, signingKey, materialsPrefix = a.Materials.BucketARN, a.Materials.SigningKeySecretARN, a.Materials.Prefix
	}
	policyDoc := pulumi.All(releasesARN, a.DatabaseSecretARN, a.CacheSecretARN, logs.Arn, kmsKey, a.AdminTokenSecretARN, a.AppDatabaseSecretARN,
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
	envInputs := []any{a.ArtifactsBucket, pulumi.String(a.Artifact.Key()), pulumi.String(a.Artifact.SHA256), a.DatabaseSecretARN, a.CacheSecretARN, logs.Name, a.AdminTokenSecretARN, a.AppDatabaseSecretARN, signingKey}
	const fixedInputs = 9
	for k := range a.Env {
		envKeys = append(envKeys, k)
	}
	slices.Sort(envKeys)
	for _, k := range envKeys {
		envInputs = append(envInputs, a.Env[k])
	}
	userData := pulumi.All(envInputs...).ApplyT(func(v []any) (string, error) {
		env := map[string]string{
			"SURGE_LISTEN_ADDR":            ":" + strconv.Itoa(a.Port),
			"SURGE_DATABASE_SECRET_ARN":    v[3].(string),
			"SURGE_REDIS_SECRET_ARN":       v[4].(string),
			"SURGE_REDIS_MODE":             a.CacheMode,
			"SURGE_ADMIN_TOKEN_SECRET_ARN": v[6].(string),
			"SURGE_AWS_REGION":             a.Region,
			"SURGE_DRAIN_TIMEOUT":          strconv.Itoa(a.DrainTimeoutSeconds) + "s",
			"SURGE_ADMIT_BATCH":            strconv.Itoa(a.AdmitBatch),
			"SURGE_ADMIT_INTERVAL":         a.AdmitInterval,
			"SURGE_ADMIT_LEASE":            a.AdmitLease,
			"SURGE_MAX_INFLIGHT":           strconv.Itoa(a.MaxInflight),
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
			AppPort: a.Port, DrainSeconds: a.DrainTimeoutSeconds, Env: env, LogGroupName: v[5].(string),
			ASGName: asgName, LifecycleHookName: hookName, ReadyTimeout: a.HealthCheckGraceSeconds,
			HookTimeout: LaunchHookTimeoutSeconds,
		})
		if err != nil {
			return "", err
		}
		// ec2.LaunchTemplate sends userData as is: it must already be base64
		// (pulumi-aws #2284, docs/decisions/launch-template-user-data.md).
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
	slices.Sort(tagKeys)
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
	// group start an instance refresh (docs/decisions/launch-template-user-data.md).
	ltVersion := lt.LatestVersion.ApplyT(func(v int) string { return strconv.Itoa(v) }).(pulumi.StringOutput)

	// --- Auto Scaling group ---------------------------------------------
	ga := &autoscaling.GroupArgs{
		Name:               pulumi.String(asgName),
		VpcZoneIdentifiers: a.SubnetIDs,
		// Registration only here, never also through an Attachment resource
		// (docs/decisions/asg-elb-health-checks.md).
		TargetGroupArns:        pulumi.StringArray{a.TargetGroupARN},
		HealthCheckType:        pulumi.String("ELB"),
		HealthCheckGracePeriod: pulumi.Int(a.HealthCheckGraceSeconds),
		DefaultInstanceWarmup:  pulumi.Int(a.HealthCheckGraceSeconds),
		MinSize:                pulumi.Int(a.MinSize),
		MaxSize:                pulumi.Int(a.MaxSize),
		DesiredCapacity:        pulumi.Int(a.DesiredCapacity),
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
	for _, sa := range a.ScheduledScaleOuts {
		sargs := &autoscaling.ScheduleArgs{
			AutoscalingGroupName: asg.Name,
			ScheduledActionName:  pulumi.String(sa.Name),
			MinSize:              pulumi.Int(sa.MinSize),
			MaxSize:              pulumi.Int(sa.MaxSize),
			DesiredCapacity:      pulumi.Int(sa.DesiredCapacity),
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
		"logGroupName":                c.LogGroupName,
	}); err != nil {
		return nil, fmt.Errorf("registering fleet outputs: %w", err)
	}
	return c, nil
}
