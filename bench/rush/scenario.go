// Package rush is the opening-second benchmark: it releases many
// signed-in students at one instant against the app (through HTTP only) and
// against the lock-per-request baseline (bench/baseline), measures latency,
// throughput, database and Redis work, verifies the invariants afterwards and
// writes a Markdown/JSON report with SVG plots.
package rush

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Scenario is the shape of one rush. Every field is bounded by validate so a
// run cannot grow without limit.
type Scenario struct {
	Name string `json:"name"`
	// Students released at the same instant.
	Students int `json:"students"`
	// Capacities has one entry per course.
	Capacities []int `json:"capacities"`
	// JoinsPerStudent is K, the courses each student joins (0 = all).
	JoinsPerStudent int `json:"joinsPerStudent"`
	// CancelFraction of the students cancel one enrollment once final.
	CancelFraction float64 `json:"cancelFraction"`
	// Clients is the client model: "student" (default) gives each student
	// its own HTTP client with one keep-alive connection, as a browser has,
	// and the page's polling (progress counter through a modelled CDN
	// cache, own state only when the turn may have come); "pool" is the
	// former model, kept for continuity: every student shares one pool of
	// Conns connections and polls its own state every PollInterval.
	Clients string `json:"clients"`
	// PollInterval between a queued student's polls in the pool model
	// (±20 % jitter).
	PollInterval time.Duration `json:"pollInterval"`
	// ProgressInterval between a queued student's reads of the progress
	// counter in the student model (±20 % jitter; 0 = the page's 1 s, the
	// counter's max-age).
	ProgressInterval time.Duration `json:"progressInterval"`
	// JoinWait and StatusWait are the bounded waits the student model asks
	// the join and its own status for (0 = the page's: 1 s and 20 s; the
	// app caps them at SURGE_MAX_WAIT).
	JoinWait   time.Duration `json:"joinWait"`
	StatusWait time.Duration `json:"statusWait"`
	// Conns is the generator's concurrency in the pool model: requests in
	// flight at most (the reference wrk figures used 64). The student model
	// uses it for the sign-ins before the rush only.
	Conns int `json:"conns"`
	// Instances of the app (and of the baseline) in local mode.
	Instances int `json:"instances"`
	// RushTimeout bounds the rush: students not final by then count as
	// failures.
	RushTimeout time.Duration `json:"rushTimeout"`
	// Baseline runs the same rush against the lock-per-request design.
	Baseline bool `json:"baseline"`
	// Calibrate measures a bare net/http handler for this long (0 = skip).
	Calibrate time.Duration `json:"calibrate"`
	// BaselinePool is the pgx pool size of each baseline instance: the
	// fastest measured for the scenario's shape (one hot row: 1, since
	// queueing in the pool beats lock waits in PostgreSQL; three rows: 2).
	BaselinePool int `json:"baselinePool"`
}

// Presets are the benchmark's scenarios (docs/BENCHMARKS.md) plus the short one the tests run.
var Presets = map[string]Scenario{
	"short": {Name: "short", Students: 300, Capacities: []int{20, 20}, CancelFraction: 0.05,
		PollInterval: 100 * time.Millisecond, Conns: 32, Instances: 2, RushTimeout: 30 * time.Second,
		Baseline: true, Calibrate: time.Second, BaselinePool: 2},
	"hot": {Name: "hot", Students: 2000, Capacities: []int{100}, CancelFraction: 0.02,
		PollInterval: 250 * time.Millisecond, Conns: 64, Instances: 3, RushTimeout: 60 * time.Second,
		Baseline: true, Calibrate: 3 * time.Second, BaselinePool: 1},
	"three": {Name: "three", Students: 5000, Capacities: []int{100, 100, 100}, CancelFraction: 0.02,
		PollInterval: 250 * time.Millisecond, Conns: 64, Instances: 3, RushTimeout: 90 * time.Second,
		Baseline: true, Calibrate: 3 * time.Second, BaselinePool: 2},
	// twelve is the cluster run's shape: twelve courses, so that their hash
	// tags spread over the shards of a Redis Cluster (-redis-shards 3)
	// against one Redis; surge alone (a cluster has no database 1 for the
	// baseline's sessions).
	"twelve": {Name: "twelve", Students: 6000, Capacities: []int{50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50},
		JoinsPerStudent: 2, CancelFraction: 0.02, PollInterval: 250 * time.Millisecond, Conns: 64, Instances: 3,
		RushTimeout: 90 * time.Second, Calibrate: 3 * time.Second, BaselinePool: 2},
	"big": {Name: "big", Students: 20000, Capacities: []int{500}, CancelFraction: 0.01,
		PollInterval: 500 * time.Millisecond, Conns: 64, Instances: 3, RushTimeout: 120 * time.Second,
		Baseline: true, Calibrate: 3 * time.Second, BaselinePool: 1},
}

// Client models (Scenario.Clients).
const (
	ClientsStudent = "student"
	ClientsPool    = "pool"
)

// The page's waits and progress interval (app/site/static/assets/app.js),
// the student model's defaults.
const (
	pageJoinWait         = time.Second
	pageStatusWait       = 20 * time.Second
	pageProgressInterval = time.Second
)

