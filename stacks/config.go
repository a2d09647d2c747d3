// Package stacks turns Pulumi stack config into component args. It is the
// only package that reads config: everything below it takes plain typed
// structs, so a bad stack file fails here, before any resource is declared.
package stacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/surge-dev/surge/components/database"
	"github.com/surge-dev/surge/components/spec"
)

// Environment names the two shapes the stack can take; every component's
// Defaults take it.
type Environment = spec.Env

// The environments surge knows. Dev is cheap, prod is highly available.
const (
	Dev  = spec.Dev
	Prod = spec.Prod
)

// Config is the whole typed stack config. JSON field names are the config
// keys under the `surge:` namespace (`surge:network`, `surge:app`, ...).
type Config struct {
	// clock is what one-off schedules are checked against; nil = time.Now.
	clock func() time.Time

	Project     string      `json:"-"`
	Stack       string      `json:"-"`
	Region      string      `json:"-"` // aws:region
	Environment Environment `json:"-"` // surge:environment

	Network      NetworkConfig      `json:"network"`
	LoadBalancer LoadBalancerConfig `json:"loadBalancer"`
	App          AppConfig          `json:"app"`
	Database     database.Spec      `json:"database"`
	Cache        CacheConfig        `json:"cache"`
	Edge         EdgeConfig         `json:"edge"`
	Monitoring   MonitoringConfig   `json:"monitoring"`
}

// NetworkConfig is `surge:network`.
type NetworkConfig struct {
	CIDR                 string   `json:"cidr"`                 // VPC CIDR, /16 to /28, large enough for 3 subnet tiers per AZ. Default 10.20.0.0/16 (dev), 10.30.0.0/16 (prod).
	AZCount              int      `json:"azCount"`              // Availability zones used. Default 2 (dev), 3 (prod).
	AvailabilityZones    []string `json:"availabilityZones"`    // Explicit AZ names; default: the region's first azCount available zones.
	NATGateways          string   `json:"natGateways"`          // "single" or "per-az". Default single (dev), per-az (prod).
	InterfaceEndpoints   bool     `json:"interfaceEndpoints"`   // SSM, Secrets Manager, Logs endpoints. Default false (dev), true (prod).
	FlowLogRetentionDays int      `json:"flowLogRetentionDays"` // Default 14 (dev), 365 (prod, CloudWatch.16).
	FlowLogTrafficType   string   `json:"flowLogTrafficType"`   // ALL or REJECT (EC2.6 needs rejected traffic logged). Default ALL.
}

// LoadBalancerConfig is `surge:loadBalancer`.
type LoadBalancerConfig struct {
	DeregistrationDelaySeconds int  `json:"deregistrationDelaySeconds"` // Default 30 (dev), 60 (prod); must cover the app's drain time.
	SlowStartSeconds           int  `json:"slowStartSeconds"`           // 0 or 30..900. Default 0 (dev), 60 (prod).
	IdleTimeoutSeconds         int  `json:"idleTimeoutSeconds"`         // Default 60.
	DeletionProtection         bool `json:"deletionProtection"`         // Default false (dev), true (prod).
}

// ScheduledScaleOut raises capacity ahead of a known rush.
type ScheduledScaleOut struct {
	Name            string `json:"name"`                 // Unique action name.
	Recurrence      string `json:"recurrence,omitempty"` // cron, 5 fields, in TimeZone
	StartTime       string `json:"startTime,omitempty"`  // RFC 3339, for a one-off rush
	TimeZone        string `json:"timeZone"`             // IANA name, e.g. Asia/Seoul
	MinSize         int    `json:"minSize"`              // Fleet minimum from that time.
	MaxSize         int    `json:"maxSize"`              // Fleet maximum from that time.
	DesiredCapacity int    `json:"desiredCapacity"`      // Fleet size at that time.
}

// WarmPoolConfig keeps pre-initialised instances ready for a scale-out.
type WarmPoolConfig struct {
	MinSize int `json:"minSize"` // Instances kept pre-initialised.
	// Without MaxGroupPreparedCapacity AWS keeps maxSize minus desired
	// instances prepared (27 in prod), each booting and stopping again on
	// every instance refresh.
	MaxGroupPreparedCapacity int    `json:"maxGroupPreparedCapacity"` // In service plus warm, at most; the pool holds this minus the desired capacity, never fewer than minSize. Default 5 (prod).
	State                    string `json:"state"`                    // Stopped, Hibernated or Running. Default Stopped.
}

