package rush

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/internal/localenv/appproc"
)

// DBStats is what one system cost PostgreSQL during its rush, from
// pg_stat_statements (reset at the release) and pg_stat_database deltas.
type DBStats struct {
	Database        string      `json:"database"`
	Statements      int64       `json:"statements"`         // every statement, nested ones (triggers, functions) included
	TopLevel        int64       `json:"topLevelStatements"` // statements sent by clients
	ExecMs          float64     `json:"execMs"`
	Commits         int64       `json:"commits"`
	Rollbacks       int64       `json:"rollbacks"`
	TupInserted     int64       `json:"tupInserted"`
	TupUpdated      int64       `json:"tupUpdated"`
	TupDeleted      int64       `json:"tupDeleted"`
	PeakConnections int         `json:"peakConnections"`
	Top             []Statement `json:"top"`
}

// Statement is one pg_stat_statements row.
type Statement struct {
	TopLevel bool    `json:"topLevel"`
	Calls    int64   `json:"calls"`
	ExecMs   float64 `json:"execMs"`
	Rows     int64   `json:"rows"`
	Query    string  `json:"query"`
}

type dbCounters struct{ commits, rollbacks, ins, upd, del int64 }

func dbSnapshot(ctx context.Context, mon *pgx.Conn, db string) (dbCounters, error) {
	var c dbCounters
	err := mon.QueryRow(ctx, `SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted
		FROM pg_stat_database WHERE datname = $1`, db).Scan(&c.commits, &c.rollbacks, &c.ins, &c.upd, &c.del)
	return c, err
}

func resetStatements(ctx context.Context, mon *pgx.Conn) error {
	_, err := mon.Exec(ctx, `SELECT pg_stat_statements_reset()`)
	return err
}

// statements reads pg_stat_statements for db (the monitor connection lives in
// another database, so its own queries are not counted).
func statements(ctx context.Context, mon *pgx.Conn, db string) (DBStats, error) {
	s := DBStats{Database: db}
	const where = `FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)`
	err := mon.QueryRow(ctx, `SELECT coalesce(sum(calls),0)::bigint, coalesce(sum(calls) FILTER (WHERE toplevel),0)::bigint,
		coalesce(sum(total_exec_time),0)::float8 `+where, db).Scan(&s.Statements, &s.TopLevel, &s.ExecMs)
	if err != nil {
		return s, fmt.Errorf("reading pg_stat_statements: %w", err)
	}
	rows, err := mon.Query(ctx, `SELECT toplevel, calls, total_exec_time::float8, rows,
		left(regexp_replace(query, '\s+', ' ', 'g'), 160) `+where+` ORDER BY calls DESC LIMIT 12`, db)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var st Statement
		if err := rows.Scan(&st.TopLevel, &st.Calls, &st.ExecMs, &st.Rows, &st.Query); err != nil {
			return s, err
		}
		s.Top = append(s.Top, st)
	}
	return s, rows.Err()
}

// RedisStats is the Redis work during a rush (INFO deltas), summed over
// the primaries; Shards has each primary's share when there are several.
type RedisStats struct {
	Commands int64            `json:"commands"`
	CPUSec   float64          `json:"cpuSeconds"`
	ByCmd    map[string]int64 `json:"byCommand"`
	Shards   []ShardStats     `json:"shards,omitempty"`
}

// ShardStats is one primary of a Redis Cluster during a rush.
type ShardStats struct {
	Commands int64   `json:"commands"`
	CPUSec   float64 `json:"cpuSeconds"`
	// Scripts is the script calls (EVALSHA, EVAL, FCALL): the waiting
	// room's own work, whatever the commands inside them.
	Scripts int64 `json:"scripts"`
}

// MaxShardShare is the largest share of the scripts that one shard ran
// (0 with fewer than two shards).
func (r RedisStats) MaxShardShare() float64 {
	var total, top int64
	for _, s := range r.Shards {
		total += s.Scripts
		top = max(top, s.Scripts)
	}
	if len(r.Shards) < 2 || total == 0 {
		return 0
	}
	return float64(top) / float64(total)
}

