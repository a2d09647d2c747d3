package rush

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/localenv"
	"github.com/surge-dev/surge/internal/localenv/appproc"
)

func TestMain(m *testing.M) {
	MaybeRunRole() // child processes: stub app, baseline, bare handler
	os.Exit(m.Run())
}

func TestScenarioValidate(t *testing.T) {
	for _, name := range PresetNames() {
		sc, err := Preset(name)
		require.NoError(t, err)
		assert.NoError(t, sc.validate(), "preset %s", name)
	}
	_, err := Preset("nope")
	assert.ErrorContains(t, err, "unknown scenario")

	bad := Scenario{Students: 0, Capacities: nil, JoinsPerStudent: -1, CancelFraction: 2, PollInterval: time.Millisecond,
		Conns: 0, Instances: 99, RushTimeout: time.Hour, Calibrate: time.Hour}
	err = bad.validate()
	require.Error(t, err)
	for _, want := range []string{"students", "courses must be", "joins per student", "cancel fraction", "poll interval",
		"clients must be", "progress interval", "conns", "instances", "rush timeout", "calibrate"} {
		assert.Contains(t, err.Error(), want, "every problem reported at once")
	}
}

func TestCoursesOfAndCancels(t *testing.T) {
	sc := Scenario{Students: 9, Capacities: []int{1, 1, 1}, JoinsPerStudent: 2, CancelFraction: 1.0 / 3}
	perCourse := map[int]int{}
	cancels := 0
	for i := 0; i < sc.Students; i++ {
		cs := sc.coursesOf(i)
		require.Len(t, cs, 2)
		assert.NotEqual(t, cs[0], cs[1], "student %d joins distinct courses", i)
		for _, c := range cs {
			perCourse[c]++
		}
		if sc.cancels(i) {
			cancels++
		}
	}
	assert.Equal(t, map[int]int{0: 6, 1: 6, 2: 6}, perCourse, "load spread evenly")
	assert.Equal(t, 3, cancels, "a third cancel")
	sc.JoinsPerStudent = 0
	assert.Len(t, sc.coursesOf(0), 3, "0 = all courses")
	sc.CancelFraction = 0
	assert.False(t, sc.cancels(0))
}

func TestRecorder(t *testing.T) {
	start := time.Now()
	r := NewRecorder(start, 100*time.Millisecond)
	for i := 1; i <= 100; i++ {
		r.Record("join", start.Add(time.Duration(i)*time.Millisecond), time.Duration(i)*time.Millisecond, 202, nil)
	}
	r.Record("join", start, time.Millisecond, 503, errors.New("overloaded"))
	r.Record("poll", start, 2*time.Millisecond, 0, errors.New("refused"))
	r.Final(start.Add(150 * time.Millisecond))
	r.Answer(start.Add(100*time.Millisecond), start.Add(250*time.Millisecond))
	s := r.Summaries()
	require.Len(t, s, 2)
	join := s[0]
	assert.Equal(t, "join", join.Name)
	assert.Equal(t, int64(101), join.Count)
	assert.Equal(t, int64(1), join.Errors, "503 counts as an error")
	assert.Equal(t, map[string]int64{"202": 100, "503": 1}, join.Status)
	assert.InDelta(t, 50, join.P50, 1, "p50 ms")
	assert.InDelta(t, 99, join.P99, 1.5, "p99 ms")
	assert.InDelta(t, 100, join.Max, 0.5)
	assert.NotEmpty(t, join.Timeline)
	assert.Equal(t, map[string]int64{"transport": 1}, s[1].Status)
	f := r.Finals()
	assert.Equal(t, int64(2), f.Count)
	assert.InDelta(t, 250, f.Last, 1)
	assert.Equal(t, []float64{0, 1, 2}, f.Cum)
	assert.Equal(t, int64(1), f.Click.Count, "Answer also records the wait from the click")
	assert.InDelta(t, 150, f.Click.Last, 1, "from the click at 100 ms to the answer at 250 ms")
}

func TestChartSVGIsWellFormed(t *testing.T) {
	for _, logY := range []bool{false, true} {
		c := Chart{Title: "t <&>", XLabel: "x", YLabel: "y", LogY: logY, Series: []Series{
			{Name: "a", Color: "#000", X: []float64{0.25, 0.5, 1}, Y: []float64{1, 10, 1000}},
			{Name: "one point", Color: "#f00", Dashed: true, X: []float64{0.5}, Y: []float64{5}},
			{Name: "empty", Color: "#0f0"},
		}}
		svg := c.SVG()
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, "logY=%v: SVG must be well-formed XML", logY)
		}
		assert.Contains(t, svg, "polyline")
		assert.Contains(t, svg, "t &lt;&amp;&gt;", "title escaped")
	}
}

