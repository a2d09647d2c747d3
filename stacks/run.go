package stacks

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/cache"
	"github.com/surge-dev/surge/components/cdn"
	"github.com/surge-dev/surge/components/compute"
	"github.com/surge-dev/surge/components/database"
	"github.com/surge-dev/surge/components/dns"
	"github.com/surge-dev/surge/components/firewall"
	"github.com/surge-dev/surge/components/loadbalancer"
	"github.com/surge-dev/surge/components/monitoring"
	"github.com/surge-dev/surge/components/network"
	"github.com/surge-dev/surge/components/release"
	"github.com/surge-dev/surge/components/secrets"
	"github.com/surge-dev/surge/components/storage"
	"github.com/surge-dev/surge/components/waf"
)

// Deps are what the program needs from outside Pulumi.
type Deps struct {
	// Build produces the app binary. The program's is GoBuilder.
	Build Builder
	// Log receives progress lines; nil = the Pulumi log (ctx.Log.Info),
	// which the CLI shows during preview and up.
	Log func(msg string)
}

// Run is the Pulumi program of the surge project.
func Run(ctx *pulumi.Context) error {
	return RunWith(Deps{Build: GoBuilder(".", "./app/cmd/surge", ".surge-build")})(ctx)
}

// RunWith returns the program with its dependencies injected (tests pass a
// builder that does not compile the app).
func RunWith(deps Deps) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		// Config first: a bad stack file fails here, listing every problem,
		// before a single resource is declared.
		cfg, err := Load(ctx.Project(), ctx.Stack(), pulumiSource{ctx})
		if err != nil {
			return err
		}
		logInfo := deps.Log
		if logInfo == nil {
			logInfo = func(msg string) {
				_ = ctx.Log.Info(msg, nil) // a lost progress line is not worth failing the deploy
			}
		}
		if cfg.Edge.ZoneOnly() {
			// Phase one of a created zone: certificates cannot validate
			// before the registrar delegates to the new name servers.
			return deployZoneOnly(ctx, cfg, logInfo)
		}
		if cfg.App.Release != "" {
			// A rollback (or a pinned roll-forward): nothing to build.
			logInfo(fmt.Sprintf("surge:app.release pins release %s: not building this checkout", cfg.App.Release))
			return deploy(ctx, cfg, release.Artifact{SHA256: cfg.App.Release})
		}
		// The build runs during preview too and takes minutes on a cold
		// cache: say so, or the CLI sits silent.
		logInfo("building surge for linux/arm64 (go build; several minutes on a cold build cache) ...")
		art, err := deps.Build(ctx.Context())
		if err != nil {
			return fmt.Errorf("building the app artifact: %w", err)
		}
		msg := "built surge for linux/arm64: sha256 " + art.SHA256
		if art.Toolchain != "" {
			msg += " (" + art.Toolchain + ", source " + art.Source + ")"
		}
		logInfo(msg)
		return deploy(ctx, cfg, art)
	}
}

