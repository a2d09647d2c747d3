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

	"github.com/surge-dev/surge/components/cache"
	"github.com/surge-dev/surge/components/database"
	"github.com/surge-dev/surge/components/loadbalancer"
	"github.com/surge-dev/surge/components/monitoring"
	"github.com/surge-dev/surge/components/network"
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

	Network      network.Spec      `json:"network"`
	LoadBalancer loadbalancer.Spec `json:"loadBalancer"`
	App          AppConfig         `json:"app"`
	Database     database.Spec     `json:"database"`
	Cache        cache.Spec        `json:"cache"`
	Edge         EdgeConfig        `json:"edge"`
	Monitoring   monitoring.Spec   `json:"monitoring"`
}

// ScheduledScaleOut raises capacity ahead of a known rush.
type ScheduledScaleOut struct {
	Name            string `json:"name"`                 // Unique action name.
	Recurrence      string `json:"recurrence,omitempty"` // cron, 5 fields, in timeZone; or startTime.
	StartTime       string `json:"startTime,omitempty"`  // RFC 3339 time of a one-off rush, in the future.
	TimeZone        string `json:"timeZone"`             // IANA name, e.g. Asia/Seoul (required).
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
	MaxGroupPreparedCapacity int    `json:"maxGroupPreparedCapacity"` // In service plus warm, at most; the pool holds this minus the desired capacity, never fewer than minSize.
	State                    string `json:"state"`                    // Stopped, Hibernated or Running.
}

// AppConfig is `surge:app`: the fleet and the app's runtime settings.
type AppConfig struct {
	InstanceTypes                    []string            `json:"instanceTypes"`                    // Graviton (arm64) types; several need spot or no warm pool.
	MinSize                          int                 `json:"minSize"`                          // Fleet minimum; prod at least 2.
	MaxSize                          int                 `json:"maxSize"`                          // Fleet maximum.
	DesiredCapacity                  int                 `json:"desiredCapacity"`                  // Fleet size at creation, within minSize..maxSize.
	SpotPercent                      int                 `json:"spotPercent"`                      // Share of capacity above the on-demand base on spot; dev only.
	WarmPool                         *WarmPoolConfig     `json:"warmPool"`                         // Pre-initialised instances for scale-out (one instance type, no spot); none = no pool.
	DetailedMonitoring               bool                `json:"detailedMonitoring"`               // 1-minute EC2 metrics.
	RootVolumeGiB                    int                 `json:"rootVolumeGiB"`                    // Encrypted gp3 root volume, 8..1024 GiB.
	Port                             int                 `json:"port"`                             // Port the app listens on behind the ALB, 1024..65535.
	HealthCheckGraceSeconds          int                 `json:"healthCheckGraceSeconds"`          // ELB health-check grace and boot readiness wait, 30..600.
	TargetRequestsPerTarget          float64             `json:"targetRequestsPerTarget"`          // ALB requests per target per minute.
	TargetCPUPercent                 float64             `json:"targetCpuPercent"`                 // Target-tracking average CPU, (0, 100].
	InstanceRefreshMinHealthyPercent int                 `json:"instanceRefreshMinHealthyPercent"` // Share of the fleet kept in service while an instance refresh rolls, 0..100.
	ScheduledScaleOuts               []ScheduledScaleOut `json:"scheduledScaleOuts"`               // Capacity raised ahead of known rushes.
	AdmitBatch                       int                 `json:"admitBatch"`                       // Upper bound of the admitter's adaptive batch, 1..10000 (SURGE_ADMIT_BATCH).
	AdmitInterval                    string              `json:"admitInterval"`                    // Idle poll of the admitter, e.g. 50ms (SURGE_ADMIT_INTERVAL).
	AdmitLease                       string              `json:"admitLease"`                       // Admitter leadership lease, at least 500ms and 4x admitInterval (SURGE_ADMIT_LEASE).
	DrainTimeoutSeconds              int                 `json:"drainTimeoutSeconds"`              // Seconds the app finishes in-flight requests on shutdown, 1..300 (SURGE_DRAIN_TIMEOUT).
	MaxInflight                      int                 `json:"maxInflight"`                      // Requests served at once per instance before shedding with 503 (SURGE_MAX_INFLIGHT).
	// Release pins the fleet to an already-uploaded release instead of
	// building this checkout: rolling back is one config value.
	Release string `json:"release"` // SHA-256 (artifactSha256 output of an earlier up) of a release in the artifacts bucket to run instead of building; "" = build and upload this checkout.
}

// EdgeConfig is `surge:edge`.
type EdgeConfig struct {
	Domain          string `json:"domain"`          // Site name, e.g. register.example.edu; "" = CloudFront's default domain.
	HostedZoneID    string `json:"hostedZoneId"`    // Existing zone by ID,
	HostedZoneName  string `json:"hostedZoneName"`  // or by name,
	CreateZone      bool   `json:"createZone"`      // or create one (two phases: the first up creates only the zone).
	ZoneDelegated   bool   `json:"zoneDelegated"`   // With createZone: set true once the registrar delegates to the nameServers output; the next up adds certificates, the site and its aliases.
	PriceClass      string `json:"priceClass"`      // PriceClass_100, _200 or _All.
	WAFMode         string `json:"wafMode"`         // block or count.
	RateLimit       int    `json:"rateLimit"`       // Requests per IP per 5 minutes, all paths (list campus NATs in trustedCidrs).
	EnrollRateLimit int    `json:"enrollRateLimit"` // POST /api/login per IP and POST .../queue per session, per 5 minutes.
	// TrustedCIDRs are public IPv4 egress ranges of campus NATs, exempt from
	// the per-IP rate limits (never from the managed rules).
	TrustedCIDRs []string `json:"trustedCidrs"` // Campus NAT egress ranges exempt from per-IP rate limits (thousands of students share one IP).
	// AdminCIDRs may reach /api/admin/* through CloudFront; everyone else
	// gets 403 at the edge. Operators normally use SSM port forwarding.
	AdminCIDRs []string `json:"adminCidrs"` // Public IPv4 ranges allowed to reach /api/admin/* through CloudFront (403 for everyone else, IPv6 viewers included).
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
	c.Network = network.Defaults(env)
	c.LoadBalancer = loadbalancer.Defaults(env)
	c.App = AppConfig{
		InstanceTypes: []string{"t4g.small"}, MinSize: 1, MaxSize: 3, DesiredCapacity: 1,
		RootVolumeGiB: 20, Port: 8080, HealthCheckGraceSeconds: 120,
		TargetRequestsPerTarget: 1000, TargetCPUPercent: 60, InstanceRefreshMinHealthyPercent: 50,
		AdmitBatch: 500, AdmitInterval: "50ms", AdmitLease: "5s", DrainTimeoutSeconds: 20, MaxInflight: 1000,
	}
	c.Database = database.Defaults(env)
	c.Cache = cache.Defaults(env)
	c.Edge = EdgeConfig{PriceClass: "PriceClass_100", WAFMode: "count", RateLimit: 2000, EnrollRateLimit: 300}
	c.Monitoring = monitoring.Defaults(env)
	if env == Prod {
		c.App.InstanceTypes = []string{"m7g.large"}
		c.App.MinSize, c.App.MaxSize, c.App.DesiredCapacity = 3, 30, 3
		c.App.WarmPool = &WarmPoolConfig{MinSize: 2, MaxGroupPreparedCapacity: 5, State: "Stopped"}
		c.App.DetailedMonitoring = true
		c.App.InstanceRefreshMinHealthyPercent = 90
		c.Edge.PriceClass, c.Edge.WAFMode = "PriceClass_All", "block"
	}
	return c
}