// redisSnapshots reads every primary.
func redisSnapshots(ctx context.Context, rcs []*redis.Client) ([]redisSnap, error) {
	out := make([]redisSnap, len(rcs))
	for i, rc := range rcs {
		s, err := redisSnapshot(ctx, rc)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// redisDeltas sums the primaries' deltas and keeps each shard's.
func redisDeltas(a, b []redisSnap) RedisStats {
	out := RedisStats{ByCmd: map[string]int64{}}
	for i := range b {
		d := redisDelta(a[i], b[i])
		out.Commands += d.Commands
		out.CPUSec += d.CPUSec
		for k, v := range d.ByCmd {
			out.ByCmd[k] += v
		}
		if len(b) > 1 {
			out.Shards = append(out.Shards, ShardStats{Commands: d.Commands, CPUSec: d.CPUSec,
				Scripts: d.ByCmd["evalsha"] + d.ByCmd["eval"] + d.ByCmd["fcall"] + d.ByCmd["evalsha_ro"] + d.ByCmd["eval_ro"]})
		}
	}
	return out
}

type redisSnap struct {
	calls map[string]int64
	cpu   float64
}

func redisSnapshot(ctx context.Context, rc *redis.Client) (redisSnap, error) {
	s := redisSnap{calls: map[string]int64{}}
	info, err := rc.Info(ctx, "commandstats", "cpu").Result()
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if name, rest, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(name, "cmdstat_") {
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "calls="); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					s.calls[strings.TrimPrefix(name, "cmdstat_")] = n
				}
			}
		}
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				s.cpu += f
			}
		}
	}
	return s, nil
}

func redisDelta(a, b redisSnap) RedisStats {
	out := RedisStats{ByCmd: map[string]int64{}, CPUSec: b.cpu - a.cpu}
	for k, v := range b.calls {
		// INFO itself is our own; leave it out.
		if d := v - a.calls[k]; d > 0 && k != "info" {
			out.ByCmd[k] = d
			out.Commands += d
		}
	}
	return out
}

// ProcStats is one process (or process tree) during a rush.
type ProcStats struct {
	Name    string  `json:"name"`
	CPUSec  float64 `json:"cpuSeconds"`
	CPUPct  float64 `json:"cpuPercentOfOneCore"`
	PeakRSS int64   `json:"peakRssBytes"` // max of VmRSS samples and VmHWM (the process's high-water mark)
}

// procCPU returns a process's CPU time; with tree, plus its reaped children
// (cutime/cstime) and its live children: PostgreSQL's backends.
func procCPU(pid int, tree bool) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f, err := statFields(string(b))
	if err != nil {
		return 0, err
	}
	ticks := f[11] + f[12]
	if tree {
		ticks += f[13] + f[14]
		ents, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, e := range ents {
			cb, err := os.ReadFile(e)
			if err != nil {
				continue
			}
			cf, err := statFields(string(cb))
			if err == nil && cf[1] == int64(pid) {
				ticks += cf[11] + cf[12]
			}
		}
	}
	return time.Duration(ticks) * time.Second / 100, nil
}

// statFields parses /proc/PID/stat after the command name: index 0 is the
// state field (field 3), 1 = ppid, 11/12 = utime/stime, 13/14 = cutime/cstime.
func statFields(s string) ([]int64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed stat")
	}
	parts := strings.Fields(s[i+1:])
	if len(parts) < 15 {
		return nil, fmt.Errorf("short stat")
	}
	out := make([]int64, 15)
	for k := 1; k < 15; k++ {
		out[k], _ = strconv.ParseInt(parts[k], 10, 64)
	}
	return out, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU returns busy and total jiffies from /proc/stat.
