package stacks

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/release"
)

// copyHello lays the tiny test module out in a fresh directory, pinned to
// the toolchain running the test (it is on this machine, no download).
// Its module path is the real one so the version stamp has a target.
func copyHello(t *testing.T, toolchain string) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/hello/main.go.txt")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644))
	ver, err := os.ReadFile("../app/internal/version/version.go")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "app/internal/version"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app/internal/version/version.go"), ver, 0o644))
	mod := "module github.com/surge-dev/surge\n\ngo 1.22\n"
	if toolchain != "" {
		mod += "\ntoolchain " + toolchain + "\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	return dir
}

// Same source in two different checkouts must give the same bytes, or every
// `pulumi up` from another machine would roll the whole fleet.
func TestGoBuilderIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles twice")
	}
	ctx := context.Background()
	a, err := GoBuilder(copyHello(t, runtime.Version()), ".", t.TempDir())(ctx)
	require.NoError(t, err)
	b, err := GoBuilder(copyHello(t, runtime.Version()), ".", t.TempDir())(ctx)
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}$`), a.SHA256)
	assert.Equal(t, a.SHA256, b.SHA256, "same source, different checkout paths: digests must match")
	assert.Equal(t, a.Source, b.Source, "the source digest does not depend on the checkout path")
	assert.Equal(t, runtime.Version(), a.Toolchain)
	assert.Equal(t, "releases/"+a.SHA256+"/surge", release.Key(a.SHA256))

	bin, err := os.ReadFile(a.Path)
	require.NoError(t, err)
	require.Greater(t, len(bin), 20)
	// ELF header, 64-bit, machine EM_AARCH64 (0xb7): a Graviton binary.
	assert.Equal(t, []byte{0x7f, 'E', 'L', 'F', 2}, bin[:5], "ELF64 header")
	assert.Equal(t, byte(0xb7), bin[18], "e_machine must be AArch64")
}

// Every variable that changes the bytes is set by the build: an operator's
// shell or `go env -w` settings give the same binary.
func TestGoBuilderIgnoresPollutedEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles twice")
	}
	ctx := context.Background()
	clean, err := GoBuilder(copyHello(t, runtime.Version()), ".", t.TempDir())(ctx)
	require.NoError(t, err)

	goenv := filepath.Join(t.TempDir(), "goenv")
	require.NoError(t, os.WriteFile(goenv, []byte("GOFLAGS=-ldflags=-X=main.polluted=yes\nGOARM64=v9.0\n"), 0o644))
	for k, v := range map[string]string{
		"GOARM64":      "v9.0",         // other atomics in the runtime
		"GOEXPERIMENT": "nogreenteagc", // another garbage collector
		"GOFIPS140":    "latest",       // FIPS mode on by default
		"GOFLAGS":      "-tags=polluted",
		"CGO_ENABLED":  "1",
		"GOENV":        goenv, // what `go env -w` would have written
	} {
		t.Setenv(k, v)
	}
	polluted, err := GoBuilder(copyHello(t, runtime.Version()), ".", t.TempDir())(ctx)
	require.NoError(t, err)
	assert.Equal(t, clean.SHA256, polluted.SHA256, "a polluted environment must not change the bytes")
}

// The binary carries the digest of its source, and a source change changes it.
func TestGoBuilderStampsSourceDigest(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles")
	}
	ctx := context.Background()
	dir := copyHello(t, runtime.Version())
	// Under app/ like the real binary: app/internal is visible from there only.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "app/cmd/hello"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app/cmd/hello/main.go"), []byte(`package main

import (
	"fmt"

	"github.com/surge-dev/surge/app/internal/version"
)

func main() { fmt.Println(version.Source) }
`), 0o644))
	a, err := GoBuilder(dir, "./app/cmd/hello", t.TempDir())(ctx)
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}$`), a.Source)
	bin, err := os.ReadFile(a.Path)
	require.NoError(t, err)
	assert.True(t, bytes.Contains(bin, []byte(a.Source)), "the binary holds its source digest")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "app/internal/version/extra.go"), []byte("package version\n\nconst Extra = 1\n"), 0o644))
	b, err := GoBuilder(dir, "./app/cmd/hello", t.TempDir())(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, a.Source, b.Source, "a new source file changes the digest")
	assert.NotEqual(t, a.SHA256, b.SHA256, "and with it the stamped binary")

	// A file outside the package's dependencies changes neither.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("docs\n"), 0o644))
	c, err := GoBuilder(dir, "./app/cmd/hello", t.TempDir())(ctx)
	require.NoError(t, err)
	assert.Equal(t, b.Source, c.Source, "docs do not roll the fleet")
}

func TestGoBuilderRefusesWithoutToolchainLine(t *testing.T) {
	_, err := GoBuilder(copyHello(t, ""), ".", t.TempDir())(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "go.mod has no `toolchain` line")
}

// A pinned toolchain that is not here and cannot be downloaded is refused
// with a message that says what to do, never replaced by the local one.
func TestGoBuilderRefusesUnavailableToolchain(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	_, err := GoBuilder(copyHello(t, "go1.26.999"), ".", t.TempDir())(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "go.mod pins toolchain go1.26.999 and the build runs exactly that one (GOTOOLCHAIN=go1.26.999), but it cannot run here")
}

// The repository's own go.mod pins the toolchain the build uses.
func TestRepositoryPinsToolchain(t *testing.T) {
	tc, err := PinnedToolchain("..")
	require.NoError(t, err)
	assert.Regexp(t, `^go1\.[0-9]+\.[0-9]+$`, tc)
}

func TestGoBuilderReportsCompileErrors(t *testing.T) {
	dir := copyHello(t, runtime.Version())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() { undefined() }\n"), 0o644))
	_, err := GoBuilder(dir, ".", t.TempDir())(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "building . for linux/arm64 with "+runtime.Version())
	assert.Contains(t, err.Error(), "undefined")
}
