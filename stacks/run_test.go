package stacks

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/compute"
	"github.com/surge-dev/surge/components/loadbalancer"
	"github.com/surge-dev/surge/components/release"
	"github.com/surge-dev/surge/components/storage"
	"github.com/surge-dev/surge/components/waf"
	"github.com/surge-dev/surge/internal/pulumitest"
)

// Type tokens the whole-program tests look at.
const (
	tProvider     = "pulumi:providers:aws"
	tVPC          = "aws:ec2/vpc:Vpc"
	tSubnet       = "aws:ec2/subnet:Subnet"
	tNAT          = "aws:ec2/natGateway:NatGateway"
	tIGW          = "aws:ec2/internetGateway:InternetGateway"
	tEndpoint     = "aws:ec2/vpcEndpoint:VpcEndpoint"
	tSG           = "aws:ec2/securityGroup:SecurityGroup"
	tSGRule       = "aws:ec2/securityGroupRule:SecurityGroupRule"
	tIngress      = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	tLB           = "aws:lb/loadBalancer:LoadBalancer"
	tTargetGroup  = "aws:lb/targetGroup:TargetGroup"
	tListener     = "aws:lb/listener:Listener"
	tASG          = "aws:autoscaling/group:Group"
	tTemplate     = "aws:ec2/launchTemplate:LaunchTemplate"
	tDB           = "aws:rds/instance:Instance"
	tCache        = "aws:elasticache/replicationGroup:ReplicationGroup"
	tWebACL       = "aws:wafv2/webAcl:WebAcl"
	tCert         = "aws:acm/certificate:Certificate"
	tDistribution = "aws:cloudfront/distribution:Distribution"
	tVPCOrigin    = "aws:cloudfront/vpcOrigin:VpcOrigin"
	tRecord       = "aws:route53/record:Record"
	tAlarm        = "aws:cloudwatch/metricAlarm:MetricAlarm"
	tObject       = "aws:s3/bucketObjectv2:BucketObjectv2"
)

// fakeBuild stands in for GoBuilder: a small file and its real digest.
func fakeBuild(t *testing.T) (Builder, string) {
	t.Helper()
	content := []byte("surge test binary")
	path := filepath.Join(t.TempDir(), "surge-linux-arm64")
	require.NoError(t, os.WriteFile(path, content, 0o755))
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])
	return func(context.Context) (release.Artifact, error) {
		return release.Artifact{Path: path, SHA256: digest}, nil
	}, digest
}

// stackConfig loads a committed stack file as the engine would pass it.
func stackConfig(t *testing.T, stack string) map[string]string {
	t.Helper()
	src, err := StackFileSource("../Pulumi." + stack + ".yaml")
	require.NoError(t, err)
	return map[string]string(src.(mapSource))
}

// runStack runs the whole program under mocks.
func runStack(t *testing.T, stack string, cfg map[string]string) (*pulumitest.Mocks, string) {
	t.Helper()
	build, digest := fakeBuild(t)
	m := pulumitest.New()
	err := m.Run(t, stack, cfg, RunWith(Deps{Build: build}))
	require.NoError(t, err, "whole program for stack %s", stack)
	return m, digest
}

func withDomain(cfg map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range cfg {
		out[k] = v
	}
	out["surge:edge"] = `{"domain": "register.example.edu", "hostedZoneId": "Z0123456789ABCDEFGHIJ", "wafMode": "block", "priceClass": "PriceClass_All", "trustedCidrs": ["198.51.100.0/24"]}`
	return out
}

func one(t *testing.T, m *pulumitest.Mocks, token string) pulumitest.Resource {
	t.Helper()
	rs := m.ByType(token)
	require.Len(t, rs, 1, "exactly one %s", token)
	return rs[0]
}

