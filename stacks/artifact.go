package stacks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// Artifact is the app binary the fleet runs, pinned by its SHA-256.
type Artifact struct {
	Path   string // local file uploaded to the artifacts bucket
	SHA256 string // lowercase hex; the instances refuse any other bytes
}

// Key is the artifact's object key: content-addressed, so the same source
// gives the same key and no diff, and a new source a new key, a new launch
// template version and a rolling instance refresh.
func (a Artifact) Key() string { return "releases/" + a.SHA256 + "/surge" }

// Builder produces the app artifact. The program's is GoBuilder; tests pass
// one that writes a small file so they do not compile the app.
type Builder func(ctx context.Context) (Artifact, error)

// GoBuilder builds the Go package pkg of the module in moduleDir for
// linux/arm64 (Graviton) into outDir, reproducibly: -trimpath drops local
// paths, -buildvcs=false drops the checkout state, an empty build ID drops
// the one varying link input, and cgo is off. The same source and Go
// toolchain give the same bytes, wherever the checkout is.
func GoBuilder(moduleDir, pkg, outDir string) Builder {
	return func(ctx context.Context) (Artifact, error) {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return Artifact{}, fmt.Errorf("creating %s: %w", outDir, err)
		}
		out, err := filepath.Abs(filepath.Join(outDir, "surge-linux-arm64"))
		if err != nil {
			return Artifact{}, fmt.Errorf("resolving output path: %w", err)
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
			"-ldflags=-s -w -buildid=", "-o", out, pkg)
		cmd.Dir = moduleDir
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return Artifact{}, fmt.Errorf("building %s for linux/arm64: %w\n%s", pkg, err, msg)
		}
		sum, err := fileSHA256(out)
		if err != nil {
			return Artifact{}, err
		}
		return Artifact{Path: out, SHA256: sum}, nil
	}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening artifact: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing artifact: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