// deploy declares the whole stack for a valid config.
func deploy(ctx *pulumi.Context, c *Config, art release.Artifact) error {
	p, err := newProviders(ctx, c)
	if err != nil {
		return err
	}
	regional := pulumi.Provider(p.Regional)
	id, err := aws.GetCallerIdentity(ctx, nil, regional)
	if err != nil {
		return fmt.Errorf("looking up the account: %w", err)
	}
	azs, err := availabilityZones(ctx, c, regional)
	if err != nil {
		return err
	}
	name := c.Project + "-" + c.Stack
	in := func(component string) []pulumi.ResourceOption { return componentOpts(p, component) }
	dev := c.Environment == Dev
	https := c.Edge.Domain != ""

	net, err := network.NewNetwork(ctx, name, &network.NetworkArgs{
		Spec:   c.Network,
		Region: c.Region,
		Zones:  azs,
	}, in("network")...)
	if err != nil {
		return err
	}
	prefixList, err := ec2LookupCloudFrontPrefixList(ctx, regional)
	if err != nil {
		return err
	}
	fw, err := firewall.NewSecurityGroups(ctx, name, &firewall.SecurityGroupsArgs{
		VPCID:                  net.VPCID,
		ListenerPort:           loadbalancer.ListenerPort(https),
		AppPort:                c.App.Port,
		CloudFrontPrefixListID: pulumi.String(prefixList),
	}, in("firewall")...)
	if err != nil {
		return err
	}

	pages, pageKeys, assetsNotFound, err := siteFiles()
	if err != nil {
		return err
	}
	buckets, err := storage.NewBuckets(ctx, name, &storage.BucketsArgs{
		AccountID:      id.AccountId,
		Region:         c.Region,
		AllowedOrigins: siteOrigins(c),
		ForceDestroy:   dev,
		SiteFiles:      pages,
	}, in("storage")...)
	if err != nil {
		return err
	}

	recovery := 7
	if dev {
		recovery = 0 // a dev stack can be destroyed and created again at once
	}
	db, err := database.NewPostgres(ctx, name, &database.PostgresArgs{
		Spec:                     c.Database,
		SubnetIDs:                net.DataSubnetIDs,
		SecurityGroupID:          fw.DatabaseSecurityGroupID,
		AvailabilityZones:        azs,
		SkipFinalSnapshot:        !c.Database.DeletionProtection,
		SecretRecoveryWindowDays: &recovery,
	}, in("database")...)
	if err != nil {
		return err
	}
	redis, err := cache.NewRedis(ctx, name, &cache.RedisArgs{
		Spec:                     c.Cache,
		SubnetIDs:                net.DataSubnetIDs,
		SecurityGroupID:          fw.CacheSecurityGroupID,
		AutomaticFailover:        c.Cache.Replicas > 0,
		SecretRecoveryWindowDays: &recovery,
	}, in("cache")...)
	if err != nil {
		return err
	}
	admin, err := secrets.NewAdminToken(ctx, name, &secrets.AdminTokenArgs{RecoveryWindowDays: &recovery}, in("secrets")...)
	if err != nil {
		return err
	}

	// Certificates come before the load balancer (its HTTPS listener) and
	// the distribution (its alias); they are validated, so `up` waits.
	certs, err := dns.NewZoneAndCertificates(ctx, name, &dns.ZoneAndCertificatesArgs{ // the same component as deployZoneOnly's: the zone is kept
		Spec:    c.Edge.DNSSpec,
		USEast1: p.USEast1,
	}, in("dns")...)
	if err != nil {
		return err
	}
	var listenerCert pulumi.StringPtrInput
	if https {
		listenerCert = certs.OriginCertificateARN
	}
	alb, err := loadbalancer.NewALB(ctx, name, &loadbalancer.ALBArgs{
		Spec:            c.LoadBalancer,
		VPCID:           net.VPCID,
		SubnetIDs:       net.AppSubnetIDs,
		SecurityGroupID: fw.ALBSecurityGroupID,
		HTTPS:           https,
		CertificateARN:  listenerCert,
		AppPort:         c.App.Port,
		// The name is the bucket policy's output: the ALB waits for the ELB
		// log-delivery grant, or AWS refuses to enable access logs.
		AccessLogsBucket: buckets.Logs.Name,
	}, in("loadbalancer")...)
	if err != nil {
		return err
	}

	acl, err := waf.NewWebACL(ctx, name, &waf.WebACLArgs{
		Spec:             c.Edge.WAFSpec,
		USEast1:          p.USEast1,
		LogRetentionDays: c.Monitoring.LogRetentionDays,
	}, in("waf")...)
	if err != nil {
		return err
	}
	// Course materials: the key pair whose public half /media/* trusts and
	// whose private half only the app reads.
	signing, err := cdn.NewMediaSigning(ctx, name, &cdn.MediaSigningArgs{RecoveryWindowDays: &recovery}, in("cdn")...)
	if err != nil {
		return err
	}
	cdnArgs := &cdn.DistributionArgs{
		Spec:                c.Edge.CDNSpec,
		USEast1:             p.USEast1,
		AccountID:           id.AccountId,
		StaticBucket:        buckets.Static,
		UploadsBucket:       buckets.Uploads,
		LogsBucketARN:       buckets.Logs.ARN,
		LoadBalancerARN:     alb.LoadBalancerARN,
		LoadBalancerDNSName: alb.DNSName,
		OriginRegion:        c.Region,
		WebACLARN:           acl.ARN,
		SitePaths:           pageKeys,
		AssetsNotFoundPage:  assetsNotFound,
		MediaKeyGroupID:     signing.KeyGroupID,
	}
	if https {
		cdnArgs.OriginDomain = certs.OriginDomain
		cdnArgs.HTTPSPort = alb.ListenerPort
		cdnArgs.Aliases = []string{c.Edge.Domain}
		cdnArgs.CertificateARN = certs.CloudFrontCertificateARN
	} else {
		cdnArgs.HTTPPort = alb.ListenerPort
	}
	dist, err := cdn.NewDistribution(ctx, name, cdnArgs, in("cdn")...)
	if err != nil {
		return err
	}
	if !https {
		// Without a domain the site's origin is CloudFront's own name,
		// known only now.
		if err := buckets.AllowUploadsFrom(ctx, pulumi.StringArray{pulumi.Sprintf("https://%s", dist.DomainName)}); err != nil {
			return fmt.Errorf("allowing uploads from the distribution: %w", err)
		}
	}
	if https {
		if _, err := dns.NewAliasRecords(ctx, name, &dns.AliasRecordsArgs{
			ZoneID:                   certs.ZoneID,
			SiteDomain:               c.Edge.Domain,
			DistributionDomainName:   dist.DomainName,
			DistributionHostedZoneID: dist.HostedZoneID,
			OriginDomain:             certs.OriginDomain,
			LoadBalancerDNSName:      alb.DNSName,
			LoadBalancerZoneID:       alb.ZoneID,
		}, in("dns")...); err != nil {
			return err
		}
	}

	artifactBucket := buckets.ArtifactsBucketName
	if c.App.Release == "" {
		up, err := release.NewUpload(ctx, name, &release.UploadArgs{Bucket: buckets.ArtifactsBucketName, Artifact: art}, in("release")...)
		if err != nil {
			return err
		}
		artifactBucket = up.Bucket // the fleet waits for the upload
	} else {
		// Releases are retained on delete, so every digest an earlier `up`
		// built is still there; refuse a typo before the fleet rolls.
		bucket := storage.BucketName(name, storage.KindArtifacts, id.AccountId, c.Region)
		if err := verifyRelease(ctx, bucket, c.App.Release, regional); err != nil {
			return err
		}
	}
	siteURL := pulumi.Sprintf("https://%s", dist.DomainName)
	if https {
		siteURL = pulumi.Sprintf("https://%s", c.Edge.Domain)
	}
	env := appEnv(db.ReadEndpoint)
	// Download links are signed for the site's own origin, whose /media/*
	// behaviour trusts the key group.
	env["SURGE_MEDIA_BUCKET"] = buckets.UploadsBucketName
	env["SURGE_MEDIA_BASE_URL"] = siteURL
	env["SURGE_MEDIA_KEY_PAIR_ID"] = signing.PublicKeyID
	fleet, err := compute.NewAppFleet(ctx, name, &compute.AppFleetArgs{
		Spec:                  c.App.Spec,
		SubnetIDs:             net.AppSubnetIDs,
		SecurityGroupID:       fw.AppSecurityGroupID,
		TargetGroupARN:        alb.TargetGroupARN,
		LoadBalancerARNSuffix: alb.ARNSuffix,
		TargetGroupARNSuffix:  alb.TargetGroupARNSuffix,
		OnDemandBase:          onDemandBase(c),
		InstanceTags: map[string]string{
			"project": c.Project, "stack": c.Stack, "environment": string(c.Environment), "component": "compute",
		},
		Artifact:            art,
		ArtifactsBucket:     artifactBucket,
		ArtifactsBucketARN:  buckets.Artifacts.ARN,
		Env:                 env,
		DatabaseSecretARN:   db.SecretARN,
		CacheSecretARN:      redis.SecretARN,
		CacheMode:           redis.Mode,
		AdminTokenSecretARN: admin.SecretARN,
		LogRetentionDays:    c.Monitoring.LogRetentionDays,
		Region:              c.Region,

		// serve reads only the app role's secret; the master's is for migrate.
		AppDatabaseSecretARN: db.AppSecretARN,
		Materials: &compute.Materials{
			BucketARN:           buckets.Uploads.ARN,
			Prefix:              storage.MaterialsPrefix,
			SigningKeySecretARN: signing.SecretARN,
		},
	}, in("compute")...)
	if err != nil {
		return err
	}

	// Monitoring comes last: it watches what the others declared, the
	// fleet's group included.
	mon, err := monitoring.NewAlarms(ctx, name, &monitoring.AlarmsArgs{
		Spec:                    c.Monitoring,
		USEast1:                 p.USEast1,
		AccountID:               id.AccountId,
		Region:                  c.Region,
		LoadBalancerARNSuffix:   alb.ARNSuffix,
		TargetGroupARNSuffix:    alb.TargetGroupARNSuffix,
		AutoScalingGroupName:    fleet.ASGName,
		MinInstances:            c.App.MinSize,
		DBInstanceID:            db.Identifier,
		DBReplicaIDs:            db.ReplicaIDs,
		DBParameterGroupNames:   []pulumi.StringInput{db.ParameterGroupName},
		CacheReplicationGroupID: redis.ReplicationGroupID,
		CacheClusterMode:        redis.ClusterMode,
		CacheShards:             redis.Shards,
		CacheNodes:              redis.NodesPerShard,
		DistributionID:          dist.DistributionID,
		WebACLMetricName:        acl.MetricName,
	}, in("monitoring")...)
	if err != nil {
		return err
	}

	for k, v := range map[string]pulumi.Input{
		"environment":          pulumi.String(string(c.Environment)),
		"region":               pulumi.String(c.Region),
		"siteUrl":              siteURL,
		"cloudFrontDomain":     dist.DomainName,
		"cloudFrontId":         dist.DistributionID,
		"webAclArn":            acl.ARN,
		"albDnsName":           alb.DNSName,
		"vpcId":                net.VPCID,
		"availabilityZones":    pulumi.ToStringArray(azs),
		"asgName":              fleet.ASGName,
		"launchTemplateId":     fleet.LaunchTemplateID,
		"artifactSha256":       pulumi.String(art.SHA256),
		"artifactKey":          pulumi.String(art.Key()),
		"dbWriterEndpoint":     db.WriterEndpoint,
		"dbReplicaEndpoints":   db.ReplicaEndpoints,
		"dbSecretArn":          db.SecretARN,
		"dbAppSecretArn":       db.AppSecretARN,
		"cacheEndpoint":        redis.Endpoint,
		"cacheMode":            pulumi.String(redis.Mode),
		"cachePrimaryEndpoint": redis.PrimaryEndpoint,
		"cacheReaderEndpoint":  redis.ReaderEndpoint,
		"cacheSecretArn":       redis.SecretARN,
		"adminTokenSecretArn":  admin.SecretARN,
		"alarmTopicArn":        mon.TopicARN,
		"dashboardUrl":         mon.DashboardURL,
		"appLogGroup":          fleet.LogGroupName,
		"staticBucket":         buckets.StaticBucketName,
		"uploadsBucket":        buckets.UploadsBucketName,
		"artifactsBucket":      buckets.ArtifactsBucketName,
		"logsBucket":           buckets.LogsBucketName,
	} {
		ctx.Export(k, v)
	}
	if https {
		ctx.Export("nameServers", certs.NameServers)
	}
	return nil
}