// TestStackFilesDiffer runs both committed stack files and asserts that dev
// is the cheap shape and prod the highly available one.
func TestStackFilesDiffer(t *testing.T) {
	dev, _ := runStack(t, "dev", stackConfig(t, "dev"))
	prod, _ := runStack(t, "prod", stackConfig(t, "prod"))
	count := func(m *pulumitest.Mocks, token string) int { return len(m.ByType(token)) }

	tests := []struct {
		what      string
		dev, prod any
		get       func(m *pulumitest.Mocks) any
	}{
		{"subnets (3 tiers x AZs)", 6, 9, func(m *pulumitest.Mocks) any { return count(m, tSubnet) }},
		{"NAT gateways", 1, 3, func(m *pulumitest.Mocks) any { return count(m, tNAT) }},
		{"interface endpoints (+1 S3 gateway)", 1, 6, func(m *pulumitest.Mocks) any { return count(m, tEndpoint) }},
		{"RDS instances (primary + replicas)", 1, 2, func(m *pulumitest.Mocks) any { return count(m, tDB) }},
		{"RDS Multi-AZ", false, true, func(m *pulumitest.Mocks) any { return primaryDB(t, m).Bool("multiAz") }},
		{"RDS deletion protection", false, true, func(m *pulumitest.Mocks) any { return primaryDB(t, m).Bool("deletionProtection") }},
		{"RDS backup days", float64(1), float64(14), func(m *pulumitest.Mocks) any { return primaryDB(t, m).Num("backupRetentionPeriod") }},
		{"cache nodes (cluster mode disabled)", float64(1), float64(0), func(m *pulumitest.Mocks) any { return one(t, m, tCache).Num("numCacheClusters") }},
		{"cache cluster mode", "", "enabled", func(m *pulumitest.Mocks) any { return one(t, m, tCache).Str("clusterMode") }},
		{"cache shards", float64(0), float64(3), func(m *pulumitest.Mocks) any { return one(t, m, tCache).Num("numNodeGroups") }},
		{"cache replicas per shard", float64(0), float64(1), func(m *pulumitest.Mocks) any { return one(t, m, tCache).Num("replicasPerNodeGroup") }},
		{"cache parameter group", "", "default.valkey8.cluster.on", func(m *pulumitest.Mocks) any { return one(t, m, tCache).Str("parameterGroupName") }},
		{"app's SURGE_REDIS_MODE", `SURGE_REDIS_MODE="standalone"`, `SURGE_REDIS_MODE="cluster"`, func(m *pulumitest.Mocks) any { return redisModeLine(t, m) }},
		{"cache Multi-AZ", false, true, func(m *pulumitest.Mocks) any { return one(t, m, tCache).Bool("multiAzEnabled") }},
		{"cache failover", false, true, func(m *pulumitest.Mocks) any { return one(t, m, tCache).Bool("automaticFailoverEnabled") }},
		{"ALB deletion protection", false, true, func(m *pulumitest.Mocks) any { return one(t, m, tLB).Bool("enableDeletionProtection") }},
		{"ASG min", float64(1), float64(3), func(m *pulumitest.Mocks) any { return one(t, m, tASG).Num("minSize") }},
		{"ASG warm pool", false, true, func(m *pulumitest.Mocks) any { return one(t, m, tASG).Has("warmPool") }},
		// Bounded: 3 in service + 3 warm, not maxSize - desired = 27 prepared.
		{"ASG warm pool bound", float64(0), float64(6), func(m *pulumitest.Mocks) any { return one(t, m, tASG).Num("warmPool.maxGroupPreparedCapacity") }},
		{"ASG warm pool size", float64(0), float64(3), func(m *pulumitest.Mocks) any { return one(t, m, tASG).Num("warmPool.minSize") }},
		{"ASG spot (mixed instances)", true, false, func(m *pulumitest.Mocks) any { return one(t, m, tASG).Has("mixedInstancesPolicy") }},
		{"scheduled scale-outs", 0, 2, func(m *pulumitest.Mocks) any { return count(m, "aws:autoscaling/schedule:Schedule") }},
		{"detailed monitoring", false, true, func(m *pulumitest.Mocks) any { return one(t, m, tTemplate).Bool("monitoring.enabled") }},
		{"CloudFront price class", "PriceClass_100", "PriceClass_All", func(m *pulumitest.Mocks) any { return one(t, m, tDistribution).Str("priceClass") }},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.dev, tt.get(dev), "dev: %s", tt.what)
		assert.Equal(t, tt.prod, tt.get(prod), "prod: %s", tt.what)
	}
	for i := 0; i < one(t, dev, tWebACL).Len("rules"); i++ {
		if one(t, dev, tWebACL).Str("rules["+strconv.Itoa(i)+"].name") == waf.AdminRuleName {
			// The admin API is off the internet in every stack.
			assert.False(t, counts(one(t, dev, tWebACL), i), "dev: the admin rule blocks")
			assert.False(t, counts(one(t, prod, tWebACL), i), "prod: the admin rule blocks")
			continue
		}
		assert.True(t, counts(one(t, dev, tWebACL), i), "dev WAF rule %d only counts", i)
		assert.False(t, counts(one(t, prod, tWebACL), i), "prod WAF rule %d blocks", i)
	}
}

