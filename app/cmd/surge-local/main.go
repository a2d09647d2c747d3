// Command surge-local runs the app locally in one command: it builds
// ./app/cmd/surge, starts a throwaway PostgreSQL and Redis from the machine's
// binaries, runs `surge migrate` and `surge serve` with the SURGE_* contract,
// seeds demo courses and students through the admin HTTP API, prints how to
// try it, and on Ctrl-C (or SIGTERM) drains the app, stops the servers and
// removes the temp dirs.
//
//	go run ./app/cmd/surge-local [-listen 127.0.0.1:8080] [-students 300] [-keep]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/surge-dev/surge/internal/localenv"
	"github.com/surge-dev/surge/internal/localenv/appproc"
	"github.com/surge-dev/surge/internal/localenv/surgeapi"
)

type config struct {
	Listen       string
	Students     int
	Keep         bool
	DataDir      string
	Bin          string
	PasswordHash string
	Password     string
	Verbose      bool
	DrainWait    time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address the app listens on (SURGE_LISTEN_ADDR)")
	flag.IntVar(&c.Students, "students", 300, "number of demo students to import")
	flag.BoolVar(&c.Keep, "keep", false, "keep the data directory (PostgreSQL cluster, logs) at exit")
	flag.StringVar(&c.DataDir, "data", "", "use this directory for data and logs (reused if it exists, kept at exit)")
	flag.StringVar(&c.Bin, "surge", "", "prebuilt surge binary (default: go build ./app/cmd/surge)")
	flag.StringVar(&c.PasswordHash, "password-hash", "fast", "SURGE_PASSWORD_HASH: fast (demo) or default (production cost)")
	flag.StringVar(&c.Password, "demo-password", "surge-demo-pass", "password of every demo student")
	flag.BoolVar(&c.Verbose, "v", false, "also stream the app's JSON logs to stderr")
	flag.DurationVar(&c.DrainWait, "drain-wait", 60*time.Second, "how long to wait for the app to drain at exit before killing it")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills us at once (children follow by parent-death signal)
	}()
	if err := run(ctx, c, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "surge-local:", err)
		os.Exit(1)
	}
}

// clientAddr turns a listen address into one a client can dial (":8080" and
// "0.0.0.0:8080" become 127.0.0.1:8080).
func clientAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("-listen %q: %w", listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// run does the whole local run until ctx ends (a signal) or the app dies.
// ready, if non-nil, is called with the base URL and admin token once the
// demo data is seeded (tests use it).
func run(ctx context.Context, c config, out io.Writer, ready func(base, token string)) (err error) {
	addr, err := clientAddr(c.Listen)
	if err != nil {
		return err
	}
	if c.PasswordHash != "fast" && c.PasswordHash != "default" {
		return fmt.Errorf("-password-hash must be fast or default, got %q", c.PasswordHash)
	}
	plan, err := planSeed(time.Now(), c.Students, c.Password)
	if err != nil {
		return err
	}
	if l, err := net.Listen("tcp", addr); err != nil {
		return fmt.Errorf("cannot listen on %s (in use? pass -listen): %w", addr, err)
	} else {
		l.Close()
	}

	// One base dir holds everything; a caller-given Dir is never removed by
	// localenv, so we decide here whether it goes.
	base, keep := c.DataDir, c.Keep || c.DataDir != ""
	if base == "" {
		if base, err = os.MkdirTemp("", "surge-local-*"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(base, 0o755); err != nil { // postgres user must traverse it when we are root
		return err
	}
	defer func() {
		if keep {
			fmt.Fprintf(out, "data kept in %s\n", base)
			return
		}
		if rerr := os.RemoveAll(base); rerr != nil {
			err = errors.Join(err, rerr)
			return
		}
		fmt.Fprintf(out, "stopped; removed %s\n", base)
	}()

	// Setup gets its own bounded context: a Ctrl-C during setup still
	// cancels it.
	setup, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	bin := c.Bin
	if bin == "" {
		root, err := appproc.ModuleRoot()
		if err != nil {
			return err
		}
		bin = filepath.Join(base, "surge")
		fmt.Fprintf(out, "building %s ...\n", appproc.MainPackage)
		if err := appproc.Build(setup, root, bin, nil); err != nil {
			return err
		}
	}

	logPath := filepath.Join(base, "servers.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	fmt.Fprintln(out, "starting PostgreSQL and Redis ...")
	pg, err := localenv.StartPostgres(setup, localenv.PostgresOptions{Dir: filepath.Join(base, "pg"), Log: logFile})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, pg.Close()) }()
	rd, err := localenv.StartRedis(setup, localenv.RedisOptions{Dir: filepath.Join(base, "redis"), Log: logFile})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rd.Close()) }()
	dbURL, err := pg.CreateDatabase(setup, "surge")
	if err != nil && c.DataDir == "" {
		return err
	} else if err != nil {
		dbURL = pg.URL("surge") // reused cluster: the database already exists
	}

	token, err := newToken()
	if err != nil {
		return err
	}
	metrics, err := appproc.FreeAddr()
	if err != nil {
		return err
	}
	env := []string{
		"SURGE_LISTEN_ADDR=" + c.Listen,
		"SURGE_METRICS_ADDR=" + metrics,
		"SURGE_DATABASE_URL=" + dbURL,
		"SURGE_REDIS_URL=" + rd.URL(),
		"SURGE_ADMIN_TOKEN=" + token,
		"SURGE_COOKIE_SECURE=false",
		"SURGE_PASSWORD_HASH=" + c.PasswordHash,
	}
	appLogPath := filepath.Join(base, "surge.log")
	appLog, err := os.OpenFile(appLogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer appLog.Close()
	appOut := io.Writer(appLog)
	if c.Verbose {
		appOut = io.MultiWriter(appLog, os.Stderr)
	}

	fmt.Fprintln(out, "running surge migrate ...")
	if err := appproc.Run(setup, appproc.Options{Bin: bin, Args: []string{"migrate"}, Env: env, Output: appOut}); err != nil {
		return err
	}
	app, err := appproc.Start(appproc.Options{Bin: bin, Args: []string{"serve"}, Env: env, Output: appOut})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "draining the app ...")
		dctx, cancel := context.WithTimeout(context.Background(), c.DrainWait)
		defer cancel()
		t0 := time.Now()
		if derr := app.Drain(dctx); derr != nil {
			err = errors.Join(err, fmt.Errorf("app exit: %w", derr))
		} else {
			fmt.Fprintf(out, "app drained in %v\n", time.Since(t0).Round(time.Millisecond))
		}
	}()
	baseURL := "http://" + addr
	if err := app.WaitReady(setup, baseURL+"/readyz"); err != nil {
		return fmt.Errorf("%w (app log: %s)", err, appLogPath)
	}

	api := &surgeapi.Client{Base: baseURL, AdminToken: token, HTTP: &http.Client{Timeout: 2 * time.Minute}}
	courses, err := seed(setup, api, plan, out)
	if err != nil {
		return err
	}
	printBanner(out, baseURL, token, plan, courses, c, base, appLogPath)
	if ready != nil {
		ready(baseURL, token)
	}

	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nshutting down ...")
		return nil
	case <-app.Done():
		return fmt.Errorf("surge serve exited unexpectedly (%w); see %s", app.Err(), appLogPath)
	}
}