// withDefaults fills the student model's zero fields with the page's values.
func (s Scenario) withDefaults() Scenario {
	if s.Clients == "" {
		s.Clients = ClientsStudent
	}
	if s.ProgressInterval == 0 {
		s.ProgressInterval = pageProgressInterval
	}
	if s.JoinWait == 0 {
		s.JoinWait = pageJoinWait
	}
	if s.StatusWait == 0 {
		s.StatusWait = pageStatusWait
	}
	return s
}

// PresetNames lists the presets in a stable order.
func PresetNames() []string {
	var n []string
	for k := range Presets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Preset returns a copy of a named preset.
func Preset(name string) (Scenario, error) {
	s, ok := Presets[name]
	if !ok {
		return Scenario{}, fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(PresetNames(), ", "))
	}
	s.Capacities = append([]int(nil), s.Capacities...)
	return s.withDefaults(), nil
}

// Limits keep a run bounded in count and time.
const (
	MaxStudents    = 100000
	MaxCourses     = 20
	MaxConns       = 1024
	MaxInstances   = 8
	MaxRushTimeout = 10 * time.Minute
)

func (s *Scenario) validate() error {
	var errs []error
	if s.Students < 1 || s.Students > MaxStudents {
		errs = append(errs, fmt.Errorf("students must be 1..%d, got %d", MaxStudents, s.Students))
	}
	if len(s.Capacities) < 1 || len(s.Capacities) > MaxCourses {
		errs = append(errs, fmt.Errorf("courses must be 1..%d, got %d", MaxCourses, len(s.Capacities)))
	}
	for i, c := range s.Capacities {
		if c < 1 || c > 100000 {
			errs = append(errs, fmt.Errorf("course %d capacity must be 1..100000, got %d", i+1, c))
		}
	}
	if s.JoinsPerStudent < 0 || s.JoinsPerStudent > len(s.Capacities) {
		errs = append(errs, fmt.Errorf("joins per student must be 0..%d, got %d", len(s.Capacities), s.JoinsPerStudent))
	}
	if s.CancelFraction < 0 || s.CancelFraction > 1 {
		errs = append(errs, fmt.Errorf("cancel fraction must be 0..1, got %v", s.CancelFraction))
	}
	if s.PollInterval < 10*time.Millisecond || s.PollInterval > 10*time.Second {
		errs = append(errs, fmt.Errorf("poll interval must be 10ms..10s, got %v", s.PollInterval))
	}
	if s.Clients != ClientsStudent && s.Clients != ClientsPool {
		errs = append(errs, fmt.Errorf("clients must be %q or %q, got %q", ClientsStudent, ClientsPool, s.Clients))
	}
	if s.ProgressInterval < 10*time.Millisecond || s.ProgressInterval > 10*time.Second {
		errs = append(errs, fmt.Errorf("progress interval must be 10ms..10s, got %v", s.ProgressInterval))
	}
	if s.JoinWait < 0 || s.JoinWait > time.Minute || s.StatusWait < 0 || s.StatusWait > time.Minute {
		errs = append(errs, fmt.Errorf("join and status waits must be 0..1m, got %v and %v", s.JoinWait, s.StatusWait))
	}
	if s.Conns < 1 || s.Conns > MaxConns {
		errs = append(errs, fmt.Errorf("conns must be 1..%d, got %d", MaxConns, s.Conns))
	}
	if s.Instances < 1 || s.Instances > MaxInstances {
		errs = append(errs, fmt.Errorf("instances must be 1..%d, got %d", MaxInstances, s.Instances))
	}
	if s.RushTimeout < time.Second || s.RushTimeout > MaxRushTimeout {
		errs = append(errs, fmt.Errorf("rush timeout must be 1s..%v, got %v", MaxRushTimeout, s.RushTimeout))
	}
	if s.BaselinePool < 0 || s.BaselinePool > 64 {
		errs = append(errs, fmt.Errorf("baseline pool must be 0..64, got %d", s.BaselinePool))
	}
	if s.Calibrate < 0 || s.Calibrate > 30*time.Second {
		errs = append(errs, fmt.Errorf("calibrate must be 0..30s, got %v", s.Calibrate))
	}
	return errors.Join(errs...)
}

// joins returns K.
func (s *Scenario) joins() int {
	if s.JoinsPerStudent == 0 {
		return len(s.Capacities)
	}
	return s.JoinsPerStudent
}

// coursesOf returns the course indexes student i joins, in the order the
// student clicks: K consecutive courses starting at a student-dependent
// offset, so every course gets the same number of students.
func (s *Scenario) coursesOf(i int) []int {
	n, k := len(s.Capacities), s.joins()
	out := make([]int, k)
	for j := range out {
		out[j] = (i + j) % n
	}
	return out
}

// cancels reports whether student i cancels one enrollment once final:
// spread evenly, deterministic so the app and the baseline see the same
// students cancel.
func (s *Scenario) cancels(i int) bool {
	if s.CancelFraction <= 0 {
		return false
	}
	every := int(1/s.CancelFraction + 0.5)
	return every > 0 && i%every == every-1
}

func (s *Scenario) totalSeats() int {
	t := 0
	for _, c := range s.Capacities {
		t += c
	}
	return t
}