func primaryDB(t *testing.T, m *pulumitest.Mocks) pulumitest.Resource {
	t.Helper()
	for _, r := range m.ByType(tDB) {
		if !r.Has("replicateSourceDb") {
			return r
		}
	}
	t.Fatal("no primary database")
	return pulumitest.Resource{}
}

// counts reports whether rule i of a web ACL is in count mode: a managed
// group's override action, or a rate rule's action.
func counts(acl pulumitest.Resource, i int) bool {
	r := "rules[" + strconv.Itoa(i) + "]."
	return acl.Has(r+"overrideAction.count") || acl.Has(r+"action.count")
}

// TestEveryStack checks what must hold in every stack, with and without a domain.
func TestEveryStack(t *testing.T) {
	cases := map[string]map[string]string{
		"dev":              stackConfig(t, "dev"),
		"prod":             stackConfig(t, "prod"),
		"prod-with-domain": withDomain(stackConfig(t, "prod")),
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			stack := strings.SplitN(name, "-", 2)[0]
			m, digest := runStack(t, stack, cfg)

			t.Run("EC2.18_EC2.19_no_ingress_from_the_internet", func(t *testing.T) { assertNoOpenIngress(t, m) })
			t.Run("load_balancers_are_internal", func(t *testing.T) {
				for _, lb := range m.ByType(tLB) {
					assert.True(t, lb.Bool("internal"), "%s must be internal: CloudFront reaches it through the VPC origin", lb.Name)
				}
				vo := one(t, m, tVPCOrigin)
				assert.NotEmpty(t, vo.Str("vpcOriginEndpointConfig.arn"), "VPC origin points at the ALB")
				assert.Len(t, m.ByType(tIGW), 1, "a VPC origin needs an internet gateway in the VPC")
				// docs/decisions/alb-log-bucket.md: AWS refuses access logs until the bucket grants ELB delivery.
				var logsPolicy string
				for _, p := range m.ByType("aws:s3/bucketPolicy:BucketPolicy") {
					if strings.HasSuffix(p.Name, "-logs") {
						logsPolicy = p.Name
					}
				}
				require.NotEmpty(t, logsPolicy, "the logs bucket has a policy")
				assert.True(t, one(t, m, tLB).DependsOn("aws:s3/bucketPolicy:BucketPolicy", logsPolicy), "the ALB waits for %s", logsPolicy)
			})
			t.Run("regions", func(t *testing.T) { assertRegions(t, m) })
			t.Run("S3.8_S3.5_buckets_private_and_TLS_only", func(t *testing.T) { assertBuckets(t, m) })
			t.Run("tags", func(t *testing.T) { assertTags(t, m, stack) })
			t.Run("fleet", func(t *testing.T) { assertFleet(t, m, stack, digest) })
			t.Run("health_check_is_the_shallow_one", func(t *testing.T) {
				tg := one(t, m, tTargetGroup)
				assert.Equal(t, loadbalancer.HealthCheckPath, tg.Str("healthCheck.path"))
				assert.Equal(t, "/healthz", loadbalancer.HealthCheckPath, "the ALB must not act on the deep /readyz")
				assert.Equal(t, "ELB", one(t, m, tASG).Str("healthCheckType"))
			})
			t.Run("alarms_name_the_real_group", func(t *testing.T) {
				asg := one(t, m, tASG)
				found := 0
				for _, a := range m.ByType(tAlarm) {
					if g := a.Str("dimensions.AutoScalingGroupName"); g != "" {
						assert.Equal(t, asg.Str("name"), g, "alarm %s", a.Name)
						found++
					}
					assert.NotZero(t, a.Len("alarmActions"), "alarm %s notifies", a.Name)
					assert.NotZero(t, a.Len("okActions"), "alarm %s notifies on recovery", a.Name)
				}
				assert.NotZero(t, found, "an alarm watches the fleet")
				assert.Equal(t, compute.GroupName("surge-"+stack), asg.Str("name"))
			})
		})
	}
}

