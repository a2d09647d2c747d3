#!/usr/bin/env bash
# Prints the job summary of a deploy: which commit and app digest went out,
# and the release tag it belongs to. Fails when the commit carries a release
# tag whose recorded digest differs from the one just rolled out (the tag
# would lie about what runs).
set -euo pipefail
stack="${1:?usage: scripts/release-summary.sh STACK DIGEST}"
digest="${2:-}"
commit="$(git rev-parse HEAD)"
tags="$(git tag --points-at HEAD --list 'v*' | tr '\n' ' ')"
echo "### ${stack}: rolled out"
echo
echo "| | |"
echo "| --- | --- |"
echo "| commit | \`${commit}\` |"
echo "| app artifact sha256 | \`${digest:-unknown (no artifactSha256 output)}\` |"
echo "| release tag | ${tags:-none (not a tagged release)} |"
echo "| Go | \`$(go env GOVERSION)\` |"
status=0
for tag in $tags; do
  want="$(git tag -l --format='%(contents)' "$tag" | sed -n 's/^artifact-sha256: *//p' | head -1)"
  if [ -n "$want" ] && [ "$want" != "$digest" ]; then
    echo
    echo "**Digest mismatch:** tag ${tag} records \`${want}\`, this deploy built \`${digest}\`."
    echo "::error title=release digest mismatch::${tag} records ${want}, the deploy built ${digest}" >&2
    status=1
  fi
done
exit $status
