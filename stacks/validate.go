package stacks

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/surge-dev/surge/components/compute"
	"github.com/surge-dev/surge/components/spec"
	"github.com/surge-dev/surge/components/waf"
)

var (
	domainName    = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	scheduleName  = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	durationValue = regexp.MustCompile(`^[0-9]+(ms|s|m)$`)
	sha256Hex     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// validate appends every problem to p; keys are the full config keys.
func (c *Config) validate(p *problems) {
	p.merge("surge:network", c.Network.Validate())
	c.validateZones(p)
	p.merge("surge:loadBalancer", c.LoadBalancer.Validate())
	c.validateDrain(p)
	c.validateApp(p)
	p.merge("surge:database", c.Database.Validate())
	p.merge("surge:cache", c.Cache.Validate())
	c.validateEdge(p)
	p.merge("surge:monitoring", c.Monitoring.Validate())
	if c.Environment == Prod {
		c.validateProdFloor(p)
	}
}

// validateZones checks the explicit zones against aws:region, which the
// network's Spec does not hold.
func (c *Config) validateZones(p *problems) {
	for i, az := range c.Network.AvailabilityZones {
		if c.Region != "" && (!strings.HasPrefix(az, c.Region) || len(az) != len(c.Region)+1) {
			p.add(fmt.Sprintf("surge:network.availabilityZones[%d]", i), "%q is not a zone of region %s", az, c.Region)
		}
	}
}

// validateDrain keeps the load balancer waiting for the app: the ALB stops
// sending new requests at deregistration, and the app must be allowed to
// finish in-flight ones before the instance is terminated.
func (c *Config) validateDrain(p *problems) {
	if c.LoadBalancer.DeregistrationDelaySeconds < c.App.DrainTimeoutSeconds {
		p.add("surge:loadBalancer.deregistrationDelaySeconds", "%d is shorter than surge:app.drainTimeoutSeconds (%d): requests would be cut off", c.LoadBalancer.DeregistrationDelaySeconds, c.App.DrainTimeoutSeconds)
	}
}

func (c *Config) validateApp(p *problems) {
	a := c.App
	const k = "surge:app."
	if len(a.InstanceTypes) == 0 {
		p.add(k+"instanceTypes", "needs at least one Graviton instance type")
	}
	for i, t := range a.InstanceTypes {
		if !spec.Graviton("", t) {
			p.add(fmt.Sprintf("%sinstanceTypes[%d]", k, i), "%q is not a Graviton (arm64) instance type; the app binary is built for linux/arm64 (e.g. t4g.small, m7g.large, c7g.xlarge)", t)
		}
	}
	if a.MinSize < 0 {
		p.add(k+"minSize", "%d is negative", a.MinSize)
	}
	if a.MaxSize < 1 {
		p.add(k+"maxSize", "%d must be at least 1", a.MaxSize)
	}
	if a.MinSize > a.MaxSize {
		p.add(k+"minSize", "%d is greater than maxSize (%d)", a.MinSize, a.MaxSize)
	}
	if a.DesiredCapacity < a.MinSize || a.DesiredCapacity > a.MaxSize {
		p.add(k+"desiredCapacity", "%d is outside minSize..maxSize (%d..%d)", a.DesiredCapacity, a.MinSize, a.MaxSize)
	}
	if a.SpotPercent < 0 || a.SpotPercent > 100 {
		p.add(k+"spotPercent", "%d is outside 0..100", a.SpotPercent)
	}
	if a.WarmPool != nil {
		if a.WarmPool.MinSize < 0 || a.WarmPool.MinSize > a.MaxSize {
			p.add(k+"warmPool.minSize", "%d is outside 0..maxSize (%d)", a.WarmPool.MinSize, a.MaxSize)
		}
		if mp := a.WarmPool.MaxGroupPreparedCapacity; mp < max(1, a.WarmPool.MinSize) || mp > a.MaxSize {
			p.add(k+"warmPool.maxGroupPreparedCapacity", "%d is outside max(1, warmPool.minSize)..maxSize (%d..%d): unset, AWS keeps maxSize minus desired instances prepared",
				mp, max(1, a.WarmPool.MinSize), a.MaxSize)
		}
		// A warm instance is stopped before its user data may have finished
		// and is not re-run on start: only Stopped pools pass the boot gate.
		if a.WarmPool.State != "Stopped" {
			p.add(k+"warmPool.state", "must be \"Stopped\" (a Running or Hibernated warm instance would skip the boot readiness gate), got %q", a.WarmPool.State)
		}
		// AWS refuses a warm pool on a group with a mixed instances policy.
		if a.SpotPercent > 0 || len(a.InstanceTypes) > 1 {
			p.add(k+"warmPool", "needs exactly one instance type and spotPercent 0 (EC2 Auto Scaling warm pools do not support mixed instances policies)")
		}
	}
	if a.RootVolumeGiB < 8 || a.RootVolumeGiB > 1024 {
		p.add(k+"rootVolumeGiB", "%d is outside 8..1024", a.RootVolumeGiB)
	}
	if a.Port < 1024 || a.Port > 65535 {
		p.add(k+"port", "%d is outside 1024..65535 (the app runs without privileges)", a.Port)
	}
	// The boot readiness gate waits at most the grace period, inside the
	// fixed launch lifecycle-hook timeout.
	if a.HealthCheckGraceSeconds < 30 || a.HealthCheckGraceSeconds > compute.MaxHealthCheckGraceSeconds {
		p.add(k+"healthCheckGraceSeconds", "%d is outside 30..%d", a.HealthCheckGraceSeconds, compute.MaxHealthCheckGraceSeconds)
	}
	if a.TargetRequestsPerTarget <= 0 {
		p.add(k+"targetRequestsPerTarget", "%v must be positive", a.TargetRequestsPerTarget)
	}
	if a.TargetCPUPercent <= 0 || a.TargetCPUPercent > 100 {
		p.add(k+"targetCpuPercent", "%v is outside (0, 100]", a.TargetCPUPercent)
	}
	if a.InstanceRefreshMinHealthyPercent < 0 || a.InstanceRefreshMinHealthyPercent > 100 {
		p.add(k+"instanceRefreshMinHealthyPercent", "%d is outside 0..100", a.InstanceRefreshMinHealthyPercent)
	}
	names := map[string]bool{}
	for i, s := range a.ScheduledScaleOuts {
		sk := fmt.Sprintf("%sscheduledScaleOuts[%d]", k, i)
		if !scheduleName.MatchString(s.Name) {
			p.add(sk+".name", "%q must be 1-64 letters, digits or dashes", s.Name)
		} else if names[s.Name] {
			p.add(sk+".name", "%q is used twice", s.Name)
		}
		names[s.Name] = true
		switch {
		case (s.Recurrence == "") == (s.StartTime == ""):
			p.add(sk, "needs exactly one of recurrence (cron) or startTime (RFC 3339)")
		case s.Recurrence != "" && len(strings.Fields(s.Recurrence)) != 5:
			p.add(sk+".recurrence", "%q is not a 5-field cron expression (minute hour day month weekday)", s.Recurrence)
		case s.StartTime != "":
			start, err := time.Parse(time.RFC3339, s.StartTime)
			switch {
			case err != nil:
				p.add(sk+".startTime", "%q is not an RFC 3339 time", s.StartTime)
			case !start.After(c.now()):
				// AWS refuses a past start time, and deletes a one-off action
				// once it has run: remove it from the stack file after the rush.
				p.add(sk+".startTime", "%s is in the past; remove one-off scale-outs once they have run", s.StartTime)
			}
		}
		if s.TimeZone == "" {
			p.add(sk+".timeZone", "is required (an IANA name such as Asia/Seoul): cron in UTC is a classic off-by-hours rush")
		} else if _, err := time.LoadLocation(s.TimeZone); err != nil {
			p.add(sk+".timeZone", "%q is not an IANA time zone", s.TimeZone)
		}
		if s.MinSize < 0 || s.MinSize > s.MaxSize || s.DesiredCapacity < s.MinSize || s.DesiredCapacity > s.MaxSize {
			p.add(sk, "needs 0 <= minSize <= desiredCapacity <= maxSize, got %d/%d/%d", s.MinSize, s.DesiredCapacity, s.MaxSize)
		}
	}
	if a.AdmitBatch < 1 || a.AdmitBatch > 10000 {
		p.add(k+"admitBatch", "%d is outside 1..10000", a.AdmitBatch)
	}
	interval, errI := time.ParseDuration(a.AdmitInterval)
	if errI != nil || !durationValue.MatchString(a.AdmitInterval) || interval <= 0 {
		p.add(k+"admitInterval", "%q is not a duration such as 50ms or 1s", a.AdmitInterval)
	}
	lease, errL := time.ParseDuration(a.AdmitLease)
	switch {
	case errL != nil || !durationValue.MatchString(a.AdmitLease):
		p.add(k+"admitLease", "%q is not a duration such as 5s or 1m", a.AdmitLease)
	case lease < 500*time.Millisecond || (errI == nil && lease < 4*interval):
		// A lease shorter than a few admitter ticks would expire under a
		// healthy admitter and hand students back twice.
		p.add(k+"admitLease", "%s must be at least 500ms and 4x admitInterval (%s)", a.AdmitLease, a.AdmitInterval)
	}
	if a.DrainTimeoutSeconds < 1 || a.DrainTimeoutSeconds > 300 {
		p.add(k+"drainTimeoutSeconds", "%d is outside 1..300", a.DrainTimeoutSeconds)
	}
	if a.MaxInflight < 1 {
		p.add(k+"maxInflight", "%d must be at least 1", a.MaxInflight)
	}
	if a.Release != "" && !sha256Hex.MatchString(a.Release) {
		p.add(k+"release", "%q is not a SHA-256 (64 lowercase hex characters, the artifactSha256 output of an earlier up)", a.Release)
	}
}

func (c *Config) validateEdge(p *problems) {
	e := c.Edge
	const k = "surge:edge."
	if e.Domain != "" {
		if !domainName.MatchString(e.Domain) {
			p.add(k+"domain", "%q is not a lowercase DNS name", e.Domain)
		}
		n := 0
		for _, set := range []bool{e.HostedZoneID != "", e.HostedZoneName != "", e.CreateZone} {
			if set {
				n++
			}
		}
		if n != 1 {
			p.add(k+"domain", "needs exactly one of hostedZoneId, hostedZoneName or createZone")
		}
		if e.HostedZoneName != "" && e.Domain != e.HostedZoneName && !strings.HasSuffix(e.Domain, "."+e.HostedZoneName) {
			p.add(k+"hostedZoneName", "%q does not contain domain %q", e.HostedZoneName, e.Domain)
		}
	} else if e.HostedZoneID != "" || e.HostedZoneName != "" || e.CreateZone {
		p.add(k+"domain", "is empty but a hosted zone is configured")
	}
	switch e.PriceClass {
	case "PriceClass_100", "PriceClass_200", "PriceClass_All":
	default:
		p.add(k+"priceClass", "must be PriceClass_100, PriceClass_200 or PriceClass_All, got %q", e.PriceClass)
	}
	if e.WAFMode != "block" && e.WAFMode != "count" {
		p.add(k+"wafMode", "must be \"block\" or \"count\", got %q", e.WAFMode)
	}
	// WAF rate-based rules accept 10 .. 2,000,000,000 requests per window;
	// some provider builds refuse less than 100 (pulumi-aws #5841).
	for _, r := range []struct {
		key string
		v   int
	}{{"rateLimit", e.RateLimit}, {"enrollRateLimit", e.EnrollRateLimit}} {
		if r.v < 100 || r.v > 2_000_000_000 {
			p.add(k+r.key, "%d is outside 100..2000000000 (AWS WAF rate-based rule limits)", r.v)
		}
	}
	for _, err := range waf.ValidateTrustedCIDRs(e.TrustedCIDRs) {
		p.add(k+"trustedCidrs", "%v", err)
	}
	for _, err := range waf.ValidateAdminCIDRs(e.AdminCIDRs) {
		p.add(k+"adminCidrs", "%v", err)
	}
	if e.ZoneDelegated && !e.CreateZone {
		p.add(k+"zoneDelegated", "only applies with createZone: an existing zone is delegated already")
	}
	if e.EnrollRateLimit > e.RateLimit {
		p.add(k+"enrollRateLimit", "%d is looser than rateLimit (%d); the enrollment paths should be the tighter limit", e.EnrollRateLimit, e.RateLimit)
	}
}

// validateProdFloor refuses a prod stack that has quietly become a single
// point of failure: these are the brief's prod guarantees, not preferences.
func (c *Config) validateProdFloor(p *problems) {
	const why = "(prod must stay highly available)"
	if c.Network.AZCount < 2 {
		p.add("surge:network.azCount", "prod needs at least 2 AZs, got %d %s", c.Network.AZCount, why)
	}
	if c.Network.NATGateways != "per-az" {
		p.add("surge:network.natGateways", "prod needs \"per-az\" so one AZ's outage does not cut the others off %s", why)
	}
	if c.App.MinSize < 2 {
		p.add("surge:app.minSize", "prod needs at least 2 instances, got %d %s", c.App.MinSize, why)
	}
	if c.App.SpotPercent != 0 {
		p.add("surge:app.spotPercent", "spot capacity is for dev only; prod got %d", c.App.SpotPercent)
	}
	if !c.Database.MultiAZ {
		p.add("surge:database.multiAz", "prod needs a Multi-AZ database %s", why)
	}
	if c.Database.Replicas < 1 {
		p.add("surge:database.replicas", "prod needs at least 1 read replica, got %d", c.Database.Replicas)
	}
	if c.Database.BackupRetentionDays < 7 {
		p.add("surge:database.backupRetentionDays", "prod needs at least 7 days of backups, got %d", c.Database.BackupRetentionDays)
	}
	if !c.Database.DeletionProtection {
		p.add("surge:database.deletionProtection", "prod needs deletion protection")
	}
	if !c.LoadBalancer.DeletionProtection {
		p.add("surge:loadBalancer.deletionProtection", "prod needs deletion protection")
	}
	if c.Cache.Replicas < 1 || !c.Cache.MultiAZ {
		p.add("surge:cache", "prod needs replicas >= 1 and multiAz (automatic failover) %s", why)
	}
	if c.Edge.WAFMode != "block" {
		p.add("surge:edge.wafMode", "prod needs \"block\": count mode only observes attacks")
	}
	// Without a name of its own, viewers get CloudFront's default
	// certificate (TLSv1 allowed) and the origin hop is plain HTTP.
	if c.Edge.Domain == "" {
		p.add("surge:edge.domain", "prod is served on its own domain (TLSv1.2_2021 at the edge, HTTPS to the origin): "+
			"set surge:edge.domain, e.g. register.example.edu, with its public hosted zone given one of two ways: "+
			"an existing zone by ID or name (surge:edge.hostedZoneId or surge:edge.hostedZoneName), "+
			"or a zone created by the stack (surge:edge.createZone: true, two phases: README.md, \"First deploy\")")
	}
}