// componentOpts are every component's options: the regional provider and
// the component tag.
func componentOpts(p *Providers, component string) []pulumi.ResourceOption {
	return []pulumi.ResourceOption{pulumi.Providers(p.Regional), componentTags(component)}
}

// deployZoneOnly is the first `up` of a stack that creates its hosted zone:
// the zone alone, its name servers and the next step. The second phase
// (surge:edge.zoneDelegated) declares the same zone under the same
// component, so it is kept, and adds everything else.
func deployZoneOnly(ctx *pulumi.Context, c *Config, logInfo func(string)) error {
	p, err := newProviders(ctx, c)
	if err != nil {
		return err
	}
	name := c.Project + "-" + c.Stack
	certs, err := dns.NewZoneAndCertificates(ctx, name, &dns.ZoneAndCertificatesArgs{
		Spec:    c.Edge.DNSSpec,
		USEast1: p.USEast1,
	}, componentOpts(p, "dns")...)
	if err != nil {
		return err
	}
	next := fmt.Sprintf("delegate %s to these name servers at your registrar (or with NS records in the parent zone), "+
		"check with `dig +short NS %s`, then `pulumi config set --path surge:edge.zoneDelegated true` and `pulumi up` again "+
		"for the certificates, the site and its aliases", c.Edge.Domain, c.Edge.Domain)
	logInfo("surge:edge.createZone, first phase: only the hosted zone is declared. Next: " + next +
		". (On a stack that already serves the site this up would delete it: keep zoneDelegated true once set.)")
	ctx.Export("nameServers", certs.NameServers)
	ctx.Export("nextStep", pulumi.String(next))
	ctx.Export("environment", pulumi.String(string(c.Environment)))
	ctx.Export("region", pulumi.String(c.Region))
	return nil
}

