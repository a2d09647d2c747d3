package compute

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The user data is executed, not only searched for strings: bash runs the
// rendered script in a temporary root (SURGE_ROOT) with stand-ins for the
// commands that touch the machine or AWS. Each stand-in records its
// arguments in $SHIM_LOG.
var shims = map[string]string{
	// aws s3 cp <src> <dst>: the "download" is the test's file.
	"aws": `echo "aws $*" >> "$SHIM_LOG"
if [ "$1 $2" = "s3 cp" ]; then cp "$SHIM_ARTIFACT" "${@: -1}"; fi`,
	"systemctl": `echo "systemctl $*" >> "$SHIM_LOG"`,
	// The agent package: its directories and control script.
	"dnf": `echo "dnf $*" >> "$SHIM_LOG"
cw="$SURGE_ROOT/opt/aws/amazon-cloudwatch-agent"
mkdir -p "$cw/etc" "$cw/bin"
printf '#!/bin/bash\necho "cwagent-ctl $*" >> "$SHIM_LOG"\n' > "$cw/bin/amazon-cloudwatch-agent-ctl"
chmod 0755 "$cw/bin/amazon-cloudwatch-agent-ctl"`,
	"id":      `exit 1`,
	"useradd": `echo "useradd $*" >> "$SHIM_LOG"`,
	"chown":   `echo "chown $*" >> "$SHIM_LOG"`,
	"logger":  `cat > /dev/null`,
	"openssl": `echo "openssl $*" >> "$SHIM_LOG"`,
	// install without -o/-g (the test does not run as root).
	"install": `args=()
while [ $# -gt 0 ]; do
  case "$1" in -o|-g) shift 2 ;; *) args+=("$1"); shift ;; esac
done
exec "$REAL_INSTALL" "${args[@]}"`,
	// The readiness gate's clock is $SURGE_ROOT/proc/uptime: curl and sleep
	// advance it by what they would take at most.
	"sleep": `u=$(cut -d. -f1 "$SURGE_ROOT/proc/uptime"); echo "$((u + ${1%.*})).00 0.00" > "$SURGE_ROOT/proc/uptime"`,
	"curl": `echo "curl $*" >> "$SHIM_LOG"
case "$*" in
  *api/token*) echo token ;;
  *instance-id*) echo i-0123456789abcdef0 ;;
  # The region's RDS CA bundle (its real parsing is TestRDSCABundleStepRuns').
  *truststore.pki.rds.amazonaws.com*)
    out=""; prev=""; for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
    printf -- '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' > "$out" ;;
  *healthz*)
    u=$(cut -d. -f1 "$SURGE_ROOT/proc/uptime"); echo "$((u + 2)).00 0.00" > "$SURGE_ROOT/proc/uptime"
    n=$(cat "$SURGE_ROOT/healthz-fails" 2>/dev/null || echo 999999)
    if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$SURGE_ROOT/healthz-fails"; exit 7; fi ;;
esac`,
}

type sandbox struct {
	root, bin, log string
}

func newSandbox(t *testing.T) sandbox {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	s := sandbox{root: t.TempDir(), bin: t.TempDir()}
	s.log = filepath.Join(s.root, "shim.log")
	for name, body := range shims {
		require.NoError(t, os.WriteFile(filepath.Join(s.bin, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755))
	}
	return s
}

func (s sandbox) run(t *testing.T, script string, env ...string) error {
	t.Helper()
	realInstall, err := exec.LookPath("install")
	require.NoError(t, err)
	path := filepath.Join(s.root, "script.sh")
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
	cmd := exec.Command("bash", path)
	cmd.Env = append([]string{
		"PATH=" + s.bin + ":/usr/bin:/bin", "SURGE_ROOT=" + s.root, "SHIM_LOG=" + s.log,
		"REAL_INSTALL=" + realInstall, "HOME=" + s.root,
	}, env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	return err
}

func (s sandbox) calls(t *testing.T) string {
	b, err := os.ReadFile(s.log)
	if os.IsNotExist(err) {
		return ""
	}
	require.NoError(t, err)
	return string(b)
}

func (s sandbox) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(s.root, rel))
	return err == nil
}