func checkReport(t *testing.T, rep *Report, out string, wantBaseline bool) {
	t.Helper()
	for _, s := range rep.Systems {
		for _, c := range s.Checks {
			assert.True(t, c.OK, "%s invariant %q: %s", s.System, c.Name, c.Detail)
		}
		assert.Equal(t, s.Students, s.StudentsOK, "%s: every student final", s.System)
		assert.LessOrEqual(t, s.Enrolled, rep.Scenario.totalSeats(), "%s: no overbooking", s.System)
		assert.Greater(t, s.Enrolled, 0, "%s: seats were granted", s.System)
	}
	app := rep.System("surge")
	require.NotNil(t, app)
	assert.Greater(t, app.Endpoint("join").Count, int64(0))
	assert.Equal(t, rep.Scenario.totalSeats(), app.Enrolled, "300 students for 40 seats: every seat taken (cancelled seats re-granted)")
	require.NotNil(t, app.DB, "pg_stat_statements figures: %v", app.Notes)
	assert.Greater(t, app.DB.Statements, int64(0))
	require.NotNil(t, app.Redis)
	require.NotNil(t, rep.Bare)
	assert.Greater(t, rep.Bare.RPS, 0.0)
	if wantBaseline {
		bl := rep.System("baseline")
		require.NotNil(t, bl)
		// A seat freed by a cancellation may or may not be taken by a later
		// click (nobody waits in this design).
		assert.GreaterOrEqual(t, bl.Enrolled, rep.Scenario.totalSeats()-bl.Cancelled, "baseline fills every seat")
	}
	md, err := os.ReadFile(filepath.Join(out, rep.Name()+".md"))
	require.NoError(t, err)
	for _, s := range Sections {
		assert.Contains(t, string(md), s+"\n", "report section %q", s)
	}
	_, err = os.Stat(filepath.Join(out, rep.Name()+".json"))
	assert.NoError(t, err)
	checkHeadline(t, rep, string(md))
	require.Len(t, rep.Plots, 3)
	for _, p := range rep.Plots {
		b, err := os.ReadFile(filepath.Join(out, p))
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(b, []byte("<svg")), p)
	}
	wantTargets := 6
	if wantBaseline {
		wantTargets = 9 // + the three ratios to the baseline
	}
	if app := rep.System("surge"); app != nil && app.Redis != nil && len(app.Redis.Shards) > 1 {
		wantTargets++ // + the busiest shard's share
	}
	assert.Len(t, rep.Targets, wantTargets, "every target reported")
}

// checkHeadline checks the headline figures of every system against the
// run's own records: the clicks, the final answers and the requests.
func checkHeadline(t *testing.T, rep *Report, md string) {
	t.Helper()
	joins := int64(rep.Scenario.Students * rep.Scenario.joins())
	for _, s := range rep.Systems {
		c := s.Finals.Click
		assert.Equal(t, joins, c.Count, "%s: one click-to-final time per student and course", s.System)
		assert.Equal(t, s.Finals.Count, c.Count, s.System)
		assert.Greater(t, c.P50, 0.0, s.System)
		assert.LessOrEqual(t, c.P50, c.P99, s.System)
		assert.LessOrEqual(t, c.P99, c.Last, s.System)
		assert.LessOrEqual(t, c.Last, s.Finals.Last+1, "%s: a click is at or after the opening", s.System)

		var total, edge, cancels int64
		for _, e := range s.Endpoints {
			switch e.Name {
			case "cancel":
				cancels += e.Count
			case edgeEndpoint:
				edge += e.Count
			}
			total += e.Count
		}
		q := s.Requests
		assert.Equal(t, total-cancels, q.Total, "%s: every request of the rush but the cancellations", s.System)
		assert.Equal(t, edge, q.Edge, s.System)
		assert.Equal(t, q.Total-q.Edge, q.Origin, s.System)
		assert.GreaterOrEqual(t, q.Origin, joins, "%s: at least one request per click reached the origin", s.System)
		assert.InDelta(t, float64(q.Origin)/float64(s.Students), q.OriginPerStudent, 1e-9, s.System)
		assert.InDelta(t, float64(q.Total)/float64(s.Students), q.PerStudent, 1e-9, s.System)
		if s.System == "baseline" {
			assert.Zero(t, q.Edge, "the baseline has no progress counter")
			assert.Equal(t, s.Endpoint("enroll").Count, q.Origin, "one enroll per click unless retried")
		}
		row := fmt.Sprintf("| %s | %s | %d/%d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |", s.System, rep.Scenario.Clients, s.StudentsOK, s.Students,
			c.P50/1000, c.P99/1000, c.Last/1000, q.PerStudent, q.OriginPerStudent, q.EdgePerStudent)
		assert.Contains(t, md, row, "the headline row of %s", s.System)
	}
}

