// Package appproc builds and runs the surge binary (app/cmd/surge) as a child
// process, talking to it only through its environment-variable and HTTP
// contract. Used by the one-command local run and the rush benchmark.
package appproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Module is the Go module path of the project.
const Module = "github.com/surge-dev/surge"

// MainPackage is the app's main package, relative to the module root.
const MainPackage = "./app/cmd/surge"

// ModuleRoot walks up from the working directory to the go.mod of Module.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module "+Module+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory: run from the repository", Module)
		}
		dir = parent
	}
}

// ProfiledPackage is the app plus a loopback net/http/pprof listener
// (SURGE_PPROF_ADDR), for benchmark profiles.
const ProfiledPackage = "./app/cmd/surge-local/profiled"

// Build compiles the app (MainPackage) into out with the go tool on PATH.
func Build(ctx context.Context, root, out string, log io.Writer) error {
	return BuildPackage(ctx, root, MainPackage, out, log)
}

// BuildPackage compiles the main package pkg (relative to root) into out.
func BuildPackage(ctx context.Context, root, pkg, out string, log io.Writer) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stdout = log
	cmd.Stderr = &stderr
	if log != nil {
		cmd.Stderr = io.MultiWriter(log, &stderr)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// childEnv is the parent's environment without any SURGE_* variable (a stray
// one in the shell must not change the run), plus env.
func childEnv(env []string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SURGE_") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// Options describe one app process.
type Options struct {
	// Bin is the surge binary.
	Bin string
	// Args are the subcommand and its arguments ("serve", "migrate").
	Args []string
	// Env are KEY=VALUE pairs (SURGE_*); the parent's SURGE_* are dropped.
	Env []string
	// Output receives stdout and stderr (JSON logs); nil = discarded.
	Output io.Writer
}

// Process is a running app child.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts the process in its own process group, so a terminal Ctrl-C
// reaches only the parent, which decides the shutdown order; a parent death
// still terminates it.
func Start(o Options) (*Process, error) {
	cmd := exec.Command(o.Bin, o.Args...)
	cmd.Env = childEnv(o.Env)
	cmd.Stdout, cmd.Stderr = o.Output, o.Output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s %s: %w", o.Bin, strings.Join(o.Args, " "), err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Run runs a short-lived subcommand (e.g. migrate) to completion.
func Run(ctx context.Context, o Options) error {
	var buf bytes.Buffer
	out := io.Writer(&buf)
	if o.Output != nil {
		out = io.MultiWriter(o.Output, &buf)
	}
	o.Output = out
	p, err := Start(o)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.Kill()
		return fmt.Errorf("surge %s: %w", strings.Join(o.Args, " "), ctx.Err())
	}
	if p.err != nil {
		return fmt.Errorf("surge %s: %w\n%s", strings.Join(o.Args, " "), p.err, tail(buf.String(), 20))
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit error, valid once Done is closed.
func (p *Process) Err() error { return p.err }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// WaitReady polls baseURL+path until it answers 200; it fails early if the
// process exits.
func (p *Process) WaitReady(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("app exited before %s answered 200: %w", url, p.err)
		case <-ctx.Done():
			return fmt.Errorf("app not ready at %s: %w (last: %v)", url, ctx.Err(), last) //nolint:errorlint // last may still be nil; the context error is wrapped
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Drain sends SIGTERM (the app's graceful drain) and waits for the exit; when
// ctx ends first it kills the process. It returns the exit error (nil for a
// clean exit 0).
func (p *Process) Drain(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		p.Kill()
		return fmt.Errorf("app did not drain in time, killed: %w", ctx.Err())
	}
}

// Kill kills the process (SIGKILL) and waits for it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Memory reads the resident set size and its peak (VmRSS, VmHWM) in bytes
// from /proc.
func Memory(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rss = kb * 1024
		case "VmHWM:":
			peak = kb * 1024
		}
	}
	if rss == 0 && peak == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return rss, peak, sc.Err()
}

// CPUTime returns the process's user+system CPU time from /proc/PID/stat.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the ")" that closes the command name; utime and stime
	// are fields 14 and 15 (1-based) of the whole line.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// FreeAddr returns a free 127.0.0.1:PORT.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
