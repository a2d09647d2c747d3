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
	"github.com/surge-dev/surge/components/cdn"
	"github.com/surge-dev/surge/components/compute"
	"github.com/surge-dev/surge/components/database"
	"github.com/surge-dev/surge/components/dns"
	"github.com/surge-dev/surge/components/loadbalancer"
	"github.com/surge-dev/surge/components/monitoring"
	"github.com/surge-dev/surge/components/network"
	"github.com/surge-dev/surge/components/spec"
	"github.com/surge-dev/surge/components/waf"
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

// AppConfig is `surge:app`: the fleet's Spec, and which release it runs.
type AppConfig struct {
	compute.Spec
	// Release pins the fleet to an already-uploaded release instead of
	// building this checkout: rolling back is one config value. It picks
	// what the stack builds and uploads, so it is the stack's, not the
	// fleet's.
	Release string `json:"release"` // SHA-256 (artifactSha256 output of an earlier up) of a release in the artifacts bucket to run instead of building; "" = build and upload this checkout.
}

// EdgeConfig is `surge:edge`: one object in the stack file holding the
// site's name and zone (dns), the distribution's (cdn) and the web ACL's
// (waf) Specs. encoding/json lifts the embedded Specs' keys into it.
type EdgeConfig struct {
	DNSSpec
	CDNSpec
	WAFSpec
}

// The edge's Specs, named apart so one struct can embed all three.
type (
	DNSSpec = dns.Spec
	CDNSpec = cdn.Spec
	WAFSpec = waf.Spec
)

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
	c.App = AppConfig{Spec: compute.Defaults(env)}
	c.Database = database.Defaults(env)
	c.Cache = cache.Defaults(env)
	c.Edge = EdgeConfig{DNSSpec: dns.Defaults(env), CDNSpec: cdn.Defaults(env), WAFSpec: waf.Defaults(env)}
	c.Monitoring = monitoring.Defaults(env)
	return c
}
