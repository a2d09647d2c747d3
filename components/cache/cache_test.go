package cache

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/spec"
	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tGroup         = "aws:elasticache/replicationGroup:ReplicationGroup"
	tSubnetGroup   = "aws:elasticache/subnetGroup:SubnetGroup"
	tSecret        = "aws:secretsmanager/secret:Secret"
	tSecretVersion = "aws:secretsmanager/secretVersion:SecretVersion"
	tPassword      = "random:index/randomPassword:RandomPassword"
)

func prodArgs() *RedisArgs {
	return &RedisArgs{
		Spec: Spec{
			Engine: "valkey", EngineVersion: "8.0", NodeType: "cache.r7g.large",
			Replicas: 2, MultiAZ: true, SnapshotRetentionDays: 7,
		},
		SubnetIDs:         pulumi.ToStringArray([]string{"subnet-data-a", "subnet-data-b", "subnet-data-c"}),
		SecurityGroupID:   pulumi.String("sg-cache"),
		AutomaticFailover: true,
		SnapshotWindow:    "18:00-19:00",
		MaintenanceWindow: "sun:19:30-sun:20:30",
		SlowLogGroupName:  pulumi.String("/surge/prod/cache-slow"),
	}
}

func devArgs() *RedisArgs {
	zero := 0
	return &RedisArgs{
		Spec:                     Spec{Engine: "redis", NodeType: "cache.t4g.micro"},
		SubnetIDs:                pulumi.ToStringArray([]string{"subnet-data-a", "subnet-data-b"}),
		SecurityGroupID:          pulumi.String("sg-cache"),
		SecretRecoveryWindowDays: &zero,
	}
}

// clusterArgs are prodArgs in cluster mode: 3 shards of a primary and a
// replica each.
func clusterArgs() *RedisArgs {
	a := prodArgs()
	a.ClusterMode, a.Shards, a.Replicas = true, 3, 1
	return a
}

func run(t *testing.T, name string, args *RedisArgs) *pulumitest.Mocks {
	t.Helper()
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		_, err := NewRedis(ctx, name, args)
		return err
	})
	require.NoError(t, err)
	return m
}

func group(t *testing.T, m *pulumitest.Mocks) pulumitest.Resource {
	t.Helper()
	gs := m.ByType(tGroup)
	require.Len(t, gs, 1)
	return gs[0]
}

