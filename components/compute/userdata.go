package compute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// MaxUserDataBytes is EC2's limit on raw user data, before base64 encoding.
const MaxUserDataBytes = 16 * 1024

// RDSCABundlePath is where the boot script installs the RDS certificate
// bundle of the region, which the app verifies the database against
// (SURGE_DATABASE_SSLROOTCERT, sslmode verify-full). RDS's CAs are in no
// system trust store; AWS publishes the bundles at truststore.pki.rds.amazonaws.com
// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html).
const RDSCABundlePath = "/etc/surge/rds-ca.pem"

// UserDataParams are the plain values the boot script is rendered from. They
// hold no secrets: the instance reads credentials from Secrets Manager at
// start through the ARNs in Env.
type UserDataParams struct {
	Bucket string // artifact bucket
	Key    string // artifact object key
	SHA256 string // pinned digest of the artifact, 64 lowercase hex characters
	Region string // AWS region for the CLI and the app

	AppPort      int               // port `surge serve` listens on (>= 1024: the unit grants no capabilities)
	DrainSeconds int               // graceful drain the app gets after SIGTERM
	Env          map[string]string // environment file content: ARNs and plain settings only

	LogGroupName string // CloudWatch Logs group the agent ships the app log to

	// Lifecycle hook the boot completes once /healthz answers, so an instance
	// (or a warm-pool instance resuming) only goes InService when the app runs.
	ASGName           string
	LifecycleHookName string
	ReadyTimeout      int // seconds to wait for /healthz before abandoning the launch
	// HookTimeout is the lifecycle hook's heartbeat timeout. The readiness
	// gate answers before it, counted from the instance's boot (a warm
	// instance resuming boots again), whatever ReadyTimeout says.
	HookTimeout int
}

// HookMarginSeconds is what the readiness gate leaves of the hook's
// timeout for its own answer (IMDS, the CompleteLifecycleAction call).
const HookMarginSeconds = 60

// DefaultMetricsAddr is where the app serves Prometheus metrics unless
// SURGE_METRICS_ADDR says otherwise (app/internal/config).
const DefaultMetricsAddr = "127.0.0.1:9090"

// The app metrics the CloudWatch agent imports (namespace MetricNamespace,
// dimension AutoScalingGroupName; the request counter also by route). The
// agent imports counters (as deltas per scrape), gauges and summaries; it
// drops histograms (amazon-cloudwatch-agent#593), so the app's latency
// histograms stay on the instance.
const (
	MetricGrants       = "surge_admitter_seats_granted_total" // seats granted
	MetricFull         = "surge_admitter_full_total"          // students moved to a waiting list
	MetricBatches      = "surge_admitter_batches_total"       // admitter batches, by result (ok, moved, stale, error)
	MetricBatchSize    = "surge_admitter_batch_size"          // the admitter's adaptive batch size
	MetricQueued       = "surge_waitroom_queued"              // students waiting for a decision, fleet-wide (every instance reports it)
	MetricBatchSeconds = "surge_admitter_batch_seconds"       // grant latency of a batch, a summary by quantile (0.5, 0.99)
	MetricShed         = "surge_http_shed_total"              // requests refused 503 under load
	MetricInflight     = "surge_http_inflight_requests"       // API requests in flight
	MetricRequests     = "surge_http_requests_total"          // by route: only the waiting-room routes are imported
	QueueStatusRoute   = "GET /api/courses/{id}/queue"        // students waiting poll this
	QueueJoinRoute     = "POST /api/courses/{id}/queue"
	metricsScrapeEvery = "15s"
)

var (
	hexDigest   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	bucketName  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	envKey      = regexp.MustCompile(`^SURGE_[A-Z0-9_]+$`)
	regionName  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	safeName    = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	metricsAddr = regexp.MustCompile(`^[A-Za-z0-9.-]*:[0-9]{1,5}$`)
)

// metricsAddr is the app's metrics listener the agent scrapes.
func (p UserDataParams) metricsAddr() string {
	if v, ok := p.Env["SURGE_METRICS_ADDR"]; ok {
		return v
	}
	return DefaultMetricsAddr
}

