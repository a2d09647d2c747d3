package stacks

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadDefaults(t *testing.T) {
	for _, env := range []Environment{Dev, Prod} {
		src := mapSource{"aws:region": "eu-west-1", "surge:environment": string(env)}
		if env == Prod {
			src["surge:edge"] = `{"domain": "register.example.edu", "hostedZoneName": "example.edu"}` // prod has no default domain
		}
		c, err := Load("surge", string(env), src)
		require.NoError(t, err, "defaults of %s must be valid", env)
		assert.Equal(t, env, c.Environment)
		// The cache: dev one node with cluster mode off; prod three shards
		// of a primary and a replica (docs/decisions/cache-cluster-mode.md).
		wantCluster, wantShards, wantReplicas := false, 1, 0
		if env == Prod {
			wantCluster, wantShards, wantReplicas = true, 3, 1
		}
		assert.Equal(t, wantCluster, c.Cache.ClusterMode, "%s cache clusterMode", env)
		assert.Equal(t, wantShards, c.Cache.Shards, "%s cache shards", env)
		assert.Equal(t, wantReplicas, c.Cache.Replicas, "%s cache replicas", env)
	}
}

func TestLoadStackFiles(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		src, err := StackFileSource("../Pulumi." + stack + ".yaml")
		require.NoError(t, err)
		c, err := Load("surge", stack, src)
		require.NoError(t, err, "Pulumi.%s.yaml must be valid", stack)
		assert.Equal(t, Environment(stack), c.Environment, "Pulumi.%s.yaml environment", stack)
	}
}

func TestLoadOverlaysDefaults(t *testing.T) {
	c, err := Load("surge", "dev", mapSource{
		"aws:region":  "eu-west-1",
		"surge:app":   `{"maxSize": 5}`,
		"surge:cache": `{"engine": "redis", "engineVersion": "7.1"}`,
	})
	require.NoError(t, err)
	assert.Equal(t, 5, c.App.MaxSize, "set field")
	assert.Equal(t, 1, c.App.MinSize, "unset field keeps the dev default")
	assert.Equal(t, "redis", c.Cache.Engine)
}

