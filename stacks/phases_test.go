package stacks

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/release"
	"github.com/surge-dev/surge/components/storage"
	"github.com/surge-dev/surge/internal/pulumitest"
)

const (
	tZone       = "aws:route53/zone:Zone"
	tRolePolicy = "aws:iam/rolePolicy:RolePolicy"
)

// noBuild fails the test if the program builds the app.
func noBuild(t *testing.T) Builder {
	return func(context.Context) (release.Artifact, error) {
		t.Error("the app must not be built")
		return release.Artifact{}, errors.New("unexpected build")
	}
}

func withEdge(cfg map[string]string, edge string) map[string]string {
	out := map[string]string{}
	for k, v := range cfg {
		out[k] = v
	}
	out["surge:edge"] = edge
	return out
}

// A created zone is two phases. The first `up` declares the zone alone
// (no certificate would validate before delegation, and the up would block
// until the validation timed out), says what to do next, and builds
// nothing. The second declares the same zone (kept, not replaced) and
// everything else.
func TestCreatedZoneTwoPhases(t *testing.T) {
	const edge = `{"domain": "register.example.edu", "createZone": true, "wafMode": "count", "priceClass": "PriceClass_100"%s}`

	var lines []string
	first := pulumitest.New()
	err := first.Run(t, "dev", withEdge(stackConfig(t, "dev"), strings.Replace(edge, "%s", "", 1)),
		RunWith(Deps{Build: noBuild(t), Log: func(s string) { lines = append(lines, s) }}))
	require.NoError(t, err)
	zones := first.ByType(tZone)
	require.Len(t, zones, 1)
	for _, r := range first.Resources() {
		if r.Custom && !strings.HasPrefix(r.Type, "pulumi:providers:") {
			assert.Equal(t, tZone, r.Type, "phase one declares the zone and nothing else, got %s %s", r.Type, r.Name)
		}
	}
	assert.Empty(t, first.ByType(tCert), "no certificate before delegation")
	log := strings.Join(lines, "\n")
	assert.Contains(t, log, "dig +short NS register.example.edu")
	assert.Contains(t, log, "pulumi config set --path surge:edge.zoneDelegated true")

	second, _ := runStack(t, "dev", withEdge(stackConfig(t, "dev"), strings.Replace(edge, "%s", `, "zoneDelegated": true`, 1)))
	again := second.ByType(tZone)
	require.Len(t, again, 1)
	assert.Equal(t, zones[0].Name, again[0].Name, "same logical name: the zone is kept")
	assert.Equal(t, zones[0].Parent, again[0].Parent, "same parent component: the zone is kept")
	assert.Equal(t, zones[0].Provider, again[0].Provider, "same provider: the zone is kept")
	assert.Len(t, second.ByType(tCert), 2, "phase two: the CloudFront and origin certificates")
	assert.NotEmpty(t, second.ByType(tDistribution))
	var aliases int
	for _, r := range second.ByType(tRecord) {
		if r.Has("aliases") {
			aliases++
		}
	}
	assert.Equal(t, 3, aliases, "site A and AAAA, origin A")
}

func TestZoneDelegatedNeedsCreateZone(t *testing.T) {
	_, err := Load("surge", "dev", mapSource{"aws:region": "eu-west-1",
		"surge:edge": `{"domain": "register.example.edu", "hostedZoneId": "Z0123456789ABCDEFGHIJ", "zoneDelegated": true}`})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "surge:edge.zoneDelegated: only applies with createZone")
}

