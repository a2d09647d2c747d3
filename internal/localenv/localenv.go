// Package localenv starts throwaway PostgreSQL and Redis servers from the
// machine's own binaries (Debian's postgresql and redis-server packages), on
// 127.0.0.1, on free ports, in temporary directories. It backs the app's
// integration tests, the one-command local run (app/cmd/surge-local) and the
// rush benchmark (bench/).
//
// Servers run as direct child processes (not daemonized), so their output can
// be captured and their lifetime is tied to the caller: each child gets a
// parent-death signal, and Close stops it and removes its directory.
package localenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// installHint is appended to every "binary not found" error.
const installHint = "run `make deps` (it does: apt-get install postgresql redis-server)"

// ErrNotInstalled is wrapped by the errors StartPostgres and StartRedis return
// when the server binaries cannot be found, so tests can skip on it.
var ErrNotInstalled = errors.New("server binaries not found")

// RequireDepsEnv names the variable that turns a skip for missing servers
// into a failure (CI sets it, so a green CI run never hides skipped tests).
const RequireDepsEnv = "SURGE_REQUIRE_DEPS"

// PostgresBinEnv names the variable that points at the directory holding
// initdb and postgres when they are neither in Debian's place nor on PATH.
const PostgresBinEnv = "SURGE_POSTGRES_BIN"

// DepsRequired reports whether missing PostgreSQL or Redis must fail tests.
func DepsRequired() bool { return os.Getenv(RequireDepsEnv) == "1" }

// SkipIfNotInstalled skips t when err says the servers are not installed,
// or fails it when DepsRequired. Other errors are left to the caller.
func SkipIfNotInstalled(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrNotInstalled) {
		return
	}
	if DepsRequired() {
		t.Fatalf("%v (%s=1: missing servers fail instead of skipping)", err, RequireDepsEnv)
	}
	t.Skip(err)
}

// postgresBinDir finds the directory holding initdb and postgres: the one
// named by SURGE_POSTGRES_BIN if set, else PostgreSQL 15 (the version RDS runs in the stack), else the newest Debian
// install, else PATH.
func postgresBinDir(root string, lookPath func(string) (string, error)) (string, error) {
	if dir := os.Getenv(PostgresBinEnv); dir != "" {
		if hasPostgresBins(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%w: %s=%s has no initdb and postgres; %s", ErrNotInstalled, PostgresBinEnv, dir, installHint)
	}
	const preferred = 15
	base := filepath.Join(root, "usr", "lib", "postgresql")
	if hasPostgresBins(filepath.Join(base, strconv.Itoa(preferred), "bin")) {
		return filepath.Join(base, strconv.Itoa(preferred), "bin"), nil
	}
	entries, _ := os.ReadDir(base)
	var versions []int
	for _, e := range entries {
		if v, err := strconv.Atoi(e.Name()); err == nil && hasPostgresBins(filepath.Join(base, e.Name(), "bin")) {
			versions = append(versions, v)
		}
	}
	if len(versions) > 0 {
		sort.Ints(versions)
		return filepath.Join(base, strconv.Itoa(versions[len(versions)-1]), "bin"), nil
	}
	if p, err := lookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if hasPostgresBins(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w: PostgreSQL (initdb, postgres) not in %s/*/bin nor on PATH; %s", ErrNotInstalled, base, installHint)
}

func hasPostgresBins(dir string) bool {
	for _, b := range []string{"initdb", "postgres"} {
		st, err := os.Stat(filepath.Join(dir, b))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

func redisServerPath(lookPath func(string) (string, error)) (string, error) {
	p, err := lookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("%w: redis-server not on PATH; %s", ErrNotInstalled, installHint)
	}
	return p, nil
}

// freePort asks the kernel for a free loopback port. Another process may take
// it before the server binds, so starters retry on "address in use".
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// makeDir returns dir, or a new temporary directory when dir is "" (owned
// reports which, so Close only deletes what this package created).
func makeDir(dir, pattern string) (path string, owned bool, err error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", false, err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return "", false, fmt.Errorf("creating %s: %w", abs, err)
		}
		return abs, false, nil
	}
	p, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", false, fmt.Errorf("creating temp dir: %w", err)
	}
	// MkdirTemp makes 0700 dirs; when running as root the postgres user must
	// be able to traverse it to reach its data directory.
	if err := os.Chmod(p, 0o755); err != nil {
		os.RemoveAll(p)
		return "", false, err
	}
	return p, true, nil
}

// dropPrivileges returns the credential to run PostgreSQL with: initdb and
// postgres refuse to run as root, so as root we switch to Debian's postgres
// system user. nil means "run as the current user".
func dropPrivileges() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and PostgreSQL refuses root: no 'postgres' system user to run it as (%w); %s", err, installHint)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("parsing postgres user ids: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// checkTraversable fails early, with a readable message, when an ancestor of
// dir cannot be entered by an unprivileged user (e.g. Dir under /root while
// running as root): otherwise initdb would fail with a confusing error.
func checkTraversable(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys, _ := st.Sys().(*syscall.Stat_t)
		ok := st.Mode().Perm()&0o001 != 0 ||
			(sys != nil && sys.Uid == cred.Uid && st.Mode().Perm()&0o100 != 0) ||
			(sys != nil && sys.Gid == cred.Gid && st.Mode().Perm()&0o010 != 0)
		if !ok {
			return fmt.Errorf("directory %s is not traversable by the postgres user that runs the server (mode %v); choose a Dir under /tmp or chmod o+x it", d, st.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// tailBuffer keeps the last max bytes written to it: the server log tail that
// start errors quote.
type tailBuffer struct {
	mu        sync.Mutex
	buf       []byte
	max       int
	truncated bool
}

func newTail(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.truncated = true
	}
	return len(p), nil
}

// Lines returns the last n complete lines at most.
func (t *tailBuffer) Lines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	buf := t.buf
	if t.truncated {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:] // drop the cut first line
		}
	}
	lines := bytes.Split(bytes.TrimRight(buf, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func (t *tailBuffer) Contains(s string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Contains(t.buf, []byte(s))
}

// process is a started server child and the channel closed when it exits.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid once done is closed
}

func startProcess(cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func logTailMsg(t *tailBuffer) string {
	s := strings.TrimSpace(t.Lines(30))
	if s == "" {
		return "(server log empty)"
	}
	return "server log tail:\n" + s
}
