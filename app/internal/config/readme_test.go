package config

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's environment-variable table is the contract scripts and the
// stack rely on: it must list exactly the variables this package reads.
func TestREADMEListsEveryVariable(t *testing.T) {
	literal := regexp.MustCompile(`"(SURGE_[A-Z0-9_]+)"`)
	read := map[string]bool{}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			read[m[1]] = true
		}
	}
	require.NotEmpty(t, read)

	readme, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\| `(SURGE_[A-Z0-9_]+)` \\|")
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	assert.Equal(t, keys(read), keys(documented), "README environment variables vs app/internal/config")
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
