package localenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RedisOptions configures StartRedis. The zero value is a temp-dir server on
// a free port.
type RedisOptions struct {
	// Dir is the server's working directory; "" = a new temp dir removed by
	// Close. A Dir given by the caller is never removed.
	Dir string
	// Port on 127.0.0.1; 0 = a free port chosen at start.
	Port int
	// Log receives the server's output; nil = discarded (tail kept).
	Log io.Writer
	// Args are extra redis-server config directives ("maxmemory", "64mb"...),
	// as flag/value pairs appended to the command line.
	Args []string
}

// Redis is a running (or stopped) throwaway redis-server without persistence
// (save "", appendonly no): a restart loses every key, like an ElastiCache
// node replacement, which the app's tests rely on.
type Redis struct {
	bin      string
	dir      string
	ownedDir bool
	port     int
	args     []string
	log      io.Writer
	tail     *tailBuffer

	mu   sync.Mutex
	proc *process
}

// StartRedis starts redis-server and returns once it answers PING.
func StartRedis(ctx context.Context, o RedisOptions) (*Redis, error) {
	bin, err := redisServerPath(exec.LookPath)
	if err != nil {
		return nil, err
	}
	if len(o.Args)%2 != 0 {
		return nil, fmt.Errorf("redis Args must be name/value pairs, got %d items", len(o.Args))
	}
	dir, owned, err := makeDir(o.Dir, "surge-redis-*")
	if err != nil {
		return nil, err
	}
	r := &Redis{bin: bin, dir: dir, ownedDir: owned, port: o.Port, args: o.Args, tail: newTail(32 << 10)}
	r.log = r.tail
	if o.Log != nil {
		r.log = io.MultiWriter(o.Log, r.tail)
	}
	autoPort := o.Port == 0
	for attempt := 0; ; attempt++ {
		if autoPort {
			if r.port, err = freePort(); err != nil {
				break
			}
		}
		err = r.Start(ctx)
		if err == nil {
			return r, nil
		}
		if !autoPort || attempt >= 4 || !r.tail.Contains("Address already in use") {
			break
		}
	}
	if owned {
		os.RemoveAll(dir)
	}
	return nil, err
}

func (r *Redis) command() *exec.Cmd {
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(r.port),
		"--dir", r.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--logfile", "",
		"--maxclients", "10000",
	}
	for i := 0; i+1 < len(r.args); i += 2 {
		args = append(args, "--"+strings.TrimPrefix(r.args[i], "--"), r.args[i+1])
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = r.dir
	cmd.Stdout, cmd.Stderr = r.log, r.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Start starts a stopped server on the same port (empty: no persistence) and
// waits for PING; a no-op if it runs.
func (r *Redis) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil && !r.proc.exited() {
		return nil
	}
	proc, err := startProcess(r.command())
	if err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	r.proc = proc
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	for {
		if proc.exited() {
			return fmt.Errorf("redis-server exited during start (%w); %s", proc.err, logTailMsg(r.tail))
		}
		err := ping(ctx, r.Addr())
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			_ = stopProcess(context.Background(), proc, syscall.SIGTERM, syscall.SIGKILL)
			return fmt.Errorf("redis not ready on port %d: %w (last error: %w); %s", r.port, ctx.Err(), err, logTailMsg(r.tail))
		case <-proc.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ping sends one RESP PING and expects +PONG (no client library needed).
func ping(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second)) // a failed deadline shows as a failed ping
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("unexpected PING reply %q", strings.TrimSpace(line))
	}
	return nil
}

// Stop shuts the server down (SIGTERM; no save since persistence is off),
// falling back to SIGKILL when ctx ends.
func (r *Redis) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return stopProcess(ctx, r.proc, syscall.SIGTERM, syscall.SIGKILL)
}

// Close stops the server and removes the directory if StartRedis created it.
func (r *Redis) Close() error {
	err := r.Stop(context.Background())
	if r.ownedDir {
		err = errors.Join(err, os.RemoveAll(r.dir))
	}
	return err
}

// URL is redis://127.0.0.1:PORT/0 (no password: loopback only).
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Addr is 127.0.0.1:PORT.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Port is the TCP port on 127.0.0.1.
func (r *Redis) Port() int { return r.port }

// Pid is the server's process id, 0 when stopped.
func (r *Redis) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil || r.proc.exited() {
		return 0
	}
	return r.proc.cmd.Process.Pid
}

// LogTail returns the last n lines of the server's output.
func (r *Redis) LogTail(n int) string { return r.tail.Lines(n) }
