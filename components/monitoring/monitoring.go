// Package monitoring declares the stack's alarms, their SNS topics and the
// CloudWatch dashboard. It watches resources other components own (the
// fleet's group, the database, the cache, the edge) and receives them as
// inputs.
//
// CloudFront and WAF (CLOUDFRONT scope) publish their metrics in us-east-1
// only, and an alarm can only notify an SNS topic in its own region, so the
// edge alarms and a second, identical topic live in us-east-1 (explicit
// provider); everything else is in the stack's region.
//
// Both topics are encrypted with a customer managed KMS key whose policy
// lets cloudwatch.amazonaws.com use it: with the AWS managed alias/aws/sns
// key CloudWatch cannot publish and alarms are silently lost (docs/decisions/alarm-topic-keys.md).
package monitoring

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/cache"
	"github.com/surge-dev/surge/components/compute"
	"github.com/surge-dev/surge/components/naming"
	"github.com/surge-dev/surge/components/spec"
)

// Spec is monitoring's static shape: `surge:monitoring` in the stack
// config. Defaults gives its per-environment values.
type Spec struct {
	// Each address must confirm two subscriptions: the stack region's topic
	// and us-east-1's (edge alarms).
	AlarmEmails []string `json:"alarmEmails"` // E-mail addresses subscribed to every alarm and recovery.
	// LogRetentionDays is the operators' one retention choice; the stack
	// gives it to the log groups' owners (the fleet and the WAF).
	LogRetentionDays int        `json:"logRetentionDays"` // Days the app and WAF log groups keep events, a CloudWatch Logs retention value (CloudWatch.16 wants 365 or more).
	Thresholds       Thresholds `json:"thresholds"`       // Alarm thresholds, below.
}

// Thresholds are the alarm thresholds, in the units an operator reads.
type Thresholds struct {
	ALB5xxPercent              float64 `json:"alb5xxPercent"`              // (ELB 5xx + target 5xx) / requests, percent.
	TargetP99Seconds           float64 `json:"targetP99Seconds"`           // p99 target response time, seconds.
	UnhealthyHosts             float64 `json:"unhealthyHosts"`             // Unhealthy targets, alarm when above.
	DBCPUPercent               float64 `json:"dbCpuPercent"`               // Database CPU, percent.
	DBFreeStorageGiB           float64 `json:"dbFreeStorageGiB"`           // Database free storage, alarm when below, GiB.
	DBFreeMemoryMiB            float64 `json:"dbFreeMemoryMiB"`            // Database freeable memory, alarm when below, MiB.
	DBConnections              float64 `json:"dbConnections"`              // Database connections.
	ReplicaLagSeconds          float64 `json:"replicaLagSeconds"`          // Read replica lag, seconds.
	CacheCPUPercent            float64 `json:"cacheCpuPercent"`            // Cache engine CPU, percent.
	CacheMemoryPercent         float64 `json:"cacheMemoryPercent"`         // Cache memory used (DatabaseMemoryUsagePercentage), percent.
	CacheEvictions             float64 `json:"cacheEvictions"`             // Cache evictions per 5 minutes.
	CacheReplicationLagSeconds float64 `json:"cacheReplicationLagSeconds"` // Cache replica lag, seconds.
	CloudFront5xxPercent       float64 `json:"cloudFront5xxPercent"`       // CloudFront 5xx error rate, percent.
	WAFBlockedPerMinute        float64 `json:"wafBlockedPerMinute"`        // Requests the WAF blocked per minute.
	ShedPerMinute              float64 `json:"shedPerMinute"`              // App requests refused 503 by load shedding per minute, fleet-wide, 3 minutes in a row.
	QueueStallMinutes          float64 `json:"queueStallMinutes"`          // Students in the waiting room and no seat granted (nor anyone moved to a waiting list) for this many whole minutes, 1..60.
}

// Defaults are the environment's values: the same alarms everywhere, logs
// kept two weeks in dev and a year in prod (CloudWatch.16).
func Defaults(env spec.Env) Spec {
	s := Spec{LogRetentionDays: 14, Thresholds: Thresholds{
		ALB5xxPercent: 1, TargetP99Seconds: 1.5, DBCPUPercent: 80, DBFreeStorageGiB: 10, DBFreeMemoryMiB: 256,
		DBConnections: 400, ReplicaLagSeconds: 30, CacheCPUPercent: 80, CacheMemoryPercent: 80, CacheEvictions: 1000,
		CacheReplicationLagSeconds: 5, CloudFront5xxPercent: 5, WAFBlockedPerMinute: 1000, ShedPerMinute: 50, QueueStallMinutes: 3,
	}}
	if env == spec.Prod {
		s.LogRetentionDays = 365
	}
	return s
}

