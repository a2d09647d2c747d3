#!/usr/bin/env bash
# Tags a release: VERSION (vX.Y.Z) must have its section in CHANGELOG.md, the
# tree must be clean, and the annotated tag records the app artifact's
# SHA-256 as the stack builds it (stacks.GoBuilder: linux/arm64, -trimpath,
# no VCS stamp, empty build ID), with the Go version that built it. The deploy
# workflow refuses a rollout of that commit whose digest differs. Pushing the
# tag is left to the maintainer: git push origin VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-}"
if ! [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "usage: make release VERSION=vX.Y.Z" >&2
  exit 2
fi
if ! grep -q "^## \[${version#v}\]" CHANGELOG.md; then
  echo "release: CHANGELOG.md has no '## [${version#v}]' section; move the Unreleased notes there first" >&2
  exit 1
fi
if [ -n "$(git status --porcelain)" ]; then
  echo "release: the working tree is not clean" >&2
  exit 1
fi
if git rev-parse -q --verify "refs/tags/$version" >/dev/null; then
  echo "release: tag $version exists" >&2
  exit 1
fi
digest="$(go run ./internal/plan/cmd/surge-plan -digest)"
git tag -a "$version" -m "surge $version

artifact-sha256: $digest
go: $(go env GOVERSION)"
echo "tagged $version at $(git rev-parse --short HEAD): artifact-sha256 $digest"
echo "push it with: git push origin $version"
