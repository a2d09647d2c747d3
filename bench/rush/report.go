package rush

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Target is one of the benchmark's goals (docs/BENCHMARKS.md) with the measured figure.
type Target struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	OK       *bool  `json:"ok,omitempty"` // nil: could not be measured in this run
	Scope    string `json:"scope"`        // the scenario the goal is defined for
}

func boolp(b bool) *bool { return &b }

func maxRSS(s *SystemResult) int64 {
	var m int64
	for _, p := range s.Procs {
		if strings.HasPrefix(p.Name, s.System+"-") {
			m = max(m, p.PeakRSS)
		}
	}
	return m
}

func targets(r *Report) []Target {
	app, bl := r.System("surge"), r.System("baseline")
	var ts []Target
	if app == nil {
		return nil
	}
	join := app.Endpoint("join")
	t := Target{Name: "join rate vs bare net/http", Goal: ">= 25 % of the bare handler, same run", Scope: "every scenario"}
	if r.Bare != nil && r.Bare.RPS > 0 {
		ratio := join.RPS / r.Bare.RPS
		t.Measured = fmt.Sprintf("%.0f / %.0f req/s = %.1f %%", join.RPS, r.Bare.RPS, 100*ratio)
		t.OK = boolp(ratio >= 0.25)
	} else {
		t.Measured = "no calibration in this run"
	}
	ts = append(ts, t)
	if bl != nil {
		enr := bl.Endpoint("enroll")
		t := Target{Name: "throughput vs lock-per-request", Goal: ">= 5x the baseline's request throughput", Scope: "hot (2,000 students, one course)"}
		if enr.RPS > 0 {
			ratio := join.RPS / enr.RPS
			t.Measured = fmt.Sprintf("join %.0f req/s vs enroll %.0f req/s = %.1fx", join.RPS, enr.RPS, ratio)
			if app.AllFinalS > 0 && bl.AllFinalS > 0 {
				// Another view: answers per second until the last student knew.
				a, b := float64(app.Finals.Count)/app.AllFinalS, float64(bl.Finals.Count)/bl.AllFinalS
				t.Measured += fmt.Sprintf(" (final answers/s until the last one: %.0f vs %.0f = %.1fx)", a, b, a/b)
			}
			t.OK = boolp(ratio >= 5)
		}
		ts = append(ts, t)
		t = Target{Name: "p99 latency vs lock-per-request", Goal: "join p99 <= 1/10 of the baseline's", Scope: "hot (2,000 students, one course)"}
		if enr.P99 > 0 {
			t.Measured = fmt.Sprintf("join p99 %.2f ms vs enroll p99 %.2f ms = 1/%.1f", join.P99, enr.P99, enr.P99/max(join.P99, 0.001))
			t.OK = boolp(join.P99*10 <= enr.P99)
		}
		ts = append(ts, t)
	}
	if bl != nil {
		// The lock-per-request design holds its row lock across every round
		// trip to the database, so the goal is tighter with latency.
		limit := 0.5
		if r.DBLatency > 0 {
			limit = 0.25
		}
		t := Target{Name: "click to final answer vs lock-per-request", Goal: "p50 and last <= 0.5x the baseline's on loopback, <= 0.25x with 1 ms DB latency",
			Scope: "big and three"}
		a, b := app.Finals.Click, bl.Finals.Click
		if a.Count > 0 && b.Count > 0 && b.P50 > 0 && b.Last > 0 {
			t.Measured = fmt.Sprintf("p50 %.2f s vs %.2f s = %.2fx, last %.2f s vs %.2f s = %.2fx (limit %.2fx, %s)",
				a.P50/1000, b.P50/1000, a.P50/b.P50, a.Last/1000, b.Last/1000, a.Last/b.Last, limit, latencyLabel(r.DBLatency))
			t.OK = boolp(a.P50 <= limit*b.P50 && a.Last <= limit*b.Last)
		} else {
			t.Measured = "no final answers to compare"
		}
		ts = append(ts, t)
	}
	// Per course joined: a student of hot or big joins one; in a scenario
	// where each joins K, a student needs K answers.
	k := float64(max(r.Scenario.joins(), 1))
	ts = append(ts, Target{Name: "requests reaching the origin per student", Goal: "<= 1.3 per course joined", Scope: "hot and big (one course each)",
		Measured: fmt.Sprintf("%.2f per course joined (%d origin requests / %d students / %.0f courses each; per student %.2f in all, %.2f answered by the edge)",
			app.Requests.OriginPerStudent/k, app.Requests.Origin, app.Students, k, app.Requests.PerStudent, app.Requests.EdgePerStudent),
		OK: boolp(app.Requests.OriginPerStudent/k <= 1.3)})
	t = Target{Name: "PostgreSQL statements per seat granted", Goal: "<= 3, whole rush, all statements", Scope: "every scenario"}
	if app.DB != nil && app.SeatsGranted > 0 {
		per := float64(app.DB.Statements) / float64(app.SeatsGranted)
		top := float64(app.DB.TopLevel) / float64(app.SeatsGranted)
		t.Measured = fmt.Sprintf("%d statements (%d top-level) / %d seats = %.2f (top-level %.2f)", app.DB.Statements, app.DB.TopLevel, app.SeatsGranted, per, top)
		t.OK = boolp(per <= 3)
	} else {
		t.Measured = "no pg_stat_statements figures"
	}
	ts = append(ts, t)
	ts = append(ts, Target{Name: "every student final within 10 s of opening", Goal: "<= 10 s", Scope: "big (20,000 students, 500 seats)",
		Measured: fmt.Sprintf("%.2f s (%d/%d students final)", app.AllFinalS, app.StudentsOK, app.Students),
		OK:       boolp(app.AllFinalS <= 10 && app.StudentsOK == app.Students)})
	t = Target{Name: "app RSS per instance", Goal: "<= 200 MB", Scope: "big (20,000 students, 500 seats)"}
	if rss := maxRSS(app); rss > 0 {
		t.Measured = fmt.Sprintf("peak %.1f MB", float64(rss)/(1<<20))
		t.OK = boolp(rss <= 200<<20)
	} else {
		t.Measured = "not measured (remote target)"
	}
	ts = append(ts, t)
	if app.Redis != nil && len(app.Redis.Shards) > 1 {
		var parts []string
		for i, sh := range app.Redis.Shards {
			parts = append(parts, fmt.Sprintf("shard %d: %d", i+1, sh.Scripts))
		}
		share := app.Redis.MaxShardShare()
		ts = append(ts, Target{Name: "busiest shard's share of the waiting room's scripts", Goal: "<= 40 %", Scope: "cluster runs",
			Measured: fmt.Sprintf("%.1f %% (script calls %s)", 100*share, strings.Join(parts, ", ")), OK: boolp(share <= 0.40)})
	}
	t = Target{Name: "invariants", Goal: "all checks pass", Scope: "every scenario", OK: boolp(true)}
	var failed []string
	for _, s := range r.Systems {
		for _, c := range s.Checks {
			if !c.OK {
				failed = append(failed, s.System+": "+c.Name)
			}
		}
	}
	if len(failed) > 0 {
		t.OK, t.Measured = boolp(false), "failed: "+strings.Join(failed, ", ")
	} else {
		t.Measured = "all pass"
	}
	return append(ts, t)
}