func TestControls(t *testing.T) {
	m := run(t, "surge-prod", prodArgs())
	g := group(t, m)

	t.Run("ElastiCache.5_transit_encryption_required", func(t *testing.T) {
		assert.True(t, g.Bool("transitEncryptionEnabled"), "ElastiCache.5")
		assert.Equal(t, "required", g.Str("transitEncryptionMode"), "ElastiCache.5")
	})
	t.Run("ElastiCache.4_at_rest", func(t *testing.T) {
		assert.True(t, g.Bool("atRestEncryptionEnabled"), "ElastiCache.4: explicit, redis defaults to false")
	})
	t.Run("ElastiCache.6_auth_token_secret", func(t *testing.T) {
		assert.True(t, g.Has("authToken"), "ElastiCache.6")
		assert.True(t, g.IsSecret("authToken"), "authToken must be a Pulumi secret")
		assert.Equal(t, 64, len(g.Str("authToken")))
	})
	t.Run("ElastiCache.3_failover_multi_az", func(t *testing.T) {
		assert.True(t, g.Bool("automaticFailoverEnabled"), "ElastiCache.3")
		assert.True(t, g.Bool("multiAzEnabled"))
		assert.Equal(t, 3.0, g.Num("numCacheClusters"), "primary + 2 replicas")
		assert.GreaterOrEqual(t, g.Num("numCacheClusters"), 2.0, "prod numCacheClusters >= 2")
	})
	t.Run("ElastiCache.1_snapshots", func(t *testing.T) {
		assert.Equal(t, 7.0, g.Num("snapshotRetentionLimit"), "ElastiCache.1")
		assert.Equal(t, "18:00-19:00", g.Str("snapshotWindow"))
	})
	t.Run("ElastiCache.2_minor_upgrades", func(t *testing.T) {
		assert.True(t, g.Bool("autoMinorVersionUpgrade"), "ElastiCache.2")
	})
	t.Run("ElastiCache.7_custom_subnet_group", func(t *testing.T) {
		sg := m.ByType(tSubnetGroup)
		require.Len(t, sg, 1)
		assert.Equal(t, []string{"subnet-data-a", "subnet-data-b", "subnet-data-c"}, sg[0].Strings("subnetIds"))
		assert.Equal(t, "surge-prod-cache", g.Str("subnetGroupName"))
		assert.NotEqual(t, "default", g.Str("subnetGroupName"))
	})
	t.Run("shape", func(t *testing.T) {
		assert.Equal(t, "valkey", g.Str("engine"))
		assert.Equal(t, "8.0", g.Str("engineVersion"))
		assert.Equal(t, 6379.0, g.Num("port"))
		assert.Equal(t, []string{"sg-cache"}, g.Strings("securityGroupIds"))
		assert.False(t, g.Bool("applyImmediately"))
		assert.True(t, g.Has("applyImmediately"))
		assert.False(t, g.Has("numNodeGroups"), "cluster mode disabled")
		assert.Equal(t, "slow-log", g.Str("logDeliveryConfigurations[0].logType"))
		assert.Equal(t, "/surge/prod/cache-slow", g.Str("logDeliveryConfigurations[0].destination"))
	})
	t.Run("token_charset", func(t *testing.T) {
		pw := m.ByType(tPassword)
		require.Len(t, pw, 1)
		assert.Equal(t, 64.0, pw[0].Num("length"))
		assert.True(t, pw[0].Bool("special"))
		special := pw[0].Str("overrideSpecial")
		require.NotEmpty(t, special, "overrideSpecial must be set: random's default specials include characters ElastiCache refuses")
		for _, r := range special {
			assert.Contains(t, AllowedTokenSpecials, string(r), "special %q is outside ElastiCache's set", r)
		}
	})
}

func TestSecret(t *testing.T) {
	m := run(t, "surge-prod", prodArgs())
	v := m.ByType(tSecretVersion)
	require.Len(t, v, 1)
	assert.True(t, v[0].IsSecret("secretString"))
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(v[0].Str("secretString")), &doc))
	for _, k := range []string{"host", "readerHost", "port", "authToken", "tls", "url"} {
		assert.Contains(t, doc, k, "secret JSON key")
	}
	assert.Equal(t, true, doc["tls"])
	assert.Equal(t, 6379.0, doc["port"])
	assert.Equal(t, "master.surge-prod-cache.cache.amazonaws.com", doc["host"])
	assert.Equal(t, "replica.surge-prod-cache.cache.amazonaws.com", doc["readerHost"])
	u, err := url.Parse(doc["url"].(string))
	require.NoError(t, err)
	assert.Equal(t, "rediss", u.Scheme)
	pw, _ := u.User.Password()
	assert.Equal(t, doc["authToken"], pw)
	s := m.ByType(tSecret)
	require.Len(t, s, 1)
	assert.Equal(t, 7.0, s[0].Num("recoveryWindowInDays"))
}

func TestDevOneNode(t *testing.T) {
	m := run(t, "surge-dev", devArgs())
	g := group(t, m)
	assert.Equal(t, 1.0, g.Num("numCacheClusters"), "dev: one node")
	assert.False(t, g.Bool("automaticFailoverEnabled"))
	assert.True(t, g.Has("automaticFailoverEnabled"), "explicit")
	assert.False(t, g.Bool("multiAzEnabled"))
	assert.Equal(t, "redis", g.Str("engine"))
	assert.Equal(t, "7.1", g.Str("engineVersion"), "redis default")
	assert.True(t, g.Bool("transitEncryptionEnabled"), "TLS in dev too: AUTH needs it")
	assert.True(t, g.Bool("atRestEncryptionEnabled"))
	assert.Equal(t, 0.0, g.Num("snapshotRetentionLimit"))
	assert.False(t, g.Has("logDeliveryConfigurations"))
}

