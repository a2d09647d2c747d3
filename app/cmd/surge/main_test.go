package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

func TestRunHelpAndErrors(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"surge", "help"}, func(string) string { return "" }, &out, io.Discard))
	assert.Contains(t, out.String(), "usage: surge", "help prints usage")
	err := run(context.Background(), []string{"surge", "serve"}, func(string) string { return "" }, io.Discard, io.Discard)
	assert.ErrorContains(t, err, "SURGE_DATABASE_URL", "configuration errors are returned (main exits 1)")
}

// TestBinaryExitsZeroOnSIGTERM builds the real binary, runs `surge serve`
// against throwaway servers and sends it SIGTERM: main's signal wiring,
// the drain and exit status 0 at the process level.
func TestBinaryExitsZeroOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "surge")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbURL, err := env.PG.CreateDatabase(ctx, fmt.Sprintf("bin_%d", time.Now().UnixNano()))
	require.NoError(t, err)
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"SURGE_LISTEN_ADDR=127.0.0.1:0", "SURGE_METRICS_ADDR=off",
		"SURGE_DATABASE_URL=" + dbURL, "SURGE_REDIS_URL=" + env.Redis.URL(),
		fmt.Sprintf("SURGE_REDIS_PREFIX=bin%d:", time.Now().UnixNano()),
		"SURGE_ADMIN_TOKEN=" + testenv.AdminToken, "SURGE_PASSWORD_HASH=fast", "SURGE_DRAIN_TIMEOUT=10s",
	}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "http server listening" {
				addr <- m["addr"].(string)
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("server did not start: %s", stderr.String())
	}
	r, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusOK, r.StatusCode, "ready")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	start := time.Now()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		assert.NoError(t, err, "exit status 0 after a clean drain (stderr: %s)", stderr.String())
		assert.Less(t, time.Since(start), 10*time.Second, "within SURGE_DRAIN_TIMEOUT")
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("did not exit after SIGTERM")
	}
	assert.False(t, strings.Contains(stderr.String(), "panic"), "no panic: %s", stderr.String())
}

// TestVersionStampedByLdflags builds the binary as the artifact build does,
// with -ldflags -X setting the source digest, and runs `surge version`; a
// plain build says "dev".
func TestVersionStampedByLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dir := t.TempDir()
	for _, tc := range []struct {
		name, ldflags, want string
	}{
		{"stamped", "-X github.com/surge-dev/surge/app/internal/version.Source=" + digest, digest},
		{"plain", "", "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(dir, "surge-"+tc.name)
			args := []string{"build", "-o", bin}
			if tc.ldflags != "" {
				args = append(args, "-ldflags", tc.ldflags)
			}
			out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
			require.NoError(t, err, "go build: %s", out)
			out, err = exec.Command(bin, "version").Output()
			require.NoError(t, err)
			goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
			require.NoError(t, err)
			want := fmt.Sprintf("surge %s %s %s/%s\n", tc.want, strings.TrimSpace(string(goVersion)), runtime.GOOS, runtime.GOARCH)
			assert.Equal(t, want, string(out), "surge version")
		})
	}
}