func shortOptions(t *testing.T) Options {
	sc, err := Preset("short")
	require.NoError(t, err)
	var log bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(log.String())
		}
	})
	return Options{Scenario: sc, NoDurability: true, OutDir: t.TempDir(), Log: &log}
}

func skipWithoutServers(t *testing.T, err error) {
	t.Helper()
	localenv.SkipIfNotInstalled(t, err)
}

// TestShortRushStub runs the whole tool (servers, calibration, rush,
// baseline, verification, report) against a stub implementation of the
// app's contract, so the tool is tested whatever the app's state: in the
// student model with the baseline, in the pool model, and with the
// PostgreSQL latency proxy.
func TestShortRushStub(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		clients  string
		latency  time.Duration
		baseline bool
	}{
		{name: "student", clients: ClientsStudent, baseline: true},
		{name: "pool", clients: ClientsPool},
		{name: "db_latency", clients: ClientsStudent, latency: time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := shortOptions(t)
			o.SurgeBin = self
			o.AppEnv = []string{envRole + "=stub-app"}
			o.Scenario.Clients, o.Scenario.Baseline, o.DBLatency = tc.clients, tc.baseline, tc.latency
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := Run(ctx, o)
			skipWithoutServers(t, err)
			require.NoError(t, err)
			checkReport(t, rep, o.OutDir, tc.baseline)
			app := rep.System("surge")
			switch tc.clients {
			case ClientsStudent:
				// The stub queues every join: each student then reads the
				// progress counter, mostly from the edge.
				assert.Greater(t, app.Requests.Edge, int64(0), "progress reads answered by the edge")
				assert.Greater(t, app.Endpoint("progress").Count, int64(0), "edge misses reached the origin")
				assert.Less(t, app.Endpoint("progress").Count, app.Requests.Edge, "most progress reads never reach the origin")
				assert.Zero(t, app.Endpoint("poll").Count, "no fixed-interval polling")
			case ClientsPool:
				assert.Zero(t, app.Requests.Edge, "the pool model polls its own state")
				assert.Greater(t, app.Endpoint("poll").Count, int64(0))
			}
			assert.Equal(t, tc.latency, rep.DBLatency)
			if tc.latency > 0 {
				assert.Equal(t, "short-db1ms", rep.Name())
				assert.Contains(t, Markdown(rep), "+1ms each way")
				// The proxy is a process of its own, not goroutines queued
				// behind the students' in the generator, and its CPU is counted.
				var names []string
				for _, p := range app.Procs {
					names = append(names, p.Name)
				}
				assert.Contains(t, names, "DB latency proxy")
			}
			if dir := os.Getenv("RUSH_TEST_KEEP"); dir != "" {
				require.NoError(t, os.CopyFS(filepath.Join(dir, tc.name), os.DirFS(o.OutDir)))
			}
		})
	}
}

// TestShortRushApp is the short run against the real app (built from
// ./app/cmd/surge): the benchmark cannot rot unnoticed.
func TestShortRushApp(t *testing.T) {
	root, err := appproc.ModuleRoot()
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(root, "app", "cmd", "surge", "main.go")); err != nil {
		t.Skip("app/cmd/surge not present")
	}
	// The same short rush on one Redis and on a three-primary Redis Cluster
	// (SURGE_REDIS_MODE=cluster): every invariant in both.
	for _, tt := range []struct {
		name   string
		shards int
	}{
		{"standalone", 0},
		{"cluster", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := shortOptions(t)
			o.Scenario.Baseline = false // covered by the stub run; keeps this under a minute
			o.RedisShards = tt.shards
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			rep, err := Run(ctx, o)
			skipWithoutServers(t, err)
			require.NoError(t, err)
			checkReport(t, rep, o.OutDir, false)
			app := rep.System("surge")
			require.NotNil(t, app.Redis, "Redis figures")
			if tt.shards == 0 {
				assert.Empty(t, app.Redis.Shards, "one Redis: no per-shard figures")
			} else {
				require.Len(t, app.Redis.Shards, tt.shards, "one row per primary")
				var scripts, cmds int64
				for _, sh := range app.Redis.Shards {
					scripts += sh.Scripts
					cmds += sh.Commands
				}
				assert.Equal(t, app.Redis.Commands, cmds, "shards add up to the total")
				assert.Equal(t, app.Redis.ByCmd["evalsha"]+app.Redis.ByCmd["eval"]+app.Redis.ByCmd["evalsha_ro"]+app.Redis.ByCmd["eval_ro"], scripts)
				assert.Positive(t, scripts)
				assert.Contains(t, rep.Machine.Redis, "Redis Cluster of 3 primaries")
			}
			if dir := os.Getenv("RUSH_TEST_KEEP"); dir != "" {
				require.NoError(t, os.CopyFS(filepath.Join(dir, tt.name), os.DirFS(o.OutDir)))
			}
		})
	}
}