// Validate reports every problem of the Spec, keyed by its JSON path.
func (s Spec) Validate() error {
	var p spec.Problems
	for i, e := range s.AlarmEmails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			p.Add(fmt.Sprintf("alarmEmails[%d]", i), "%q is not a plain e-mail address", e)
		}
	}
	if !spec.ValidLogRetention(s.LogRetentionDays) {
		p.Add("logRetentionDays", "%d is not a CloudWatch Logs retention value %v", s.LogRetentionDays, spec.LogRetentionDays)
	}
	t := s.Thresholds
	for _, th := range []struct {
		key    string
		v, max float64
		zeroOK bool
	}{
		{"alb5xxPercent", t.ALB5xxPercent, 100, false}, {"targetP99Seconds", t.TargetP99Seconds, 60, false},
		{"unhealthyHosts", t.UnhealthyHosts, 1000, true},
		{"dbCpuPercent", t.DBCPUPercent, 100, false}, {"dbFreeStorageGiB", t.DBFreeStorageGiB, 65536, false},
		{"dbFreeMemoryMiB", t.DBFreeMemoryMiB, 1 << 20, false}, {"dbConnections", t.DBConnections, 1e5, false},
		{"replicaLagSeconds", t.ReplicaLagSeconds, 86400, false}, {"cacheCpuPercent", t.CacheCPUPercent, 100, false},
		{"cacheMemoryPercent", t.CacheMemoryPercent, 100, false}, {"cacheEvictions", t.CacheEvictions, 1e9, false},
		{"cacheReplicationLagSeconds", t.CacheReplicationLagSeconds, 86400, false},
		{"cloudFront5xxPercent", t.CloudFront5xxPercent, 100, false}, {"wafBlockedPerMinute", t.WAFBlockedPerMinute, 1e9, false},
		{"shedPerMinute", t.ShedPerMinute, 1e9, false}, {"queueStallMinutes", t.QueueStallMinutes, 60, false},
	} {
		lo := "(0"
		if th.zeroOK {
			lo = "[0"
		}
		if th.v < 0 || (th.v == 0 && !th.zeroOK) || th.v > th.max {
			p.Add("thresholds."+th.key, "%v is outside %s, %v]", th.v, lo, th.max)
		}
	}
	if q := t.QueueStallMinutes; q != float64(int(q)) {
		p.Add("thresholds.queueStallMinutes", "%v must be whole minutes", q)
	}
	return p.Err()
}

// withDefaults fills zero thresholds from Defaults (the same in every
// environment).
func (t Thresholds) withDefaults() Thresholds {
	d := Defaults(spec.Prod).Thresholds
	t.ALB5xxPercent = cmp.Or(t.ALB5xxPercent, d.ALB5xxPercent)
	t.TargetP99Seconds = cmp.Or(t.TargetP99Seconds, d.TargetP99Seconds)
	t.DBCPUPercent = cmp.Or(t.DBCPUPercent, d.DBCPUPercent)
	t.DBFreeStorageGiB = cmp.Or(t.DBFreeStorageGiB, d.DBFreeStorageGiB)
	t.DBFreeMemoryMiB = cmp.Or(t.DBFreeMemoryMiB, d.DBFreeMemoryMiB)
	t.DBConnections = cmp.Or(t.DBConnections, d.DBConnections)
	t.ReplicaLagSeconds = cmp.Or(t.ReplicaLagSeconds, d.ReplicaLagSeconds)
	t.CacheCPUPercent = cmp.Or(t.CacheCPUPercent, d.CacheCPUPercent)
	t.CacheMemoryPercent = cmp.Or(t.CacheMemoryPercent, d.CacheMemoryPercent)
	t.CacheEvictions = cmp.Or(t.CacheEvictions, d.CacheEvictions)
	t.CacheReplicationLagSeconds = cmp.Or(t.CacheReplicationLagSeconds, d.CacheReplicationLagSeconds)
	t.CloudFront5xxPercent = cmp.Or(t.CloudFront5xxPercent, d.CloudFront5xxPercent)
	t.WAFBlockedPerMinute = cmp.Or(t.WAFBlockedPerMinute, d.WAFBlockedPerMinute)
	t.ShedPerMinute = cmp.Or(t.ShedPerMinute, d.ShedPerMinute)
	t.QueueStallMinutes = cmp.Or(t.QueueStallMinutes, d.QueueStallMinutes)
	return t
}

// AlarmsArgs are the Spec plus the resources the alarms watch. Zero Spec
// fields take prod's Defaults.
type AlarmsArgs struct {
	Spec

	// USEast1 is an aws provider for us-east-1 (edge alarms and topic). Required.
	USEast1 pulumi.ProviderResource
	// AccountID (12 digits) goes into the KMS key policies. Required.
	AccountID string
	// Region is the stack's region (dashboard widgets and URL). Required.
	Region string

	// Load balancer tier (from components/loadbalancer). Required.
	LoadBalancerARNSuffix pulumi.StringInput
	TargetGroupARNSuffix  pulumi.StringInput
	// App tier. AutoScalingGroupName is required; MinInstances (the ASG's
	// minimum, >= 1) is the in-service floor. The ASG must collect group
	// metrics (GroupInServiceInstances) or that alarm stays in ALARM.
	AutoScalingGroupName pulumi.StringInput
	MinInstances         int
	// Database tier: the writer's identifier and one identifier per read
	// replica (the slice length is static, so the alarm count is too).
	DBInstanceID pulumi.StringInput
	DBReplicaIDs []pulumi.StringInput
	// DBParameterGroupNames scope the parameter-group event subscription
	// (RDS.21). Empty: every parameter group of the account in the region.
	DBParameterGroupNames []pulumi.StringInput
	// Cache tier: the replication group ID, its mode, its shards (1 with
	// cluster mode disabled; 0 means 1) and each shard's nodes (member
	// clusters are cache.MemberID; node 1 of a shard is its initial
	// primary, the others replicas).
	CacheReplicationGroupID pulumi.StringInput
	CacheClusterMode        bool
	CacheShards             int
	CacheNodes              int
	// Edge tier: the distribution ID and the web ACL's metric name
	// (waf.WebACL.MetricName).
	DistributionID   pulumi.StringInput
	WebACLMetricName string
}