// A rollback is one config value: the fleet runs an uploaded release,
// nothing is built or uploaded, and the release is checked first.
func TestRollbackPinsAnUploadedRelease(t *testing.T) {
	const old = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cfg := stackConfig(t, "dev")
	cfg["surge:app"] = strings.TrimSuffix(strings.TrimSpace(cfg["surge:app"]), "}") + `, "release": "` + old + `"}`

	m := pulumitest.New()
	require.NoError(t, m.Run(t, "dev", cfg, RunWith(Deps{Build: noBuild(t), Log: func(string) {}})))
	assert.Empty(t, artifactObjects(m), "nothing uploaded: the release is already in the bucket")

	lt := one(t, m, tTemplate)
	raw, err := base64.StdEncoding.DecodeString(lt.Str("userData"))
	require.NoError(t, err)
	assert.Contains(t, string(raw), "releases/"+old+"/surge", "the fleet downloads the pinned release")
	assert.Contains(t, string(raw), `SHA256="`+old+`"`, "and verifies its digest")

	var checked bool
	for _, c := range m.Calls() {
		if c.Token == "aws:s3/getObject:getObject" {
			checked = true
			assert.Equal(t, storage.BucketName("surge-dev", storage.KindArtifacts, pulumitest.Account, pulumitest.Region), c.Args["bucket"].StringValue())
			assert.Equal(t, "releases/"+old+"/surge", c.Args["key"].StringValue())
			assert.Equal(t, "ENABLED", c.Args["checksumMode"].StringValue())
		}
	}
	assert.True(t, checked, "the pinned release is looked up before the fleet rolls")

	// The role reads every release, so the previous template version's
	// instances (and this rollback's) can fetch theirs.
	pol, ok := m.Named(tRolePolicy, "surge-dev-app-policy")
	require.True(t, ok)
	doc, err := pol.JSON("policy")
	require.NoError(t, err)
	var readReleases bool
	for _, s := range doc["Statement"].([]any) {
		st := s.(map[string]any)
		if st["Sid"] == "ReadReleases" {
			readReleases = true
			assert.Equal(t, "arn:aws:s3:::"+storage.BucketName("surge-dev", storage.KindArtifacts, pulumitest.Account, pulumitest.Region)+"/releases/*", st["Resource"])
		}
	}
	assert.True(t, readReleases)
}

func TestRollbackRefusesAMissingOrForeignRelease(t *testing.T) {
	const digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cfg := stackConfig(t, "dev")
	cfg["surge:app"] = `{"release": "` + digest + `"}`
	for name, tc := range map[string]struct {
		answer pulumitest.CallFunc
		want   string
	}{
		"not uploaded": {
			answer: func(pulumi.MockCallArgs) (resource.PropertyMap, error) { return nil, errors.New("NotFound") },
			want:   "surge:app.release: s3://surge-dev-artifacts-",
		},
		"other bytes": {
			answer: func(a pulumi.MockCallArgs) (resource.PropertyMap, error) {
				return resource.PropertyMap{"checksumSha256": resource.NewStringProperty("AAAA"), "metadata": resource.NewObjectProperty(resource.PropertyMap{})}, nil
			},
			want: "does not hold the bytes of " + digest,
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := pulumitest.New()
			m.Invokes = map[string]pulumitest.CallFunc{"aws:s3/getObject:getObject": tc.answer}
			err := m.Run(t, "dev", cfg, RunWith(Deps{Build: noBuild(t), Log: func(string) {}}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, m.ByType(tTemplate), "refused before the fleet is declared")
		})
	}
	_, err := Load("surge", "dev", mapSource{"aws:region": "eu-west-1", "surge:app": `{"release": "v1.2"}`})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `surge:app.release: "v1.2" is not a SHA-256`)
}

// The build reports through the Pulumi log: what it builds before, the
// digest after (a cold build takes minutes; preview must not sit silent).
func TestBuildReportsProgress(t *testing.T) {
	build, digest := fakeBuild(t)
	var lines []string
	built := false
	m := pulumitest.New()
	err := m.Run(t, "dev", stackConfig(t, "dev"), RunWith(Deps{
		Build: func(ctx context.Context) (release.Artifact, error) {
			require.NotEmpty(t, lines, "progress is reported before the build starts")
			built = true
			return build(ctx)
		},
		Log: func(s string) { lines = append(lines, s) },
	}))
	require.NoError(t, err)
	require.True(t, built)
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], "building surge for linux/arm64")
	assert.Contains(t, lines[1], "sha256 "+digest)
}