func TestTwoCachesDoNotCollide(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		if _, err := NewRedis(ctx, "surge-blue", prodArgs()); err != nil {
			return err
		}
		_, err := NewRedis(ctx, "surge-green", prodArgs())
		return err
	})
	require.NoError(t, err)
	m.AssertUniqueNames(t)
	ids := map[string]bool{}
	for _, g := range m.ByType(tGroup) {
		id := g.Str("replicationGroupId")
		assert.LessOrEqual(t, len(id), 40)
		assert.False(t, ids[id], "replication group ID %s reused", id)
		ids[id] = true
	}
}

func TestValidToken(t *testing.T) {
	assert.True(t, ValidToken(strings.Repeat("aZ9!&#$^<>-", 2)))
	assert.False(t, ValidToken("short"), "under 16")
	assert.False(t, ValidToken(strings.Repeat("a", 129)), "over 128")
	for _, bad := range []string{"@", "/", `"`, " ", "%", "*", "("} {
		assert.False(t, ValidToken(strings.Repeat("a", 20)+bad), "special %q is not allowed", bad)
	}
	_, err := connectionJSON("h", "r", strings.Repeat("a", 20)+"@")
	assert.Error(t, err)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(a *RedisArgs)
		want   []string
	}{
		{"valid", func(a *RedisArgs) {}, nil},
		{"multi-AZ without failover", func(a *RedisArgs) { a.AutomaticFailover = false }, []string{"MultiAZ requires AutomaticFailover"}},
		{"failover without replicas", func(a *RedisArgs) { a.Replicas, a.MultiAZ = 0, false }, []string{"AutomaticFailover needs Replicas >= 1"}},
		{"multi-AZ one node", func(a *RedisArgs) { a.Replicas = 0 }, []string{"AutomaticFailover needs Replicas >= 1"}},
		{"unknown engine", func(a *RedisArgs) { a.Engine = "memcached" }, []string{`engine: must be "valkey" or "redis", got "memcached"`}},
		{"valkey version for redis", func(a *RedisArgs) { a.Engine = "redis" }, []string{`engineVersion: "8.0" is not offered for engine redis`}},
		{"x86 node", func(a *RedisArgs) { a.NodeType = "cache.m5.large" }, []string{`nodeType: "cache.m5.large"`}},
		{"too many replicas", func(a *RedisArgs) { a.Replicas = 6 }, []string{"replicas: 6 is outside 0..5"}},
		{"redis 6.2 refused (no sharded pub/sub)", func(a *RedisArgs) { a.Engine, a.EngineVersion = "redis", "6.2" }, []string{`engineVersion: "6.2": the app publishes progress with sharded pub/sub (SPUBLISH), which needs Redis OSS 7.0+`}},
		{"redis 6.x refused", func(a *RedisArgs) { a.Engine, a.EngineVersion = "redis", "6.x" }, []string{`engineVersion: "6.x": the app publishes progress with sharded pub/sub`}},
		{"redis 7.0", func(a *RedisArgs) { a.Engine, a.EngineVersion = "redis", "7.0" }, nil},
		{"shards without cluster mode", func(a *RedisArgs) { a.Shards = 3 }, []string{"shards: 3 with clusterMode off: cluster mode disabled is one shard"}},
		{"bad retention", func(a *RedisArgs) { a.SnapshotRetentionDays = 36 }, []string{"snapshotRetentionDays: 36 is outside 0..35"}},
		{"bad windows", func(a *RedisArgs) { a.SnapshotWindow, a.MaintenanceWindow = "6pm", "sunday" }, []string{"SnapshotWindow", "MaintenanceWindow"}},
		{"missing inputs", func(a *RedisArgs) { a.SubnetIDs, a.SecurityGroupID = nil, nil }, []string{"SubnetIDs is required", "SecurityGroupID is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := prodArgs()
			tt.mutate(a)
			checkValidate(t, tt.name, a, tt.want)
		})
	}
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		a := prodArgs()
		a.AutomaticFailover = false
		_, err := NewRedis(ctx, "surge-prod", a)
		return err
	})
	require.Error(t, err, "NewRedis must refuse invalid args")
	assert.Empty(t, m.Resources(), "nothing declared for invalid args")
}