// seed creates the plan's courses (an existing code is fine: a reused data
// dir), imports the students and returns the courses as the API lists them.
func seed(ctx context.Context, api *surgeapi.Client, plan seedPlan, out io.Writer) ([]surgeapi.Course, error) {
	byCode := map[string]surgeapi.Course{}
	for _, nc := range plan.Courses {
		got, err := api.CreateCourse(ctx, nc)
		switch {
		case err == nil:
			byCode[nc.Code] = got
		case surgeapi.StatusOf(err) != http.StatusConflict:
			return nil, fmt.Errorf("creating course %s: %w", nc.Code, err)
		}
	}
	created, err := api.ImportStudents(ctx, plan.Students)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "seeded %d courses and %d students (%d new)\n", len(plan.Courses), len(plan.Students), created)
	if len(byCode) < len(plan.Courses) { // some existed already: read their ids
		list, err := api.Courses(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range list {
			if _, ok := byCode[c.Code]; !ok {
				byCode[c.Code] = c
			}
		}
	}
	var courses []surgeapi.Course
	for _, nc := range plan.Courses {
		if c, ok := byCode[nc.Code]; ok {
			courses = append(courses, c)
		}
	}
	return courses, nil
}

func printBanner(out io.Writer, baseURL, token string, plan seedPlan, courses []surgeapi.Course, c config, base, appLog string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nsurge is running at %s\n", baseURL)
	fmt.Fprintf(&b, "open %s/ in a browser for the students' page\n\n", baseURL)
	fmt.Fprintf(&b, "admin token (shown once, never logged):\n  export SURGE_ADMIN_TOKEN=%s\n", token)
	fmt.Fprintf(&b, "demo login: studentNo %s .. %s, password %q\n\n", plan.Students[0].StudentNo, plan.Students[len(plan.Students)-1].StudentNo, c.Password)
	b.WriteString("courses:\n")
	firstID := int64(1)
	for i, co := range courses {
		if i == 0 {
			firstID = co.ID
		}
		when := "open now"
		if d := time.Until(co.OpensAt); d > 0 {
			when = "opens at " + co.OpensAt.Local().Format("15:04:05")
		}
		fmt.Fprintf(&b, "  id %-4d %-8s %-30s %3d seats  %s\n", co.ID, co.Code, co.Title, co.Capacity, when)
	}
	fmt.Fprintf(&b, `
try it:
  curl -s %[1]s/api/courses
  curl -s -c /tmp/surge.jar -H 'Content-Type: application/json' \
       -d '{"studentNo":"%[2]s","password":"%[3]s"}' %[1]s/api/login
  curl -s -b /tmp/surge.jar -X POST %[1]s/api/courses/%[8]d/queue
  curl -s -b /tmp/surge.jar %[1]s/api/courses/%[8]d/queue
  curl -s -b /tmp/surge.jar %[1]s/api/enrollments
  curl -s -H "Authorization: Bearer $SURGE_ADMIN_TOKEN" -H 'Content-Type: application/json' \
       -d '{"code":"BIO101","title":"Biology","capacity":10,"opensAt":"%[4]s"}' %[1]s/api/admin/courses

app log: %[5]s   (data dir: %[6]s)
Ctrl-C drains the app, stops PostgreSQL and Redis%[7]s.
`, baseURL, plan.Students[0].StudentNo, c.Password, time.Now().UTC().Add(time.Minute).Format(time.RFC3339), appLog, base, keepNote(c), firstID)
	io.WriteString(out, b.String())
}

func keepNote(c config) string {
	if c.Keep || c.DataDir != "" {
		return " and keeps the data dir (-keep/-data)"
	}
	return " and removes the data dir"
}