// verifyRelease checks that the pinned release is in the artifacts bucket
// and holds the bytes its digest names (S3's own SHA-256 of the upload, or
// the digest the upload stamped in its metadata).
func verifyRelease(ctx *pulumi.Context, bucket, digest string, opt pulumi.InvokeOption) error {
	key := release.Key(digest)
	mode := "ENABLED"
	obj, err := s3.GetObject(ctx, &s3.GetObjectArgs{Bucket: bucket, Key: key, ChecksumMode: &mode}, opt)
	if err != nil {
		return fmt.Errorf("surge:app.release: s3://%s/%s cannot be read (list the uploaded releases with `aws s3 ls s3://%s/%s`): %w",
			bucket, key, bucket, release.Prefix, err)
	}
	if !releaseMatches(obj.ChecksumSha256, obj.Metadata, digest) {
		return fmt.Errorf("surge:app.release: s3://%s/%s does not hold the bytes of %s (checksum %q)", bucket, key, digest, obj.ChecksumSha256)
	}
	return nil
}

// releaseMatches compares S3's base64 SHA-256 of a single-part upload, or
// else the sha256 metadata the upload set, with the hex digest.
func releaseMatches(checksum string, metadata map[string]string, digest string) bool {
	if raw, err := hex.DecodeString(digest); err == nil && checksum == base64.StdEncoding.EncodeToString(raw) {
		return true
	}
	for k, v := range metadata {
		if strings.EqualFold(k, "sha256") && v == digest {
			return true
		}
	}
	return false
}

