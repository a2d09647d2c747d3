package appproc

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(root + "/go.mod")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "module "+Module+"\n"))
}

func TestChildEnvDropsParentSurgeVars(t *testing.T) {
	t.Setenv("SURGE_ADMIN_TOKEN", "leak")
	env := childEnv([]string{"SURGE_LISTEN_ADDR=127.0.0.1:1"})
	for _, kv := range env {
		assert.NotEqual(t, "SURGE_ADMIN_TOKEN=leak", kv, "a stray SURGE_* of the shell must not reach the child")
	}
	assert.Contains(t, env, "SURGE_LISTEN_ADDR=127.0.0.1:1")
}

func shell(t *testing.T) string {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	return sh
}

func TestRunReportsOutputTail(t *testing.T) {
	err := Run(context.Background(), Options{Bin: shell(t), Args: []string{"-c", "echo boom; exit 3"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "boom", "the failing command's output is in the error")
	require.NoError(t, Run(context.Background(), Options{Bin: shell(t), Args: []string{"-c", "exit 0"}}))
}

func TestDrainAndKill(t *testing.T) {
	// Exits 0 on SIGTERM, like a cleanly draining app.
	p, err := Start(Options{Bin: shell(t), Args: []string{"-c", "trap 'exit 0' TERM; while true; do sleep 0.05; done"}})
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	rss, peak, err := Memory(p.Pid())
	require.NoError(t, err)
	assert.Greater(t, rss, int64(0))
	assert.GreaterOrEqual(t, peak, rss)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	assert.NoError(t, p.Drain(ctx), "clean exit after SIGTERM")

	// Ignores SIGTERM: Drain kills it when ctx ends.
	p, err = Start(Options{Bin: shell(t), Args: []string{"-c", "trap '' TERM; while true; do sleep 0.05; done"}})
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	assert.ErrorContains(t, p.Drain(ctx2), "killed")
	select {
	case <-p.Done():
	default:
		t.Fatal("process still running after Drain")
	}
}

func TestCPUTimeAndFreeAddr(t *testing.T) {
	d, err := CPUTime(os.Getpid())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, d, time.Duration(0))
	a, err := FreeAddr()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(a, "127.0.0.1:"))
}