// bootstrapLog waits for the tee behind the script's exec to flush.
func (s sandbox) bootstrapLog(t *testing.T, want string) string {
	var b []byte
	for i := 0; i < 40; i++ {
		b, _ = os.ReadFile(filepath.Join(s.root, "var/log/surge-bootstrap.log"))
		if strings.Contains(string(b), want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return string(b)
}

func digestOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// execParams pins the genuine binary's digest.
func execParams(genuine []byte) UserDataParams {
	p := params()
	p.SHA256 = digestOf(genuine)
	p.Key = "releases/" + p.SHA256 + "/surge"
	p.HookTimeout = LaunchHookTimeoutSeconds
	return p
}

func TestUserDataRunsAndRefusesTamperedArtifacts(t *testing.T) {
	genuine := []byte("\x7fELF genuine surge binary")
	ud, err := RenderUserData(execParams(genuine))
	require.NoError(t, err)

	t.Run("the pinned digest installs and starts", func(t *testing.T) {
		s := newSandbox(t)
		art := filepath.Join(t.TempDir(), "surge")
		require.NoError(t, os.WriteFile(art, genuine, 0o644))
		require.NoError(t, s.run(t, ud, "SHIM_ARTIFACT="+art), "exit 0")

		got, err := os.ReadFile(filepath.Join(s.root, "opt/surge/bin/surge"))
		require.NoError(t, err, "binary installed")
		assert.Equal(t, genuine, got)
		fi, err := os.Stat(filepath.Join(s.root, "opt/surge/bin/surge"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
		assert.False(t, s.exists("opt/surge/download"), "download directory removed")

		calls := s.calls(t)
		assert.Contains(t, calls, "aws s3 cp --only-show-errors --region eu-west-1 s3://surge-dev-artifacts/releases/"+digestOf(genuine)+"/surge")
		assert.Contains(t, calls, "systemctl enable surge.service surge-ready.service")
		assert.Contains(t, calls, "systemctl start --no-block surge.service surge-ready.service")
		assert.Contains(t, calls, "cwagent-ctl -a fetch-config -m ec2 -s -c file:/opt/aws/amazon-cloudwatch-agent/etc/surge.json")
		for _, f := range []string{"etc/systemd/system/surge.service", "etc/systemd/system/surge-ready.service", "etc/logrotate.d/surge", "opt/surge/bin/surge-ready"} {
			assert.True(t, s.exists(f), "%s written", f)
		}
		env, err := os.ReadFile(filepath.Join(s.root, "etc/surge/surge.env"))
		require.NoError(t, err)
		assert.Contains(t, string(env), "SURGE_DATABASE_SECRET_ARN=\""+dbSecretARN+"\"")

		// The agent files the script wrote are what the agent parses.
		var agent map[string]any
		b, err := os.ReadFile(filepath.Join(s.root, "opt/aws/amazon-cloudwatch-agent/etc/surge.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &agent), "agent config is JSON")
		prom := agent["logs"].(map[string]any)["metrics_collected"].(map[string]any)["prometheus"].(map[string]any)
		assert.Equal(t, "/opt/aws/amazon-cloudwatch-agent/etc/surge-prometheus.yaml", prom["prometheus_config_path"])
		emf := prom["emf_processor"].(map[string]any)
		assert.Equal(t, MetricNamespace, emf["metric_namespace"])
		selectors := fmt.Sprint(emf["metric_declaration"])
		for _, m := range []string{MetricGrants, MetricFull, MetricShed, MetricBatchSize, MetricInflight, MetricQueued, MetricBatchSeconds, MetricBatches, MetricRequests} {
			assert.Contains(t, selectors, "^"+m+"$")
		}
		var scrape struct {
			ScrapeConfigs []struct {
				JobName       string `yaml:"job_name"`
				StaticConfigs []struct {
					Targets []string          `yaml:"targets"`
					Labels  map[string]string `yaml:"labels"`
				} `yaml:"static_configs"`
			} `yaml:"scrape_configs"`
		}
		b, err = os.ReadFile(filepath.Join(s.root, "opt/aws/amazon-cloudwatch-agent/etc/surge-prometheus.yaml"))
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(b, &scrape))
		require.Len(t, scrape.ScrapeConfigs, 1)
		assert.Equal(t, "surge", scrape.ScrapeConfigs[0].JobName)
		assert.Equal(t, []string{DefaultMetricsAddr}, scrape.ScrapeConfigs[0].StaticConfigs[0].Targets)
		assert.Equal(t, "surge-dev-app", scrape.ScrapeConfigs[0].StaticConfigs[0].Labels["AutoScalingGroupName"])
	})

	t.Run("a tampered file is refused: nothing installed or started", func(t *testing.T) {
		s := newSandbox(t)
		art := filepath.Join(t.TempDir(), "surge")
		require.NoError(t, os.WriteFile(art, append([]byte{}, append(genuine, '!')...), 0o644))
		err := s.run(t, ud, "SHIM_ARTIFACT="+art)
		require.Error(t, err, "non-zero exit")
		assert.False(t, s.exists("opt/surge/bin/surge"), "nothing installed")
		assert.False(t, s.exists("opt/surge/download/surge"), "the tampered download is removed")
		assert.False(t, s.exists("etc/systemd/system/surge.service"), "no unit written")
		assert.False(t, s.exists("etc/surge/surge.env"), "no settings written")
		assert.NotContains(t, s.calls(t), "systemctl", "nothing started")
		assert.NotContains(t, s.calls(t), "dnf", "nothing else done")
		assert.Contains(t, s.bootstrapLog(t, "REFUSING"), "REFUSING artifact")
	})

	// The test above is what catches an inverted check: the same run with
	// `if ! ...` turned into `if ...` installs nothing for the genuine file.
	t.Run("an inverted check is caught", func(t *testing.T) {
		inverted := strings.Replace(ud, "if ! echo", "if echo", 1)
		require.NotEqual(t, ud, inverted)
		s := newSandbox(t)
		art := filepath.Join(t.TempDir(), "surge")
		require.NoError(t, os.WriteFile(art, genuine, 0o644))
		assert.Error(t, s.run(t, inverted, "SHIM_ARTIFACT="+art))
		assert.False(t, s.exists("opt/surge/bin/surge"))
	})
}

// The readiness gate answers the lifecycle hook before the hook's own
// timeout, counted from boot, however long each health check takes.
func TestReadinessGateFitsTheLifecycleHook(t *testing.T) {
	genuine := []byte("surge")
	for _, tc := range []struct {
		name           string
		readyTimeout   int
		bootUptime     int // seconds since boot when the gate starts
		fails          int // health checks that fail before one passes
		want           string
		maxUptimeAfter int
	}{
		{"healthy after a few checks", MaxHealthCheckGraceSeconds, 60, 3, "CONTINUE", 60 + 3*3 + 2},
		{"never healthy, early start: ReadyTimeout bounds the wait", 90, 60, 1 << 20, "ABANDON", 60 + 90 + 3},
		// Each check takes up to 3 s (2 s curl timeout + 1 s sleep): a loop
		// counting checks instead of time would answer after 1800 s.
		{"never healthy, late start: the hook deadline bounds the wait", MaxHealthCheckGraceSeconds, 800, 1 << 20, "ABANDON", LaunchHookTimeoutSeconds - HookMarginSeconds + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := execParams(genuine)
			p.ReadyTimeout = tc.readyTimeout
			ud, err := RenderUserData(p)
			require.NoError(t, err)
			s := newSandbox(t)
			art := filepath.Join(t.TempDir(), "surge")
			require.NoError(t, os.WriteFile(art, genuine, 0o644))
			require.NoError(t, s.run(t, ud, "SHIM_ARTIFACT="+art))
			require.NoError(t, os.MkdirAll(filepath.Join(s.root, "proc"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(s.root, "proc/uptime"), []byte(fmt.Sprintf("%d.00 0.00\n", tc.bootUptime)), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(s.root, "healthz-fails"), []byte(fmt.Sprint(tc.fails)), 0o644))
			gate, err := os.ReadFile(filepath.Join(s.root, "opt/surge/bin/surge-ready"))
			require.NoError(t, err)

			err = s.run(t, string(gate))
			if tc.want == "CONTINUE" {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err, "an abandoned launch fails the unit")
			}
			assert.Contains(t, s.calls(t), "--lifecycle-hook-name surge-launch-ready --instance-id i-0123456789abcdef0 --lifecycle-action-result "+tc.want)
			b, err := os.ReadFile(filepath.Join(s.root, "proc/uptime"))
			require.NoError(t, err)
			var up int
			_, err = fmt.Sscanf(string(b), "%d", &up)
			require.NoError(t, err)
			assert.LessOrEqual(t, up, tc.maxUptimeAfter, "answered by this uptime")
			assert.Less(t, up, LaunchHookTimeoutSeconds, "answered inside the hook's %d s", LaunchHookTimeoutSeconds)
		})
	}
}

// EC2 refuses user data over 16 KB; the largest realistic script stays
// well below it (every env setting the stack writes, long ARNs).
func TestUserDataSizeWithEveryAgentConfig(t *testing.T) {
	p := execParams([]byte("x"))
	for i := 0; i < 20; i++ {
		p.Env[fmt.Sprintf("SURGE_SETTING_%02d", i)] = strings.Repeat("v", 120)
	}
	ud, err := RenderUserData(p)
	require.NoError(t, err)
	assert.Less(t, len(ud), 12*1024, "leave room under the 16 KB limit")
	t.Logf("user data: %d bytes", len(ud))
}
