package rush

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func synthetic() *Report {
	return &Report{
		Scenario: Scenario{Name: "hot", Students: 2000, Capacities: []int{100}, Clients: ClientsStudent},
		Machine:  Machine{CPUs: 2},
		Bare:     &EndpointSummary{Name: "bare", RPS: 20000, P99: 10},
		Systems: []*SystemResult{
			{System: "surge", Students: 2000, StudentsOK: 2000, SeatsGranted: 100, AllFinalS: 2,
				Finals:    FinalSummary{Count: 2000, Click: Percentiles{Count: 2000, P50: 500, P99: 1500, Last: 2000}},
				Requests:  countRequests([]EndpointSummary{{Name: "join", Count: 2000}, {Name: "status", Count: 100}, {Name: edgeEndpoint, Count: 300}, {Name: "cancel", Count: 40}}, 2000),
				Endpoints: []EndpointSummary{{Name: "join", Count: 2000, RPS: 6000, P99: 20}, {Name: "poll", Count: 2000}},
				DB:        &DBStats{Statements: 250, TopLevel: 120},
				Redis:     &RedisStats{Commands: 8000, ByCmd: map[string]int64{"evalsha": 4000}},
				Procs:     []ProcStats{{Name: "surge-1", PeakRSS: 50 << 20}, {Name: "surge-2", PeakRSS: 210 << 20}},
				Checks:    []Check{{Name: "x", OK: true}}},
			{System: "baseline", Students: 2000, StudentsOK: 2000, SeatsGranted: 100, AllFinalS: 4,
				Finals:    FinalSummary{Count: 2000, Click: Percentiles{Count: 2000, P50: 1500, P99: 3500, Last: 4000}},
				Requests:  countRequests([]EndpointSummary{{Name: "enroll", Count: 2000}}, 2000),
				Endpoints: []EndpointSummary{{Name: "enroll", Count: 2000, RPS: 1000, P99: 300}},
				Checks:    []Check{{Name: "y", OK: false, Detail: "broken"}}},
		},
	}
}

func TestTargets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		latency time.Duration
		click   bool // the click-to-final goal: 0.5x on loopback, 0.25x with latency
	}{
		{name: "loopback", click: true},                 // p50 500/1500, last 2000/4000: both <= 0.5
		{name: "db_latency", latency: time.Millisecond}, // not <= 0.25
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := synthetic()
			r.DBLatency = tc.latency
			ts := targets(r)
			byName := map[string]Target{}
			for _, x := range ts {
				byName[x.Name] = x
			}
			want := map[string]bool{
				"join rate vs bare net/http":                 trueValue, // 6000/20000 = 30 %
				"throughput vs lock-per-request":             trueValue, // 6x
				"p99 latency vs lock-per-request":            trueValue, // 20*10 <= 300
				"click to final answer vs lock-per-request":  tc.click,
				"requests reaching the origin per student":   trueValue, // 2100/2000 = 1.05
				"PostgreSQL statements per seat granted":     trueValue, // 2.5
				"every student final within 10 s of opening": trueValue, // 2 s
				"app RSS per instance":                       false,     // 210 MB
				"invariants":                                 false,     // a baseline check failed
			}
			require.Len(t, ts, len(want))
			for name, ok := range want {
				got, found := byName[name]
				require.True(t, found, name)
				require.NotNil(t, got.OK, name)
				assert.Equal(t, ok, *got.OK, "%s: %s", name, got.Measured)
			}
			assert.Contains(t, byName["invariants"].Measured, "baseline: y")
			assert.Contains(t, byName["throughput vs lock-per-request"].Measured, "final answers/s")
			assert.Contains(t, byName["requests reaching the origin per student"].Measured, "1.05 per course joined (2100 origin requests / 2000 students / 1 courses each; per student 1.20 in all, 0.15 answered by the edge)")
		})
	}
}

const trueValue = true

