package stacks

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/surge-dev/surge/components/waf"
)

var (
	domainName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	sha256Hex  = regexp.MustCompile(`^[0-9a-f]{64}$`)
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

// validateApp adds what the fleet's Spec cannot know: the clock (AWS
// refuses a past one-off start) and the release the stack would run.
func (c *Config) validateApp(p *problems) {
	p.merge("surge:app", c.App.Spec.Validate())
	for i, s := range c.App.ScheduledScaleOuts {
		if start, err := time.Parse(time.RFC3339, s.StartTime); err == nil && !start.After(c.now()) {
			// AWS refuses a past start time, and deletes a one-off action
			// once it has run: remove it from the stack file after the rush.
			p.add(fmt.Sprintf("surge:app.scheduledScaleOuts[%d].startTime", i), "%s is in the past; remove one-off scale-outs once they have run", s.StartTime)
		}
	}
	if c.App.Release != "" && !sha256Hex.MatchString(c.App.Release) {
		p.add("surge:app.release", "%q is not a SHA-256 (64 lowercase hex characters, the artifactSha256 output of an earlier up)", c.App.Release)
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
