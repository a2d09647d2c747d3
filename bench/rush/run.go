package rush

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/bench/baseline"
	"github.com/surge-dev/surge/internal/localenv/surgeapi"
)

// bucket is the time-series resolution of the plots.
const bucket = 250 * time.Millisecond

// releaseLead is how far ahead of the opening the courses are created: long
// enough for every student goroutine to be parked at the gate.
const releaseLead = 2 * time.Second

// SystemResult is one system's rush: the app ("surge") or the baseline.
type SystemResult struct {
	System    string            `json:"system"`
	Instances int               `json:"instances"`
	Login     *EndpointSummary  `json:"login,omitempty"`
	Endpoints []EndpointSummary `json:"endpoints"`
	Finals    FinalSummary      `json:"finals"`

	Students     int     `json:"students"`
	StudentsOK   int     `json:"studentsFinal"`
	Enrolled     int     `json:"enrolled"` // at the end, from the database when available
	Full         int     `json:"full"`
	Cancelled    int     `json:"cancelled"`
	SeatsGranted int     `json:"seatsGranted"` // enrollments at the end + cancelled ones
	AllFinalS    float64 `json:"allFinalSeconds"`
	// GrantFirstS and GrantLastS bound when the seats held at the end were
	// granted (enrolled_at in the database), in seconds since the opening.
	GrantFirstS float64 `json:"grantFirstSeconds"`
	GrantLastS  float64 `json:"grantLastSeconds"`

	DB         *DBStats    `json:"db,omitempty"`
	Redis      *RedisStats `json:"redis,omitempty"`
	Procs      []ProcStats `json:"processes,omitempty"`
	MachineCPU float64     `json:"machineCpuUtilisation"`
	PeakConns  int         `json:"peakDbConnections"`

	// Requests the students sent during the rush, per student.
	Requests RequestCounts `json:"requests"`

	Checks    []Check          `json:"checks"`
	Anomalies map[string]int64 `json:"anomalies,omitempty"`
	Notes     []string         `json:"notes,omitempty"`
}

// Endpoint returns a summary by name (zero value if absent).
func (s *SystemResult) Endpoint(name string) EndpointSummary {
	for _, e := range s.Endpoints {
		if e.Name == name {
			return e
		}
	}
	return EndpointSummary{Name: name}
}

// RequestCounts are the requests the students sent during the rush to get
// their final answers (cancellations after them left out), in total and per
// student: all of them, those the CDN model answered (edge), and the rest,
// which reached the origin.
type RequestCounts struct {
	Total            int64   `json:"total"`
	Edge             int64   `json:"edge"`
	Origin           int64   `json:"origin"`
	PerStudent       float64 `json:"perStudent"`
	EdgePerStudent   float64 `json:"edgePerStudent"`
	OriginPerStudent float64 `json:"originPerStudent"`
}

func countRequests(eps []EndpointSummary, students int) RequestCounts {
	var c RequestCounts
	for _, e := range eps {
		switch e.Name {
		case "cancel":
		case edgeEndpoint:
			c.Total += e.Count
			c.Edge += e.Count
		default:
			c.Total += e.Count
			c.Origin += e.Count
		}
	}
	if students > 0 {
		n := float64(students)
		c.PerStudent, c.EdgePerStudent, c.OriginPerStudent = float64(c.Total)/n, float64(c.Edge)/n, float64(c.Origin)/n
	}
	return c
}

// Report is the whole run.
type Report struct {
	Scenario Scenario `json:"scenario"`
	// DBLatency is the delay added each way between the apps and
	// PostgreSQL (0 = loopback).
	DBLatency time.Duration     `json:"dbLatency"`
	Mode      string            `json:"mode"` // local or remote
	Started   time.Time         `json:"started"`
	Machine   Machine           `json:"machine"`
	Bare      *EndpointSummary  `json:"bare,omitempty"`
	Systems   []*SystemResult   `json:"systems"`
	Targets   []Target          `json:"targets"`
	PGConfig  map[string]string `json:"postgresSettings,omitempty"`
	AppEnv    []string          `json:"appEnv,omitempty"`
	Plots     []string          `json:"plots"`
	Profiles  []string          `json:"profiles,omitempty"`
	Command   string            `json:"command"`
	DurationS float64           `json:"durationSeconds"`
}