func mark(ok *bool) string {
	switch {
	case ok == nil:
		return "n/a"
	case *ok:
		return "met"
	default:
		return "**missed**"
	}
}

// Name is the report's file name stem: the scenario, and the DB latency if
// any (a loopback and a latency run of one scenario share a directory).
func (r *Report) Name() string {
	if r.DBLatency > 0 {
		return r.Scenario.Name + "-db" + r.DBLatency.String()
	}
	return r.Scenario.Name
}

func writeReport(r *Report, dir string) error {
	plots, err := writePlots(r, dir)
	if err != nil {
		return err
	}
	r.Plots = plots
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, r.Name()+".json"), b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, r.Name()+".md"), []byte(Markdown(r)), 0o644)
}

// Sections are the headings every report has (the tests check them).
var Sections = []string{"## Headline", "## Scenario", "## Machine", "## Results", "## Latency", "## Database", "## Redis", "## Resources", "## Invariants", "## Targets", "## Plots"}

// Markdown renders the report.
func Markdown(r *Report) string {
	var b strings.Builder
	sc := r.Scenario
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("# Rush benchmark: %s\n\n", sc.Name)
	w("Run %s, %s mode, %.0f s in total.\n\n", r.Started.Format(time.RFC3339), r.Mode, r.DurationS)

	w("## Headline\n\n%s\n%s\n", HeadlineIntro, Headline([]*Report{r}))

	w("## Scenario\n\n| parameter | value |\n| --- | --- |\n")
	w("| students | %d |\n| courses (seats) | %v |\n| courses joined per student | %d |\n", sc.Students, sc.Capacities, sc.joins())
	w("| cancelling students | %.1f %% (cancel one enrollment once final) |\n", 100*sc.CancelFraction)
	w("| clients | %s |\n| database | %s |\n", clientsLine(sc), latencyLabel(r.DBLatency))
	w("| app instances | %d |\n| rush timeout | %v |\n", sc.Instances, sc.RushTimeout)
	w("| baseline | %v (pgx pool %d per instance) |\n", sc.Baseline, sc.BaselinePool)
	if len(r.AppEnv) > 0 {
		w("| extra app env | `%s` |\n", strings.Join(r.AppEnv, " "))
	}
	if len(r.PGConfig) > 0 {
		keys := []string{"fsync", "synchronous_commit", "full_page_writes", "max_connections", "shared_buffers"}
		var kv []string
		for _, k := range keys {
			if v, ok := r.PGConfig[k]; ok {
				kv = append(kv, k+"="+v)
			}
		}
		if _, ok := r.PGConfig["fsync"]; !ok {
			kv = append(kv, "fsync=on (durable defaults)")
		}
		w("| PostgreSQL settings | %s |\n", strings.Join(kv, ", "))
	}
	w("\nCommand: `%s`\n\n", r.Command)

	m := r.Machine
	w("## Machine\n\n%d CPUs (%s), %s RAM, Linux %s, %s, PostgreSQL %s, Redis %s. ", m.CPUs, m.CPUModel, m.MemTotal, m.Kernel, m.Go, m.Postgres, m.Redis)
	w("The load generator, every app instance, PostgreSQL and Redis share these CPUs.\n\n")

	w("## Results\n\nTimes since the opening instant; a \"final state\" is one student's answer in one course (enrolled or full).\n\n")
	w("Seats held at the end were granted between the two times of the \"granted (DB)\" column (`enrolled_at`): the server's pace, whatever the clients' polling.\n\n")
	w("| system | students final | enrolled | full | cancelled | seats granted | granted (DB) | first final | median final | p99 final | last final |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range r.Systems {
		w("| %s (%d inst.) | %d/%d | %d | %d | %d | %d | %.2f-%.2f s | %.2f s | %.2f s | %.2f s | %.2f s |\n", s.System, s.Instances, s.StudentsOK, s.Students,
			s.Enrolled, s.Full, s.Cancelled, s.SeatsGranted, s.GrantFirstS, s.GrantLastS, s.Finals.First/1000, s.Finals.P50/1000, s.Finals.P99/1000, s.AllFinalS)
	}
	w("\n")

	w("## Latency\n\nPer endpoint, measured at the client from send to last byte (the generator's own slot wait excluded); req/s over the endpoint's active window.\n\n")
	w("| system | endpoint | requests | errors | statuses | req/s | p50 ms | p90 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	if r.Bare != nil {
		e := r.Bare
		w("| bare net/http | GET / | %d | %d | %s | %.0f | %.2f | %.2f | %.2f | %.2f |\n", e.Count, e.Errors, statusLine(e.Status), e.RPS, e.P50, e.P90, e.P99, e.Max)
	}
	for _, s := range r.Systems {
		rows := s.Endpoints
		if s.Login != nil {
			l := *s.Login
			l.Name = "login (before the rush)"
			rows = append([]EndpointSummary{l}, rows...)
		}
		for _, e := range rows {
			w("| %s | %s | %d | %d | %s | %.0f | %.2f | %.2f | %.2f | %.2f |\n", s.System, e.Name, e.Count, e.Errors, statusLine(e.Status), e.RPS, e.P50, e.P90, e.P99, e.Max)
		}
	}
	w("\n")

	w("## Database\n\n")
	for _, s := range r.Systems {
		if s.DB == nil {
			w("%s: no PostgreSQL figures (%s).\n\n", s.System, strings.Join(s.Notes, "; "))
			continue
		}
		d := s.DB
		per := 0.0
		if s.SeatsGranted > 0 {
			per = float64(d.Statements) / float64(s.SeatsGranted)
		}
		w("**%s** (database `%s`): %d statements (%d top-level, the rest nested in functions/triggers), %.2f per seat granted; %d commits, %d rollbacks; %d rows inserted, %d updated, %d deleted; %.0f ms total execution; peak %d connections.\n\n",
			s.System, d.Database, d.Statements, d.TopLevel, per, d.Commits, d.Rollbacks, d.TupInserted, d.TupUpdated, d.TupDeleted, d.ExecMs, d.PeakConnections)
		w("| calls | top-level | exec ms | rows | statement |\n| --- | --- | --- | --- | --- |\n")
		for _, st := range d.Top {
			w("| %d | %v | %.1f | %d | `%s` |\n", st.Calls, st.TopLevel, st.ExecMs, st.Rows, strings.ReplaceAll(st.Query, "|", "\\|"))
		}
		w("\n")
	}

	w("## Redis\n\n")
	for _, s := range r.Systems {
		if s.Redis == nil {
			w("%s: no Redis figures.\n\n", s.System)
			continue
		}
		reqs := int64(0)
		for _, e := range s.Endpoints {
			if e.Name != edgeEndpoint { // answered by the CDN model: never reached the app
				reqs += e.Count
			}
		}
		perReq := 0.0
		if reqs > 0 {
			perReq = float64(s.Redis.Commands) / float64(reqs)
		}
		type kv struct {
			k string
			v int64
		}
		var cmds []kv
		for k, v := range s.Redis.ByCmd {
			cmds = append(cmds, kv{k, v})
		}
		sort.Slice(cmds, func(i, j int) bool { return cmds[i].v > cmds[j].v })
		var parts []string
		for i, c := range cmds {
			if i == 10 {
				break
			}
			parts = append(parts, fmt.Sprintf("%s %d", c.k, c.v))
		}
		scripts := s.Redis.ByCmd["evalsha"] + s.Redis.ByCmd["eval"] + s.Redis.ByCmd["fcall"]
		w("**%s**: %d commands executed (%.2f per HTTP request reaching the app; INFO commandstats also counts the commands run inside the %d Lua script calls), Redis CPU %.2f s. Top: %s.\n\n",
			s.System, s.Redis.Commands, perReq, scripts, s.Redis.CPUSec, strings.Join(parts, ", "))
		if len(s.Redis.Shards) > 1 {
			w("Redis Cluster, per primary (script calls are the waiting room's requests; commands count those run inside them too):\n\n| shard | script calls | share | commands | CPU s |\n| --- | --- | --- | --- | --- |\n")
			var all int64
			for _, sh := range s.Redis.Shards {
				all += sh.Scripts
			}
			for i, sh := range s.Redis.Shards {
				share := 0.0
				if all > 0 {
					share = 100 * float64(sh.Scripts) / float64(all)
				}
				w("| %d | %d | %.1f %% | %d | %.2f |\n", i+1, sh.Scripts, share, sh.Commands, sh.CPUSec)
			}
			w("\n")
		}
	}

	w("## Resources\n\nCPU used during the rush (release to last answer) by each process; 100 %% = one core.\n\n")
	for _, s := range r.Systems {
		if len(s.Procs) == 0 {
			continue
		}
		ours := 0.0
		for _, p := range s.Procs {
			ours += p.CPUPct
		}
		ours /= float64(max(r.Machine.CPUs, 1))
		w("**%s**: the machine was %.0f %% busy; the processes below account for %.0f %% of its %d CPUs, the rest (%.0f %%) is other work on the shared box.\n\n| process | CPU s | %% of one core | peak RSS MB |\n| --- | --- | --- | --- |\n",
			s.System, 100*s.MachineCPU, ours, r.Machine.CPUs, max(100*s.MachineCPU-ours, 0))
		for _, p := range s.Procs {
			rss := "-"
			if p.PeakRSS > 0 {
				rss = fmt.Sprintf("%.1f", float64(p.PeakRSS)/(1<<20))
			}
			w("| %s | %.2f | %.0f | %s |\n", p.Name, p.CPUSec, p.CPUPct, rss)
		}
		w("\n")
	}

	w("## Invariants\n\n| system | check | result | detail |\n| --- | --- | --- | --- |\n")
	for _, s := range r.Systems {
		for _, c := range s.Checks {
			res := "pass"
			if !c.OK {
				res = "**FAIL**"
			}
			w("| %s | %s | %s | %s |\n", s.System, c.Name, res, strings.ReplaceAll(c.Detail, "|", "\\|"))
		}
	}
	w("\n")
	for _, s := range r.Systems {
		if len(s.Anomalies) > 0 || len(s.Notes) > 0 {
			var keys []string
			for k := range s.Anomalies {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s: %d", k, s.Anomalies[k]))
			}
			w("%s notes: %s\n\n", s.System, strings.Join(append(parts, s.Notes...), "; "))
		}
	}

	w("## Targets\n\n| target | goal | defined for | measured | result |\n| --- | --- | --- | --- | --- |\n")
	for _, t := range r.Targets {
		w("| %s | %s | %s | %s | %s |\n", t.Name, t.Goal, t.Scope, t.Measured, mark(t.OK))
	}
	w("\n")

	w("## Plots\n\n")
	for _, p := range r.Plots {
		w("![%s](%s)\n\n", p, p)
	}
	if len(r.Profiles) > 0 {
		w("Profiles: %s\n", strings.Join(r.Profiles, ", "))
	}
	return b.String()
}

