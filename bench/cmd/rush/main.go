// Command rush runs the opening-second benchmark (docs/BENCHMARKS.md) and writes a
// Markdown/JSON report with SVG plots.
//
//	go run ./bench/cmd/rush -scenario hot -out docs/bench
//	go run ./bench/cmd/rush -scenario short -compare-latency   # loopback and +1 ms to PostgreSQL, side by side
//	go run ./bench/cmd/rush -summarize docs/bench -before docs/bench/before  # tables, before/after plots
//	go run ./bench/cmd/rush -scenario big -base-url https://surge.example -admin-token ...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/surge-dev/surge/bench/rush"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	rush.MaybeRunRole() // baseline / bare-handler child processes

	var (
		o        rush.Options
		name     = flag.String("scenario", "hot", "scenario preset: "+strings.Join(rush.PresetNames(), ", "))
		students = flag.Int("students", 0, "override the number of students")
		conns    = flag.Int("conns", 0, "override the generator's concurrency (requests in flight)")
		inst     = flag.Int("instances", 0, "override the number of app (and baseline) instances")
		poll     = flag.Duration("poll", 0, "override the poll interval")
		cancel   = flag.Float64("cancel", -1, "override the fraction of students who cancel")
		noBase   = flag.Bool("no-baseline", false, "skip the lock-per-request baseline")
		blPool   = flag.Int("baseline-pool", 0, "override the pgx pool size per baseline instance (scenario default: the fastest measured)")
		clients  = flag.String("clients", "", "client model: student (each student its own connection, the page's polling; default) or pool (shared connections, polling every -poll)")
		joinWait = flag.Duration("join-wait", 0, "student model: override the join's wait (default the page's 1s)")
		progInt  = flag.Duration("progress-interval", 0, "student model: override the interval between progress reads (default the page's 1s)")
		compare  = flag.Bool("compare-latency", false, "run the scenario twice, on loopback and with -db-latency (default 1ms), and print both side by side")
		timeout  = flag.Duration("timeout", 15*time.Minute, "bound for the whole run")
		appEnv   multi
		summ     = flag.String("summarize", "", "print the comparison table of the JSON reports in this directory and exit")
		before   = flag.String("before", "", "with -summarize: also compare with the reports in this directory (a table, and <scenario>-before-after.svg plots written to the -summarize directory)")
	)
	flag.StringVar(&o.OutDir, "out", "bench-out", "directory for the report, plots and profiles")
	flag.StringVar(&o.BaseURL, "base-url", "", "target a running app instead of starting one (e.g. a deployed stack)")
	flag.StringVar(&o.AdminToken, "admin-token", os.Getenv("SURGE_ADMIN_TOKEN"), "admin token for -base-url (default $SURGE_ADMIN_TOKEN)")
	flag.StringVar(&o.DatabaseURL, "db-url", "", "with -base-url: the app's database, for SQL checks and statement counts")
	flag.StringVar(&o.RedisURL, "redis-url", "", "with -base-url: the app's Redis, for command counts")
	flag.StringVar(&o.SurgeBin, "surge", "", "prebuilt surge binary (default: go build ./app/cmd/surge)")
	flag.BoolVar(&o.NoDurability, "pg-no-durability", false, "local PostgreSQL with fsync/synchronous_commit off (reported)")
	flag.BoolVar(&o.Profile, "pprof", false, "profile app instance 1 during the rush (builds ./app/cmd/surge-local/profiled: the app plus loopback pprof)")
	flag.StringVar(&o.ProfileURL, "pprof-url", "", "pprof base URL of a remote target (.../debug/pprof)")
	flag.BoolVar(&o.BaselineOnly, "baseline-only", false, "run only the lock-per-request baseline (tuning)")
	flag.IntVar(&o.RedisShards, "redis-shards", 0, "run surge on a local Redis Cluster of this many primaries (3..16; 0: one standalone Redis); needs -no-baseline")
	flag.DurationVar(&o.DBLatency, "db-latency", 0, "put a TCP proxy adding this latency each way (e.g. 1ms) between the apps and PostgreSQL")
	flag.BoolVar(&o.KeepWork, "keep", false, "keep the work dir with server logs")
	flag.Var(&appEnv, "app-env", "extra SURGE_*=value for the app instances (repeatable)")
	flag.Parse()

	if *summ != "" {
		reps, err := rush.LoadReports(*summ)
		if err != nil {
			fail(err)
		}
		fmt.Print(rush.Summary(reps))
		if *before != "" {
			old, err := rush.LoadReports(*before)
			if err != nil {
				fail(err)
			}
			plots, err := rush.BeforeAfterPlots(old, reps, *summ)
			if err != nil {
				fail(err)
			}
			fmt.Printf("\n%s\n%s\nPlots: %s\n", rush.BeforeAfterIntro, rush.BeforeAfterTable(old, reps), strings.Join(plots, ", "))
		}
		return
	}
	sc, err := rush.Preset(*name)
	if err != nil {
		fail(err)
	}
	if *students > 0 {
		sc.Students = *students
	}
	if *conns > 0 {
		sc.Conns = *conns
	}
	if *inst > 0 {
		sc.Instances = *inst
	}
	if *poll > 0 {
		sc.PollInterval = *poll
	}
	if *cancel >= 0 {
		sc.CancelFraction = *cancel
	}
	if *blPool > 0 {
		sc.BaselinePool = *blPool
	}
	if *noBase {
		sc.Baseline = false
	}
	if *clients != "" {
		sc.Clients = *clients
	}
	if *joinWait > 0 {
		sc.JoinWait = *joinWait
	}
	if *progInt > 0 {
		sc.ProgressInterval = *progInt
	}
	o.Scenario, o.AppEnv, o.Log = sc, appEnv, os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancelRun := context.WithTimeout(ctx, *timeout)
	defer cancelRun()
	runs := []rush.Options{o}
	if *compare {
		lat := o.DBLatency
		if lat <= 0 {
			lat = time.Millisecond
		}
		runs[0].DBLatency = 0
		runs = append(runs, runs[0])
		runs[1].DBLatency = lat
	}
	var reps []*rush.Report
	failed := false
	for _, ro := range runs {
		rep, err := rush.Run(ctx, ro)
		if err != nil {
			fail(err)
		}
		reps = append(reps, rep)
		if !*compare {
			fmt.Println(rush.Markdown(rep))
		}
		for _, t := range rep.Targets {
			if t.Name == "invariants" && t.OK != nil && !*t.OK {
				failed = true
			}
		}
	}
	if *compare {
		fmt.Printf("# %s: loopback and DB latency side by side\n\n%s\n%s\nFull reports in %s.\n", sc.Name, rush.HeadlineIntro, rush.Summary(reps), o.OutDir)
	}
	if failed {
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rush:", err)
	os.Exit(1)
}
