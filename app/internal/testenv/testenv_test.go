package testenv

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/localenv"
)

// probeEnv marks the child process TestMissingServers starts: its TestMain
// goes through Main, on a machine where the servers cannot be found.
const probeEnv = "SURGE_TESTENV_PROBE"

var probed *Env

func TestMain(m *testing.M) {
	if os.Getenv(probeEnv) == "1" {
		os.Exit(Main(m, &probed))
	}
	os.Exit(m.Run())
}

// TestProbe runs only in the child, and only if Main let the tests run.
func TestProbe(t *testing.T) {
	if os.Getenv(probeEnv) != "1" {
		t.Skip("runs in the child process of TestMissingServers")
	}
	t.Fatal("Main ran the tests without servers")
}

// TestMissingServers runs this test binary again with PATH and
// SURGE_POSTGRES_BIN pointing at an empty directory: Main skips the package
// with one line naming `make deps`, and fails it when SURGE_REQUIRE_DEPS=1.
func TestMissingServers(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name     string
		require  string
		wantCode int
	}{
		{"skips by default", "", 0},
		{"fails when CI requires the servers", "1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestProbe$", "-test.v")
			cmd.Env = []string{
				probeEnv + "=1",
				"PATH=" + empty,
				localenv.PostgresBinEnv + "=" + empty,
				localenv.RequireDepsEnv + "=" + tt.require,
				"HOME=" + empty,
			}
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else {
				require.NoError(t, err, "starting the probe")
			}
			assert.Equal(t, tt.wantCode, code, "exit code; output:\n%s", out)
			assert.NotContains(t, string(out), "TestProbe", "no test may run without servers")
			assert.Contains(t, string(out), "make deps", "the message says how to install them")
			if tt.wantCode == 0 {
				assert.Equal(t, 1, strings.Count(string(out), SkipMessage), "exactly one skip message:\n%s", out)
			}
		})
	}
}
