package compute

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func params() UserDataParams {
	return UserDataParams{
		Bucket: "surge-dev-artifacts", Key: "surge/" + testDigest, SHA256: testDigest, Region: "eu-west-1",
		AppPort: 8080, DrainSeconds: 30, LogGroupName: "/surge/app",
		Env:     map[string]string{"SURGE_DATABASE_SECRET_ARN": dbSecretARN, "SURGE_NOTE": `say "hi" \ bye`},
		ASGName: "surge-dev-app", LifecycleHookName: "surge-launch-ready", ReadyTimeout: 300, HookTimeout: LaunchHookTimeoutSeconds,
	}
}

func TestRenderUserData(t *testing.T) {
	ud, err := RenderUserData(params())
	require.NoError(t, err)
	assert.Less(t, len(ud), MaxUserDataBytes, "docs/decisions/launch-template-user-data.md: 16 KB raw limit")
	again, err := RenderUserData(params())
	require.NoError(t, err)
	assert.Equal(t, ud, again, "rendering must be deterministic: same inputs, no template diff")

	// The digest check must come before the install, and refuse otherwise.
	check := strings.Index(ud, "sha256sum --check")
	install := strings.Index(ud, `install -m 0755 -o root -g root "$ROOT/opt/surge/download/surge" "$ROOT/opt/surge/bin/surge"`)
	require.Positive(t, check)
	require.Positive(t, install)
	assert.Less(t, check, install, "verify before install")
	assert.Contains(t, ud, "REFUSING artifact")
	assert.Contains(t, ud, "aws s3 cp --only-show-errors --region \"$REGION\" 's3://surge-dev-artifacts/surge/"+testDigest+"' \"$ROOT/opt/surge/download/surge\"")
	assert.Contains(t, ud, `SURGE_NOTE="say \"hi\" \\ bye"`, "env values are quoted for systemd")
	assert.Contains(t, ud, "<<'SURGE_ENV'", "quoted heredoc: no shell expansion of settings")
	assert.Contains(t, ud, "http://127.0.0.1:8080/healthz", "readiness gate uses the shallow health check")

	// The RDS bundle of the stack's region, over HTTPS only, installed where
	// the app's SURGE_DATABASE_SSLROOTCERT points, before the app can start.
	fetch := strings.Index(ud, `url="https://truststore.pki.rds.amazonaws.com/${REGION}/${REGION}-bundle.pem"`)
	installCA := strings.Index(ud, `install -m 0644 -o root -g root "$ROOT/etc/surge/rds-ca.download" "$ROOT`+RDSCABundlePath+`"`)
	start := strings.Index(ud, "systemctl start")
	require.Positive(t, fetch, "the RDS CA bundle is fetched")
	require.Positive(t, installCA, "and installed at RDSCABundlePath")
	assert.Less(t, fetch, installCA)
	assert.Less(t, installCA, start, "before the app starts")
	assert.Contains(t, ud, "--proto '=https'", "never over plain HTTP")
	assert.Contains(t, ud, `REFUSING to start: no RDS certificate bundle`)
	assert.NotContains(t, ud, "127.0.0.1:8080/readyz")
}

func TestRenderedScriptParses(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	ud, err := RenderUserData(params())
	require.NoError(t, err)
	cmd := exec.Command(bash, "-n")
	cmd.Stdin = strings.NewReader(ud)
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "bash -n: %s", out)
}

func TestRenderUserDataRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *UserDataParams)
		want   string
	}{
		{"short digest", func(p *UserDataParams) { p.SHA256 = "abc" }, "must be 64 lowercase hex"},
		{"uppercase digest", func(p *UserDataParams) { p.SHA256 = strings.ToUpper(testDigest) }, "must be 64 lowercase hex"},
		{"quote in key", func(p *UserDataParams) { p.Key = "a'b" }, "artifact key"},
		{"bad bucket", func(p *UserDataParams) { p.Bucket = "Bad_Bucket" }, "not a valid S3 bucket"},
		{"secret setting", func(p *UserDataParams) { p.Env["SURGE_ADMIN_TOKEN"] = "hunter2" }, "looks like a credential"},
		{"newline in value", func(p *UserDataParams) { p.Env["SURGE_X"] = "a\nb" }, "control character"},
		{"privileged port", func(p *UserDataParams) { p.AppPort = 443 }, "app port 443"},
		{"readiness past the hook", func(p *UserDataParams) { p.ReadyTimeout = 850 }, "ready timeout 850 must be within 30-840 seconds"},
		{"metrics off", func(p *UserDataParams) { p.Env["SURGE_METRICS_ADDR"] = "off" }, "SURGE_METRICS_ADDR \"off\" must be host:port"},
		{"too large", func(p *UserDataParams) { p.Env["SURGE_BIG"] = strings.Repeat("a", MaxUserDataBytes) }, "exceeds the EC2 limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := params()
			tt.mutate(&p)
			_, err := RenderUserData(p)
			require.Error(t, err, "RenderUserData(%s)", tt.name)
			assert.Contains(t, err.Error(), tt.want, "RenderUserData(%s)", tt.name)
		})
	}
}

// TestRDSCABundleStepRuns executes the rendered script's CA-bundle step in
// bash, under a temporary root with a curl shim: a bundle is installed, a
// failed download or a page that is not a certificate stops the boot with
// nothing installed.
func TestRDSCABundleStepRuns(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	ud, err := RenderUserData(params())
	require.NoError(t, err)
	from := strings.Index(ud, "fetch_rds_ca() {")
	to := strings.Index(ud, `log "RDS certificate bundle installed"`)
	require.Positive(t, from)
	require.Greater(t, to, from)

	dir := t.TempDir()
	cert := filepath.Join(dir, "ca.pem")
	out, err := exec.Command(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=Amazon RDS test Root CA",
		"-keyout", filepath.Join(dir, "key.pem"), "-out", cert, "-days", "1").CombinedOutput()
	require.NoError(t, err, "%s", out)

	for _, tc := range []struct {
		name      string
		curl      string // shim body; $CURL_OUT is the -o path
		wantOK    bool
		wantInURL string
	}{
		{"bundle", `cp "$FIXTURE" "$out"`, true, "https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem"},
		{"download fails", `exit 22`, false, ""},
		{"not a certificate", `echo '<html>captive portal</html>' > "$out"`, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			etc := filepath.Join(root, "etc", "surge")
			bin := filepath.Join(root, "bin")
			require.NoError(t, os.MkdirAll(etc, 0o755))
			require.NoError(t, os.MkdirAll(bin, 0o755))
			shim := `#!/bin/bash
out=""; url=""
while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift 2;; https://*) url="$1"; shift;; *) shift;; esac; done
echo "$url" > "$ROOT/curl-url"
` + tc.curl + "\n"
			require.NoError(t, os.WriteFile(filepath.Join(bin, "curl"), []byte(shim), 0o755))
			// install -o root needs root: the shim drops the owner flags.
			require.NoError(t, os.WriteFile(filepath.Join(bin, "install"), []byte("#!/bin/bash\nargs=(); while [ $# -gt 0 ]; do case \"$1\" in -o|-g) shift 2;; *) args+=(\"$1\"); shift;; esac; done\nexec /usr/bin/install \"${args[@]}\"\n"), 0o755))
			step := ud[from:to] // every path is under $ROOT
			script := "set -euo pipefail\nREGION=eu-west-1\nlog() { echo \"$*\"; }\n" + step + "\necho INSTALLED\n"
			cmd := exec.Command(bash, "-c", script)
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "ROOT=" + root, "FIXTURE=" + cert}
			out, err := cmd.CombinedOutput()
			installed := filepath.Join(etc, filepath.Base(RDSCABundlePath))
			_, statErr := os.Stat(installed)
			if tc.wantOK {
				require.NoError(t, err, "%s", out)
				assert.Contains(t, string(out), "INSTALLED")
				assert.NoError(t, statErr, "bundle installed")
				url, _ := os.ReadFile(filepath.Join(root, "curl-url"))
				assert.Equal(t, tc.wantInURL, strings.TrimSpace(string(url)), "the region's bundle")
				return
			}
			assert.Error(t, err, "the boot must stop: %s", out)
			assert.Contains(t, string(out), "REFUSING to start")
			assert.NotContains(t, string(out), "INSTALLED")
			assert.True(t, os.IsNotExist(statErr), "nothing installed")
		})
	}
}