// Alarms is the monitoring component.
type Alarms struct {
	pulumi.ResourceState

	// TopicARN is the stack-region topic; EdgeTopicARN the us-east-1 one.
	TopicARN      pulumi.StringOutput
	EdgeTopicARN  pulumi.StringOutput
	DashboardName pulumi.StringOutput
	DashboardURL  pulumi.StringOutput
	// AlarmCount is how many alarms were declared (known at plan time).
	AlarmCount int
}

var (
	accountRe = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe  = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
)

func (a *AlarmsArgs) withDefaults() AlarmsArgs {
	out := *a
	out.LogRetentionDays = cmp.Or(out.LogRetentionDays, Defaults(spec.Prod).LogRetentionDays)
	out.Thresholds = out.Thresholds.withDefaults()
	return out
}

// validate reports every problem with the (defaulted) args at once.
func (a *AlarmsArgs) validate() error {
	var errs []error
	req := func(ok bool, field string) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s is required", field))
		}
	}
	req(a.USEast1 != nil, "USEast1 (CloudFront and WAF metrics exist only in us-east-1)")
	req(a.LoadBalancerARNSuffix != nil, "LoadBalancerARNSuffix")
	req(a.TargetGroupARNSuffix != nil, "TargetGroupARNSuffix")
	req(a.AutoScalingGroupName != nil, "AutoScalingGroupName")
	req(a.DBInstanceID != nil, "DBInstanceID")
	req(a.CacheReplicationGroupID != nil, "CacheReplicationGroupID")
	req(a.DistributionID != nil, "DistributionID")
	req(a.WebACLMetricName != "", "WebACLMetricName")
	for i, r := range a.DBReplicaIDs {
		if r == nil {
			errs = append(errs, fmt.Errorf("DBReplicaIDs[%d] is nil", i))
		}
	}
	for i, r := range a.DBParameterGroupNames {
		if r == nil {
			errs = append(errs, fmt.Errorf("DBParameterGroupNames[%d] is nil", i))
		}
	}
	if !accountRe.MatchString(a.AccountID) {
		errs = append(errs, fmt.Errorf("AccountID %q: want 12 digits", a.AccountID))
	}
	if !regionRe.MatchString(a.Region) {
		errs = append(errs, fmt.Errorf("Region %q: want an AWS region", a.Region))
	}
	if a.MinInstances < 1 {
		errs = append(errs, fmt.Errorf("MinInstances %d: want >= 1", a.MinInstances))
	}
	if a.CacheNodes < 1 || a.CacheNodes > 6 {
		errs = append(errs, fmt.Errorf("CacheNodes %d: want 1-6 per shard", a.CacheNodes))
	}
	switch {
	case !a.CacheClusterMode && a.CacheShards > 1:
		errs = append(errs, fmt.Errorf("CacheShards %d: cluster mode disabled has one shard", a.CacheShards))
	case a.CacheShards < 0 || a.CacheShards > cache.MaxShards:
		errs = append(errs, fmt.Errorf("CacheShards %d: want 0-%d", a.CacheShards, cache.MaxShards))
	}
	if err := a.Spec.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// alarmSpec is one alarm, before the actions are attached.
type alarmSpec struct {
	suffix      string // logical and physical name suffix
	description string
	args        cloudwatch.MetricAlarmArgs
	edge        bool // us-east-1 metric: edge provider and topic
}

// NewAlarms declares topics, alarms, the dashboard and the app log group.
func NewAlarms(ctx *pulumi.Context, name string, args *AlarmsArgs, opts ...pulumi.ResourceOption) (*Alarms, error) {
	if args == nil {
		return nil, errors.New("monitoring: args are required")
	}
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("monitoring %s: invalid args: %w", name, err)
	}
	c := &Alarms{}
	if err := ctx.RegisterComponentResource("surge:monitoring:Alarms", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering monitoring component: %w", err)
	}
	parent := pulumi.Parent(c)
	east := pulumi.Provider(a.USEast1)

	topic, err := encryptedTopic(ctx, name, "alarms", a, parent)
	if err != nil {
		return nil, err
	}
	edgeTopic, err := encryptedTopic(ctx, name, "edge-alarms", a, parent, east)
	if err != nil {
		return nil, err
	}

	specs := alarmSpecs(a)
	for _, s := range specs {
		t, o := topic.Arn, []pulumi.ResourceOption{parent}
		if s.edge {
			t, o = edgeTopic.Arn, append(o, east)
		}
		al := s.args
		al.Name = pulumi.String(naming.Physical(name, s.suffix, 255))
		al.AlarmDescription = pulumi.String(s.description)
		// CloudWatch.15/17: notify on ALARM and on recovery.
		al.ActionsEnabled = pulumi.Bool(true)
		al.AlarmActions = pulumi.Array{t}
		al.OkActions = pulumi.Array{t}
		if _, err := cloudwatch.NewMetricAlarm(ctx, name+"-"+s.suffix, &al, o...); err != nil {
			return nil, fmt.Errorf("creating alarm %s: %w", s.suffix, err)
		}
	}
	c.AlarmCount = len(specs)

	if err := dbEventSubscriptions(ctx, name, a, topic.Arn, parent); err != nil {
		return nil, err
	}

	dashName := naming.Physical(name, "overview", 255)
	body := dashboardBody(a)
	dash, err := cloudwatch.NewDashboard(ctx, name+"-overview", &cloudwatch.DashboardArgs{
		DashboardName: pulumi.String(dashName),
		DashboardBody: body,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating dashboard: %w", err)
	}

	c.TopicARN = topic.Arn
	c.EdgeTopicARN = edgeTopic.Arn
	c.DashboardName = dash.DashboardName
	c.DashboardURL = pulumi.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#dashboards:name=%s", a.Region, a.Region, dash.DashboardName)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"topicArn":      c.TopicARN,
		"edgeTopicArn":  c.EdgeTopicARN,
		"dashboardName": c.DashboardName,
		"dashboardUrl":  c.DashboardURL,
	}); err != nil {
		return nil, fmt.Errorf("registering monitoring outputs: %w", err)
	}
	return c, nil
}