func assertNoOpenIngress(t *testing.T, m *pulumitest.Mocks) {
	open := func(s string) bool { return s == "0.0.0.0/0" || s == "::/0" }
	for _, r := range m.ByType(tIngress) {
		assert.False(t, open(r.Str("cidrIpv4")) || open(r.Str("cidrIpv6")), "ingress rule %s opens to the internet", r.Name)
		assert.False(t, r.Num("fromPort") <= 22 && r.Num("toPort") >= 22, "ingress rule %s admits SSH", r.Name)
		assert.NotEmpty(t, r.Str("description"), "ingress rule %s has a description", r.Name)
	}
	for _, r := range m.ByType(tSG) {
		for i := 0; i < r.Len("ingress"); i++ {
			for _, c := range append(r.Strings("ingress["+strconv.Itoa(i)+"].cidrBlocks"), r.Strings("ingress["+strconv.Itoa(i)+"].ipv6CidrBlocks")...) {
				assert.False(t, open(c), "security group %s inline ingress opens to the internet", r.Name)
			}
		}
	}
	for _, r := range m.ByType(tSGRule) {
		if r.Str("type") == "ingress" {
			for _, c := range append(r.Strings("cidrBlocks"), r.Strings("ipv6CidrBlocks")...) {
				assert.False(t, open(c), "rule %s opens to the internet", r.Name)
			}
		}
	}
	// The ALB admits its listener port from CloudFront's prefix list only.
	albRules := 0
	for _, r := range m.ByType(tIngress) {
		if r.Str("prefixListId") != "" {
			albRules++
			assert.Equal(t, "pl-4fa04526", r.Str("prefixListId"))
		}
	}
	assert.Equal(t, 1, albRules, "one prefix-list rule: it weighs 55 of a group's 60 rules (docs/decisions/cloudfront-prefix-list-rule.md)")
}

// usEast1Types are the only resource types that may live in us-east-1:
// CloudFront's certificate, the CLOUDFRONT-scope web ACL and their logs,
// CloudFront's log delivery, and the alarms on metrics CloudFront and WAF
// publish there (with the topic and key those alarms notify through).
var usEast1Types = []string{"aws:wafv2/", "aws:acm/", "aws:cloudwatch/logGroup:", "aws:cloudwatch/logDelivery", "aws:cloudwatch/metricAlarm:", "aws:sns/", "aws:kms/"}