// secretLooking matches setting names that carry credentials. They must come
// from Secrets Manager, never from user data (CKV_AWS_46 / AVD-AWS-0129).
var secretLooking = regexp.MustCompile(`PASSWORD|TOKEN|SECRET$|_KEY$|DATABASE_URL|DATABASE_READ_URL|REDIS_URL`)

// validate checks every parameter and returns all problems at once.
func (p UserDataParams) validate() error {
	var errs []error
	if !bucketName.MatchString(p.Bucket) {
		errs = append(errs, fmt.Errorf("artifact bucket %q is not a valid S3 bucket name", p.Bucket))
	}
	if p.Key == "" || len(p.Key) > 1024 || strings.ContainsAny(p.Key, "\x00\n\r'") {
		errs = append(errs, fmt.Errorf("artifact key %q must be 1-1024 characters without quotes or control characters", p.Key))
	}
	if !hexDigest.MatchString(p.SHA256) {
		errs = append(errs, fmt.Errorf("artifact sha256 %q must be 64 lowercase hex characters", p.SHA256))
	}
	if !regionName.MatchString(p.Region) {
		errs = append(errs, fmt.Errorf("region %q is not an AWS region name", p.Region))
	}
	if p.AppPort < 1024 || p.AppPort > 65535 {
		errs = append(errs, fmt.Errorf("app port %d must be within 1024-65535 (the unit grants no CAP_NET_BIND_SERVICE)", p.AppPort))
	}
	if p.DrainSeconds < 1 || p.DrainSeconds > 3600 {
		errs = append(errs, fmt.Errorf("drain seconds %d must be within 1-3600", p.DrainSeconds))
	}
	if p.ReadyTimeout < 30 || p.ReadyTimeout > p.HookTimeout-HookMarginSeconds {
		errs = append(errs, fmt.Errorf("ready timeout %d must be within 30-%d seconds (the hook timeout %d less %d s for the answer)",
			p.ReadyTimeout, p.HookTimeout-HookMarginSeconds, p.HookTimeout, HookMarginSeconds))
	}
	if m := p.metricsAddr(); !metricsAddr.MatchString(m) {
		errs = append(errs, fmt.Errorf("SURGE_METRICS_ADDR %q must be host:port (the CloudWatch agent scrapes it)", m))
	}
	for name, v := range map[string]string{"log group": p.LogGroupName, "ASG name": p.ASGName, "lifecycle hook name": p.LifecycleHookName} {
		if !safeName.MatchString(v) {
			errs = append(errs, fmt.Errorf("%s %q must match %s", name, v, safeName))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		v := p.Env[k]
		if !envKey.MatchString(k) {
			errs = append(errs, fmt.Errorf("environment key %q must match %s", k, envKey))
		}
		if secretLooking.MatchString(k) && !strings.HasSuffix(k, "_ARN") {
			errs = append(errs, fmt.Errorf("environment key %q looks like a credential: pass a Secrets Manager ARN instead", k))
		}
		if strings.ContainsAny(v, "\x00\n\r") {
			errs = append(errs, fmt.Errorf("environment value of %s contains a control character", k))
		}
	}
	return errors.Join(errs...)
}

// envQuote quotes a value for a systemd EnvironmentFile.
func envQuote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`
}

// shQuote single-quotes a value for bash.
func shQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// RenderUserData renders the bash boot script. It is a pure function of p, so
// the same inputs give the same bytes and no launch template diff.
func RenderUserData(p UserDataParams) (string, error) {
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("rendering user data: %w", err)
	}
	var env strings.Builder
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		fmt.Fprintf(&env, "%s=%s\n", k, envQuote(p.Env[k]))
	}
	data := map[string]any{
		"Bucket":       shQuote(p.Bucket),
		"Key":          shQuote(p.Key),
		"Source":       shQuote("s3://" + p.Bucket + "/" + p.Key),
		"SHA256":       p.SHA256,
		"Region":       p.Region,
		"Port":         p.AppPort,
		"StopTimeout":  p.DrainSeconds + 15,
		"EnvFile":      env.String(),
		"LogGroup":     p.LogGroupName,
		"ASG":          p.ASGName,
		"Hook":         p.LifecycleHookName,
		"ReadyTimeout": p.ReadyTimeout,
		"HookDeadline": p.HookTimeout - HookMarginSeconds,
		"Namespace":    MetricNamespace,
		"Scrape":       strings.Replace(p.metricsAddr(), "0.0.0.0:", "127.0.0.1:", 1),
		"Every":        metricsScrapeEvery,
		"Counters":     []string{MetricGrants, MetricFull, MetricShed, MetricBatchSize, MetricInflight, MetricQueued},
		"BatchSeconds": MetricBatchSeconds,
		"Requests":     MetricRequests,
		"Batches":      MetricBatches,
		"QueueRoutes":  regexp.QuoteMeta(QueueStatusRoute) + "|" + regexp.QuoteMeta(QueueJoinRoute),
		"RDSCABundle":  RDSCABundlePath,
	}
	var b bytes.Buffer
	if err := userDataTemplate.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering user data: %w", err)
	}
	if b.Len() > MaxUserDataBytes {
		return "", fmt.Errorf("rendering user data: %d bytes exceeds the EC2 limit of %d", b.Len(), MaxUserDataBytes)
	}
	return b.String(), nil
}

// The script runs once per instance (cloud-init user-scripts). Everything that
// must happen on every boot (a warm-pool instance resuming, a reboot) lives in
// systemd units it installs. ROOT (SURGE_ROOT, empty on an instance) prefixes
// every path the script writes, so a test can run it in a temporary root
// with stand-ins for aws, systemctl and dnf.
var userDataTemplate = template.Must(template.New("userdata").Funcs(template.FuncMap{
	"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
}).Parse(`#!/bin/bash
# surge bootstrap: fetch the pinned artifact, verify it, run it under systemd.
set -euo pipefail
umask 027
ROOT="${SURGE_ROOT:-}"
mkdir -p "$ROOT/var/log"
exec > >(tee -a "$ROOT/var/log/surge-bootstrap.log" | logger -t surge-bootstrap) 2>&1
log() { echo "surge-bootstrap: $*"; }

SHA256="{{.SHA256}}"
REGION="{{.Region}}"

id -u surge >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /sbin/nologin surge
install -d -m 0755 "$ROOT/opt/surge/bin"
install -d -m 0750 -o root -g surge "$ROOT/etc/surge"
install -d -m 0750 -o surge -g surge "$ROOT/var/log/surge"
install -d -m 0700 "$ROOT/opt/surge/download"

# Download and verify: nothing is installed or started unless the bytes
# are exactly the pinned digest.
log "downloading {{.Source}}"
aws s3 cp --only-show-errors --region "$REGION" {{.Source}} "$ROOT/opt/surge/download/surge"
if ! echo "${SHA256}  $ROOT/opt/surge/download/surge" | sha256sum --check --status -; then
  log "REFUSING artifact: sha256 $(sha256sum "$ROOT/opt/surge/download/surge" | cut -d' ' -f1) != pinned ${SHA256}"
  rm -rf "$ROOT/opt/surge/download"
  exit 1
fi
install -m 0755 -o root -g root "$ROOT/opt/surge/download/surge" "$ROOT/opt/surge/bin/surge"
rm -rf "$ROOT/opt/surge/download"
log "artifact ${SHA256} verified and installed"

# The RDS certificate bundle of this region: the app verifies the database's
# certificate and host name against it (sslmode verify-full). Fetched over
# HTTPS (the host's own trust store vouches for AWS's site); no bundle, no
# start: the app would refuse every database connection.
fetch_rds_ca() {
  local url="https://truststore.pki.rds.amazonaws.com/${REGION}/${REGION}-bundle.pem"
  curl -fsS --proto '=https' --tlsv1.2 --retry 5 --retry-all-errors --max-time 30 -o "$ROOT/etc/surge/rds-ca.download" "$url" \
    && grep -q -- '-----BEGIN CERTIFICATE-----' "$ROOT/etc/surge/rds-ca.download" \
    && { ! command -v openssl >/dev/null || openssl x509 -noout -in "$ROOT/etc/surge/rds-ca.download"; }
}
if ! fetch_rds_ca; then
  log "REFUSING to start: no RDS certificate bundle for ${REGION}"
  rm -f "$ROOT/etc/surge/rds-ca.download"
  exit 1
fi
install -m 0644 -o root -g root "$ROOT/etc/surge/rds-ca.download" "$ROOT{{.RDSCABundle}}"
rm -f "$ROOT/etc/surge/rds-ca.download"
log "RDS certificate bundle installed"

# Plain settings and Secrets Manager ARNs only: no credential is ever written here.
cat > "$ROOT/etc/surge/surge.env" <<'SURGE_ENV'
{{.EnvFile}}SURGE_ENV
chown root:surge "$ROOT/etc/surge/surge.env"
chmod 0640 "$ROOT/etc/surge/surge.env"

mkdir -p "$ROOT/etc/systemd/system" "$ROOT/etc/logrotate.d"
cat > "$ROOT/etc/systemd/system/surge.service" <<'SURGE_UNIT'
[Unit]
Description=surge course registration service
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
User=surge
Group=surge
EnvironmentFile=/etc/surge/surge.env
# Migrations take a PostgreSQL advisory lock, so instances booting together are safe.
ExecStartPre=/opt/surge/bin/surge migrate
ExecStart=/opt/surge/bin/surge serve
Restart=always
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec={{.StopTimeout}}
StandardOutput=append:/var/log/surge/surge.log
StandardError=inherit
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
AmbientCapabilities=
UMask=0027

[Install]
WantedBy=multi-user.target
SURGE_UNIT

# On every boot: wait for the shallow /healthz (never /readyz: a database or
# cache outage must not make every new instance be abandoned), then let the
# Auto Scaling lifecycle hook continue. The wait ends {{.ReadyTimeout}} s after
# the gate starts and never later than {{.HookDeadline}} s after boot, so the
# answer beats the hook's own timeout (a resumed warm instance boots again).
cat > "$ROOT/opt/surge/bin/surge-ready" <<'SURGE_READY'
#!/bin/bash
set -uo pipefail
ROOT="${SURGE_ROOT:-}"
uptime_s() { cut -d. -f1 "$ROOT/proc/uptime"; }
deadline=$(( $(uptime_s) + {{.ReadyTimeout}} ))
if [ "$deadline" -gt {{.HookDeadline}} ]; then deadline={{.HookDeadline}}; fi
result=ABANDON
while [ "$(uptime_s)" -lt "$deadline" ]; do
  if curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:{{.Port}}/healthz; then result=CONTINUE; break; fi
  sleep 1
done
token=$(curl -fsS --max-time 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
iid=$(curl -fsS --max-time 2 -H "X-aws-ec2-metadata-token: ${token}" http://169.254.169.254/latest/meta-data/instance-id)
echo "surge-ready: ${result} for ${iid} at ${deadline} s deadline, uptime $(uptime_s) s"
aws autoscaling complete-lifecycle-action --region {{.Region}} --auto-scaling-group-name {{.ASG}} \
  --lifecycle-hook-name {{.Hook}} --instance-id "${iid}" --lifecycle-action-result "${result}" \
  || echo "surge-ready: no pending lifecycle action"
[ "${result}" = CONTINUE ]
SURGE_READY
chmod 0755 "$ROOT/opt/surge/bin/surge-ready"
cat > "$ROOT/etc/systemd/system/surge-ready.service" <<'SURGE_READY_UNIT'
[Unit]
Description=surge readiness gate for the Auto Scaling lifecycle hook
After=surge.service
Wants=surge.service

[Service]
Type=oneshot
ExecStart=/opt/surge/bin/surge-ready

[Install]
WantedBy=multi-user.target
SURGE_READY_UNIT

cat > "$ROOT/etc/logrotate.d/surge" <<'SURGE_LOGROTATE'
/var/log/surge/surge.log {
  daily
  rotate 3
  maxsize 100M
  missingok
  notifempty
  compress
  copytruncate
}
SURGE_LOGROTATE

# Logs, host metrics and the app's Prometheus metrics (waiting room, admitter,
# load shedding) to CloudWatch. Best effort: a missing agent must not keep a
# verified app from serving.
CW="$ROOT/opt/aws/amazon-cloudwatch-agent"
if dnf install -y -q amazon-cloudwatch-agent; then
  cat > "$CW/etc/surge-prometheus.yaml" <<'SURGE_PROMETHEUS'
global:
  scrape_interval: {{.Every}}
  scrape_timeout: 5s
scrape_configs:
  - job_name: surge
    static_configs:
      - targets: ["{{.Scrape}}"]
        labels:
          AutoScalingGroupName: "{{.ASG}}"
SURGE_PROMETHEUS
  cat > "$CW/etc/surge.json" <<'SURGE_CWAGENT'
{"agent":{"run_as_user":"root"},
 "logs":{"logs_collected":{"files":{"collect_list":[
   {"file_path":"/var/log/surge/surge.log","log_group_name":"{{.LogGroup}}","log_stream_name":"{instance_id}/app"},
   {"file_path":"/var/log/surge-bootstrap.log","log_group_name":"{{.LogGroup}}","log_stream_name":"{instance_id}/bootstrap"}]}},
   "metrics_collected":{"prometheus":{"log_group_name":"{{.LogGroup}}",
     "prometheus_config_path":"/opt/aws/amazon-cloudwatch-agent/etc/surge-prometheus.yaml",
     "emf_processor":{"metric_declaration_dedup":true,"metric_namespace":"{{.Namespace}}","metric_declaration":[
       {"source_labels":["job"],"label_matcher":"^surge$","dimensions":[["AutoScalingGroupName"]],
        "metric_selectors":[{{range $i, $m := .Counters}}{{if $i}},{{end}}{{json (printf "^%s$" $m)}}{{end}}]},
       {"source_labels":["job"],"label_matcher":"^surge$","dimensions":[["AutoScalingGroupName","result"]],
        "metric_selectors":[{{json (printf "^%s$" .Batches)}}]},
       {"source_labels":["job"],"label_matcher":"^surge$","dimensions":[["AutoScalingGroupName","quantile"]],
        "metric_selectors":[{{json (printf "^%s$" .BatchSeconds)}}]},
       {"source_labels":["route"],"label_matcher":{{json (printf "^(%s)$" .QueueRoutes)}},"dimensions":[["AutoScalingGroupName","route"]],
        "metric_selectors":[{{json (printf "^%s$" .Requests)}}]}]}}}},
 "metrics":{"namespace":"{{.Namespace}}",
   "append_dimensions":{"AutoScalingGroupName":"${aws:AutoScalingGroupName}","InstanceId":"${aws:InstanceId}"},
   "aggregation_dimensions":[["AutoScalingGroupName"]],
   "metrics_collected":{"mem":{"measurement":["mem_used_percent"]},"disk":{"measurement":["used_percent"],"resources":["/"]}}}}
SURGE_CWAGENT
  "$CW/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s \
    -c file:/opt/aws/amazon-cloudwatch-agent/etc/surge.json || log "cloudwatch agent failed to start"
else
  log "amazon-cloudwatch-agent unavailable: logs stay on the instance"
fi

systemctl daemon-reload
systemctl enable surge.service surge-ready.service
# --no-block: a failing migration (database not reachable yet) is retried by
# Restart=always; the readiness gate decides the lifecycle hook.
systemctl start --no-block surge.service surge-ready.service
log "surge started on port {{.Port}}"
`))
