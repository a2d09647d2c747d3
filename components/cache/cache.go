// Package cache declares the ElastiCache (Redis OSS or Valkey) replication
// group: cluster mode disabled (one shard: a primary and its replicas) or
// enabled (shards of a primary and replicas each, reached through the
// configuration endpoint); one node in dev, automatic failover and Multi-AZ
// in prod, TLS required, encrypted at rest, an AUTH token generated within
// ElastiCache's rules and kept in Secrets Manager.
package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elasticache"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/naming"
	"github.com/surge-dev/surge/components/secrets"
	"github.com/surge-dev/surge/components/spec"
)

// AllowedTokenSpecials are the only non-alphanumeric characters ElastiCache
// accepts in an AUTH token (docs/decisions/cache-auth-token.md).
const AllowedTokenSpecials = "!&#$^<>-"

// TokenSpecials are the specials the generated token uses: the allowed set
// minus '#', '^', '<' and '>', which a rediss:// URL's userinfo cannot hold
// unescaped (clients differ in how they unescape).
const TokenSpecials = "!&$-"

// Port is the Redis/Valkey port the group listens on.
const Port = 6379

// Modes the app is told to connect in (SURGE_REDIS_MODE): one endpoint, or
// a cluster client on the configuration endpoint.
const (
	ModeStandalone = "standalone"
	ModeCluster    = "cluster"
)

// MaxShards and MaxNodes are ElastiCache's hard limits for a cluster-mode
// group (Valkey 7.2+, Redis OSS 5.0.6+). The default quota is 90 nodes per
// group; more needs a quota increase
// (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Shards.html).
const (
	MaxShards = 500
	MaxNodes  = 500
)

// Spec is the cache's static shape: `surge:cache` in the stack config.
// Defaults gives its per-environment values.
type Spec struct {
	Engine                string `json:"engine"`                // valkey or redis.
	EngineVersion         string `json:"engineVersion"`         // valkey 7.2, 8.0 or 8.1; redis 7.0 or 7.1 (the app's sharded pub/sub, SPUBLISH, needs 7.0+).
	NodeType              string `json:"nodeType"`              // Graviton node type (cache.t4g.*, cache.m7g.*, cache.r7g.*, ...).
	ClusterMode           bool   `json:"clusterMode"`           // Shard the keyspace (Redis Cluster); the app connects to the configuration endpoint. Switching replaces the group (docs/decisions/cache-cluster-mode.md).
	Shards                int    `json:"shards"`                // Node groups: 1 with clusterMode off, 1..500 with it on (AWS's default quota is 90 nodes).
	Replicas              int    `json:"replicas"`              // Replicas beside each shard's primary, 0..5; shards x (1 + replicas) <= 500. One or more turns on automatic failover.
	MultiAZ               bool   `json:"multiAz"`               // Replicas in other AZs, failing over across them; needs replicas >= 1.
	SnapshotRetentionDays int    `json:"snapshotRetentionDays"` // Days of automatic backups, 0..35 (ElastiCache.1).
}

// Defaults are the environment's values: dev one small node; prod three
// shards, each a primary and a replica in another AZ, with a week of
// snapshots. The prod shape follows the benchmark's cluster run
// (docs/decisions/cache-cluster-mode.md).
func Defaults(env spec.Env) Spec {
	if env == spec.Prod {
		return Spec{Engine: "valkey", EngineVersion: "8.0", NodeType: "cache.m7g.large", ClusterMode: true, Shards: 3, Replicas: 1, MultiAZ: true, SnapshotRetentionDays: 7}
	}
	return Spec{Engine: "valkey", EngineVersion: "8.0", NodeType: "cache.t4g.micro", Shards: 1}
}

// Mode is the app's SURGE_REDIS_MODE for the Spec.
func (s Spec) Mode() string {
	if s.ClusterMode {
		return ModeCluster
	}
	return ModeStandalone
}

// Nodes is the group's node count: every shard's primary and replicas.
func (s Spec) Nodes() int { return max(s.Shards, 1) * (1 + s.Replicas) }