func machineCPU() (busy, total int64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text())
	for i, v := range fields[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// watchedProc is a process whose CPU and memory are measured around a rush.
type watchedProc struct {
	name string
	pid  int
	tree bool
	self bool
}

// sampler measures processes and PostgreSQL connections during a rush.
type sampler struct {
	procs []watchedProc
	mon   *pgx.Conn
	db    string

	mu       sync.Mutex
	peakRSS  map[int]int64
	peakConn int
	startCPU map[int]time.Duration
	selfCPU0 time.Duration
	busy0    int64
	total0   int64
	t0       time.Time
	stop     chan struct{}
	done     chan struct{}
}

// startSampler takes its CPU baselines at from (the release, so the idle lead
// is not averaged in), then samples every 100 ms until finish; monURL (may be
// "") is a database the sampler connects to on its own connection.
func startSampler(ctx context.Context, procs []watchedProc, monURL, db string, from time.Time) *sampler {
	var mon *pgx.Conn
	if monURL != "" {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		mon, _ = pgx.Connect(cctx, monURL)
		cancel()
	}
	s := &sampler{procs: procs, mon: mon, db: db, peakRSS: map[int]int64{}, startCPU: map[int]time.Duration{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop(ctx, from)
	return s
}

func (s *sampler) baselines() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t0 = time.Now()
	for _, p := range s.procs {
		if p.self {
			continue
		}
		if c, err := procCPU(p.pid, p.tree); err == nil {
			s.startCPU[p.pid] = c
		}
	}
	s.selfCPU0 = selfCPU()
	s.busy0, s.total0 = machineCPU()
}

func (s *sampler) loop(ctx context.Context, from time.Time) {
	defer close(s.done)
	select {
	case <-time.After(time.Until(from)):
	case <-s.stop:
	case <-ctx.Done():
	}
	s.baselines()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		s.sample(ctx)
		select {
		case <-s.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *sampler) sample(ctx context.Context) {
	for _, p := range s.procs {
		if p.self || p.tree {
			continue
		}
		if rss, _, err := appproc.Memory(p.pid); err == nil {
			s.mu.Lock()
			s.peakRSS[p.pid] = max(s.peakRSS[p.pid], rss)
			s.mu.Unlock()
		}
	}
	if s.mon != nil {
		var n int
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.mon.QueryRow(qctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, s.db).Scan(&n)
		cancel()
		if err == nil {
			s.mu.Lock()
			s.peakConn = max(s.peakConn, n)
			s.mu.Unlock()
		}
	}
}

// finish stops sampling and returns per-process stats, the peak number of
// connections to the database and the machine's CPU utilisation (0..1).
func (s *sampler) finish() ([]ProcStats, int, float64) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	wall := time.Since(s.t0).Seconds()
	s.mu.Unlock()
	var out []ProcStats
	for _, p := range s.procs {
		ps := ProcStats{Name: p.name}
		if p.self {
			ps.CPUSec = (selfCPU() - s.selfCPU0).Seconds()
		} else if c, err := procCPU(p.pid, p.tree); err == nil {
			ps.CPUSec = (c - s.startCPU[p.pid]).Seconds()
		}
		if wall > 0 {
			ps.CPUPct = 100 * ps.CPUSec / wall
		}
		s.mu.Lock()
		ps.PeakRSS = s.peakRSS[p.pid]
		s.mu.Unlock()
		if !p.self && !p.tree {
			// VmHWM is the kernel's own high-water mark: no peak between
			// two samples is missed.
			if _, hwm, err := appproc.Memory(p.pid); err == nil {
				ps.PeakRSS = max(ps.PeakRSS, hwm)
			}
		}
		out = append(out, ps)
	}
	busy, total := machineCPU()
	util := 0.0
	if total > s.total0 {
		util = float64(busy-s.busy0) / float64(total-s.total0)
	}
	if s.mon != nil {
		s.mon.Close(context.Background())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return out, s.peakConn, util
}