// availabilityZones are the configured zones, or the region's first
// azCount available ones. Zones where CloudFront VPC origins cannot reach
// the ALB (by zone ID: the name-to-ID mapping differs per account) are never
// used: the load balancer spans every zone of the network.
func availabilityZones(ctx *pulumi.Context, c *Config, opt pulumi.InvokeOption) ([]string, error) {
	res, err := aws.GetAvailabilityZones(ctx, azQuery(), opt)
	if err != nil {
		return nil, fmt.Errorf("looking up availability zones: %w", err)
	}
	names := usableZones(res.Names, res.ZoneIds)
	usable := map[string]bool{}
	for _, n := range names {
		usable[n] = true
	}
	if len(c.Network.AvailabilityZones) > 0 {
		var bad []string
		for _, az := range c.Network.AvailabilityZones {
			if !usable[az] {
				bad = append(bad, az)
			}
		}
		if len(bad) > 0 {
			return nil, fmt.Errorf("surge:network.availabilityZones: %v are not available in %s or cannot host a CloudFront VPC origin (usable: %v)", bad, c.Region, names)
		}
		return c.Network.AvailabilityZones, nil
	}
	if len(names) < c.Network.AZCount {
		return nil, fmt.Errorf("surge:network.azCount: %d zones wanted, %s has %d usable for a CloudFront VPC origin (%v)", c.Network.AZCount, c.Region, len(names), names)
	}
	return names[:c.Network.AZCount], nil
}

