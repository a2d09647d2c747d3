package compute

import (
	"os/exec"
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
	assert.Less(t, len(ud), MaxUserDataBytes, "PITFALLS 8: 16 KB raw limit")
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