func timeline(s *SystemResult, ep string, f func(Point) float64) (xs, ys []float64) {
	for _, p := range s.Endpoint(ep).Timeline {
		if p.RPS == 0 {
			continue
		}
		xs = append(xs, p.T)
		ys = append(ys, f(p))
	}
	return xs, ys
}

func writePlots(r *Report, dir string) ([]string, error) {
	app, bl := r.System("surge"), r.System("baseline")
	if app == nil {
		return nil, nil
	}
	type line struct {
		sys    *SystemResult
		ep     string
		stat   string
		color  string
		dashed bool
	}
	lines := []line{{app, "join", "p50", "#1f77b4", true}, {app, "join", "p99", "#1f77b4", false}, {app, "poll", "p99", "#2ca02c", false}, {app, "status", "p99", "#2ca02c", false}}
	if bl != nil {
		lines = append(lines, line{bl, "enroll", "p50", "#d62728", true}, line{bl, "enroll", "p99", "#d62728", false})
	}
	lat := Chart{Title: fmt.Sprintf("%s: latency over time (per %v bucket)", r.Scenario.Name, bucket), XLabel: "seconds since opening", YLabel: "latency ms (log)", LogY: true}
	for _, l := range lines {
		f := func(p Point) float64 { return p.P99 }
		if l.stat == "p50" {
			f = func(p Point) float64 { return p.P50 }
		}
		xs, ys := timeline(l.sys, l.ep, f)
		if len(xs) == 0 {
			continue // an endpoint of the other client model
		}
		lat.Series = append(lat.Series, Series{Name: fmt.Sprintf("%s %s %s", l.sys.System, l.ep, l.stat), Color: l.color, Dashed: l.dashed, X: xs, Y: ys})
	}
	thr := Chart{Title: fmt.Sprintf("%s: throughput (requests completed per second)", r.Scenario.Name), XLabel: "seconds since opening", YLabel: "requests/s"}
	for _, l := range []line{{app, "join", "", "#1f77b4", false}, {app, "poll", "", "#2ca02c", false}, {app, "status", "", "#2ca02c", false},
		{app, "progress", "", "#ff7f0e", false}, {app, edgeEndpoint, "", "#ff7f0e", true}, {app, "cancel", "", "#9467bd", false}} {
		xs, ys := timeline(l.sys, l.ep, func(p Point) float64 { return p.RPS })
		if len(xs) == 0 {
			continue // an endpoint of the other client model
		}
		thr.Series = append(thr.Series, Series{Name: "surge " + l.ep, Color: l.color, Dashed: l.dashed, X: xs, Y: ys})
	}
	if bl != nil {
		xs, ys := timeline(bl, "enroll", func(p Point) float64 { return p.RPS })
		thr.Series = append(thr.Series, Series{Name: "baseline enroll", Color: "#d62728", X: xs, Y: ys})
	}
	fin := Chart{Title: fmt.Sprintf("%s: students in a final state (%% of joins)", r.Scenario.Name), XLabel: "seconds since opening", YLabel: "% final"}
	for _, s := range r.Systems {
		total := float64(s.Students * r.Scenario.joins())
		var xs, ys []float64
		for i, c := range s.Finals.Cum {
			xs = append(xs, (time.Duration(i+1) * bucket).Seconds())
			ys = append(ys, 100*c/total)
		}
		color := "#1f77b4"
		if s.System == "baseline" {
			color = "#d62728"
		}
		fin.Series = append(fin.Series, Series{Name: s.System, Color: color, X: xs, Y: ys})
	}
	var names []string
	for suffix, c := range map[string]Chart{"latency": lat, "throughput": thr, "finals": fin} {
		name := fmt.Sprintf("%s-%s.svg", r.Name(), suffix)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c.SVG()), 0o644); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// clientsLine describes the client model of a scenario.