// KeyPolicy lets the account administer the key, and CloudWatch (alarms)
// and RDS (event subscriptions, RDS.20/21) use it to publish to the
// encrypted topic: SNS encrypts with the publisher's grant, so a publisher
// missing here has its messages silently dropped. No conditions on the
// service statements: AWS's example grants exactly this, and a condition key
// missing from the request would silently drop every notification.
func KeyPolicy(accountID string) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{
				"Sid":       "AccountAdministers",
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": "arn:aws:iam::" + accountID + ":root"},
				"Action":    "kms:*",
				"Resource":  "*",
			},
			{
				"Sid":       "CloudWatchAlarmsPublish",
				"Effect":    "Allow",
				"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
				"Action":    []string{"kms:Decrypt", "kms:GenerateDataKey*"},
				"Resource":  "*",
			},
			{
				"Sid":       "RDSEventsPublish",
				"Effect":    "Allow",
				"Principal": map[string]any{"Service": "events.rds.amazonaws.com"},
				"Action":    []string{"kms:Decrypt", "kms:GenerateDataKey*"},
				"Resource":  "*",
			},
		},
	}
	b, _ := json.Marshal(doc) // static shapes only: cannot fail
	return string(b)
}

type topicOut struct{ Arn pulumi.StringOutput }

func encryptedTopic(ctx *pulumi.Context, name, suffix string, a AlarmsArgs, opts ...pulumi.ResourceOption) (topicOut, error) {
	key, err := kms.NewKey(ctx, name+"-"+suffix, &kms.KeyArgs{
		Description:          pulumi.String("surge " + name + " " + suffix + " SNS topic"),
		EnableKeyRotation:    pulumi.Bool(true), // KMS.4
		DeletionWindowInDays: pulumi.Int(30),
		Policy:               pulumi.String(KeyPolicy(a.AccountID)), // KMS.5: no "*" principal
	}, opts...)
	if err != nil {
		return topicOut{}, fmt.Errorf("creating %s key: %w", suffix, err)
	}
	// SNS.1; the default topic policy (same-account, AWS:SourceOwner) is
	// kept, which is what lets CloudWatch publish in the same account.
	topic, err := sns.NewTopic(ctx, name+"-"+suffix, &sns.TopicArgs{
		Name:           pulumi.String(naming.Physical(name, suffix, 256)),
		KmsMasterKeyId: key.Arn,
	}, opts...)
	if err != nil {
		return topicOut{}, fmt.Errorf("creating %s topic: %w", suffix, err)
	}
	for i, e := range a.AlarmEmails {
		if _, err := sns.NewTopicSubscription(ctx, fmt.Sprintf("%s-%s-email-%d", name, suffix, i), &sns.TopicSubscriptionArgs{
			Topic:    topic.Arn,
			Protocol: pulumi.String("email"),
			Endpoint: pulumi.String(e),
		}, opts...); err != nil {
			return topicOut{}, fmt.Errorf("subscribing %s to %s: %w", e, suffix, err)
		}
	}
	return topicOut{Arn: topic.Arn}, nil
}

// DBInstanceEventCategories are the RDS event categories sent to the alarm
// topic for the writer and its replicas; RDS.20 requires at least
// maintenance, configuration change and failure.
var DBInstanceEventCategories = []string{
	"availability", "configuration change", "deletion", "failover", "failure",
	"low storage", "maintenance", "notification", "read replica", "recovery", "restoration",
}

// dbEventSubscriptions subscribes the stack-region topic to RDS events of
// the database instances (RDS.20) and parameter groups (RDS.21). The
// default topic policy already lets same-account RDS publish; the key
// policy grants events.rds.amazonaws.com the key.
func dbEventSubscriptions(ctx *pulumi.Context, name string, a AlarmsArgs, topic pulumi.StringOutput, parent pulumi.ResourceOption) error {
	ids := pulumi.StringArray{a.DBInstanceID}
	for _, r := range a.DBReplicaIDs {
		ids = append(ids, r)
	}
	if _, err := rds.NewEventSubscription(ctx, name+"-db-events", &rds.EventSubscriptionArgs{
		Name:            pulumi.String(naming.Physical(name, "db-events", 255)),
		SnsTopic:        topic,
		SourceType:      pulumi.String("db-instance"),
		SourceIds:       ids,
		EventCategories: pulumi.ToStringArray(DBInstanceEventCategories),
		Enabled:         pulumi.Bool(true),
	}, parent); err != nil {
		return fmt.Errorf("subscribing to database instance events: %w", err)
	}
	pg := &rds.EventSubscriptionArgs{
		Name:            pulumi.String(naming.Physical(name, "db-parameter-group-events", 255)),
		SnsTopic:        topic,
		SourceType:      pulumi.String("db-parameter-group"),
		EventCategories: pulumi.ToStringArray([]string{"configuration change"}),
		Enabled:         pulumi.Bool(true),
	}
	if len(a.DBParameterGroupNames) > 0 {
		pg.SourceIds = pulumi.StringArray(a.DBParameterGroupNames)
	}
	if _, err := rds.NewEventSubscription(ctx, name+"-db-parameter-group-events", pg, parent); err != nil {
		return fmt.Errorf("subscribing to database parameter group events: %w", err)
	}
	return nil
}