func assertRegions(t *testing.T, m *pulumitest.Mocks) {
	providers := m.ByType(tProvider)
	require.Len(t, providers, 2, "one provider per region")
	regions := map[string]string{}
	for _, p := range providers {
		regions[p.Name] = p.Str("region")
		tags, ok := p.Get("defaultTags.tags")
		require.True(t, ok, "provider %s has default tags", p.Name)
		for _, k := range []string{"project", "stack", "environment"} {
			assert.Contains(t, tags.ObjectValue(), resource.PropertyKey(k), "provider %s default tag %s", p.Name, k)
		}
	}
	assert.Equal(t, pulumitest.Region, regions["aws"])
	assert.Equal(t, "us-east-1", regions[USEast1ProviderName])

	for _, r := range m.Resources() {
		if !r.Custom || !strings.HasPrefix(r.Type, "aws:") {
			continue
		}
		switch {
		case r.UsesProvider(USEast1ProviderName):
			allowed := false
			for _, p := range usEast1Types {
				allowed = allowed || strings.HasPrefix(r.Type, p)
			}
			assert.True(t, allowed, "%s %s must not be in us-east-1", r.Type, r.Name)
		default:
			assert.True(t, r.UsesProvider("aws"), "%s %s must use the stack's regional provider, got %q", r.Type, r.Name, r.Provider)
		}
	}
	// docs/decisions/waf-in-us-east-1.md: the CLOUDFRONT-scope ACL lives in us-east-1.
	acl := one(t, m, tWebACL)
	assert.Equal(t, "CLOUDFRONT", acl.Str("scope"))
	assert.True(t, acl.UsesProvider(USEast1ProviderName), "web ACL in us-east-1")
	// docs/decisions/waf-through-distribution.md: attached through the distribution, never an association.
	assert.Empty(t, m.ByType("aws:wafv2/webAclAssociation:WebAclAssociation"))
	assert.NotEmpty(t, one(t, m, tDistribution).Str("webAclId"))
	// docs/decisions/cloudfront-certificate-region.md: the CloudFront certificate in us-east-1, the ALB's in the stack region.
	for _, c := range m.ByType(tCert) {
		if strings.HasPrefix(c.Str("domainName"), "origin.") {
			assert.True(t, c.UsesProvider("aws"), "the ALB certificate %s is regional", c.Name)
		} else {
			assert.True(t, c.UsesProvider(USEast1ProviderName), "the CloudFront certificate %s is in us-east-1", c.Name)
		}
	}
}

// assertBuckets: every bucket of the stack (storage and cdn together) has
// all four public-access blocks and exactly one policy, which denies
// requests without TLS; policies that grant CloudFront name only this
// stack's distribution.
func assertBuckets(t *testing.T, m *pulumitest.Mocks) {
	buckets := m.ByType("aws:s3/bucketV2:BucketV2")
	require.Len(t, buckets, 4, "static, uploads, artifacts, logs")
	blocks := m.ByType("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
	assert.Len(t, blocks, len(buckets), "one public access block per bucket")
	for _, b := range blocks {
		for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
			assert.True(t, b.Bool(k), "%s %s", b.Name, k)
		}
	}
	policies := m.ByType("aws:s3/bucketPolicy:BucketPolicy")
	assert.Len(t, policies, len(buckets), "exactly one policy per bucket (a bucket holds one)")
	seen := map[string]bool{}
	for _, p := range policies {
		doc, err := p.JSON("policy")
		require.NoError(t, err)
		stmts, _ := doc["Statement"].([]any)
		require.NotEmpty(t, stmts, p.Name)
		arn := ""
		for _, s := range stmts {
			st := s.(map[string]any)
			if st["Sid"] == "DenyInsecureTransport" {
				arn = st["Resource"].([]any)[0].(string)
			}
		}
		require.NotEmpty(t, arn, "policy %s has a DenyInsecureTransport statement", p.Name)
		assert.True(t, storage.DeniesInsecureTransport(doc, arn), "policy %s denies non-TLS", p.Name)
		assert.False(t, seen[arn], "bucket %s has two policies", arn)
		seen[arn] = true
		for _, s := range stmts {
			st := s.(map[string]any)
			if pr, ok := st["Principal"].(map[string]any); ok && pr["Service"] == "cloudfront.amazonaws.com" {
				cond, _ := json.Marshal(st["Condition"])
				assert.Contains(t, string(cond), "arn:aws:cloudfront::123456789012:distribution/", "policy %s names the distribution", p.Name)
				assert.Contains(t, string(cond), "AWS:SourceArn", "policy %s is scoped to this distribution's ARN", p.Name)
			}
		}
	}
}