// TestValidateClusterMode holds AWS's cluster-mode limits: 1..500 shards,
// 0..5 replicas per shard, 500 nodes per group, and the engine floor in
// both modes.
func TestValidateClusterMode(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(a *RedisArgs)
		want   []string
	}{
		{"valid 3x1", func(a *RedisArgs) {}, nil},
		{"one shard, no replica, no failover asked", func(a *RedisArgs) { a.Shards, a.Replicas, a.MultiAZ, a.AutomaticFailover = 1, 0, false, false }, nil},
		{"500 shards without replicas", func(a *RedisArgs) { a.Shards, a.Replicas, a.MultiAZ = 500, 0, false }, nil},
		{"83 shards of 6 nodes", func(a *RedisArgs) { a.Shards, a.Replicas = 83, 5 }, nil},
		{"shards 0", func(a *RedisArgs) { a.Shards = 0 }, []string{"shards: 0 is outside 1..500"}},
		{"shards 501", func(a *RedisArgs) { a.Shards = 501 }, []string{"shards: 501 is outside 1..500"}},
		{"replicas 6", func(a *RedisArgs) { a.Replicas = 6 }, []string{"replicas: 6 is outside 0..5"}},
		{"over 500 nodes", func(a *RedisArgs) { a.Shards, a.Replicas = 300, 1 }, []string{"replicas: 300 shards x (1 + 1 replicas) = 600 nodes, over ElastiCache's 500 per group"}},
		{"redis 6.2", func(a *RedisArgs) { a.Engine, a.EngineVersion = "redis", "6.2" }, []string{`engineVersion: "6.2": the app publishes progress with sharded pub/sub (SPUBLISH), which needs Redis OSS 7.0+`}},
		{"multi-AZ without replicas", func(a *RedisArgs) { a.Replicas = 0 }, []string{"multiAz: needs replicas >= 1"}},
		{"x86 node", func(a *RedisArgs) { a.NodeType = "cache.m5.large" }, []string{`nodeType: "cache.m5.large" is not a Graviton node type`}},
		{"every problem at once", func(a *RedisArgs) { a.Shards, a.Replicas, a.Engine, a.EngineVersion = 0, 6, "redis", "6.2" }, []string{
			"shards: 0 is outside 1..500", "replicas: 6 is outside 0..5", `engineVersion: "6.2"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := clusterArgs()
			tt.mutate(a)
			checkValidate(t, tt.name, a, tt.want)
		})
	}
}

func checkValidate(t *testing.T, name string, a *RedisArgs, want []string) {
	t.Helper()
	d := a.withDefaults()
	err := d.validate("surge-prod")
	if want == nil {
		assert.NoError(t, err, "validate(%s)", name)
		return
	}
	require.Error(t, err, "validate(%s)", name)
	for _, w := range want {
		assert.Contains(t, err.Error(), w, "validate(%s)", name)
	}
}

func TestOutputs(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		c, err := NewRedis(ctx, "surge-dev", devArgs())
		if err != nil {
			return err
		}
		for want, out := range map[any]pulumi.Output{
			"master.surge-dev-cache.cache.amazonaws.com":  c.PrimaryEndpoint,
			"replica.surge-dev-cache.cache.amazonaws.com": c.ReaderEndpoint,
			6379: c.Port,
		} {
			got, _, err := pulumitest.Await(ctx.Context(), out)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		}
		for _, out := range []pulumi.Output{c.SecretARN, c.ReplicationGroupID, c.AuthToken} {
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
	m := run(t, "surge-prod", prodArgs())
	m.AssertChildrenOf(t, "surge:cache:Redis", "surge-prod")
}

// TestClusterModeInputs asserts the replication group's inputs in both
// modes: cluster mode declares shards and replicas per shard on the
// cluster-enabled default parameter group with failover forced on, and
// never numCacheClusters; cluster mode disabled the reverse.
func TestClusterModeInputs(t *testing.T) {
	tests := []struct {
		name string
		args func() *RedisArgs
		// want maps an input to its value; nil means "absent".
		want map[string]any
	}{
		{"prod cluster 3x1", clusterArgs, map[string]any{
			"clusterMode": "enabled", "numNodeGroups": 3.0, "replicasPerNodeGroup": 1.0, "numCacheClusters": nil,
			"parameterGroupName": "default.valkey8.cluster.on", "automaticFailoverEnabled": true, "multiAzEnabled": true,
			"replicationGroupId": "surge-prod-cache-cluster",
		}},
		{"cluster, one shard without replicas: failover still on", func() *RedisArgs {
			a := clusterArgs()
			a.Shards, a.Replicas, a.MultiAZ, a.AutomaticFailover = 1, 0, false, false
			return a
		}, map[string]any{
			"clusterMode": "enabled", "numNodeGroups": 1.0, "replicasPerNodeGroup": 0.0,
			"automaticFailoverEnabled": true, "multiAzEnabled": false,
		}},
		{"cluster on valkey 7.2", func() *RedisArgs {
			a := clusterArgs()
			a.EngineVersion = "7.2"
			return a
		}, map[string]any{"parameterGroupName": "default.valkey7.cluster.on"}},
		{"cluster on redis 7.1", func() *RedisArgs {
			a := clusterArgs()
			a.Engine, a.EngineVersion = "redis", "7.1"
			return a
		}, map[string]any{"parameterGroupName": "default.redis7.cluster.on", "engine": "redis"}},
		{"prod cluster mode disabled", prodArgs, map[string]any{
			"clusterMode": nil, "numNodeGroups": nil, "replicasPerNodeGroup": nil, "parameterGroupName": nil,
			"numCacheClusters": 3.0, "automaticFailoverEnabled": true, "replicationGroupId": "surge-prod-cache",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := group(t, run(t, "surge-prod", tt.args()))
			for k, want := range tt.want {
				switch w := want.(type) {
				case nil:
					assert.False(t, g.Has(k), "%s must be absent", k)
				case string:
					assert.Equal(t, w, g.Str(k), k)
				case float64:
					assert.Equal(t, w, g.Num(k), k)
				case bool:
					assert.True(t, g.Has(k), "%s must be explicit", k)
					assert.Equal(t, w, g.Bool(k), k)
				}
			}
			// The controls hold in both modes.
			assert.True(t, g.Bool("transitEncryptionEnabled"))
			assert.Equal(t, "required", g.Str("transitEncryptionMode"))
			assert.True(t, g.Bool("atRestEncryptionEnabled"))
			assert.True(t, g.IsSecret("authToken"))
		})
	}
}

// TestClusterModeEndpoint: in cluster mode the app gets the configuration
// endpoint, in the same secret JSON, and the component says "cluster".
func TestClusterModeEndpoint(t *testing.T) {
	tests := []struct {
		name             string
		args             func() *RedisArgs
		host, readerHost string
		mode             string
		shards, perShard int
	}{
		{"cluster", clusterArgs, "clustercfg.surge-prod-cache.cache.amazonaws.com", "clustercfg.surge-prod-cache.cache.amazonaws.com", ModeCluster, 3, 2},
		{"standalone", prodArgs, "master.surge-prod-cache.cache.amazonaws.com", "replica.surge-prod-cache.cache.amazonaws.com", ModeStandalone, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := pulumitest.New()
			err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
				c, err := NewRedis(ctx, "surge-prod", tt.args())
				if err != nil {
					return err
				}
				assert.Equal(t, tt.mode, c.Mode)
				assert.Equal(t, tt.shards, c.Shards)
				assert.Equal(t, tt.perShard, c.NodesPerShard)
				assert.Equal(t, tt.shards*tt.perShard, c.Nodes)
				for want, out := range map[string]pulumi.Output{tt.host: c.Endpoint, tt.readerHost: c.ReaderEndpoint} {
					got, _, err := pulumitest.Await(ctx.Context(), out)
					require.NoError(t, err)
					assert.Equal(t, want, got)
				}
				return nil
			})
			require.NoError(t, err)
			v := m.ByType(tSecretVersion)
			require.Len(t, v, 1)
			var doc map[string]any
			require.NoError(t, json.Unmarshal([]byte(v[0].Str("secretString")), &doc))
			assert.Equal(t, tt.host, doc["host"], "the app's host")
			assert.Equal(t, tt.readerHost, doc["readerHost"])
			assert.Equal(t, 6379.0, doc["port"])
			assert.Equal(t, true, doc["tls"])
			assert.Equal(t, 64, len(doc["authToken"].(string)))
			u, err := url.Parse(doc["url"].(string))
			require.NoError(t, err)
			assert.Equal(t, tt.host+":6379", u.Host)
		})
	}
}

// TestModeSwitchReplacesGroup: the group's ID carries the mode, so a
// switch is a replacement that creates the new group before deleting the
// old (distinct IDs), never an in-place migration.
func TestModeSwitchReplacesGroup(t *testing.T) {
	off, on := GroupID("surge-prod", false), GroupID("surge-prod", true)
	assert.Equal(t, "surge-prod-cache", off, "cluster mode disabled keeps the ID existing stacks have")
	assert.NotEqual(t, off, on)
	long := strings.Repeat("surge-a-very-long-stack-name", 3)
	assert.LessOrEqual(t, len(GroupID(long, true)), 40)
	assert.NotEqual(t, GroupID(long, false), GroupID(long, true))
}

func TestMemberID(t *testing.T) {
	m := pulumitest.New()
	err := m.Run(t, "test", nil, func(ctx *pulumi.Context) error {
		for want, out := range map[string]pulumi.StringOutput{
			"g-0001-001": MemberID(pulumi.String("g"), true, 1, 1),
			"g-0003-002": MemberID(pulumi.String("g"), true, 3, 2),
			"g-002":      MemberID(pulumi.String("g"), false, 1, 2),
		} {
			got, _, err := pulumitest.Await(ctx.Context(), out)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		}
		return nil
	})
	require.NoError(t, err)
}

// TestDefaults: dev stays one cheap node with cluster mode off; prod is
// three shards of a primary and a replica in another AZ. Both are valid.
func TestDefaults(t *testing.T) {
	dev, prod := Defaults(spec.Dev), Defaults(spec.Prod)
	assert.False(t, dev.ClusterMode)
	assert.Equal(t, 1, dev.Shards)
	assert.Equal(t, 0, dev.Replicas)
	assert.Equal(t, 1, dev.Nodes())
	assert.Equal(t, ModeStandalone, dev.Mode())
	assert.True(t, prod.ClusterMode)
	assert.Equal(t, 3, prod.Shards)
	assert.Equal(t, 1, prod.Replicas)
	assert.True(t, prod.MultiAZ)
	assert.Equal(t, 6, prod.Nodes())
	assert.Equal(t, ModeCluster, prod.Mode())
	require.NoError(t, dev.Validate())
	require.NoError(t, prod.Validate())
}
