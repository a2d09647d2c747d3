package monitoring

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/compute"
	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tAlarm = "aws:cloudwatch/metricAlarm:MetricAlarm"
	tTopic = "aws:sns/topic:Topic"
	tSub   = "aws:sns/topicSubscription:TopicSubscription"
	tKey   = "aws:kms/key:Key"
	tDash  = "aws:cloudwatch/dashboard:Dashboard"
	tLog   = "aws:cloudwatch/logGroup:LogGroup"
	tEvSub = "aws:rds/eventSubscription:EventSubscription"
)

// Distinctive fake identifiers: the dashboard must carry these, not names
// the component made up.
const (
	fLB      = "app/zz-lb-7f3a/abc"
	fTG      = "targetgroup/zz-tg-91c2/def"
	fASG     = "zz-asg-55e1"
	fDB      = "zz-db-writer-0c4d"
	fReplica = "zz-db-replica-a1b2"
	fCache   = "zz-cache-6e6e"
	fDist    = "EZZDIST1234"
	fACL     = "zz-acl-metric"
)

func baseArgs() AlarmsArgs {
	return AlarmsArgs{
		AccountID:               pulumitest.Account,
		Region:                  pulumitest.Region,
		Spec:                    Spec{AlarmEmails: []string{"ops@example.com", "oncall@example.com"}},
		LoadBalancerARNSuffix:   pulumi.String(fLB),
		TargetGroupARNSuffix:    pulumi.String(fTG),
		AutoScalingGroupName:    pulumi.String(fASG),
		MinInstances:            3,
		DBInstanceID:            pulumi.String(fDB),
		DBReplicaIDs:            []pulumi.StringInput{pulumi.String(fReplica)},
		CacheReplicationGroupID: pulumi.String(fCache),
		CacheNodes:              2,
		DistributionID:          pulumi.String(fDist),
		WebACLMetricName:        fACL,
	}
}

func run(t *testing.T, args AlarmsArgs, names ...string) (*pulumitest.Mocks, []*Alarms, []string) {
	t.Helper()
	m := pulumitest.New()
	var comps []*Alarms
	var urls []string
	err := m.Run(t, "prod", nil, func(ctx *pulumi.Context) error {
		east, err := aws.NewProvider(ctx, "us-east-1", &aws.ProviderArgs{Region: pulumi.String("us-east-1")})
		if err != nil {
			return err
		}
		for _, n := range names {
			a := args
			a.USEast1 = east
			c, err := NewAlarms(ctx, n, &a)
			if err != nil {
				return err
			}
			comps = append(comps, c)
			u, _, err := pulumitest.Await(ctx.Context(), c.DashboardURL)
			if err != nil {
				return err
			}
			urls = append(urls, u.(string))
		}
		return nil
	})
	require.NoError(t, err)
	return m, comps, urls
}