// AppConfig is `surge:app`: the fleet and the app's runtime settings.
type AppConfig struct {
	InstanceTypes                    []string            `json:"instanceTypes"`                    // Graviton (arm64) types; several need spot or no warm pool. Default [t4g.small] (dev), [m7g.large] (prod).
	MinSize                          int                 `json:"minSize"`                          // Default 1 (dev), 3 (prod).
	MaxSize                          int                 `json:"maxSize"`                          // Default 3 (dev), 30 (prod).
	DesiredCapacity                  int                 `json:"desiredCapacity"`                  // Default 1 (dev), 3 (prod).
	SpotPercent                      int                 `json:"spotPercent"`                      // Share of capacity above the on-demand base on spot; dev only. Default 0.
	WarmPool                         *WarmPoolConfig     `json:"warmPool"`                         // Default none (dev), {minSize: 2, maxGroupPreparedCapacity: 5, state: Stopped} (prod).
	DetailedMonitoring               bool                `json:"detailedMonitoring"`               // 1-minute EC2 metrics. Default false (dev), true (prod).
	RootVolumeGiB                    int                 `json:"rootVolumeGiB"`                    // Default 20.
	Port                             int                 `json:"port"`                             // Default 8080.
	HealthCheckGraceSeconds          int                 `json:"healthCheckGraceSeconds"`          // ELB health-check grace and boot readiness wait, 30..600. Default 120.
	TargetRequestsPerTarget          float64             `json:"targetRequestsPerTarget"`          // ALB requests per target per minute. Default 1000.
	TargetCPUPercent                 float64             `json:"targetCpuPercent"`                 // Default 60.
	InstanceRefreshMinHealthyPercent int                 `json:"instanceRefreshMinHealthyPercent"` // Default 50 (dev), 90 (prod).
	ScheduledScaleOuts               []ScheduledScaleOut `json:"scheduledScaleOuts"`               // Capacity raised ahead of known rushes. Default none.
	AdmitBatch                       int                 `json:"admitBatch"`                       // SURGE_ADMIT_BATCH. Default 200.
	AdmitInterval                    string              `json:"admitInterval"`                    // SURGE_ADMIT_INTERVAL. Default 20ms.
	AdmitLease                       string              `json:"admitLease"`                       // SURGE_ADMIT_LEASE. Default 10s.
	DrainTimeoutSeconds              int                 `json:"drainTimeoutSeconds"`              // SURGE_DRAIN_TIMEOUT. Default 25.
	MaxInflight                      int                 `json:"maxInflight"`                      // SURGE_MAX_INFLIGHT. Default 2000.
	// Release pins the fleet to an already-uploaded release instead of
	// building this checkout: rolling back is one config value.
	Release string `json:"release"` // SHA-256 (artifactSha256 output of an earlier up) of a release in the artifacts bucket to run instead of building; "" = build and upload this checkout. Default "".
}

// CacheConfig is `surge:cache`.
type CacheConfig struct {
	Engine                string `json:"engine"`                // valkey or redis. Default valkey.
	EngineVersion         string `json:"engineVersion"`         // Default 8.0.
	NodeType              string `json:"nodeType"`              // Graviton node type. Default cache.t4g.micro (dev), cache.m7g.large (prod).
	Replicas              int    `json:"replicas"`              // Replicas beside the primary. Default 0 (dev), 1 (prod).
	MultiAZ               bool   `json:"multiAz"`               // Requires replicas >= 1 (automatic failover). Default false (dev), true (prod).
	SnapshotRetentionDays int    `json:"snapshotRetentionDays"` // Default 0 (dev), 7 (prod).
}

// EdgeConfig is `surge:edge`.
type EdgeConfig struct {
	Domain          string `json:"domain"`          // Site name, e.g. register.example.edu; "" = CloudFront's default domain.
	HostedZoneID    string `json:"hostedZoneId"`    // Existing zone by ID,
	HostedZoneName  string `json:"hostedZoneName"`  // or by name,
	CreateZone      bool   `json:"createZone"`      // or create one (two phases: the first up creates only the zone).
	ZoneDelegated   bool   `json:"zoneDelegated"`   // With createZone: set true once the registrar delegates to the nameServers output; the next up adds certificates, the site and its aliases. Default false.
	PriceClass      string `json:"priceClass"`      // PriceClass_100, _200 or _All. Default PriceClass_100 (dev), PriceClass_All (prod).
	WAFMode         string `json:"wafMode"`         // block or count. Default count (dev), block (prod).
	RateLimit       int    `json:"rateLimit"`       // Requests per IP per 5 minutes, all paths (list campus NATs in trustedCidrs). Default 2000.
	EnrollRateLimit int    `json:"enrollRateLimit"` // POST /api/login per IP and POST .../queue per session, per 5 minutes. Default 300.
	// TrustedCIDRs are public IPv4 egress ranges of campus NATs, exempt from
	// the per-IP rate limits (never from the managed rules).
	TrustedCIDRs []string `json:"trustedCidrs"` // Campus NAT egress ranges exempt from per-IP rate limits (thousands of students share one IP). Default none.
	// AdminCIDRs may reach /api/admin/* through CloudFront; everyone else
	// gets 403 at the edge. Operators normally use SSM port forwarding.
	AdminCIDRs []string `json:"adminCidrs"` // Public IPv4 ranges allowed to reach /api/admin/* through CloudFront (403 for everyone else, IPv6 viewers included). Default none: admin only through SSM port forwarding.
}