// azQuery asks for the region's regular Availability Zones only: an
// account that opted into Local or Wavelength Zones gets them in the same
// answer, and their names (eu-west-1-...-1a) sort before the regular ones.
// The ALB, RDS Multi-AZ and the NAT-per-AZ design need regular zones.
func azQuery() *aws.GetAvailabilityZonesArgs {
	state := "available"
	return &aws.GetAvailabilityZonesArgs{
		State: &state,
		Filters: []aws.GetAvailabilityZonesFilter{
			{Name: "opt-in-status", Values: []string{"opt-in-not-required"}},
			{Name: "zone-type", Values: []string{"availability-zone"}},
		},
	}
}

// usableZones are the zone names, in order, whose zone IDs can host the ALB
// of a CloudFront VPC origin.
func usableZones(names, zoneIDs []string) []string {
	var out []string
	for i, n := range names {
		if i < len(zoneIDs) && !cdn.VPCOriginAZSupported(zoneIDs[i]) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// siteOrigins are the origins allowed to upload from the browser; without a
// domain the distribution's name is added once it exists.
func siteOrigins(c *Config) []string {
	if c.Edge.Domain == "" {
		return nil
	}
	return []string{"https://" + c.Edge.Domain}
}

// onDemandBase keeps the minimum fleet on demand when spot is used, so a
// spot reclaim never takes the app below its floor.
func onDemandBase(c *Config) int {
	if c.App.SpotPercent == 0 {
		return 0
	}
	return c.App.MinSize
}

// appEnv are the app's non-secret settings (docs/app.md lists them all);
// credentials reach the instances only as Secrets Manager ARNs.
// SURGE_PASSWORD_HASH is left to its production default.
func appEnv(readHost pulumi.StringInput) map[string]pulumi.StringInput {
	return map[string]pulumi.StringInput{
		"SURGE_DATABASE_READ_HOST": readHost,
		"SURGE_METRICS_ADDR":       pulumi.String("127.0.0.1:9090"),
		"SURGE_COOKIE_SECURE":      pulumi.String("true"),
		// The ALB is internal and reached only through CloudFront's VPC
		// origin, so CloudFront-Viewer-Address (forwarded by the /api/*
		// origin request policy) names the student for the sign-in throttle.
		"SURGE_TRUST_CLOUDFRONT": pulumi.String("true"),
	}
}

// ec2LookupCloudFrontPrefixList finds the AWS-managed list of CloudFront's
// origin-facing addresses, the only source the ALB group admits.
func ec2LookupCloudFrontPrefixList(ctx *pulumi.Context, opt pulumi.InvokeOption) (string, error) {
	name := firewall.CloudFrontOriginFacingPrefixList
	res, err := ec2.LookupManagedPrefixList(ctx, &ec2.LookupManagedPrefixListArgs{Name: &name}, opt)
	if err != nil {
		return "", fmt.Errorf("looking up prefix list %s: %w", name, err)
	}
	return res.Id, nil
}