// Local and Wavelength Zones are never picked: the lookup asks for
// regular zones only (their names sort first, so "the first azCount"
// would otherwise be them).
func TestAvailabilityZonesSkipLocalAndWavelengthZones(t *testing.T) {
	m, _ := runStack(t, "dev", stackConfig(t, "dev"))
	var found bool
	for _, c := range m.Calls() {
		if c.Token != "aws:index/getAvailabilityZones:getAvailabilityZones" {
			continue
		}
		found = true
		assert.Equal(t, "available", c.Args["state"].StringValue())
		filters := map[string][]string{}
		for _, f := range c.Args["filters"].ArrayValue() {
			o := f.ObjectValue()
			var vals []string
			for _, v := range o["values"].ArrayValue() {
				vals = append(vals, v.StringValue())
			}
			filters[o["name"].StringValue()] = vals
		}
		assert.Equal(t, map[string][]string{
			"opt-in-status": {"opt-in-not-required"},
			"zone-type":     {"availability-zone"},
		}, filters)
	}
	assert.True(t, found)
}

// Where a config change replaces a resource, its physical name follows
// the changed input, so the new one is created beside the old one.
func TestReplacementsGetNewNames(t *testing.T) {
	names := func(cfg map[string]string, token string) []string {
		m, _ := runStack(t, "dev", cfg)
		var out []string
		for _, r := range m.ByType(token) {
			out = append(out, r.Str("name"))
		}
		return out
	}
	base := stackConfig(t, "dev")
	moved := stackConfig(t, "dev")
	moved["surge:app"] = strings.TrimSuffix(moved["surge:app"], "}") + `, "port": 9000}`
	assert.NotEqual(t, names(base, "aws:lb/targetGroup:TargetGroup"), names(moved, "aws:lb/targetGroup:TargetGroup"), "a new port is a new target group, beside the old one")
	upgraded := stackConfig(t, "dev")
	upgraded["surge:database"] = strings.TrimSuffix(upgraded["surge:database"], "}") + `, "engineVersion": "16"}`
	assert.NotEqual(t, names(base, "aws:rds/parameterGroup:ParameterGroup"), names(upgraded, "aws:rds/parameterGroup:ParameterGroup"), "a new major version is a new parameter group")
	// The cache's group ID carries its mode (docs/decisions/cache-cluster-mode.md).
	groupIDs := func(cfg map[string]string) []string {
		m, _ := runStack(t, "dev", cfg)
		var out []string
		for _, r := range m.ByType("aws:elasticache/replicationGroup:ReplicationGroup") {
			out = append(out, r.Str("replicationGroupId"))
		}
		return out
	}
	sharded := stackConfig(t, "dev")
	sharded["surge:cache"] = strings.TrimSuffix(sharded["surge:cache"], "}") + `, "clusterMode": true, "shards": 2}`
	assert.Equal(t, []string{"surge-dev-cache"}, groupIDs(base))
	assert.Equal(t, []string{"surge-dev-cache-cluster"}, groupIDs(sharded), "cluster mode is a new group, beside the old one")
}

// Prod is served on its own domain: viewers get the ACM certificate with
// TLSv1.2_2021, and CloudFront reaches the origin over HTTPS only.
func TestProdServesItsOwnDomain(t *testing.T) {
	m, _ := runStack(t, "prod", stackConfig(t, "prod"))
	dist := one(t, m, tDistribution)
	assert.Equal(t, []string{"register.example.edu"}, dist.Strings("aliases"))
	assert.Equal(t, "TLSv1.2_2021", dist.Str("viewerCertificate.minimumProtocolVersion"))
	assert.Equal(t, "sni-only", dist.Str("viewerCertificate.sslSupportMethod"))
	assert.NotEmpty(t, dist.Str("viewerCertificate.acmCertificateArn"))
	assert.False(t, dist.Bool("viewerCertificate.cloudfrontDefaultCertificate"))
	origin := one(t, m, tVPCOrigin)
	assert.Equal(t, "https-only", origin.Str("vpcOriginEndpointConfig.originProtocolPolicy"))
	assert.Equal(t, []string{"TLSv1.2"}, origin.Strings("vpcOriginEndpointConfig.originSslProtocols.items"))
	assert.Equal(t, "HTTPS", one(t, m, tListener).Str("protocol"))
}