// Thresholds are the alarm thresholds of `surge:monitoring.thresholds`.
type Thresholds struct {
	ALB5xxPercent        float64 `json:"alb5xxPercent"`              // Default 1.
	TargetP99Seconds     float64 `json:"targetP99Seconds"`           // Default 1.5.
	DBCPUPercent         float64 `json:"dbCpuPercent"`               // Default 80.
	DBFreeStorageGiB     float64 `json:"dbFreeStorageGiB"`           // Default 10.
	DBFreeMemoryMiB      float64 `json:"dbFreeMemoryMiB"`            // Default 256.
	DBConnections        float64 `json:"dbConnections"`              // Default 400.
	ReplicaLagSeconds    float64 `json:"replicaLagSeconds"`          // Default 30.
	CacheCPUPercent      float64 `json:"cacheCpuPercent"`            // Default 80.
	CacheMemoryPercent   float64 `json:"cacheMemoryPercent"`         // Default 80.
	CacheReplicationLagS float64 `json:"cacheReplicationLagSeconds"` // Default 5.
	CloudFront5xxPercent float64 `json:"cloudFront5xxPercent"`       // Default 5.
	WAFBlockedPerMinute  float64 `json:"wafBlockedPerMinute"`        // Blocked requests per minute. Default 1000.
	ShedPerMinute        float64 `json:"shedPerMinute"`              // App requests refused 503 by load shedding per minute, fleet-wide, 3 minutes in a row. Default 50.
	QueueStallMinutes    float64 `json:"queueStallMinutes"`          // Students in the waiting room and no seat granted (nor anyone moved to a waiting list) for this many minutes. Default 3.
}

// MonitoringConfig is `surge:monitoring`.
type MonitoringConfig struct {
	AlarmEmails      []string   `json:"alarmEmails"`      // SNS e-mail subscriptions for alarms. Default none.
	LogRetentionDays int        `json:"logRetentionDays"` // App and WAF log groups. Default 14 (dev), 365 (prod, CloudWatch.16).
	Thresholds       Thresholds `json:"thresholds"`       // Alarm thresholds, below.
}

func (c *Config) now() time.Time {
	if c.clock != nil {
		return c.clock()
	}
	return time.Now()
}

// sections maps each `surge:` object key to the struct it decodes into, in
// the order problems are reported.
func (c *Config) sections() []struct {
	key string
	dst any
} {
	return []struct {
		key string
		dst any
	}{
		{"network", &c.Network}, {"loadBalancer", &c.LoadBalancer}, {"app", &c.App},
		{"database", &c.Database}, {"cache", &c.Cache}, {"edge", &c.Edge}, {"monitoring", &c.Monitoring},
	}
}

// ConfigSource is what Load reads: Pulumi config in a program, a map in tests.
// Get returns ("", false) for an unset key.
type ConfigSource interface {
	Get(key string) (string, bool)
}

// Load builds a Config for the stack from src: environment defaults first,
// then each `surge:<section>` object decoded over them, unknown fields
// rejected. It returns ONE error listing every problem, decoding and
// validation alike, each prefixed with its config key.
func Load(project, stack string, src ConfigSource) (*Config, error) {
	var p problems
	region, _ := src.Get("aws:region")
	// The CLI hands the project default ("") to a stack that does not set
	// the key: both mean "the stack's name".
	envName, _ := src.Get("surge:environment")
	if envName == "" {
		envName = stack
	}
	env := Environment(envName)
	if env != Dev && env != Prod {
		p.add("surge:environment", "must be %q or %q, got %q", Dev, Prod, envName)
		env = Dev // keep going with some defaults so every other problem is reported too
	}
	c := Defaults(env)
	c.Project, c.Stack, c.Region = project, stack, region
	if region == "" {
		p.add("aws:region", "is required (pulumi config set aws:region eu-west-1)")
	}
	for _, s := range c.sections() {
		raw, ok := src.Get("surge:" + s.key)
		if !ok {
			continue
		}
		if err := decodeStrict(raw, s.dst); err != nil {
			p.add("surge:"+s.key, "%v", err)
		}
	}
	c.validate(&p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeStrict decodes one config object, refusing unknown fields so a typo
// in a stack file is an error instead of a silently ignored setting.
func decodeStrict(raw string, dst any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	if dec.More() {
		return errors.New("decoding: trailing data after the object")
	}
	return nil
}

// problems collects every config problem before failing.
type problems []string

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, key+": "+fmt.Sprintf(format, args...))
}

