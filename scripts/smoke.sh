#!/usr/bin/env bash
# The README's post-deploy smoke test: CloudFront -> VPC origin -> internal
# ALB -> app -> PostgreSQL replica. Retries while an instance refresh or a new
# distribution settles; fails after about five minutes.
set -euo pipefail
url="${1:?usage: scripts/smoke.sh SITE_URL (the stack output siteUrl)}"
url="${url%/}"
case "$url" in
  https://*) ;;
  *) echo "smoke: $url is not an https URL" >&2; exit 2 ;;
esac
curl -fsS --retry 20 --retry-delay 15 --retry-all-errors --max-time 20 \
  -o /dev/null -w 'smoke: %{url_effective} -> HTTP %{http_code} in %{time_total}s\n' \
  "$url/api/courses"