func dims(kv ...any) pulumi.StringMap {
	m := pulumi.StringMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			m[kv[i].(string)] = pulumi.String(v)
		case pulumi.StringInput:
			m[kv[i].(string)] = v
		}
	}
	return m
}

// simple is a single-metric alarm.
func simple(ns, metric, stat string, d pulumi.StringMap, op string, threshold float64, period, evals int, missing string) cloudwatch.MetricAlarmArgs {
	return cloudwatch.MetricAlarmArgs{
		Namespace:          pulumi.String(ns),
		MetricName:         pulumi.String(metric),
		Statistic:          pulumi.String(stat),
		Dimensions:         d,
		ComparisonOperator: pulumi.String(op),
		Threshold:          pulumi.Float64(threshold),
		Period:             pulumi.Int(period),
		EvaluationPeriods:  pulumi.Int(evals),
		DatapointsToAlarm:  pulumi.Int(evals),
		TreatMissingData:   pulumi.String(missing),
	}
}

// cacheMember is one node of the cache: its ID, the label in its alarms'
// names and whether it starts as a replica.
type cacheMember struct {
	id      pulumi.StringOutput
	label   string
	replica bool
}

// cacheMembers lists every node, shard by shard. Cluster mode disabled
// keeps the labels 1, 2, ... (alarm names unchanged); cluster mode labels
// a node <shard>-<node>.
func cacheMembers(a AlarmsArgs) []cacheMember {
	var out []cacheMember
	for s := 1; s <= max(a.CacheShards, 1); s++ {
		for n := 1; n <= a.CacheNodes; n++ {
			label := fmt.Sprintf("%d", n)
			if a.CacheClusterMode {
				label = fmt.Sprintf("%d-%d", s, n)
			}
			out = append(out, cacheMember{id: cache.MemberID(a.CacheReplicationGroupID, a.CacheClusterMode, s, n), label: label, replica: n > 1})
		}
	}
	return out
}