// merge adds every problem of a Spec's Validate under the section's key.
func (p *problems) merge(section string, err error) {
	var list *spec.ProblemList
	if !errors.As(err, &list) {
		if err != nil {
			p.add(section, "%v", err)
		}
		return
	}
	for _, q := range list.Problems {
		*p = append(*p, spec.Join(section, q.Key)+": "+q.Msg)
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	lines := append([]string(nil), p...)
	sort.Strings(lines)
	return fmt.Errorf("invalid stack config (%d problems):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// Defaults returns the environment's defaults: dev cheap, prod highly available.
func Defaults(env Environment) *Config {
	c := &Config{Environment: env}
	c.Network = NetworkConfig{CIDR: "10.20.0.0/16", AZCount: 2, NATGateways: "single", FlowLogRetentionDays: 14, FlowLogTrafficType: "ALL"}
	c.LoadBalancer = LoadBalancerConfig{DeregistrationDelaySeconds: 30, IdleTimeoutSeconds: 60}
	c.App = AppConfig{
		InstanceTypes: []string{"t4g.small"}, MinSize: 1, MaxSize: 3, DesiredCapacity: 1,
		RootVolumeGiB: 20, Port: 8080, HealthCheckGraceSeconds: 120,
		TargetRequestsPerTarget: 1000, TargetCPUPercent: 60, InstanceRefreshMinHealthyPercent: 50,
		AdmitBatch: 500, AdmitInterval: "50ms", AdmitLease: "5s", DrainTimeoutSeconds: 20, MaxInflight: 1000,
	}
	c.Database = database.Defaults(env)
	c.Cache = CacheConfig{Engine: "valkey", EngineVersion: "8.0", NodeType: "cache.t4g.micro"}
	c.Edge = EdgeConfig{PriceClass: "PriceClass_100", WAFMode: "count", RateLimit: 2000, EnrollRateLimit: 300}
	c.Monitoring = MonitoringConfig{LogRetentionDays: 14, Thresholds: Thresholds{
		ALB5xxPercent: 1, TargetP99Seconds: 1.5, DBCPUPercent: 80, DBFreeStorageGiB: 10, DBFreeMemoryMiB: 256,
		DBConnections: 400, ReplicaLagSeconds: 30, CacheCPUPercent: 80, CacheMemoryPercent: 80, CacheReplicationLagS: 5,
		CloudFront5xxPercent: 5, WAFBlockedPerMinute: 1000, ShedPerMinute: 50, QueueStallMinutes: 3,
	}}
	if env == Prod {
		c.Network = NetworkConfig{CIDR: "10.30.0.0/16", AZCount: 3, NATGateways: "per-az", InterfaceEndpoints: true, FlowLogRetentionDays: 365, FlowLogTrafficType: "ALL"}
		c.LoadBalancer = LoadBalancerConfig{DeregistrationDelaySeconds: 60, SlowStartSeconds: 60, IdleTimeoutSeconds: 60, DeletionProtection: true}
		c.App.InstanceTypes = []string{"m7g.large"}
		c.App.MinSize, c.App.MaxSize, c.App.DesiredCapacity = 3, 30, 3
		c.App.WarmPool = &WarmPoolConfig{MinSize: 2, MaxGroupPreparedCapacity: 5, State: "Stopped"}
		c.App.DetailedMonitoring = true
		c.App.InstanceRefreshMinHealthyPercent = 90
		c.Cache.NodeType, c.Cache.Replicas, c.Cache.MultiAZ, c.Cache.SnapshotRetentionDays = "cache.m7g.large", 1, true, 7
		c.Edge.PriceClass, c.Edge.WAFMode = "PriceClass_All", "block"
		c.Monitoring.LogRetentionDays = 365
	}
	return c
}