func assertTags(t *testing.T, m *pulumitest.Mocks, stack string) {
	tagged := 0
	for _, r := range m.Resources() {
		if !r.Custom || !r.Has("tags") || r.Type == tASG {
			continue
		}
		tagged++
		assert.NotEmpty(t, r.Str("tags.component"), "%s %s carries its component tag", r.Type, r.Name)
	}
	assert.Greater(t, tagged, 40, "taggable resources are tagged")
	// Auto Scaling tags are a list; provider default tags do not reach what
	// the group launches, so the group carries them and propagates them.
	asgTags := map[string]string{}
	asg := one(t, m, tASG)
	for i := 0; i < asg.Len("tags"); i++ {
		k := "tags[" + strconv.Itoa(i) + "]."
		asgTags[asg.Str(k+"key")] = asg.Str(k + "value")
		assert.True(t, asg.Bool(k+"propagateAtLaunch"), "ASG tag %s reaches instances", asg.Str(k+"key"))
	}
	assert.Equal(t, "compute", asgTags["component"])
	assert.Equal(t, stack, asgTags["environment"])
	vpc := one(t, m, tVPC)
	assert.Equal(t, "network", vpc.Str("tags.component"))
	assert.Equal(t, "database", primaryDB(t, m).Str("tags.component"))
}

// artifactObjects are the objects uploaded to the artifacts bucket (the
// static bucket holds the page's files).
func artifactObjects(m *pulumitest.Mocks) []pulumitest.Resource {
	var out []pulumitest.Resource
	for _, o := range m.ByType(tObject) {
		if strings.Contains(o.Str("bucket"), "-"+storage.KindArtifacts+"-") {
			out = append(out, o)
		}
	}
	return out
}

