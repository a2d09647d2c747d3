package stacks

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
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
	p.merge("surge:edge", c.Edge.DNSSpec.Validate())
	p.merge("surge:edge", c.Edge.CDNSpec.Validate())
	p.merge("surge:edge", c.Edge.WAFSpec.Validate())
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
