package rush

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func synthetic() *Report {
	return &Report{
		Scenario: Scenario{Name: "hot", Students: 2000, Capacities: []int{100}},
		Machine:  Machine{CPUs: 2},
		Bare:     &EndpointSummary{Name: "bare", RPS: 20000, P99: 10},
		Systems: []*SystemResult{
			{System: "surge", Students: 2000, StudentsOK: 2000, SeatsGranted: 100, AllFinalS: 2, Finals: FinalSummary{Count: 2000},
				Endpoints: []EndpointSummary{{Name: "join", Count: 2000, RPS: 6000, P99: 20}, {Name: "poll", Count: 2000}},
				DB:        &DBStats{Statements: 250, TopLevel: 120},
				Redis:     &RedisStats{Commands: 8000, ByCmd: map[string]int64{"evalsha": 4000}},
				Procs:     []ProcStats{{Name: "surge-1", PeakRSS: 50 << 20}, {Name: "surge-2", PeakRSS: 210 << 20}},
				Checks:    []Check{{Name: "x", OK: true}}},
			{System: "baseline", Students: 2000, StudentsOK: 2000, SeatsGranted: 100, AllFinalS: 4, Finals: FinalSummary{Count: 2000},
				Endpoints: []EndpointSummary{{Name: "enroll", Count: 2000, RPS: 1000, P99: 300}},
				Checks:    []Check{{Name: "y", OK: false, Detail: "broken"}}},
		},
	}
}

func TestTargets(t *testing.T) {
	ts := targets(synthetic())
	byName := map[string]Target{}
	for _, x := range ts {
		byName[x.Name] = x
	}
	want := map[string]bool{
		"join rate vs bare net/http":                 true,  // 6000/20000 = 30 %
		"throughput vs lock-per-request":             true,  // 6x
		"p99 latency vs lock-per-request":            true,  // 20*10 <= 300
		"PostgreSQL statements per seat granted":     true,  // 2.5
		"every student final within 10 s of opening": true,  // 2 s
		"app RSS per instance":                       false, // 210 MB
		"invariants":                                 false, // a baseline check failed
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
	sum := Summary([]*Report{r})
	assert.Equal(t, 2+3, strings.Count(sum, "\n"), "header, rule, two systems and the bare line")
	assert.Contains(t, sum, "| surge join | 6000 |")
	assert.Contains(t, sum, "2.50 (1.20)", "statements per seat, all and top-level")
}