func assertFleet(t *testing.T, m *pulumitest.Mocks, stack, digest string) {
	objs := artifactObjects(m)
	require.Len(t, objs, 1, "exactly one release object")
	obj := objs[0]
	assert.Equal(t, "releases/"+digest+"/surge", obj.Str("key"), "artifact is content-addressed")

	lt := one(t, m, tTemplate)
	raw, err := base64.StdEncoding.DecodeString(lt.Str("userData"))
	require.NoError(t, err, "user data is base64 (docs/decisions/launch-template-user-data.md)")
	ud := string(raw)
	assert.Less(t, len(raw), 16*1024, "user data within 16 KB")
	assert.Contains(t, ud, digest, "user data pins the artifact digest")
	for _, v := range []string{"SURGE_DATABASE_SECRET_ARN", "SURGE_REDIS_SECRET_ARN", "SURGE_ADMIN_TOKEN_SECRET_ARN", "SURGE_ADMIT_BATCH", "SURGE_DATABASE_READ_HOST"} {
		assert.Contains(t, ud, v, "user data sets %s", v)
	}
	assert.NotContains(t, ud, strings.Repeat("x", 32), "no generated secret reaches user data")
	// Reads go to the replica when there is one, to the writer otherwise.
	wantRead := "surge-" + stack + "-db.abc.eu-west-1.rds.amazonaws.com"
	if len(m.ByType(tDB)) > 1 {
		wantRead = "surge-" + stack + "-db-replica-1.abc.eu-west-1.rds.amazonaws.com"
	}
	assert.Contains(t, ud, `SURGE_DATABASE_READ_HOST="`+wantRead+`"`)
	assert.NotContains(t, strings.ToLower(ud), "password=", "no password in user data")

	// serve connects with the app role's secret, migrate with the master's;
	// the instance role may read both, and TLS is verified against RDS's CA.
	master := pulumitest.FakeARN("aws:secretsmanager/secretVersion:SecretVersion", "surge-"+stack+"-db-secret")
	app := pulumitest.FakeARN("aws:secretsmanager/secretVersion:SecretVersion", "surge-"+stack+"-db-app-secret")
	assert.Contains(t, ud, `SURGE_DATABASE_SECRET_ARN="`+master+`"`)
	assert.Contains(t, ud, `SURGE_DATABASE_APP_SECRET_ARN="`+app+`"`)
	assert.Contains(t, ud, `SURGE_DATABASE_SSLMODE="verify-full"`)
	assert.Contains(t, ud, `SURGE_TRUST_CLOUDFRONT="true"`, "the sign-in throttle keys on CloudFront's viewer address, not the ALB's")
	assert.Contains(t, ud, `SURGE_DATABASE_SSLROOTCERT="/etc/surge/rds-ca.pem"`)
	var policy string
	for _, r := range m.ByType("aws:iam/rolePolicy:RolePolicy") {
		if r.Name == "surge-"+stack+"-app-policy" {
			policy = r.Str("policy")
		}
	}
	require.NotEmpty(t, policy, "the instance role's policy")
	assert.Contains(t, policy, `"`+app+`"`, "the instance role reads the app role's secret")
	assert.Contains(t, policy, `"`+master+`"`, "and the master's, for surge migrate")

	asg := one(t, m, tASG)
	version := asg.Str("launchTemplate.version")
	if version == "" {
		version = asg.Str("mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version")
	}
	assert.Equal(t, "3", version, "the group follows the template's latestVersion, never $Latest (docs/decisions/launch-template-user-data.md)")
}

// TestRunBadConfigDeclaresNothing: an invalid stack fails with every problem
// and no resource, not even a provider, is declared.
func TestRunBadConfigDeclaresNothing(t *testing.T) {
	build, _ := fakeBuild(t)
	m := pulumitest.New()
	cfg := stackConfig(t, "prod")
	cfg["surge:app"] = `{"minSize": 5, "maxSize": 2}`
	cfg["surge:database"] = `{"replicas": -1}`
	err := m.Run(t, "prod", cfg, RunWith(Deps{Build: build}))
	require.Error(t, err)
	for _, want := range []string{"surge:app.minSize: 5 is greater than maxSize (2)", "surge:database.replicas: -1 is outside 0..15"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Empty(t, m.Resources(), "nothing is declared for an invalid stack")
}

// TestDomainStack: with a domain, TLS all the way and the site's aliases.
func TestDomainStack(t *testing.T) {
	m, _ := runStack(t, "prod", withDomain(stackConfig(t, "prod")))
	l := one(t, m, tListener)
	assert.Equal(t, float64(443), l.Num("port"))
	assert.Equal(t, "HTTPS", l.Str("protocol"))
	assert.Equal(t, loadbalancer.TLSPolicy, l.Str("sslPolicy"))
	d := one(t, m, tDistribution)
	assert.Equal(t, []string{"register.example.edu"}, d.Strings("aliases"))
	assert.NotEmpty(t, d.Str("viewerCertificate.acmCertificateArn"))
	assert.Equal(t, "https-only", one(t, m, tVPCOrigin).Str("vpcOriginEndpointConfig.originProtocolPolicy"))
	ipset := one(t, m, "aws:wafv2/ipSet:IpSet")
	assert.Equal(t, []string{"198.51.100.0/24"}, ipset.Strings("addresses"), "campus NAT exempt from per-IP limits")
	assert.True(t, ipset.UsesProvider(USEast1ProviderName), "CLOUDFRONT-scope IP set in us-east-1")
	var names []string
	for _, r := range m.ByType(tRecord) {
		if r.Has("aliases") {
			names = append(names, r.Str("type")+" "+r.Str("name"))
		}
	}
	assert.Subset(t, names, []string{"A register.example.edu", "AAAA register.example.edu"}, "alias records for the site")
	for _, r := range m.ByType(tIngress) {
		if r.Str("prefixListId") != "" {
			assert.Equal(t, float64(443), r.Num("fromPort"), "CloudFront reaches the ALB on 443")
		}
	}
}

// TestNoDomainStack: CloudFront's default domain; HTTP to the ALB only over
// the VPC origin's private path; uploads allowed from the distribution.
func TestNoDomainStack(t *testing.T) {
	m, _ := runStack(t, "dev", stackConfig(t, "dev"))
	l := one(t, m, tListener)
	assert.Equal(t, float64(80), l.Num("port"))
	assert.Equal(t, "http-only", one(t, m, tVPCOrigin).Str("vpcOriginEndpointConfig.originProtocolPolicy"))
	assert.Empty(t, m.ByType(tCert), "no certificate without a domain")
	assert.Empty(t, m.ByType(tRecord), "no DNS records without a domain")
	cors := one(t, m, "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2")
	assert.Equal(t, []string{"https://d111111abcdef8.cloudfront.net"}, cors.Strings("corsRules[0].allowedOrigins"))
}

// The app must register the path the load balancer checks.
func TestAppServesTheHealthCheckPath(t *testing.T) {
	found := false
	err := filepath.WalkDir("../app", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = found || strings.Contains(string(b), `"GET `+loadbalancer.HealthCheckPath+`"`)
		return nil
	})
	require.NoError(t, err)
	assert.True(t, found, "app routes register GET %s", loadbalancer.HealthCheckPath)
}

