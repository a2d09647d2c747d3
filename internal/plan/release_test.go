package plan

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReleaseSummaryChecksTheTaggedDigest runs the deploy workflow's summary
// script in a scratch repository: a tag recording the rolled-out digest
// passes and is shown; a tag recording other bytes fails the deploy.
func TestReleaseSummaryChecksTheTaggedDigest(t *testing.T) {
	for _, tool := range []string{"git", "bash", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	script, err := filepath.Abs(filepath.Join(root, "scripts", "release-summary.sh"))
	require.NoError(t, err)
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	git("init", "-q")
	git("commit", "-q", "--allow-empty", "-m", "release")
	const good = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	git("tag", "-a", "v1.2.3", "-m", "surge v1.2.3\n\nartifact-sha256: "+good+"\ngo: go1.26.0")

	run := func(digest string) (string, int) {
		cmd := exec.Command("bash", script, "prod", digest)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		require.NoError(t, err)
		return string(out), 0
	}
	out, code := run(good)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "| app artifact sha256 | `"+good+"` |")
	assert.Contains(t, out, "v1.2.3")

	out, code = run("bbbb")
	assert.Equal(t, 1, code, "a tag that records other bytes fails the deploy: %s", out)
	assert.Contains(t, out, "Digest mismatch")
}

func TestSmokeRefusesNonHTTPS(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	script := filepath.Join(root, "scripts", "smoke.sh")
	out, err := exec.Command("bash", script, "http://example.com").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 2, exit.ExitCode())
	assert.Contains(t, string(out), "not an https URL")
}