func TestCountRequests(t *testing.T) {
	c := countRequests([]EndpointSummary{{Name: "join", Count: 10}, {Name: "status", Count: 4}, {Name: "progress", Count: 2},
		{Name: edgeEndpoint, Count: 20}, {Name: "login", Count: 1}, {Name: "cancel", Count: 3}}, 10)
	assert.Equal(t, RequestCounts{Total: 37, Edge: 20, Origin: 17, PerStudent: 3.7, EdgePerStudent: 2, OriginPerStudent: 1.7}, c,
		"cancellations come after the final answer; a re-login counts; edge reads never reach the origin")
	assert.Equal(t, RequestCounts{}, countRequests(nil, 0))
}

func TestMarkdownAndSummary(t *testing.T) {
	r := synthetic()
	r.Targets = targets(r)
	md := Markdown(r)
	for _, s := range Sections {
		assert.Contains(t, md, s+"\n")
	}
	assert.Contains(t, md, "**FAIL**", "a failed check is visible")
	assert.Contains(t, md, "**missed**")
	assert.Contains(t, md, "| surge | student | 2000/2000 | 0.50 | 1.50 | 2.00 | 1.20 | 1.05 | 0.15 | pass |", "headline row")
	assert.Contains(t, md, "| baseline | student | 2000/2000 | 1.50 | 3.50 | 4.00 | 1.00 | 1.00 | 0.00 | **FAIL** |", "headline row")
	lat := synthetic()
	lat.DBLatency = time.Millisecond
	sum := Summary([]*Report{lat, r})
	assert.Equal(t, 2+4+1+2+6, strings.Count(sum, "\n"), "headline (header, rule, four rows), a blank line, then header, rule, two systems and the bare line twice")
	assert.Less(t, strings.Index(sum, "| loopback | surge |"), strings.Index(sum, "| +1ms each way | surge |"), "loopback first, then the latency run")
	assert.Contains(t, sum, "| surge join | 6000 |")
	assert.Contains(t, sum, "2.50 (1.20)", "statements per seat, all and top-level")
}

// TestBeforeAfter: scenarios in both sets are compared (loopback runs
// only), reports from before the request counts get them from their
// endpoints, and each pair gets a plot with both systems before and after.
func TestBeforeAfter(t *testing.T) {
	old := synthetic()
	old.Scenario.Clients = "" // a report from before the student model
	for _, s := range old.Systems {
		s.Requests = RequestCounts{}
		s.Finals.P50, s.Finals.P99, s.Finals.Last = 2000, 5000, 6000
		s.Finals.Cum = []float64{500, 2000}
	}
	old.System("surge").Endpoints = []EndpointSummary{{Name: "join", Count: 2000}, {Name: "poll", Count: 3000}, {Name: "cancel", Count: 40}}
	cur := synthetic()
	for _, s := range cur.Systems {
		s.Finals.P50, s.Finals.P99, s.Finals.Last = 500, 1500, 3000
		s.Finals.Cum = []float64{1000, 1800, 2000}
	}
	lat := synthetic()
	lat.DBLatency = time.Millisecond
	other := synthetic()
	other.Scenario.Name = "three"

	table := BeforeAfterTable([]*Report{old}, []*Report{lat, cur, other})
	assert.Equal(t, 2+2, strings.Count(table, "\n"), "header, rule, then hot's two systems: no latency run, no scenario without a before")
	assert.Contains(t, table, "| hot | surge | 2000, 2000 | pool, student | 2.00 → 0.50 (0.25x) | 5.00 → 1.50 (0.30x) | 6.00 → 3.00 (0.50x) | 2.50 → 1.20 |",
		"requests before counted from the endpoints (join + poll, cancels left out)")
	assert.Contains(t, table, "| hot | baseline |")

	dir := t.TempDir()
	plots, err := BeforeAfterPlots([]*Report{old}, []*Report{cur, other}, dir)
	require.NoError(t, err)
	require.Equal(t, []string{"hot-before-after.svg"}, plots)
	svg, err := os.ReadFile(filepath.Join(dir, plots[0]))
	require.NoError(t, err)
	for _, name := range []string{"surge before (pool)", "surge after (student)", "baseline before (pool)", "baseline after (student)"} {
		assert.Contains(t, string(svg), name)
	}
}