func TestLoadBadConfig(t *testing.T) {
	base := map[string]string{"aws:region": "eu-west-1"}
	tests := []struct {
		name  string
		stack string
		cfg   map[string]string
		want  []string
	}{
		{
			name: "unknown environment and missing region",
			cfg:  map[string]string{"aws:region": "", "surge:environment": "staging"},
			want: []string{
				`aws:region: is required (pulumi config set aws:region eu-west-1)`,
				`surge:environment: must be "dev" or "prod", got "staging"`,
			},
		},
		{
			name: "typo in a key is not ignored",
			cfg:  map[string]string{"surge:app": `{"minSise": 2}`},
			want: []string{`surge:app: decoding: json: unknown field "minSise"`},
		},
		{
			name: "sizes and CIDR",
			cfg: map[string]string{
				"surge:app":     `{"minSize": 5, "maxSize": 3, "desiredCapacity": 4, "instanceTypes": ["m5.large", "t4g.small"]}`,
				"surge:network": `{"cidr": "10.20.0.1/16", "azCount": 1}`,
			},
			want: []string{
				`surge:app.desiredCapacity: 4 is outside minSize..maxSize (5..3)`,
				`surge:app.instanceTypes[0]: "m5.large" is not a Graviton (arm64) instance type; the app binary is built for linux/arm64 (e.g. t4g.small, m7g.large, c7g.xlarge)`,
				`surge:app.minSize: 5 is greater than maxSize (3)`,
				`surge:network.azCount: 1 is outside 2..6 (an ALB needs subnets in at least 2 AZs)`,
				`surge:network.cidr: "10.20.0.1/16" has host bits set; did you mean 10.20.0.0/16?`,
			},
		},
		{
			name: "malformed and public CIDR",
			cfg:  map[string]string{"surge:network": `{"cidr": "10.20.0.0/33"}`},
			want: []string{`surge:network.cidr: "10.20.0.0/33" is not a CIDR block (e.g. 10.20.0.0/16)`},
		},
		{
			name: "subnet plan does not fit the VPC",
			cfg:  map[string]string{"surge:network": `{"cidr": "10.20.0.0/24", "azCount": 6}`},
			want: []string{`surge:network.cidr: 10.20.0.0/24 cannot hold public, app and data subnets in 6 AZs: cidr: 6 AZs x 3 tiers (app /27, public /28, data /28) do not fit in 10.20.0.0/24`},
		},
		{
			name: "database",
			cfg: map[string]string{
				"surge:database": `{"replicas": -1, "engineVersion": "9.6", "instanceClass": "db.m5.large", "username": "postgres", "maxAllocatedStorageGiB": 20}`,
			},
			want: []string{
				`surge:database.engineVersion: "9.6" is not a supported PostgreSQL version (major 13..19, e.g. "17" or "17.6")`,
				`surge:database.instanceClass: "db.m5.large" is not a Graviton RDS class (e.g. db.t4g.micro, db.r7g.large)`,
				`surge:database.maxAllocatedStorageGiB: 20 must be greater than allocatedStorageGiB (20) and at most 65536 for storage autoscaling`,
				`surge:database.replicas: -1 is outside 0..15`,
				`surge:database.username: "postgres" is not a valid, unreserved PostgreSQL user name (RDS.25)`,
			},
		},
		{
			name: "replicas need backups",
			cfg:  map[string]string{"surge:database": `{"replicas": 1, "backupRetentionDays": 0}`},
			want: []string{`surge:database.backupRetentionDays: must be at least 1 when replicas > 0 (RDS creates replicas from backups)`},
		},
		{
			name: "cache multi-AZ without replica",
			cfg:  map[string]string{"surge:cache": `{"multiAz": true, "engine": "memcached"}`},
			want: []string{
				`surge:cache.engine: must be "valkey" or "redis", got "memcached"`,
				`surge:cache.multiAz: needs replicas >= 1 (Multi-AZ requires automatic failover to a replica)`,
			},
		},
		{
			name: "cache cluster mode limits and the engine floor",
			cfg:  map[string]string{"surge:cache": `{"clusterMode": true, "shards": 0, "replicas": 6, "engine": "redis", "engineVersion": "6.2"}`},
			want: []string{
				`surge:cache.engineVersion: "6.2": the app publishes progress with sharded pub/sub (SPUBLISH), which needs Redis OSS 7.0+ or Valkey (one of [7.0 7.1])`,
				`surge:cache.replicas: 6 is outside 0..5`,
				`surge:cache.shards: 0 is outside 1..500`,
			},
		},
		{
			name: "cache over AWS's shard and node limits",
			cfg:  map[string]string{"surge:cache": `{"clusterMode": true, "shards": 501}`},
			want: []string{`surge:cache.shards: 501 is outside 1..500`},
		},
		{
			name: "cache over 500 nodes",
			cfg:  map[string]string{"surge:cache": `{"clusterMode": true, "shards": 100, "replicas": 5}`},
			want: []string{`surge:cache.replicas: 100 shards x (1 + 5 replicas) = 600 nodes, over ElastiCache's 500 per group`},
		},
		{
			name: "cache shards without cluster mode",
			cfg:  map[string]string{"surge:cache": `{"shards": 3}`},
			want: []string{`surge:cache.shards: 3 with clusterMode off: cluster mode disabled is one shard (set shards to 1, or clusterMode to true)`},
		},
		{
			name: "redis 6.2 refused without cluster mode too",
			cfg:  map[string]string{"surge:cache": `{"engine": "redis", "engineVersion": "6.2"}`},
			want: []string{`surge:cache.engineVersion: "6.2": the app publishes progress with sharded pub/sub (SPUBLISH), which needs Redis OSS 7.0+ or Valkey (one of [7.0 7.1])`},
		},
		{
			name: "edge",
			cfg:  map[string]string{"surge:edge": `{"domain": "Register.Example.edu", "wafMode": "log", "rateLimit": 50, "priceClass": "cheap", "trustedCidrs": ["10.0.0.0/8"]}`},
			want: []string{
				`surge:edge.domain: "Register.Example.edu" is not a lowercase DNS name`,
				`surge:edge.domain: needs exactly one of hostedZoneId, hostedZoneName or createZone`,
				`surge:edge.enrollRateLimit: 300 is looser than rateLimit (50); the enrollment paths should be the tighter limit`,
				`surge:edge.priceClass: must be one of [PriceClass_100 PriceClass_200 PriceClass_All], got "cheap"`,
				`surge:edge.rateLimit: 50 is outside 100..2000000000 (AWS WAF rate-based rule limits)`,
				`surge:edge.trustedCidrs[0]: "10.0.0.0/8": in non-public range 10.0.0.0/8; CloudFront sees the campus's public NAT egress address`,
				`surge:edge.trustedCidrs[0]: "10.0.0.0/8": wider than /16; list the NAT egress addresses, not a whole network (WAF rejects /0)`,
				`surge:edge.wafMode: must be "block" or "count", got "log"`,
			},
		},
		{
			name: "scheduled scale-out",
			cfg: map[string]string{"surge:app": `{"scheduledScaleOuts": [
				{"name": "rush", "recurrence": "30 8 * *", "timeZone": "Asia/Seoul", "minSize": 2, "maxSize": 3, "desiredCapacity": 2},
				{"name": "rush", "startTime": "2099-02-01T09:00:00+09:00", "timeZone": "Mars/Olympus", "minSize": 5, "maxSize": 3, "desiredCapacity": 4},
				{"name": "last-term", "startTime": "2020-02-03T09:00:00+09:00", "timeZone": "Asia/Seoul", "minSize": 1, "maxSize": 3, "desiredCapacity": 1}]}`},
			want: []string{
				`surge:app.scheduledScaleOuts[0].recurrence: "30 8 * *" is not a 5-field cron expression (minute hour day month weekday)`,
				`surge:app.scheduledScaleOuts[1].name: "rush" is used twice`,
				`surge:app.scheduledScaleOuts[1].timeZone: "Mars/Olympus" is not an IANA time zone`,
				`surge:app.scheduledScaleOuts[1]: needs 0 <= minSize <= desiredCapacity <= maxSize, got 5/4/3`,
				`surge:app.scheduledScaleOuts[2].startTime: 2020-02-03T09:00:00+09:00 is in the past; remove one-off scale-outs once they have run`,
			},
		},
		{
			name:  "prod that lost its high availability",
			stack: "prod",
			cfg: map[string]string{
				"surge:environment": "prod",
				"surge:network":     `{"natGateways": "single"}`,
				"surge:app":         `{"minSize": 1, "desiredCapacity": 1, "spotPercent": 20, "warmPool": null}`,
				"surge:database":    `{"multiAz": false, "replicas": 0, "deletionProtection": false}`,
				"surge:cache":       `{"replicas": 0, "multiAz": false}`,
				"surge:edge":        `{"wafMode": "count", "domain": "register.example.edu", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}`,
			},
			want: []string{
				`surge:app.minSize: prod needs at least 2 instances, got 1 (prod must stay highly available)`,
				`surge:app.spotPercent: spot capacity is for dev only; prod got 20`,
				`surge:cache: prod needs replicas >= 1 and multiAz (automatic failover) (prod must stay highly available)`,
				`surge:database.deletionProtection: prod needs deletion protection`,
				`surge:database.multiAz: prod needs a Multi-AZ database (prod must stay highly available)`,
				`surge:database.replicas: prod needs at least 1 read replica, got 0`,
				`surge:edge.wafMode: prod needs "block": count mode only observes attacks`,
				`surge:network.natGateways: prod needs "per-az" so one AZ's outage does not cut the others off (prod must stay highly available)`,
			},
		},
		{
			// One message naming the key and both ways to give a zone.
			name:  "prod without its own domain",
			stack: "prod",
			cfg:   map[string]string{"surge:environment": "prod"},
			want: []string{
				`surge:edge.domain: prod is served on its own domain (TLSv1.2_2021 at the edge, HTTPS to the origin): ` +
					`set surge:edge.domain, e.g. register.example.edu, with its public hosted zone given one of two ways: ` +
					`an existing zone by ID or name (surge:edge.hostedZoneId or surge:edge.hostedZoneName), ` +
					`or a zone created by the stack (surge:edge.createZone: true, two phases: README.md, "First deploy")`,
			},
		},
		{
			name: "admitter pacing",
			cfg:  map[string]string{"surge:app": `{"admitBatch": 0, "admitInterval": "soon", "admitLease": "100ms"}`},
			want: []string{
				`surge:app.admitBatch: 0 is outside 1..10000`,
				`surge:app.admitInterval: "soon" is not a duration such as 50ms or 1s`,
				`surge:app.admitLease: 100ms must be at least 500ms and 4x admitInterval (soon)`,
			},
		},
		{
			name: "warm pool with a mixed fleet",
			cfg:  map[string]string{"surge:app": `{"instanceTypes": ["t4g.small", "t4g.medium"], "spotPercent": 50, "warmPool": {"minSize": 1, "maxGroupPreparedCapacity": 2, "state": "Running"}}`},
			want: []string{
				`surge:app.warmPool.state: Running is not supported: the readiness gate runs at boot, so the lifecycle hook would abandon a running warm instance`,
				`surge:app.warmPool: needs exactly one instance type and spotPercent 0 (EC2 Auto Scaling warm pools do not support mixed instances policies)`,
			},
		},
		{
			name:  "unbounded warm pool",
			stack: "dev",
			cfg:   map[string]string{"surge:app": `{"warmPool": {"minSize": 1, "state": "Stopped"}}`},
			want:  []string{`surge:app.warmPool.maxGroupPreparedCapacity: 0 is outside max(1, warmPool.minSize)..maxSize (1..3): unset, AWS keeps maxSize minus desired instances prepared`},
		},
		{
			name: "drain longer than deregistration",
			cfg:  map[string]string{"surge:app": `{"drainTimeoutSeconds": 45, "healthCheckGraceSeconds": 900}`},
			want: []string{
				`surge:app.healthCheckGraceSeconds: 900 is outside 30..600 (the readiness gate must answer inside the fixed 900 s launch hook)`,
				`surge:loadBalancer.deregistrationDelaySeconds: 30 is shorter than surge:app.drainTimeoutSeconds (45): requests would be cut off`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := mapSource{}
			for k, v := range base {
				src[k] = v
			}
			for k, v := range tt.cfg {
				src[k] = v
			}
			stack := tt.stack
			if stack == "" {
				stack = "dev"
			}
			_, err := Load("surge", stack, src)
			require.Error(t, err, "Load(%v) must fail", tt.cfg)
			lines := strings.Split(err.Error(), "\n")
			var got []string
			for _, l := range lines[1:] {
				got = append(got, strings.TrimSpace(l))
			}
			assert.Equal(t, tt.want, got, "Load(%v) problems", tt.cfg)
			assert.Contains(t, lines[0], "invalid stack config")
		})
	}
}

func TestStackFilesDeclareOnlyKnownKeys(t *testing.T) {
	for _, f := range []string{"../Pulumi.dev.yaml", "../Pulumi.prod.yaml"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NotContains(t, strings.ToLower(string(b)), "password", "%s must hold no secret", f)
	}
}