// Validate reports every problem of the Spec, keyed by its JSON path.
func (s Spec) Validate() error {
	var p spec.Problems
	versions, ok := engineVersions[s.Engine]
	switch {
	case !ok:
		p.Add("engine", "must be \"valkey\" or \"redis\", got %q", s.Engine)
	case s.Engine == "redis" && strings.HasPrefix(s.EngineVersion, "6"):
		p.Add("engineVersion", "%q: the app publishes progress with sharded pub/sub (SPUBLISH), which needs Redis OSS 7.0+ or Valkey (one of %v)", s.EngineVersion, versions)
	case !slices.Contains(versions, s.EngineVersion):
		p.Add("engineVersion", "%q is not offered for engine %s (one of %v)", s.EngineVersion, s.Engine, versions)
	}
	if !spec.Graviton("cache.", s.NodeType) {
		p.Add("nodeType", "%q is not a Graviton node type (e.g. cache.t4g.micro, cache.m7g.large)", s.NodeType)
	}
	switch {
	case !s.ClusterMode && s.Shards != 1:
		p.Add("shards", "%d with clusterMode off: cluster mode disabled is one shard (set shards to 1, or clusterMode to true)", s.Shards)
	case s.ClusterMode && (s.Shards < 1 || s.Shards > MaxShards):
		p.Add("shards", "%d is outside 1..%d", s.Shards, MaxShards)
	}
	if s.Replicas < 0 || s.Replicas > 5 {
		p.Add("replicas", "%d is outside 0..5", s.Replicas)
	} else if s.ClusterMode && s.Shards >= 1 && s.Shards <= MaxShards && s.Nodes() > MaxNodes {
		p.Add("replicas", "%d shards x (1 + %d replicas) = %d nodes, over ElastiCache's %d per group", s.Shards, s.Replicas, s.Nodes(), MaxNodes)
	}
	if s.MultiAZ && s.Replicas < 1 {
		p.Add("multiAz", "needs replicas >= 1 (Multi-AZ requires automatic failover to a replica)")
	}
	if s.SnapshotRetentionDays < 0 || s.SnapshotRetentionDays > 35 {
		p.Add("snapshotRetentionDays", "%d is outside 0..35", s.SnapshotRetentionDays)
	}
	return p.Err()
}

// RedisArgs are the Spec plus what comes from other resources and the
// options the stack config does not expose.
type RedisArgs struct {
	Spec

	SubnetIDs       pulumi.StringArrayInput // private-data subnets; required
	SecurityGroupID pulumi.StringInput      // the cache security group; required

	// AutomaticFailover promotes a replica when the primary fails; needs
	// Replicas >= 1 (ElastiCache.3); MultiAZ needs it.
	AutomaticFailover bool
	SnapshotWindow    string // "hh24:mi-hh24:mi" UTC; empty lets ElastiCache choose
	MaintenanceWindow string // "ddd:hh24:mi-ddd:hh24:mi" UTC; empty lets ElastiCache choose
	ApplyImmediately  bool   // default false: changes wait for the maintenance window
	// SlowLogGroupName receives the engine slow log as JSON; nil: no log delivery.
	SlowLogGroupName pulumi.StringInput
	// SecretRecoveryWindowDays: 0 (at once, dev) or 7-30; default 7.
	SecretRecoveryWindowDays *int
}

// Redis is the surge:cache:Redis component.
type Redis struct {
	pulumi.ResourceState

	// Endpoint is the host the app connects to: the primary endpoint, or
	// in cluster mode the configuration endpoint, from which a cluster
	// client discovers every shard's primary and replicas.
	Endpoint pulumi.StringOutput
	// PrimaryEndpoint and ReaderEndpoint are the writer and reader host
	// names (the reader is the primary's when there is no replica). A
	// cluster-mode group has neither: both are its configuration endpoint.
	PrimaryEndpoint    pulumi.StringOutput
	ReaderEndpoint     pulumi.StringOutput
	Port               pulumi.IntOutput
	SecretARN          pulumi.StringOutput // secret with {host, readerHost, port, authToken, tls, url}
	ReplicationGroupID pulumi.StringOutput
	Mode               string // ModeStandalone or ModeCluster: the app's SURGE_REDIS_MODE
	ClusterMode        bool
	Shards             int                 // node groups (1 with cluster mode disabled)
	NodesPerShard      int                 // each shard's primary and replicas (member clusters: MemberID)
	Nodes              int                 // Shards x NodesPerShard
	AuthToken          pulumi.StringOutput // secret
}