func clientsLine(sc Scenario) string {
	if sc.Clients == ClientsPool {
		return fmt.Sprintf("pool: the students share %d keep-alive connections (requests in flight at most); a queued student asks for its state every %v ±20 %%", sc.Conns, sc.PollInterval)
	}
	return fmt.Sprintf("student: each student its own client and keep-alive connection (pinned to one instance); join waits %v, "+
		"then the progress counter every %v ±20 %% through the CDN model (max-age cache, misses collapsed), own status (wait %v) only when the counter reached the ticket or the poll hint is due",
		sc.JoinWait, sc.ProgressInterval, sc.StatusWait)
}

func latencyLabel(d time.Duration) string {
	if d <= 0 {
		return "loopback"
	}
	return "+" + d.String() + " each way"
}

// HeadlineIntro explains the headline table's columns.
const HeadlineIntro = "What students feel: the time from each click (a student's first request for a course) to its final answer " +
	"(enrolled or full), and the requests each student sent to get there (cancellations after it left out): all of them, " +
	"the ones that reached the origin (the app), and the progress reads the CDN model answered from its cache (edge), which never reach it.\n"

// Headline is the table of what students feel, one row per system of each
// report (loopback and DB-latency runs of a scenario side by side).
func Headline(reports []*Report) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("| scenario | database | system | clients | students final | click to final p50 s | p99 s | last s | requests / student | origin / student | edge / student | invariants |\n")
	w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range reports {
		label := fmt.Sprintf("%s: %d students, seats %v", r.Scenario.Name, r.Scenario.Students, r.Scenario.Capacities)
		for _, s := range r.Systems {
			inv := "pass"
			if !allOK(s.Checks) {
				inv = "**FAIL**"
			}
			c := s.Finals.Click
			q := s.Requests
			clients := r.Scenario.Clients
			if clients == "" {
				clients = ClientsPool // reports from before the student model
			}
			w("| %s | %s | %s | %s | %d/%d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n", label, latencyLabel(r.DBLatency), s.System, clients,
				s.StudentsOK, s.Students, c.P50/1000, c.P99/1000, c.Last/1000, q.PerStudent, q.OriginPerStudent, q.EdgePerStudent, inv)
		}
	}
	return b.String()
}