func alarmSpecs(a AlarmsArgs) []alarmSpec {
	th := a.Thresholds
	const (
		gt = "GreaterThanThreshold"
		lt = "LessThanThreshold"
	)
	lb := a.LoadBalancerARNSuffix
	specs := []alarmSpec{
		{
			suffix:      "alb-5xx-rate",
			description: "ALB 5xx rate (load balancer + targets) as % of requests",
			args: cloudwatch.MetricAlarmArgs{
				ComparisonOperator: pulumi.String(gt),
				Threshold:          pulumi.Float64(th.ALB5xxPercent),
				EvaluationPeriods:  pulumi.Int(5),
				DatapointsToAlarm:  pulumi.Int(3),
				// No traffic is not an outage.
				TreatMissingData: pulumi.String("notBreaching"),
				MetricQueries: cloudwatch.MetricAlarmMetricQueryArray{
					albQuery("elb5xx", "HTTPCode_ELB_5XX_Count", lb),
					albQuery("target5xx", "HTTPCode_Target_5XX_Count", lb),
					albQuery("requests", "RequestCount", lb),
					&cloudwatch.MetricAlarmMetricQueryArgs{
						Id:         pulumi.String("rate"),
						Expression: pulumi.String("100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests"),
						Label:      pulumi.String("5xx rate %"),
						ReturnData: pulumi.Bool(true),
					},
				},
			},
		},
		{
			suffix:      "target-p99",
			description: "target response time p99 (seconds)",
			args: func() cloudwatch.MetricAlarmArgs {
				m := simple("AWS/ApplicationELB", "TargetResponseTime", "", dims("LoadBalancer", lb), gt, th.TargetP99Seconds, 60, 5, "notBreaching")
				m.Statistic = nil
				m.ExtendedStatistic = pulumi.String("p99")
				return m
			}(),
		},
		{
			suffix:      "unhealthy-hosts",
			description: "unhealthy targets behind the ALB",
			// No data: no target registered yet (a first deploy) or none
			// left, which asg-in-service reports; not an alarm of its own.
			args: simple("AWS/ApplicationELB", "UnHealthyHostCount", "Maximum",
				dims("LoadBalancer", lb, "TargetGroup", a.TargetGroupARNSuffix), gt, th.UnhealthyHosts, 60, 3, "notBreaching"),
		},
		{
			suffix:      "asg-in-service",
			description: fmt.Sprintf("in-service plus launching app instances below the minimum (%d)", a.MinInstances),
			// Instances still launching (Pending, held by the lifecycle hook
			// for up to its timeout) count as coming: a healthy first deploy
			// or instance refresh starts with zero in service.
			args: cloudwatch.MetricAlarmArgs{
				ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
				Threshold:          pulumi.Float64(1),
				EvaluationPeriods:  pulumi.Int(5),
				DatapointsToAlarm:  pulumi.Int(5),
				TreatMissingData:   pulumi.String("missing"),
				MetricQueries: cloudwatch.MetricAlarmMetricQueryArray{
					metricQuery("inservice", "AWS/AutoScaling", "GroupInServiceInstances", "Minimum", dims("AutoScalingGroupName", a.AutoScalingGroupName)),
					metricQuery("pending", "AWS/AutoScaling", "GroupPendingInstances", "Maximum", dims("AutoScalingGroupName", a.AutoScalingGroupName)),
					expression("short", fmt.Sprintf("IF(FILL(inservice, 0) + FILL(pending, 0) < %d, 1, 0)", a.MinInstances), "instances short of the minimum"),
				},
			},
		},
		{
			suffix:      "db-cpu",
			description: "database writer CPU %",
			args:        simple("AWS/RDS", "CPUUtilization", "Average", dims("DBInstanceIdentifier", a.DBInstanceID), gt, th.DBCPUPercent, 300, 3, "missing"),
		},
		{
			suffix:      "db-free-storage",
			description: "database writer free storage (bytes)",
			// Missing: the instance is still being created (no metric yet);
			// an unavailable database raises RDS events instead.
			args: simple("AWS/RDS", "FreeStorageSpace", "Minimum", dims("DBInstanceIdentifier", a.DBInstanceID), lt, th.DBFreeStorageGiB*(1<<30), 300, 1, "missing"),
		},
		{
			suffix:      "db-freeable-memory",
			description: "database writer freeable memory (bytes)",
			args:        simple("AWS/RDS", "FreeableMemory", "Minimum", dims("DBInstanceIdentifier", a.DBInstanceID), lt, th.DBFreeMemoryMiB*(1<<20), 300, 3, "missing"),
		},
		{
			suffix:      "db-connections",
			description: "database writer connections",
			args:        simple("AWS/RDS", "DatabaseConnections", "Maximum", dims("DBInstanceIdentifier", a.DBInstanceID), gt, th.DBConnections, 300, 2, "missing"),
		},
	}
	for i, r := range a.DBReplicaIDs {
		specs = append(specs, alarmSpec{
			suffix:      fmt.Sprintf("db-replica-%d-lag", i+1),
			description: "read replica lag (seconds)",
			// Missing while the replica is created and first catches up.
			args: simple("AWS/RDS", "ReplicaLag", "Maximum", dims("DBInstanceIdentifier", r), gt, th.ReplicaLagSeconds, 60, 5, "missing"),
		})
	}
	for _, m := range cacheMembers(a) {
		d := dims("CacheClusterId", m.id)
		n := m.label
		specs = append(specs,
			alarmSpec{suffix: fmt.Sprintf("cache-%s-engine-cpu", n), description: "cache engine CPU %",
				args: simple("AWS/ElastiCache", "EngineCPUUtilization", "Average", d, gt, th.CacheCPUPercent, 300, 3, "missing")},
			alarmSpec{suffix: fmt.Sprintf("cache-%s-memory", n), description: "cache memory used %",
				args: simple("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "Average", d, gt, th.CacheMemoryPercent, 300, 3, "missing")},
			alarmSpec{suffix: fmt.Sprintf("cache-%s-evictions", n), description: "cache evictions per 5 minutes",
				args: simple("AWS/ElastiCache", "Evictions", "Sum", d, gt, th.CacheEvictions, 300, 1, "notBreaching")},
		)
		if m.replica { // ReplicationLag is reported by replicas only
			specs = append(specs, alarmSpec{suffix: fmt.Sprintf("cache-%s-replication-lag", n), description: "cache replication lag (seconds)",
				args: simple("AWS/ElastiCache", "ReplicationLag", "Maximum", d, gt, th.CacheReplicationLagSeconds, 60, 5, "notBreaching")})
		}
	}
	// The app's own metrics (the CloudWatch agent imports them, see
	// compute.RenderUserData). No data: no traffic, or no instance yet.
	asg := dims("AutoScalingGroupName", a.AutoScalingGroupName)
	stall := int(th.QueueStallMinutes)
	specs = append(specs,
		alarmSpec{
			suffix:      "app-load-shed",
			description: fmt.Sprintf("app requests refused 503 by load shedding, per minute, %d minutes in a row", 3),
			args:        simple(compute.MetricNamespace, compute.MetricShed, "Sum", asg, gt, th.ShedPerMinute, 60, 3, "notBreaching"),
		},
		alarmSpec{
			suffix:      "waiting-room-stalled",
			description: fmt.Sprintf("students are queued and no seat was granted and nobody moved to a waiting list for %d minutes: the admitters are stuck", stall),
			args: cloudwatch.MetricAlarmArgs{
				ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
				Threshold:          pulumi.Float64(1),
				EvaluationPeriods:  pulumi.Int(stall),
				DatapointsToAlarm:  pulumi.Int(stall),
				TreatMissingData:   pulumi.String("notBreaching"),
				MetricQueries: cloudwatch.MetricAlarmMetricQueryArray{
					metricQuery("queued", compute.MetricNamespace, compute.MetricQueued, "Maximum", asg),
					metricQuery("granted", compute.MetricNamespace, compute.MetricGrants, "Sum", asg),
					metricQuery("moved", compute.MetricNamespace, compute.MetricFull, "Sum", asg),
					expression("stalled", "IF(FILL(queued, 0) > 0 AND FILL(granted, 0) + FILL(moved, 0) == 0, 1, 0)", "students queued, nobody admitted"),
				},
			},
		},
	)
	specs = append(specs,
		alarmSpec{
			suffix: "cloudfront-5xx-rate", description: "CloudFront 5xx error rate %", edge: true,
			// CloudFront metrics: us-east-1, Region=Global.
			args: simple("AWS/CloudFront", "5xxErrorRate", "Average", dims("DistributionId", a.DistributionID, "Region", "Global"), gt, th.CloudFront5xxPercent, 300, 2, "notBreaching"),
		},
		alarmSpec{
			suffix: "waf-blocked-spike", description: "WAF blocked requests per minute", edge: true,
			// CLOUDFRONT-scope web ACL metrics have no Region dimension
			// ("Required for all protected resource types except for
			// Amazon CloudFront distributions", WAF metrics and dimensions).
			args: simple("AWS/WAFV2", "BlockedRequests", "Sum", dims("WebACL", a.WebACLMetricName, "Rule", "ALL"), gt, th.WAFBlockedPerMinute, 60, 2, "notBreaching"),
		},
	)
	return specs
}

// metricQuery is one metric of a metric-math alarm, per minute.
func metricQuery(id, ns, metric, stat string, d pulumi.StringMap) *cloudwatch.MetricAlarmMetricQueryArgs {
	return &cloudwatch.MetricAlarmMetricQueryArgs{
		Id: pulumi.String(id),
		Metric: &cloudwatch.MetricAlarmMetricQueryMetricArgs{
			Namespace: pulumi.String(ns), MetricName: pulumi.String(metric), Dimensions: d,
			Period: pulumi.Int(60), Stat: pulumi.String(stat),
		},
		ReturnData: pulumi.Bool(false),
	}
}

// expression is the metric-math result an alarm evaluates.
func expression(id, expr, label string) *cloudwatch.MetricAlarmMetricQueryArgs {
	return &cloudwatch.MetricAlarmMetricQueryArgs{
		Id: pulumi.String(id), Expression: pulumi.String(expr), Label: pulumi.String(label), ReturnData: pulumi.Bool(true),
	}
}

func albQuery(id, metric string, lb pulumi.StringInput) *cloudwatch.MetricAlarmMetricQueryArgs {
	return &cloudwatch.MetricAlarmMetricQueryArgs{
		Id: pulumi.String(id),
		Metric: &cloudwatch.MetricAlarmMetricQueryMetricArgs{
			Namespace:  pulumi.String("AWS/ApplicationELB"),
			MetricName: pulumi.String(metric),
			Dimensions: pulumi.StringMap{"LoadBalancer": lb},
			Period:     pulumi.Int(60),
			Stat:       pulumi.String("Sum"),
		},
		ReturnData: pulumi.Bool(false),
	}
}

// dashboardBody builds the dashboard JSON from the real resource
// identifiers (resolved in ApplyT; nothing is declared there).
func dashboardBody(a AlarmsArgs) pulumi.StringOutput {
	inputs := []any{a.LoadBalancerARNSuffix, a.TargetGroupARNSuffix, a.AutoScalingGroupName, a.DBInstanceID, a.CacheReplicationGroupID, a.DistributionID}
	for _, r := range a.DBReplicaIDs {
		inputs = append(inputs, r)
	}
	for _, m := range cacheMembers(a) {
		inputs = append(inputs, m.id)
	}
	return pulumi.All(inputs...).ApplyT(func(v []any) (string, error) {
		s := make([]string, len(v))
		for i, x := range v {
			s[i], _ = x.(string)
		}
		ids := dashboardIDs{
			LB: s[0], TG: s[1], ASG: s[2], DB: s[3], Cache: s[4], Distribution: s[5],
			Replicas: s[6 : 6+len(a.DBReplicaIDs)], CacheMembers: s[6+len(a.DBReplicaIDs):],
			WebACL: a.WebACLMetricName, Region: a.Region,
		}
		return ids.json()
	}).(pulumi.StringOutput)
}

type dashboardIDs struct {
	LB, TG, ASG, DB, Cache, Distribution, WebACL, Region string
	Replicas, CacheMembers                               []string
}

type widget map[string]any

func metricWidget(x, y int, title, region string, metrics [][]any) widget {
	return widget{
		"type": "metric", "x": x, "y": y, "width": 8, "height": 6,
		"properties": map[string]any{
			"title": title, "region": region, "view": "timeSeries", "stacked": false,
			"period": 60, "metrics": metrics,
		},
	}
}

func (d dashboardIDs) json() (string, error) {
	var ws []widget
	row := 0
	header := func(text string) {
		ws = append(ws, widget{"type": "text", "x": 0, "y": row * 7, "width": 24, "height": 1,
			"properties": map[string]any{"markdown": "## " + text}})
	}
	add := func(col int, title, region string, metrics [][]any) {
		ws = append(ws, metricWidget(col*8, row*7+1, title, region, metrics))
	}
	sum := map[string]any{"stat": "Sum"}
	avg := map[string]any{"stat": "Average"}
	p99 := map[string]any{"stat": "p99"}
	maxs := map[string]any{"stat": "Maximum"}

	// Edge: traffic, errors, saturation (WAF blocks). us-east-1 metrics.
	header("Edge (CloudFront + WAF)")
	add(0, "Requests", "us-east-1", [][]any{{"AWS/CloudFront", "Requests", "DistributionId", d.Distribution, "Region", "Global", sum}})
	add(1, "Error rates %", "us-east-1", [][]any{
		{"AWS/CloudFront", "5xxErrorRate", "DistributionId", d.Distribution, "Region", "Global", avg},
		{"AWS/CloudFront", "4xxErrorRate", "DistributionId", d.Distribution, "Region", "Global", avg},
	})
	add(2, "WAF allowed / blocked", "us-east-1", [][]any{
		{"AWS/WAFV2", "AllowedRequests", "WebACL", d.WebACL, "Rule", "ALL", sum},
		{"AWS/WAFV2", "BlockedRequests", "WebACL", d.WebACL, "Rule", "ALL", sum},
	})
	row++

	header("Load balancer")
	add(0, "Requests", d.Region, [][]any{{"AWS/ApplicationELB", "RequestCount", "LoadBalancer", d.LB, sum}})
	add(1, "5xx", d.Region, [][]any{
		{"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", d.LB, sum},
		{"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", d.LB, sum},
	})
	add(2, "Latency p99 / unhealthy hosts", d.Region, [][]any{
		{"AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", d.LB, p99},
		{"AWS/ApplicationELB", "UnHealthyHostCount", "LoadBalancer", d.LB, "TargetGroup", d.TG, maxs},
	})
	row++

	header("App instances")
	add(0, "In service / desired", d.Region, [][]any{
		{"AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", d.ASG, avg},
		{"AWS/AutoScaling", "GroupDesiredCapacity", "AutoScalingGroupName", d.ASG, avg},
	})
	add(1, "CPU %", d.Region, [][]any{{"AWS/EC2", "CPUUtilization", "AutoScalingGroupName", d.ASG, avg}})
	add(2, "Requests per target", d.Region, [][]any{{"AWS/ApplicationELB", "RequestCountPerTarget", "TargetGroup", d.TG, sum}})
	row++

	// The app's Prometheus metrics, imported by the CloudWatch agent.
	ns := compute.MetricNamespace
	header("Waiting room and admitter")
	add(0, "Seats granted / moved to a waiting list, per minute", d.Region, [][]any{
		{ns, compute.MetricGrants, "AutoScalingGroupName", d.ASG, sum},
		{ns, compute.MetricFull, "AutoScalingGroupName", d.ASG, sum},
	})
	add(1, "Queue joins / position polls per minute, students queued", d.Region, [][]any{
		{ns, compute.MetricRequests, "AutoScalingGroupName", d.ASG, "route", compute.QueueJoinRoute, sum},
		{ns, compute.MetricRequests, "AutoScalingGroupName", d.ASG, "route", compute.QueueStatusRoute, sum},
		{ns, compute.MetricQueued, "AutoScalingGroupName", d.ASG, map[string]any{"stat": "Maximum", "yAxis": "right"}},
	})
	add(2, "Load shed (503/min), in flight, admitter batch size and errors", d.Region, [][]any{
		{ns, compute.MetricShed, "AutoScalingGroupName", d.ASG, sum},
		{ns, compute.MetricInflight, "AutoScalingGroupName", d.ASG, maxs},
		{ns, compute.MetricBatchSize, "AutoScalingGroupName", d.ASG, map[string]any{"stat": "Average", "yAxis": "right"}},
		{ns, compute.MetricBatches, "AutoScalingGroupName", d.ASG, "result", "error", sum},
	})
	row++
	add(0, "Admitter grant latency per batch, p50 / p99 (s)", d.Region, [][]any{
		{ns, compute.MetricBatchSeconds, "AutoScalingGroupName", d.ASG, "quantile", "0.5", maxs},
		{ns, compute.MetricBatchSeconds, "AutoScalingGroupName", d.ASG, "quantile", "0.99", maxs},
	})
	row++

	header("Database")
	dbIDs := append([]string{d.DB}, d.Replicas...)
	var cpu, conns [][]any
	for _, id := range dbIDs {
		cpu = append(cpu, []any{"AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", id, avg})
		conns = append(conns, []any{"AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", id, maxs})
	}
	add(0, "CPU %", d.Region, cpu)
	add(1, "Connections", d.Region, conns)
	lag := [][]any{{"AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", d.DB, map[string]any{"stat": "Minimum", "yAxis": "right"}}}
	for _, id := range d.Replicas {
		lag = append(lag, []any{"AWS/RDS", "ReplicaLag", "DBInstanceIdentifier", id, maxs})
	}
	add(2, "Replica lag / free storage", d.Region, lag)
	row++

	header("Cache (" + d.Cache + ")")
	var ccpu, cmem, cev [][]any
	for _, id := range d.CacheMembers {
		ccpu = append(ccpu, []any{"AWS/ElastiCache", "EngineCPUUtilization", "CacheClusterId", id, avg})
		cmem = append(cmem, []any{"AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "CacheClusterId", id, avg})
		cev = append(cev, []any{"AWS/ElastiCache", "Evictions", "CacheClusterId", id, sum})
		cev = append(cev, []any{"AWS/ElastiCache", "ReplicationLag", "CacheClusterId", id, map[string]any{"stat": "Maximum", "yAxis": "right"}})
	}
	add(0, "Engine CPU %", d.Region, ccpu)
	add(1, "Memory used %", d.Region, cmem)
	add(2, "Evictions / replication lag", d.Region, cev)

	b, err := json.Marshal(map[string]any{"widgets": ws})
	if err != nil {
		return "", fmt.Errorf("encoding dashboard: %w", err)
	}
	return string(b), nil
}
