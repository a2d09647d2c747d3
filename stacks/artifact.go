package stacks

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/surge-dev/surge/components/release"
)

// Builder produces the app artifact. The program's is GoBuilder; tests pass
// one that writes a small file so they do not compile the app.
type Builder func(ctx context.Context) (release.Artifact, error)

// VersionVariable is the string variable the build stamps with the source
// digest (-ldflags -X); `surge version` prints it.
const VersionVariable = "github.com/surge-dev/surge/app/internal/version.Source"

// fixedBuildEnv are the settings that change the output bytes. The build
// sets every one of them instead of inheriting the operator's: a GOARM64,
// GOEXPERIMENT or GOFIPS140 exported in one shell (or set with `go env -w`,
// hence GOENV=off) would otherwise give another binary, another digest and
// a fleet-wide rollout from that machine. GOWORK=off: a go.work above the
// checkout must not swap modules.
var fixedBuildEnv = []string{
	"GOOS=linux", "GOARCH=arm64", "GOARM64=v8.0", "CGO_ENABLED=0",
	"GOFLAGS=-mod=readonly", "GOEXPERIMENT=", "GOFIPS140=off",
	"GOENV=off", "GOWORK=off",
}

// passedGoEnv are the go settings the build takes from the operator: where
// modules and the cache live and how they are fetched. None changes the
// bytes (go.sum pins every module).
var passedGoEnv = []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE"}

// passedOSEnv are the process settings the go command needs to run at all.
var passedOSEnv = []string{"PATH", "HOME", "TMPDIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"}

var toolchainLine = regexp.MustCompile(`(?m)^toolchain[ \t]+(go[0-9][^ \t\r\n]*)[ \t]*\r?$`)

// PinnedToolchain reads the `toolchain` line of moduleDir's go.mod.
func PinnedToolchain(moduleDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(moduleDir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("reading go.mod: %w", err)
	}
	m := toolchainLine.FindSubmatch(b)
	if m == nil {
		return "", errors.New("go.mod has no `toolchain` line: the artifact build runs exactly the toolchain it names, " +
			"so that every machine builds the same bytes (add one with `go get toolchain@go1.26.8`)")
	}
	return string(m[1]), nil
}

// buildEnv is the complete environment of the build's go commands.
func buildEnv(ctx context.Context, toolchain string) ([]string, error) {
	env := []string{}
	for _, k := range passedOSEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	// The operator's effective module settings, `go env -w` included.
	out, err := exec.CommandContext(ctx, "go", append([]string{"env", "-json"}, passedGoEnv...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("reading go env: %w", err)
	}
	var goenv map[string]string
	if err := json.Unmarshal(out, &goenv); err != nil {
		return nil, fmt.Errorf("parsing go env: %w", err)
	}
	for _, k := range passedGoEnv {
		if v := goenv[k]; v != "" {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, fixedBuildEnv...)
	return append(env, "GOTOOLCHAIN="+toolchain), nil
}

// GoBuilder builds the Go package pkg of the module in moduleDir for
// linux/arm64 (Graviton) into outDir, reproducibly: with exactly the
// toolchain go.mod pins (GOTOOLCHAIN; refused if it cannot run), an
// environment set by the build rather than inherited, -trimpath (no local
// paths), -buildvcs=false (no checkout state), an empty build ID and cgo
// off. The binary is stamped with the digest of its source
// (VersionVariable). The same source gives the same bytes on every machine.
func GoBuilder(moduleDir, pkg, outDir string) Builder {
	return func(ctx context.Context) (release.Artifact, error) {
		toolchain, err := PinnedToolchain(moduleDir)
		if err != nil {
			return release.Artifact{}, err
		}
		env, err := buildEnv(ctx, toolchain)
		if err != nil {
			return release.Artifact{}, err
		}
		goCmd := func(args ...string) *exec.Cmd {
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Dir, cmd.Env = moduleDir, env
			return cmd
		}
		var stderr bytes.Buffer
		cmd := goCmd("env", "GOVERSION")
		cmd.Stderr = &stderr
		got, err := cmd.Output()
		if err != nil {
			return release.Artifact{}, fmt.Errorf("go.mod pins toolchain %s and the build runs exactly that one (GOTOOLCHAIN=%s), "+
				"but it cannot run here: install %s, or allow the go command to download it through GOPROXY: %w\n%s",
				toolchain, toolchain, toolchain, err, strings.TrimSpace(stderr.String()))
		}
		if v := strings.TrimSpace(string(got)); v != toolchain {
			return release.Artifact{}, fmt.Errorf("go.mod pins toolchain %s but GOTOOLCHAIN=%s runs %s: refusing to build", toolchain, toolchain, v)
		}
		source, err := sourceDigest(goCmd, moduleDir, pkg)
		if err != nil {
			return release.Artifact{}, err
		}

		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return release.Artifact{}, fmt.Errorf("creating %s: %w", outDir, err)
		}
		out, err := filepath.Abs(filepath.Join(outDir, "surge-linux-arm64"))
		if err != nil {
			return release.Artifact{}, fmt.Errorf("resolving output path: %w", err)
		}
		build := goCmd("build", "-trimpath", "-buildvcs=false",
			"-ldflags=-s -w -buildid= -X "+VersionVariable+"="+source, "-o", out, pkg)
		if msg, err := build.CombinedOutput(); err != nil {
			return release.Artifact{}, fmt.Errorf("building %s for linux/arm64 with %s: %w\n%s", pkg, toolchain, err, msg)
		}
		sum, err := fileSHA256(out)
		if err != nil {
			return release.Artifact{}, err
		}
		return release.Artifact{Path: out, SHA256: sum, Toolchain: toolchain, Source: source}, nil
	}
}

// sourceDigest is the SHA-256 of exactly the main module's files that go
// into pkg for linux/arm64 (Go, assembly and embedded files, as `go list`
// reports them), plus go.mod and go.sum, which pin every dependency. Paths
// are module-relative, so the checkout's location does not matter.
func sourceDigest(goCmd func(...string) *exec.Cmd, moduleDir, pkg string) (string, error) {
	var stderr bytes.Buffer
	cmd := goCmd("list", "-deps", "-json=Dir,Standard,Module,GoFiles,SFiles,EmbedFiles", pkg)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("listing the source of %s: %w\n%s", pkg, err, stderr.String())
	}
	root, err := filepath.Abs(moduleDir)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", moduleDir, err)
	}
	files := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Dir, ImportPath             string
			Standard                    bool
			Module                      *struct{ Main bool }
			GoFiles, SFiles, EmbedFiles []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("parsing go list output: %w", err)
		}
		if p.Standard || p.Module == nil || !p.Module.Main {
			continue
		}
		for _, group := range [][]string{p.GoFiles, p.SFiles, p.EmbedFiles} {
			for _, f := range group {
				rel, err := filepath.Rel(root, filepath.Join(p.Dir, f))
				if err != nil {
					return "", fmt.Errorf("relating %s to the module: %w", f, err)
				}
				files = append(files, filepath.ToSlash(rel))
			}
		}
	}
	sort.Strings(files)
	h := sha256.New()
	w := bufio.NewWriter(h)
	for _, f := range files {
		sum, err := fileSHA256(filepath.Join(root, f))
		if errors.Is(err, os.ErrNotExist) && f == "go.sum" {
			continue // a module without dependencies has none
		}
		if err != nil {
			return "", err
		}
		fmt.Fprintf(w, "%s %s\n", sum, f)
	}
	if err := w.Flush(); err != nil {
		return "", fmt.Errorf("hashing the source: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
