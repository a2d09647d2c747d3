package stacks

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyHello lays the tiny test module out in a fresh directory.
func copyHello(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/hello/main.go.txt")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n\ngo 1.22\n"), 0o644))
	return dir
}

// Same source in two different checkouts must give the same bytes, or every
// `pulumi up` from another machine would roll the whole fleet.
func TestGoBuilderIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles twice")
	}
	ctx := context.Background()
	a, err := GoBuilder(copyHello(t), ".", t.TempDir())(ctx)
	require.NoError(t, err)
	b, err := GoBuilder(copyHello(t), ".", t.TempDir())(ctx)
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}$`), a.SHA256)
	assert.Equal(t, a.SHA256, b.SHA256, "same source, different checkout paths: digests must match")
	assert.Equal(t, "releases/"+a.SHA256+"/surge", a.Key())

	bin, err := os.ReadFile(a.Path)
	require.NoError(t, err)
	require.Greater(t, len(bin), 20)
	// ELF header, 64-bit, machine EM_AARCH64 (0xb7): a Graviton binary.
	assert.Equal(t, []byte{0x7f, 'E', 'L', 'F', 2}, bin[:5], "ELF64 header")
	assert.Equal(t, byte(0xb7), bin[18], "e_machine must be AArch64")
}

func TestGoBuilderReportsCompileErrors(t *testing.T) {
	dir := copyHello(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() { undefined() }\n"), 0o644))
	_, err := GoBuilder(dir, ".", t.TempDir())(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "building . for linux/arm64")
	assert.Contains(t, err.Error(), "undefined")
}