var (
	dailyWindow  = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$`)
	weeklyWindow = regexp.MustCompile(`^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$`)
	groupID      = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)
)

// engineVersions are the versions we accept, in both modes: the app
// publishes per-course progress with sharded pub/sub (SPUBLISH), which
// Redis OSS has from 7.0 (https://redis.io/commands/spublish/) and every
// Valkey has, so Redis OSS 6.x is refused.
var engineVersions = map[string][]string{
	"redis":  {"7.0", "7.1"},
	"valkey": {"7.2", "8.0", "8.1"},
}

// parameterGroupFamily is the engine version's parameter group family:
// valkey 7.2 shares Redis OSS 7's parameters
// (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/ParameterGroups.Engine.html).
func parameterGroupFamily(engine, version string) string {
	major, _, _ := strings.Cut(version, ".")
	return engine + major
}

// ClusterParameterGroup is AWS's default parameter group with
// cluster-enabled yes for the engine version, e.g. default.valkey8.cluster.on.
func ClusterParameterGroup(engine, version string) string {
	return "default." + parameterGroupFamily(engine, version) + ".cluster.on"
}

// GroupID is the replication group's ID. Cluster mode is part of it: a
// switch declares a new group beside the old one (create, then delete)
// instead of asking ElastiCache for an in-place migration it does only one
// way and in two steps (docs/decisions/cache-cluster-mode.md).
func GroupID(name string, clusterMode bool) string {
	if clusterMode {
		return naming.Physical(name, "cache-cluster", naming.MaxElastiCacheID)
	}
	return naming.Physical(name, "cache", naming.MaxElastiCacheID)
}

// MemberID is the ID of node n (1-based) of shard (1-based) of a group:
// <group>-00s-00n in cluster mode, <group>-00n without (where shard is 1).
func MemberID(group pulumi.StringInput, clusterMode bool, shard, n int) pulumi.StringOutput {
	if clusterMode {
		return pulumi.Sprintf("%s-%04d-%03d", group, shard, n)
	}
	return pulumi.Sprintf("%s-%03d", group, n)
}

func (a RedisArgs) withDefaults() RedisArgs {
	if a.Shards == 0 && !a.ClusterMode {
		a.Shards = 1 // cluster mode disabled is one shard
	}
	if a.Engine == "" {
		a.Engine = Defaults(spec.Dev).Engine
	}
	if a.EngineVersion == "" {
		switch a.Engine {
		case "redis":
			a.EngineVersion = "7.1"
		case "valkey":
			a.EngineVersion = Defaults(spec.Dev).EngineVersion
		}
	}
	if a.SecretRecoveryWindowDays == nil {
		d := 7
		a.SecretRecoveryWindowDays = &d
	}
	return a
}

// validate returns every problem of the (defaulted) args at once.
func (a *RedisArgs) validate(name string) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.SubnetIDs == nil {
		add("SubnetIDs is required")
	}
	if a.SecurityGroupID == nil {
		add("SecurityGroupID is required")
	}
	if err := a.Spec.Validate(); err != nil {
		errs = append(errs, err)
	}
	// Cluster mode always fails over (the group requires it), so the two
	// rules below are about cluster mode disabled.
	if !a.ClusterMode && a.AutomaticFailover && a.Replicas < 1 {
		add("AutomaticFailover needs Replicas >= 1")
	}
	if !a.ClusterMode && a.MultiAZ && !a.AutomaticFailover {
		add("MultiAZ requires AutomaticFailover")
	}
	if a.SnapshotWindow != "" && !dailyWindow.MatchString(a.SnapshotWindow) {
		add("SnapshotWindow %q must be hh24:mi-hh24:mi", a.SnapshotWindow)
	}
	if a.MaintenanceWindow != "" && !weeklyWindow.MatchString(a.MaintenanceWindow) {
		add("MaintenanceWindow %q must be ddd:hh24:mi-ddd:hh24:mi (lowercase days)", a.MaintenanceWindow)
	}
	if w := a.SecretRecoveryWindowDays; w != nil && *w != 0 && (*w < 7 || *w > 30) {
		add("SecretRecoveryWindowDays %d must be 0 or 7-30", *w)
	}
	if id := GroupID(name, a.ClusterMode); !groupID.MatchString(id) {
		add("component name %q gives the replication group ID %q, which must start with a letter", name, id)
	}
	return errors.Join(errs...)
}

// NewRedis declares the cache.
func NewRedis(ctx *pulumi.Context, name string, args *RedisArgs, opts ...pulumi.ResourceOption) (*Redis, error) {
	if args == nil {
		return nil, errors.New("cache: args are required")
	}
	a := args.withDefaults()
	if err := a.validate(name); err != nil {
		return nil, fmt.Errorf("cache %s: invalid args: %w", name, err)
	}
	c := &Redis{}
	if err := ctx.RegisterComponentResource("surge:cache:Redis", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering cache %s: %w", name, err)
	}
	parent := pulumi.Parent(c)

	// A custom subnet group over the data subnets, never "default" (ElastiCache.7).
	subnets, err := elasticache.NewSubnetGroup(ctx, name+"-cache-subnets", &elasticache.SubnetGroupArgs{
		Name:        pulumi.String(naming.Physical(name, "cache", 255)),
		Description: pulumi.String("surge cache: private data subnets"),
		SubnetIds:   a.SubnetIDs,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating cache subnet group: %w", err)
	}

	// 64 characters, specials only from ElastiCache's set (docs/decisions/cache-auth-token.md).
	token, err := random.NewRandomPassword(ctx, name+"-cache-auth", &random.RandomPasswordArgs{
		Length:          pulumi.Int(64),
		Special:         pulumi.Bool(true),
		OverrideSpecial: pulumi.String(TokenSpecials),
		MinLower:        pulumi.Int(2),
		MinUpper:        pulumi.Int(2),
		MinNumeric:      pulumi.Int(2),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating auth token: %w", err)
	}

	rg := &elasticache.ReplicationGroupArgs{
		ReplicationGroupId:       pulumi.String(GroupID(name, a.ClusterMode)),
		Description:              pulumi.String("surge cache: sessions, waiting rooms, read cache"),
		Engine:                   pulumi.String(a.Engine),
		EngineVersion:            pulumi.String(a.EngineVersion),
		NodeType:                 pulumi.String(a.NodeType),
		Port:                     pulumi.Int(Port),
		AutomaticFailoverEnabled: pulumi.Bool(a.AutomaticFailover),
		MultiAzEnabled:           pulumi.Bool(a.MultiAZ),
		SubnetGroupName:          subnets.Name,
		SecurityGroupIds:         pulumi.StringArray{a.SecurityGroupID},
		// AUTH needs in-transit encryption; "required" refuses plain clients.
		TransitEncryptionEnabled: pulumi.Bool(true),
		TransitEncryptionMode:    pulumi.String("required"),
		AtRestEncryptionEnabled:  pulumi.Bool(true),
		AuthToken:                token.Result,
		AuthTokenUpdateStrategy:  pulumi.String("ROTATE"),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		SnapshotRetentionLimit:   pulumi.Int(a.SnapshotRetentionDays),
		ApplyImmediately:         pulumi.Bool(a.ApplyImmediately),
	}
	if a.ClusterMode {
		// Shards of 1 + Replicas nodes, on AWS's default parameter group with
		// cluster-enabled yes. Automatic failover is required in cluster mode
		// (pulumi-aws ReplicationGroup, automaticFailoverEnabled).
		rg.ClusterMode = pulumi.String("enabled")
		rg.NumNodeGroups = pulumi.Int(a.Shards)
		rg.ReplicasPerNodeGroup = pulumi.Int(a.Replicas)
		rg.ParameterGroupName = pulumi.String(ClusterParameterGroup(a.Engine, a.EngineVersion))
		rg.AutomaticFailoverEnabled = pulumi.Bool(true)
	} else {
		// Cluster mode disabled: one shard, 1 + Replicas nodes.
		rg.NumCacheClusters = pulumi.Int(1 + a.Replicas)
	}
	if a.SnapshotWindow != "" {
		rg.SnapshotWindow = pulumi.String(a.SnapshotWindow)
	}
	if a.MaintenanceWindow != "" {
		rg.MaintenanceWindow = pulumi.String(a.MaintenanceWindow)
	}
	if a.SlowLogGroupName != nil {
		rg.LogDeliveryConfigurations = elasticache.ReplicationGroupLogDeliveryConfigurationArray{
			&elasticache.ReplicationGroupLogDeliveryConfigurationArgs{
				Destination:     a.SlowLogGroupName,
				DestinationType: pulumi.String("cloudwatch-logs"),
				LogFormat:       pulumi.String("json"),
				LogType:         pulumi.String("slow-log"),
			},
		}
	}
	group, err := elasticache.NewReplicationGroup(ctx, name+"-cache", rg, parent)
	if err != nil {
		return nil, fmt.Errorf("creating replication group: %w", err)
	}

	// Cluster mode: the configuration endpoint is the group's only address.
	// Otherwise the reader endpoint is only meaningful with replicas; fall
	// back to the primary so the app always has a host.
	primary, reader := group.PrimaryEndpointAddress, group.ReaderEndpointAddress
	if a.ClusterMode {
		primary, reader = group.ConfigurationEndpointAddress, group.ConfigurationEndpointAddress
	} else {
		reader = pulumi.All(primary, reader).ApplyT(func(v []any) string {
			if r, _ := v[1].(string); r != "" {
				return r
			}
			return v[0].(string)
		}).(pulumi.StringOutput)
	}

	secretJSON := pulumi.All(primary, reader, token.Result).ApplyT(func(v []any) (string, error) {
		return connectionJSON(v[0].(string), v[1].(string), v[2].(string))
	}).(pulumi.StringOutput)
	secretARN, err := secrets.Store(ctx, name+"-cache-secret", naming.Physical(name, "cache-auth", 200),
		"surge cache AUTH token and endpoints", secretJSON, *a.SecretRecoveryWindowDays, parent)
	if err != nil {
		return nil, err
	}

	c.Endpoint = primary
	c.PrimaryEndpoint = primary
	c.ReaderEndpoint = reader
	c.Port = pulumi.Int(Port).ToIntOutput()
	c.SecretARN = secretARN
	c.ReplicationGroupID = group.ID().ToStringOutput()
	c.Mode = a.Mode()
	c.ClusterMode = a.ClusterMode
	c.Shards = a.Shards
	c.NodesPerShard = 1 + a.Replicas
	c.Nodes = a.Nodes()
	c.AuthToken = pulumi.ToSecret(token.Result).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"endpoint":           c.Endpoint,
		"mode":               pulumi.String(c.Mode),
		"primaryEndpoint":    c.PrimaryEndpoint,
		"readerEndpoint":     c.ReaderEndpoint,
		"port":               c.Port,
		"secretArn":          c.SecretARN,
		"replicationGroupId": c.ReplicationGroupID,
		"authToken":          c.AuthToken,
	}); err != nil {
		return nil, fmt.Errorf("registering cache outputs: %w", err)
	}
	return c, nil
}

// ValidToken reports whether token follows ElastiCache's AUTH rules: 16-128
// printable characters, alphanumerics and !&#$^<>- only.
func ValidToken(token string) bool {
	if len(token) < 16 || len(token) > 128 {
		return false
	}
	for _, r := range token {
		alnum := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !alnum && !strings.ContainsRune(AllowedTokenSpecials, r) {
			return false
		}
	}
	return true
}

// connectionJSON is the secret the app builds its rediss:// URL from.
func connectionJSON(host, readerHost, token string) (string, error) {
	if !ValidToken(token) {
		return "", errors.New("cache auth token breaks ElastiCache's rules (16-128 characters, specials !&#$^<>- only)")
	}
	b, err := json.Marshal(map[string]any{
		"host":       host,
		"readerHost": readerHost,
		"port":       Port,
		"authToken":  token,
		"tls":        true,
		"url":        (&url.URL{Scheme: "rediss", User: url.UserPassword("", token), Host: host + ":" + strconv.Itoa(Port)}).String(),
	})
	if err != nil {
		return "", fmt.Errorf("encoding cache secret: %w", err)
	}
	return string(b), nil
}