func TestAlarms(t *testing.T) {
	m, comps, urls := run(t, baseArgs(), "surge-prod")
	alarms := m.ByType(tAlarm)
	// 8 base + 1 replica + 2 nodes * 3 + 1 replica node lag + 2 app + 2 edge
	require.Len(t, alarms, 20)
	assert.Equal(t, 20, comps[0].AlarmCount)

	topics := map[string]pulumitest.Resource{}
	for _, tp := range m.ByType(tTopic) {
		topics[pulumitest.FakeARN(tTopic, tp.Name)] = tp
	}
	require.Len(t, topics, 2)

	t.Run("CloudWatch.15 CloudWatch.17 every alarm notifies an SNS topic on ALARM and OK", func(t *testing.T) {
		for _, a := range alarms {
			assert.True(t, a.Bool("actionsEnabled"), "%s actionsEnabled", a.Name)
			acts, oks := a.Strings("alarmActions"), a.Strings("okActions")
			require.Len(t, acts, 1, "%s alarmActions", a.Name)
			require.Len(t, oks, 1, "%s okActions", a.Name)
			assert.Equal(t, acts, oks, a.Name)
			tp, ok := topics[acts[0]]
			require.True(t, ok, "%s notifies %s, which is not one of our topics", a.Name, acts[0])
			assert.Equal(t, a.UsesProvider("us-east-1"), tp.UsesProvider("us-east-1"), "%s: the topic must be in the alarm's region", a.Name)
			assert.NotEmpty(t, a.Str("treatMissingData"), "%s treatMissingData explicit", a.Name)
		}
	})
	t.Run("edge alarms in us-east-1, the rest in the stack region", func(t *testing.T) {
		for _, a := range alarms {
			ns := a.Str("namespace")
			edge := ns == "AWS/CloudFront" || ns == "AWS/WAFV2"
			assert.Equal(t, edge, a.UsesProvider("us-east-1"), "%s (%s)", a.Name, ns)
		}
		cf, ok := m.Named(tAlarm, "surge-prod-cloudfront-5xx-rate")
		require.True(t, ok)
		assert.Equal(t, fDist, cf.Str("dimensions.DistributionId"))
		assert.Equal(t, "Global", cf.Str("dimensions.Region"))
		waf, ok := m.Named(tAlarm, "surge-prod-waf-blocked-spike")
		require.True(t, ok)
		assert.Equal(t, fACL, waf.Str("dimensions.WebACL"))
		assert.Equal(t, "BlockedRequests", waf.Str("metricName"))
	})
	t.Run("SNS.1 KMS.4 KMS.5 topics encrypted with rotating CMKs CloudWatch may use", func(t *testing.T) {
		keys := m.ByType(tKey)
		require.Len(t, keys, 2)
		keyARNs := map[string]pulumitest.Resource{}
		for _, k := range keys {
			keyARNs[pulumitest.FakeARN(tKey, k.Name)] = k
			assert.True(t, k.Bool("enableKeyRotation"), "KMS.4: %s", k.Name)
			doc, err := k.JSON("policy")
			require.NoError(t, err)
			var cw bool
			for _, s := range doc["Statement"].([]any) {
				st := s.(map[string]any)
				assert.NotEqual(t, "*", st["Principal"], "KMS.5: %s has no public principal", k.Name)
				if p, ok := st["Principal"].(map[string]any); ok && p["Service"] == "cloudwatch.amazonaws.com" {
					cw = true
					assert.ElementsMatch(t, []any{"kms:Decrypt", "kms:GenerateDataKey*"}, st["Action"])
				}
			}
			assert.True(t, cw, "docs/decisions/alarm-topic-keys.md: %s must let CloudWatch publish to the encrypted topic", k.Name)
		}
		for _, tp := range topics {
			kid := tp.Str("kmsMasterKeyId")
			k, ok := keyARNs[kid]
			require.True(t, ok, "SNS.1: topic %s uses our CMK, not %q", tp.Name, kid)
			assert.NotContains(t, kid, "alias/aws/sns")
			assert.Equal(t, tp.UsesProvider("us-east-1"), k.UsesProvider("us-east-1"), "key and topic in one region")
		}
	})
	t.Run("RDS.20 RDS.21 database events reach the alarm topic, whose key lets RDS publish", func(t *testing.T) {
		subs := m.ByType(tEvSub)
		require.Len(t, subs, 2)
		inst, ok := m.Named(tEvSub, "surge-prod-db-events")
		require.True(t, ok)
		tp, ok := topics[inst.Str("snsTopic")]
		require.True(t, ok, "RDS.20: events go to one of our topics, not %q", inst.Str("snsTopic"))
		assert.False(t, tp.UsesProvider("us-east-1"), "RDS.20: the topic must be in the database's region")
		assert.False(t, inst.UsesProvider("us-east-1"))
		assert.Equal(t, "db-instance", inst.Str("sourceType"))
		assert.ElementsMatch(t, []string{fDB, fReplica}, inst.Strings("sourceIds"), "RDS.20: writer and every replica")
		for _, c := range []string{"maintenance", "configuration change", "failure"} {
			assert.Contains(t, inst.Strings("eventCategories"), c, "RDS.20 requires category %q", c)
		}
		assert.True(t, inst.Bool("enabled"))
		pg, ok := m.Named(tEvSub, "surge-prod-db-parameter-group-events")
		require.True(t, ok)
		assert.Equal(t, inst.Str("snsTopic"), pg.Str("snsTopic"))
		assert.Equal(t, "db-parameter-group", pg.Str("sourceType"))
		assert.Equal(t, []string{"configuration change"}, pg.Strings("eventCategories"), "RDS.21")

		// An encrypted topic drops RDS's messages unless its key lets RDS use it.
		kid := tp.Str("kmsMasterKeyId")
		var key pulumitest.Resource
		for _, k := range m.ByType(tKey) {
			if pulumitest.FakeARN(tKey, k.Name) == kid {
				key = k
			}
		}
		require.NotEmpty(t, key.Name, "topic key %s", kid)
		doc, err := key.JSON("policy")
		require.NoError(t, err)
		granted := false
		for _, s := range doc["Statement"].([]any) {
			st := s.(map[string]any)
			if p, ok := st["Principal"].(map[string]any); ok && p["Service"] == "events.rds.amazonaws.com" && st["Effect"] == "Allow" {
				granted = true
				assert.ElementsMatch(t, []any{"kms:Decrypt", "kms:GenerateDataKey*"}, st["Action"], "RDS.20 key grant")
			}
		}
		assert.True(t, granted, "RDS.20: key %s must let events.rds.amazonaws.com publish to the encrypted topic", key.Name)
	})
	t.Run("email subscriptions on both topics", func(t *testing.T) {
		subs := m.ByType(tSub)
		require.Len(t, subs, 4)
		for _, s := range subs {
			assert.Equal(t, "email", s.Str("protocol"))
			_, ok := topics[s.Str("topic")]
			assert.True(t, ok, "subscription %s on one of our topics", s.Name)
		}
	})
	t.Run("alarm metrics name the real resources", func(t *testing.T) {
		want := map[string]map[string]string{
			"surge-prod-unhealthy-hosts":         {"LoadBalancer": fLB, "TargetGroup": fTG},
			"surge-prod-target-p99":              {"LoadBalancer": fLB},
			"surge-prod-db-cpu":                  {"DBInstanceIdentifier": fDB},
			"surge-prod-db-free-storage":         {"DBInstanceIdentifier": fDB},
			"surge-prod-db-freeable-memory":      {"DBInstanceIdentifier": fDB},
			"surge-prod-db-connections":          {"DBInstanceIdentifier": fDB},
			"surge-prod-db-replica-1-lag":        {"DBInstanceIdentifier": fReplica},
			"surge-prod-cache-1-engine-cpu":      {"CacheClusterId": fCache + "-001"},
			"surge-prod-cache-2-memory":          {"CacheClusterId": fCache + "-002"},
			"surge-prod-cache-2-evictions":       {"CacheClusterId": fCache + "-002"},
			"surge-prod-cache-2-replication-lag": {"CacheClusterId": fCache + "-002"},
		}
		for name, dims := range want {
			a, ok := m.Named(tAlarm, name)
			require.True(t, ok, name)
			for k, v := range dims {
				assert.Equal(t, v, a.Str("dimensions."+k), "%s dimension %s", name, k)
			}
		}
		_, ok := m.Named(tAlarm, "surge-prod-cache-1-replication-lag")
		assert.False(t, ok, "the primary reports no ReplicationLag")
		asg, _ := m.Named(tAlarm, "surge-prod-asg-in-service")
		assert.Equal(t, fASG, asg.Str("metricQueries[0].metric.dimensions.AutoScalingGroupName"))
		assert.Equal(t, "IF(FILL(inservice, 0) + FILL(pending, 0) < 3, 1, 0)", asg.Str("metricQueries[2].expression"))
		p99, _ := m.Named(tAlarm, "surge-prod-target-p99")
		assert.Equal(t, "p99", p99.Str("extendedStatistic"))
	})
	t.Run("ALB 5xx rate is metric math over the ALB's own metrics", func(t *testing.T) {
		a, ok := m.Named(tAlarm, "surge-prod-alb-5xx-rate")
		require.True(t, ok)
		require.Equal(t, 4, a.Len("metricQueries"))
		var expr string
		returned := 0
		for i := 0; i < 4; i++ {
			p := fmt.Sprintf("metricQueries[%d]", i)
			if a.Bool(p + ".returnData") {
				returned++
				expr = a.Str(p + ".expression")
				continue
			}
			assert.Equal(t, fLB, a.Str(p+".metric.dimensions.LoadBalancer"))
		}
		assert.Equal(t, 1, returned)
		assert.Contains(t, expr, "elb5xx")
		assert.Contains(t, expr, "target5xx")
		assert.Contains(t, expr, "/ requests")
		assert.Equal(t, 1.0, a.Num("threshold"), "1 percent of requests failing pages the on-call")
	})
	t.Run("dashboard names the real resources, one row per tier", func(t *testing.T) {
		ds := m.ByType(tDash)
		require.Len(t, ds, 1)
		body := ds[0].Str("dashboardBody")
		for _, id := range []string{fLB, fTG, fASG, fDB, fReplica, fCache + "-001", fCache + "-002", fDist, fACL} {
			assert.Contains(t, body, id, "dashboard must reference %s", id)
		}
		var doc struct {
			Widgets []struct {
				Type       string         `json:"type"`
				Properties map[string]any `json:"properties"`
			} `json:"widgets"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &doc))
		var headers []string
		for _, w := range doc.Widgets {
			if w.Type == "text" {
				headers = append(headers, w.Properties["markdown"].(string))
			}
		}
		require.Len(t, headers, 6)
		for i, tier := range []string{"Edge", "Load balancer", "App instances", "Waiting room and admitter", "Database", "Cache"} {
			assert.True(t, strings.HasPrefix(headers[i], "## "+tier), "row %d is %q", i, headers[i])
		}
		assert.Equal(t, "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=surge-prod-overview", urls[0])
	})
	t.Run("no log group: the fleet owns the app's", func(t *testing.T) {
		assert.Empty(t, m.ByType(tLog))
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*AlarmsArgs)
		want   []string
	}{
		{"valid", func(*AlarmsArgs) {}, nil},
		{"no replicas, one cache node", func(a *AlarmsArgs) { a.DBReplicaIDs = nil; a.CacheNodes = 1 }, nil},
		{"missing provider", func(a *AlarmsArgs) { a.USEast1 = nil }, []string{"USEast1"}},
		{"bad email", func(a *AlarmsArgs) { a.AlarmEmails = []string{"Ops <ops@example.com>"} }, []string{"alarmEmails[0]"}},
		{"zero min instances", func(a *AlarmsArgs) { a.MinInstances = 0 }, []string{"MinInstances"}},
		{"too many cache nodes", func(a *AlarmsArgs) { a.CacheNodes = 9 }, []string{"CacheNodes"}},
		{"cluster mode, 3 shards", func(a *AlarmsArgs) { a.CacheClusterMode, a.CacheShards = true, 3 }, nil},
		{"shards without cluster mode", func(a *AlarmsArgs) { a.CacheShards = 3 }, []string{"CacheShards 3: cluster mode disabled has one shard"}},
		{"too many shards", func(a *AlarmsArgs) { a.CacheClusterMode, a.CacheShards = true, 501 }, []string{"CacheShards 501: want 0-500"}},
		{"percentage over 100", func(a *AlarmsArgs) { a.Thresholds.DBCPUPercent = 150 }, []string{"thresholds.dbCpuPercent: 150 is outside (0, 100]"}},
		{"negative threshold", func(a *AlarmsArgs) { a.Thresholds.DBConnections = -1 }, []string{"thresholds.dbConnections: -1"}},
		{"bad retention", func(a *AlarmsArgs) { a.LogRetentionDays = 10 }, []string{"logRetentionDays: 10"}},
		{"stall window too long", func(a *AlarmsArgs) { a.Thresholds.QueueStallMinutes = 90 }, []string{"thresholds.queueStallMinutes: 90 is outside (0, 60]"}},
		{"missing inputs", func(a *AlarmsArgs) { a.DBInstanceID = nil; a.DistributionID = nil; a.WebACLMetricName = "" },
			[]string{"DBInstanceID", "DistributionID", "WebACLMetricName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := baseArgs()
			a.USEast1 = &fakeProvider{}
			tt.mutate(&a)
			d := a.withDefaults()
			err := d.validate()
			if len(tt.want) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestAlarmCountFollowsStaticShape(t *testing.T) {
	a := baseArgs()
	a.DBReplicaIDs = nil
	a.CacheNodes = 1
	m, _, _ := run(t, a, "surge-dev")
	assert.Len(t, m.ByType(tAlarm), 8+3+2+2)
}

// A healthy first deploy raises no alarm: no alarm treats missing data
// (a resource still being created, no traffic yet) as breaching, and
// instances held by the launch hook count towards the fleet minimum.
func TestHealthyFirstDeployRaisesNoAlarm(t *testing.T) {
	m, _, _ := run(t, baseArgs(), "surge-prod")
	for _, a := range m.ByType(tAlarm) {
		assert.NotEqual(t, "breaching", a.Str("treatMissingData"), "%s: missing data during the first deploy must not alarm", a.Name)
	}
	asg, ok := m.Named(tAlarm, "surge-prod-asg-in-service")
	require.True(t, ok)
	assert.Equal(t, "GroupPendingInstances", asg.Str("metricQueries[1].metric.metricName"), "launching instances count")
	assert.Equal(t, "GroupInServiceInstances", asg.Str("metricQueries[0].metric.metricName"))
	assert.Equal(t, "GreaterThanOrEqualToThreshold", asg.Str("comparisonOperator"))
	assert.Equal(t, 1.0, asg.Num("threshold"))
}

// The app's own metrics, as the CloudWatch agent publishes them (names
// and dimensions from compute), raise the load-shedding and stalled
// waiting-room alarms.
func TestAppMetricAlarms(t *testing.T) {
	a := baseArgs()
	a.Thresholds.QueueStallMinutes = 4
	m, _, _ := run(t, a, "surge-prod")

	shed, ok := m.Named(tAlarm, "surge-prod-app-load-shed")
	require.True(t, ok)
	assert.Equal(t, compute.MetricNamespace, shed.Str("namespace"))
	assert.Equal(t, compute.MetricShed, shed.Str("metricName"))
	assert.Equal(t, fASG, shed.Str("dimensions.AutoScalingGroupName"))
	assert.Equal(t, "Sum", shed.Str("statistic"))
	assert.Equal(t, 50.0, shed.Num("threshold"))

	st, ok := m.Named(tAlarm, "surge-prod-waiting-room-stalled")
	require.True(t, ok)
	assert.Equal(t, 4.0, st.Num("evaluationPeriods"), "N minutes from config")
	assert.Equal(t, 4.0, st.Num("datapointsToAlarm"))
	assert.Equal(t, "notBreaching", st.Str("treatMissingData"), "no traffic is not a stall")
	queries := map[string]string{}
	for i := 0; i < st.Len("metricQueries"); i++ {
		p := fmt.Sprintf("metricQueries[%d]", i)
		if st.Has(p + ".expression") {
			queries[st.Str(p+".id")] = st.Str(p + ".expression")
			assert.True(t, st.Bool(p+".returnData"))
			continue
		}
		assert.Equal(t, compute.MetricNamespace, st.Str(p+".metric.namespace"))
		assert.Equal(t, fASG, st.Str(p+".metric.dimensions.AutoScalingGroupName"))
		queries[st.Str(p+".id")] = st.Str(p+".metric.metricName") + " " + st.Str(p+".metric.dimensions.route")
	}
	assert.Equal(t, map[string]string{
		"queued":  compute.MetricQueued + " ",
		"granted": compute.MetricGrants + " ",
		"moved":   compute.MetricFull + " ",
		"stalled": "IF(FILL(queued, 0) > 0 AND FILL(granted, 0) + FILL(moved, 0) == 0, 1, 0)",
	}, queries)
}

func TestTwoInstancesDoNotCollide(t *testing.T) {
	m := pulumitest.New()
	require.NoError(t, m.Run(t, "prod", nil, func(ctx *pulumi.Context) error {
		east, err := aws.NewProvider(ctx, "us-east-1", &aws.ProviderArgs{Region: pulumi.String("us-east-1")})
		if err != nil {
			return err
		}
		for _, n := range []string{"surge-a", "surge-b"} {
			a := baseArgs()
			a.USEast1 = east
			if _, err := NewAlarms(ctx, n, &a); err != nil {
				return err
			}
		}
		return nil
	}))
	seen := map[string]bool{}
	physical := map[string]bool{}
	for _, r := range m.Resources() {
		k := r.Type + "/" + r.Name
		assert.False(t, seen[k], "duplicate %s", k)
		seen[k] = true
		if r.Type == tAlarm || r.Type == tTopic || r.Type == tDash || r.Type == tLog {
			n := r.Str("name") + r.Str("dashboardName")
			assert.False(t, physical[r.Type+n], "duplicate physical %s", n)
			physical[r.Type+n] = true
		}
	}
}

type fakeProvider struct{ pulumi.ProviderResourceState }

func TestParameterGroupEventsScopedWhenNamed(t *testing.T) {
	a := baseArgs()
	a.DBParameterGroupNames = []pulumi.StringInput{pulumi.String("zz-pg-77aa")}
	m, _, _ := run(t, a, "surge-prod")
	pg, ok := m.Named(tEvSub, "surge-prod-db-parameter-group-events")
	require.True(t, ok)
	assert.Equal(t, []string{"zz-pg-77aa"}, pg.Strings("sourceIds"), "RDS.21: only this stack's parameter group")
}

// TestCacheClusterModeAlarms: in cluster mode every shard's nodes are
// watched under their member IDs (<group>-000s-00n), replication lag on
// each shard's replicas only, and the dashboard lists every member.
func TestCacheClusterModeAlarms(t *testing.T) {
	a := baseArgs()
	a.CacheClusterMode, a.CacheShards, a.CacheNodes = true, 3, 2
	m, _, _ := run(t, a, "surge-prod")
	for s := 1; s <= 3; s++ {
		for n := 1; n <= 2; n++ {
			id := fmt.Sprintf("%s-%04d-%03d", fCache, s, n)
			for _, suffix := range []string{"engine-cpu", "memory", "evictions"} {
				name := fmt.Sprintf("surge-prod-cache-%d-%d-%s", s, n, suffix)
				al, ok := m.Named(tAlarm, name)
				require.True(t, ok, name)
				assert.Equal(t, id, al.Str("dimensions.CacheClusterId"), name)
			}
			lag, ok := m.Named(tAlarm, fmt.Sprintf("surge-prod-cache-%d-%d-replication-lag", s, n))
			assert.Equal(t, n > 1, ok, "replication lag on replicas only (shard %d node %d)", s, n)
			if ok {
				assert.Equal(t, id, lag.Str("dimensions.CacheClusterId"))
			}
		}
	}
	_, ok := m.Named(tAlarm, "surge-prod-cache-1-engine-cpu")
	assert.False(t, ok, "no cluster-mode-disabled names in cluster mode")

	standalone := baseArgs()
	ms, _, _ := run(t, standalone, "surge-prod")
	assert.Len(t, m.ByType(tAlarm), len(ms.ByType(tAlarm))+(6-2)*3+(3-1), "4 more nodes with 3 alarms each, 2 more replicas with a lag alarm")

	d := m.ByType(tDash)
	require.Len(t, d, 1)
	body := d[0].Str("dashboardBody")
	for s := 1; s <= 3; s++ {
		assert.Contains(t, body, fmt.Sprintf(`"%s-%04d-002"`, fCache, s))
	}
}
