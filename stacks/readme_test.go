package stacks

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// configKeys lists every config key the typed Config accepts, as the README
// table names them (`surge:app.warmPool.minSize`, lists as `[]`).
func configKeys() []string {
	keys := []string{"aws:region", "surge:environment"}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			key := prefix + "." + name
			keys = append(keys, key)
			ft := f.Type
			suffix := ""
			if ft.Kind() == reflect.Slice {
				ft, suffix = ft.Elem(), "[]"
			}
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(key+suffix, ft)
			}
		}
	}
	c := reflect.TypeOf(Config{})
	for i := 0; i < c.NumField(); i++ {
		f := c.Field(i)
		name := f.Tag.Get("json")
		if name == "-" || !f.IsExported() {
			continue
		}
		walk("surge:"+name, f.Type)
	}
	sort.Strings(keys)
	return keys
}

// The README's configuration reference must list exactly the keys the code
// accepts: a renamed or new field fails here until the docs follow.
func TestREADMEConfigReferenceMatchesConfig(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\| `((?:aws|surge):[A-Za-z0-9.\\[\\]]+)` \\|")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1])
	}
	sort.Strings(documented)
	assert.Equal(t, configKeys(), documented, "README configuration reference vs stacks.Config")
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