// LoadReports reads every <scenario>.json report in dir.
func LoadReports(dir string) ([]*Report, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*Report
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if r.Scenario.Name != "" && len(r.Systems) > 0 {
			out = append(out, &r)
		}
	}
	sortReports(out)
	return out, nil
}

// sortReports orders reports by size, then the loopback run before the
// latency run of the same scenario.
func sortReports(rs []*Report) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Scenario.Students != b.Scenario.Students {
			return a.Scenario.Students < b.Scenario.Students
		}
		return a.DBLatency < b.DBLatency
	})
}

// Summary renders the headline table over several reports, then their
// throughput and resources.
func Summary(reports []*Report) string {
	reports = append([]*Report(nil), reports...)
	sortReports(reports)
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("%s\n", Headline(reports))
	w("| scenario | system | requests/s (click) | p50 ms | p99 ms | last final s | PG statements / seat (top-level) | peak PG conns | Redis cmds / request | max RSS MB | invariants |\n")
	w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range reports {
		label := fmt.Sprintf("%s: %d students, seats %v, %s", r.Scenario.Name, r.Scenario.Students, r.Scenario.Capacities, latencyLabel(r.DBLatency))
		for _, s := range r.Systems {
			ep := s.Endpoint("join")
			if s.System == "baseline" {
				ep = s.Endpoint("enroll")
			}
			per := "-"
			if s.DB != nil && s.SeatsGranted > 0 {
				per = fmt.Sprintf("%.2f (%.2f)", float64(s.DB.Statements)/float64(s.SeatsGranted), float64(s.DB.TopLevel)/float64(s.SeatsGranted))
			}
			redisPer := "-"
			if s.Redis != nil {
				var reqs int64
				for _, e := range s.Endpoints {
					if e.Name != edgeEndpoint {
						reqs += e.Count
					}
				}
				if reqs > 0 {
					redisPer = fmt.Sprintf("%.1f", float64(s.Redis.Commands)/float64(reqs))
				}
			}
			rss := "-"
			if m := maxRSS(s); m > 0 {
				rss = fmt.Sprintf("%.0f", float64(m)/(1<<20))
			}
			inv := "pass"
			if !allOK(s.Checks) {
				inv = "**FAIL**"
			}
			conns := "-"
			if s.DB != nil {
				conns = fmt.Sprint(s.DB.PeakConnections)
			}
			w("| %s | %s %s | %.0f | %.1f | %.1f | %.2f | %s | %s | %s | %s | %s |\n", label, s.System, ep.Name, ep.RPS, ep.P50, ep.P99, s.AllFinalS, per, conns, redisPer, rss, inv)
			label = ""
		}
		if r.Bare != nil {
			w("| | bare net/http (same run) | %.0f | %.1f | %.1f | | | | | | |\n", r.Bare.RPS, r.Bare.P50, r.Bare.P99)
		}
	}
	return b.String()
}