// Zones where CloudFront VPC origins cannot reach the ALB are never used
// (use1-az3 is on AWS's list; zone names map to IDs per account).
func TestUsableZonesSkipVPCOriginUnsupported(t *testing.T) {
	names := []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"}
	ids := []string{"use1-az1", "use1-az3", "use1-az2", "use1-az4"}
	assert.Equal(t, []string{"us-east-1a", "us-east-1c", "us-east-1d"}, usableZones(names, ids))
	assert.Equal(t, names[:2], usableZones(names[:2], nil), "without zone IDs nothing can be ruled out")
}

// redisModeLine is the SURGE_REDIS_MODE line of the fleet's environment
// file, as the user data writes it.
func redisModeLine(t *testing.T, m *pulumitest.Mocks) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(one(t, m, tTemplate).Str("userData"))
	require.NoError(t, err)
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "SURGE_REDIS_MODE=") {
			return l
		}
	}
	return ""
}

// TestCacheEndpointReachesApp: the secret the fleet reads names the
// configuration endpoint in prod (cluster mode) and the primary in dev.
func TestCacheEndpointReachesApp(t *testing.T) {
	for _, tt := range []struct{ stack, host string }{
		{"dev", "master.surge-dev-cache.cache.amazonaws.com"},
		{"prod", "clustercfg.surge-prod-cache.cache.amazonaws.com"},
	} {
		t.Run(tt.stack, func(t *testing.T) {
			m, _ := runStack(t, tt.stack, stackConfig(t, tt.stack))
			var doc map[string]any
			found := false
			for _, v := range m.ByType("aws:secretsmanager/secretVersion:SecretVersion") {
				if strings.Contains(v.Str("secretString"), `"authToken"`) {
					require.NoError(t, json.Unmarshal([]byte(v.Str("secretString")), &doc))
					found = true
				}
			}
			require.True(t, found, "the cache secret")
			assert.Equal(t, tt.host, doc["host"])
			assert.Equal(t, 6379.0, doc["port"])
			assert.Equal(t, true, doc["tls"])
		})
	}
}