// System returns the named system's result or nil.
func (r *Report) System(name string) *SystemResult {
	for _, s := range r.Systems {
		if s.System == name {
			return s
		}
	}
	return nil
}

// Machine describes where the run happened.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpuModel"`
	MemTotal string `json:"memTotal"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Postgres string `json:"postgres"`
	Redis    string `json:"redis"`
}

// Run performs the scenario and writes the report into o.OutDir.
func Run(ctx context.Context, o Options) (*Report, error) {
	sc := o.Scenario.withDefaults()
	if err := sc.validate(); err != nil {
		return nil, err
	}
	if o.BaselineOnly && (o.BaseURL != "" || !sc.Baseline) {
		return nil, errors.New("baseline-only needs local mode with the baseline enabled")
	}
	if o.RedisShards != 0 && (o.RedisShards < 3 || o.RedisShards > 16) {
		return nil, fmt.Errorf("-redis-shards %d: a Redis Cluster needs 3..16 primaries here (0: one standalone Redis)", o.RedisShards)
	}
	if o.RedisShards != 0 && (o.BaseURL != "" || sc.Baseline) {
		return nil, errors.New("-redis-shards runs surge alone, locally: add -no-baseline (the baseline keeps its sessions in Redis database 1, which a cluster does not have)")
	}
	if o.BaseURL != "" && o.AdminToken == "" {
		return nil, errors.New("-base-url needs -admin-token")
	}
	if o.OutDir == "" {
		return nil, errors.New("an output directory is required")
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	t0 := time.Now()
	logf := func(f string, a ...any) {
		fmt.Fprintf(log, "[%6.1fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(f, a...))
	}
	rep := &Report{Scenario: sc, DBLatency: o.DBLatency, Mode: "local", Started: t0.UTC(), Machine: machineInfo(), AppEnv: o.AppEnv,
		Command: strings.Join(append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...), " ")}

	if sc.Clients == ClientsStudent {
		// One connection per student: the generator needs a descriptor each,
		// plus a few hundred for the pool, the monitors and the servers'
		// pipes (the servers inherit the limit and hold their share).
		if err := raiseFileLimit(uint64(sc.Students) + 512); err != nil {
			return nil, err
		}
	}
	var e *env
	var err error
	if o.BaseURL != "" {
		rep.Mode = "remote"
		if o.DBLatency > 0 {
			return nil, errors.New("-db-latency needs local mode: the proxy sits in front of the local PostgreSQL")
		}
		e = remoteEnv(o)
		sc.Baseline, sc.Calibrate = false, 0
		rep.Scenario = sc
	} else if e, err = startLocal(ctx, o, logf); err != nil {
		return nil, err
	}
	defer func() {
		if cerr := e.close(context.Background()); cerr != nil {
			logf("shutdown: %v", cerr)
		}
	}()
	rep.PGConfig = e.pgSettings
	rep.Machine.Postgres, rep.Machine.Redis = serverVersions(ctx, e)

	runID := fmt.Sprintf("%x", time.Now().Unix()%0xfffff)
	students := newStudents(sc, "R"+runID+"-")

	if e.bareBase != "" {
		logf("calibrating: bare net/http handler, %d conns, %v", sc.Conns, sc.Calibrate)
		g := newGen(sc, []string{e.bareBase}, "")
		bare, err := g.calibrate(ctx, e.bareBase+"/", sc.Calibrate)
		g.close()
		if err != nil {
			return nil, err
		}
		rep.Bare = &bare
		logf("bare handler: %.0f req/s, p99 %.2f ms", bare.RPS, bare.P99)
	}

	if !o.BaselineOnly {
		app, err := runApp(ctx, o, sc, e, students, runID, logf, rep)
		if err != nil {
			return nil, err
		}
		rep.Systems = append(rep.Systems, app)
	}

	if sc.Baseline {
		// The app instances keep working in the background (admitter ticks,
		// Redis sweeps): stop them so the baseline gets the box to itself.
		for i, p := range e.apps {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := p.Drain(dctx); err != nil {
				logf("app instance %d exit: %v", i+1, err)
			}
			cancel()
		}
		for _, s := range students {
			s.resetObservations()
		}
		bl, err := runBaseline(ctx, sc, e, students, logf)
		if err != nil {
			return nil, err
		}
		rep.Systems = append(rep.Systems, bl)
	}
	rep.Targets = targets(rep)
	rep.DurationS = time.Since(t0).Seconds()
	if err := writeReport(rep, o.OutDir); err != nil {
		return nil, err
	}
	logf("report written to %s", o.OutDir)
	return rep, nil
}

func monitorConn(ctx context.Context, url string) *pgx.Conn {
	if url == "" {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(cctx, url)
	if err != nil {
		return nil
	}
	return c
}

func redisClient(url string) *redis.Client {
	if url == "" {
		return nil
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil
	}
	return redis.NewClient(opt)
}

// measure wraps one rush with the database, Redis and process measurements.
type measure struct {
	mon    *pgx.Conn
	rcs    []*redis.Client // one per primary
	db     string
	db0    dbCounters
	r0     []redisSnap
	samp   *sampler
	notes  []string
	dbOK   bool
	redisO bool
	ended  time.Time
}

func startMeasure(ctx context.Context, e *env, db string, procs []watchedProc, release time.Time) *measure {
	m := &measure{mon: monitorConn(ctx, e.monURL), db: db}
	for _, u := range e.redisNodes {
		if rc := redisClient(u); rc != nil {
			m.rcs = append(m.rcs, rc)
		}
	}
	if m.mon != nil {
		if err := resetStatements(ctx, m.mon); err != nil {
			m.notes = append(m.notes, "pg_stat_statements unavailable: "+err.Error())
		} else if m.db0, err = dbSnapshot(ctx, m.mon, db); err == nil {
			m.dbOK = true
		}
	} else {
		m.notes = append(m.notes, "no database URL: DB figures and SQL checks skipped")
	}
	if len(m.rcs) > 0 {
		var err error
		if m.r0, err = redisSnapshots(ctx, m.rcs); err == nil {
			m.redisO = true
		}
	}
	m.samp = startSampler(ctx, procs, e.monURL, db, release)
	return m
}

// stopFast ends the process and Redis measurements (right after the rush).
func (m *measure) stopFast(ctx context.Context, r *SystemResult) {
	m.ended = time.Now()
	r.Procs, r.PeakConns, r.MachineCPU = m.samp.finish()
	if m.redisO {
		if r1, err := redisSnapshots(ctx, m.rcs); err == nil {
			d := redisDeltas(m.r0, r1)
			r.Redis = &d
		}
	}
}

// stopDB reads the statement counts (after the quiet wait, so promotions
// after cancellations are counted too).
func (m *measure) stopDB(ctx context.Context, r *SystemResult) {
	defer func() {
		if m.mon != nil {
			m.mon.Close(context.Background())
		}
		for _, rc := range m.rcs {
			rc.Close()
		}
	}()
	r.Notes = append(r.Notes, m.notes...)
	if !m.dbOK {
		return
	}
	// Backends flush their statistics at most once a second when idle.
	sleepCtx(ctx, time.Until(m.ended.Add(1500*time.Millisecond)))
	st, err := statements(ctx, m.mon, m.db)
	if err != nil {
		r.Notes = append(r.Notes, err.Error())
		return
	}
	if c, err := dbSnapshot(ctx, m.mon, m.db); err == nil {
		st.Commits, st.Rollbacks = c.commits-m.db0.commits, c.rollbacks-m.db0.rollbacks
		st.TupInserted, st.TupUpdated, st.TupDeleted = c.ins-m.db0.ins, c.upd-m.db0.upd, c.del-m.db0.del
	}
	st.PeakConnections = r.PeakConns
	r.DB = &st
}

func (e *env) procs(system string) []watchedProc {
	var ps []watchedProc
	if !e.local {
		return nil
	}
	pids, name := e.appPids, "surge"
	if system == "baseline" {
		pids, name = e.basePids, "baseline"
	}
	for i, pid := range pids {
		ps = append(ps, watchedProc{name: fmt.Sprintf("%s-%d", name, i+1), pid: pid})
	}
	ps = append(ps,
		watchedProc{name: "postgres (all backends)", pid: e.pgPid, tree: true},
		watchedProc{name: "load generator", self: true})
	if e.proxyPid != 0 {
		ps = append(ps, watchedProc{name: "DB latency proxy", pid: e.proxyPid})
	}
	for i, pid := range e.redisPids {
		name := "redis-server"
		if len(e.redisPids) > 1 {
			name = fmt.Sprintf("redis-server shard %d", i+1)
		}
		ps = append(ps, watchedProc{name: name, pid: pid})
	}
	return ps
}

func runApp(ctx context.Context, o Options, sc Scenario, e *env, students []*student, runID string,
	logf func(string, ...any), rep *Report) (*SystemResult, error) {
	res := &SystemResult{System: "surge", Instances: len(e.appBases), Students: len(students)}
	g := newGen(sc, e.appBases, e.adminToken)
	g.attach(students)
	defer g.close()
	admin := &surgeapi.Client{Base: e.appBases[0], AdminToken: e.adminToken, HTTP: &http.Client{Timeout: 2 * time.Minute}}

	logf("surge: importing %d students", len(students))
	list := make([]surgeapi.Student, len(students))
	for i, s := range students {
		list[i] = surgeapi.Student{StudentNo: s.no, Name: "Rush " + s.no, Password: studentPassword}
	}
	if _, err := admin.ImportStudents(ctx, list); err != nil {
		return nil, err
	}
	setup := NewRecorder(time.Now(), time.Second)
	logf("surge: signing %d students in", len(students))
	if err := g.loginApp(ctx, setup, students); err != nil {
		return nil, err
	}
	if s := setup.Summaries(); len(s) > 0 {
		res.Login = &s[0]
		logf("surge: logins %.0f/s", s[0].RPS)
	}

	opens := time.Now().Add(releaseLead).UTC().Truncate(time.Millisecond)
	courseIDs := make([]int64, len(sc.Capacities))
	for i, c := range sc.Capacities {
		co, err := admin.CreateCourse(ctx, surgeapi.NewCourse{
			Code: fmt.Sprintf("RUSH-%s-%d", runID, i+1), Title: fmt.Sprintf("Rush course %d", i+1), Capacity: c, OpensAt: opens,
		})
		if err != nil {
			return nil, fmt.Errorf("creating course: %w", err)
		}
		courseIDs[i] = co.ID
	}
	release := opens.Add(2 * time.Millisecond)

	m := startMeasure(ctx, e, e.appDB, e.procs("surge"), release)
	var profiles chan []string
	if o.Profile && e.pprof != "" || o.ProfileURL != "" {
		profiles = make(chan []string, 1)
		go func() { profiles <- fetchProfiles(ctx, o, e, sc, release) }()
	}
	rec := NewRecorder(release, bucket)
	logf("surge: releasing %d students at %s (%d courses, %d joins each)", len(students), release.Format("15:04:05.000"), len(courseIDs), sc.joins())
	progress := startProgress(ctx, logf, rec, len(students)*sc.joins())
	g.rushApp(ctx, rec, students, courseIDs, release)
	progress()
	m.stopFast(ctx, res)
	res.Endpoints, res.Finals = rec.Summaries(), rec.Finals()
	res.Requests = countRequests(res.Endpoints, len(students))
	res.AllFinalS = res.Finals.Last / 1000
	logf("surge: rush done, last final state at %.2fs", res.AllFinalS)

	// Quiet moment: promotions after cancellations are asynchronous, so
	// re-read the states until FIFO holds (bounded).
	var checks []Check
	var views []courseView
	for attempt := 1; ; attempt++ {
		states, lost, err := g.sweep(ctx, students, courseIDs)
		if err != nil {
			return nil, err
		}
		checks, views = apiChecks(sc, students, states, lost)
		if allOK(checks) || attempt == 10 {
			if attempt > 1 {
				res.Notes = append(res.Notes, fmt.Sprintf("quiet state reached after %d reads", attempt))
			}
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	m.stopDB(ctx, res)
	if profiles != nil {
		// The text summaries run go tool pprof: after the rush, not inside
		// its measured window.
		rep.Profiles = profileTexts(ctx, <-profiles)
	}

	enrolledAPI, fullAPI := 0, 0
	for _, v := range views {
		enrolledAPI += len(v.enrolled)
		fullAPI += len(v.full)
	}
	res.Enrolled, res.Full = enrolledAPI, fullAPI
	if e.appDBURL != "" {
		sqlc, total, err := sqlChecks(ctx, e.appDBURL, courseIDs, views)
		if err != nil {
			checks = append(checks, Check{Name: "SQL checks", OK: false, Detail: "could not run: " + err.Error()})
		} else {
			checks = append(checks, sqlc...)
			res.Enrolled = total
		}
		if f, l, err := grantWindow(ctx, e.appDBURL, "enrollments", courseIDs, opens); err == nil {
			res.GrantFirstS, res.GrantLastS = f, l
		}
	}
	res.Checks = checks
	for _, s := range students {
		if s.err == "" {
			res.StudentsOK++
		}
		if s.cancelled >= 0 {
			res.Cancelled++
		}
	}
	res.SeatsGranted = res.Enrolled + res.Cancelled
	res.Anomalies = g.anomalies()
	return res, nil
}

func allOK(cs []Check) bool {
	for _, c := range cs {
		if !c.OK {
			return false
		}
	}
	return true
}

// startProgress prints a line per second during a rush; the returned func
// stops it.
func startProgress(ctx context.Context, logf func(string, ...any), rec *Recorder, total int) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				f := rec.Finals()
				var reqs int64
				for _, s := range rec.Summaries() {
					reqs += s.Count
				}
				logf("  %d/%d final, %d requests", f.Count, total, reqs)
			}
		}
	}()
	return func() { close(stop); <-done }
}

func runBaseline(ctx context.Context, sc Scenario, e *env, students []*student, logf func(string, ...any)) (*SystemResult, error) {
	res := &SystemResult{System: "baseline", Instances: len(e.baseBases), Students: len(students)}
	pool, err := pgxpool.New(ctx, e.baseDBURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	specs := make([]baseline.CourseSpec, len(sc.Capacities))
	for i, c := range sc.Capacities {
		specs[i] = baseline.CourseSpec{ID: baselineID(i), Capacity: c}
	}
	nos := make([]string, len(students))
	for i, s := range students {
		nos[i] = s.no
	}
	if err := baseline.Setup(ctx, pool, specs, nos); err != nil {
		return nil, err
	}
	g := newGen(sc, e.baseBases, "")
	g.attach(students)
	defer g.close()
	setup := NewRecorder(time.Now(), time.Second)
	logf("baseline: signing %d students in", len(students))
	if err := g.loginBaseline(ctx, setup, students); err != nil {
		return nil, err
	}
	if s := setup.Summaries(); len(s) > 0 {
		res.Login = &s[0]
	}
	release := time.Now().Add(releaseLead)
	m := startMeasure(ctx, e, "baseline", e.procs("baseline"), release)
	rec := NewRecorder(release, bucket)
	logf("baseline: releasing %d students", len(students))
	progress := startProgress(ctx, logf, rec, len(students)*sc.joins())
	g.rushBaseline(ctx, rec, students, release)
	progress()
	m.stopFast(ctx, res)
	m.stopDB(ctx, res)
	res.Endpoints, res.Finals = rec.Summaries(), rec.Finals()
	res.Requests = countRequests(res.Endpoints, len(students))
	res.AllFinalS = res.Finals.Last / 1000
	logf("baseline: rush done, last answer at %.2fs", res.AllFinalS)

	ids := make([]int64, len(sc.Capacities))
	for i := range ids {
		ids[i] = baselineID(i)
	}
	if f, l, err := grantWindow(ctx, e.baseDBURL, "bl_enrollment", ids, release); err == nil {
		res.GrantFirstS, res.GrantLastS = f, l
	}
	enrolled, problems, err := baseline.Check(ctx, pool)
	if err != nil {
		return nil, err
	}
	var notFinal []string
	clientEnrolled := 0
	for _, s := range students {
		if s.err != "" {
			notFinal = append(notFinal, s.no+": "+s.err)
		} else {
			res.StudentsOK++
		}
		for j, ci := range s.courses {
			if s.state[j].State == "enrolled" && ci != s.cancelled {
				clientEnrolled++
			}
			if s.state[j].State == "full" {
				res.Full++
			}
		}
		if s.cancelled >= 0 {
			res.Cancelled++
		}
	}
	res.Enrolled = enrolled
	res.SeatsGranted = enrolled + res.Cancelled
	mk := func(name string, p []string, ok string) Check {
		c := Check{Name: name, OK: len(p) == 0, Detail: ok}
		if !c.OK {
			c.Detail = strings.Join(first(p, 5), "; ")
		}
		return c
	}
	var agree []string
	if clientEnrolled != enrolled {
		agree = []string{fmt.Sprintf("clients hold %d seats, DB has %d", clientEnrolled, enrolled)}
	}
	res.Checks = []Check{
		mk("every student answered", notFinal, fmt.Sprintf("all %d students got a final answer", len(students))),
		mk("no overbooking, no leaked seats, no double enrollment (DB)", problems, fmt.Sprintf("%d enrollments, counters exact", enrolled)),
		mk("DB agrees with the clients", agree, "same number of seats"),
		{Name: "FIFO", OK: true, Detail: "not applicable: the lock-per-request design has no order (whoever gets the row lock first wins)"},
	}
	res.Anomalies = g.anomalies()
	return res, nil
}

// fetchProfiles takes a CPU profile of app instance 1 over the rush and an
// allocation profile after it.
func fetchProfiles(ctx context.Context, o Options, e *env, sc Scenario, release time.Time) []string {
	base := o.ProfileURL
	if base == "" {
		base = e.pprof
	}
	secs := int(min(sc.RushTimeout, 10*time.Second) / time.Second)
	sleepCtx(ctx, time.Until(release))
	var out []string
	get := func(path, file string) {
		c := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
		resp, err := c.Get(base + path)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", file, err))
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			out = append(out, fmt.Sprintf("%s: HTTP %d from %s", file, resp.StatusCode, base+path))
			return
		}
		dir := filepath.Join(o.OutDir, "profiles")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			out = append(out, err.Error())
			return
		}
		// Named as the report is, so a latency run keeps the loopback run's profiles.
		stem := sc.Name
		if o.DBLatency > 0 {
			stem += "-db" + o.DBLatency.String()
		}
		p := filepath.Join(dir, fmt.Sprintf("%s-%s", stem, file))
		f, err := os.Create(p)
		if err != nil {
			out = append(out, err.Error())
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, resp.Body); err != nil {
			out = append(out, err.Error())
			return
		}
		out = append(out, p)
	}
	get(fmt.Sprintf("/profile?seconds=%d", secs), "cpu.pprof")
	get("/allocs", "allocs.pprof")
	get("/heap", "heap.pprof")
	return out
}

// profileTexts adds a text summary next to each profile, readable in review
// without tools.
func profileTexts(ctx context.Context, out []string) []string {
	for _, p := range append([]string(nil), out...) {
		if !strings.HasSuffix(p, ".pprof") {
			continue
		}
		args := []string{"tool", "pprof", "-top", "-nodecount=30"}
		if strings.HasSuffix(p, "allocs.pprof") {
			args = append(args, "-sample_index=alloc_space")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, p)...)
		if txt, err := cmd.Output(); err == nil {
			t := strings.TrimSuffix(p, ".pprof") + ".txt"
			if os.WriteFile(t, txt, 0o644) == nil {
				out = append(out, t)
			}
		}
	}
	return out
}

func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(b), "\n")
		m.MemTotal = strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:"))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func serverVersions(ctx context.Context, e *env) (pg, rd string) {
	if c := monitorConn(ctx, e.monURL); c != nil {
		_ = c.QueryRow(ctx, "SHOW server_version").Scan(&pg) // best effort: the report says "unknown"
		c.Close(ctx)
	}
	if rc := redisClient(e.redisURL); rc != nil {
		if info, err := rc.Info(ctx, "server").Result(); err == nil {
			for _, l := range strings.Split(info, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
					rd = v
				}
			}
		}
		rc.Close()
	}
	if e.redisMode == "cluster" {
		rd += fmt.Sprintf(" (Redis Cluster of %d primaries)", len(e.redisNodes))
	}
	return pg, rd
}
