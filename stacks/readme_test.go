package stacks

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's configuration reference is the one ConfigReference
// generates from the Specs and Defaults: a new key, a changed comment or a
// changed default fails here until `go generate ./stacks` runs.
func TestREADMEConfigReferenceMatchesConfig(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	table, err := ConfigReference("..")
	require.NoError(t, err)
	want, err := replaceReference(string(b), table)
	require.NoError(t, err)
	assert.Equal(t, want, string(b), "README configuration reference is stale: go generate ./stacks")
}

// Every documented key is one Load accepts: the table is built from the
// same types Load decodes into.
func TestConfigReferenceListsEveryKey(t *testing.T) {
	table, err := ConfigReference("..")
	require.NoError(t, err)
	for _, key := range []string{"surge:database.replicas", "surge:app.warmPool.minSize", "surge:app.scheduledScaleOuts[].timeZone", "surge:monitoring.thresholds.alb5xxPercent"} {
		assert.Contains(t, table, "| `"+key+"` |")
	}
	assert.Contains(t, table, "| `surge:database.replicas` | int | ", "type column")
	assert.Regexp(t, "\\| `surge:database.replicas` \\|[^\n]*\\| 0 \\| 1 \\|", table, "dev and prod defaults come from Defaults")
}

// Every path the docs tell an operator to curl through the site is a route
// the app serves (there is no /api/healthz: /healthz is the ALB's and is
// not routed through CloudFront).
func TestSmokeTestPathsAreRoutes(t *testing.T) {
	routes, err := os.ReadFile("../app/internal/httpapi/routes.go")
	require.NoError(t, err)
	var patterns []*regexp.Regexp
	for _, m := range regexp.MustCompile(`"(?:GET|POST|PUT|DELETE) (/api/[^"]*)"`).FindAllStringSubmatch(string(routes), -1) {
		p := regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(m[1]), `[^/]+`)
		patterns = append(patterns, regexp.MustCompile("^"+p+"$"))
	}
	require.NotEmpty(t, patterns)
	curl := regexp.MustCompile(`curl [^\n]*(?:\$SITE|siteUrl\)|<site>)(/api/[A-Za-z0-9/_-]*)`)
	var checked int
	for _, doc := range []string{"../README.md", "../docs/security/edge.md", "../docs/security/network.md"} {
		b, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, m := range curl.FindAllStringSubmatch(string(b), -1) {
			checked++
			found := false
			for _, p := range patterns {
				found = found || p.MatchString(m[1])
			}
			assert.True(t, found, "%s: %s is not a route of the app", doc, m[1])
		}
	}
	assert.GreaterOrEqual(t, checked, 3)
}

// PULUMI_BACKEND_URL overrides every project's backend, the bootstrap's
// pinned file://~ included (workspace.GetCurrentCloudURL): a README shell
// block that exports it must not run pulumi in deploy/bootstrap afterwards,
// or that command looks for the bootstrap stack in the team bucket.
func TestReadmeBootstrapCommandsKeepTheirBackend(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	require.NotEmpty(t, blocks)
	for _, blk := range blocks {
		exported := false
		for _, line := range strings.Split(blk[1], "\n") {
			if strings.Contains(line, "deploy/bootstrap") && strings.Contains(line, "pulumi ") {
				assert.False(t, exported, "README runs pulumi in deploy/bootstrap after exporting PULUMI_BACKEND_URL: %q", line)
			}
			if strings.HasPrefix(strings.TrimSpace(line), "export PULUMI_BACKEND_URL") {
				exported = true
			}
		}
	}
}
