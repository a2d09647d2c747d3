package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/components/release"
	"github.com/surge-dev/surge/stacks"
)

const root = "../.."

// fakeBuild stands in for the app build: a small file and its real digest.
func fakeBuild(t *testing.T) stacks.Builder {
	t.Helper()
	content := []byte("surge plan test binary")
	path := filepath.Join(t.TempDir(), "surge-linux-arm64")
	require.NoError(t, os.WriteFile(path, content, 0o755))
	sum := sha256.Sum256(content)
	return func(context.Context) (release.Artifact, error) {
		return release.Artifact{Path: path, SHA256: hex.EncodeToString(sum[:])}, nil
	}
}

// runBoth plans the two committed stacks.
func runBoth(t *testing.T) (dev, prod *Plan) {
	t.Helper()
	build := fakeBuild(t)
	plans := map[string]*Plan{}
	for _, s := range []string{"dev", "prod"} {
		cfg, err := StackConfig(filepath.Join(root, "Pulumi."+s+".yaml"))
		require.NoError(t, err)
		p, err := Run(s, cfg, build)
		require.NoError(t, err, "plan of %s", s)
		plans[s] = p
	}
	return plans["dev"], plans["prod"]
}

// TestPlanBothStacks is `make plan` for both stacks: the tree holds every
// component, the invokes got the region's answers, the estimate is non-zero
// and prod costs more than dev, and the report has every section.
func TestPlanBothStacks(t *testing.T) {
	dev, prod := runBoth(t)

	for _, p := range []*Plan{dev, prod} {
		t.Run(p.Stack, func(t *testing.T) {
			tree := p.Tree()
			var comps []string
			for _, c := range tree.Children {
				if !c.Custom {
					comps = append(comps, c.Type)
				}
			}
			for _, want := range []string{"surge:network:Network", "surge:firewall:Chain", "surge:loadbalancer:ALB", "surge:compute:AppFleet", "surge:database:Postgres", "surge:cache:Redis", "surge:cdn:Distribution", "surge:waf:WebACL", "surge:monitoring:Alarms", "surge:storage:Buckets"} {
				assert.Contains(t, comps, want, "top-level components")
			}
			assert.Equal(t, len(p.Custom()), tree.Size(), "every custom resource sits somewhere in the tree")
			nonEmpty := 0
			for _, c := range tree.Children {
				if !c.Custom && c.Size() > 0 {
					nonEmpty++
				}
			}
			assert.GreaterOrEqual(t, nonEmpty, 10, "components that declare AWS resources")
			assert.Contains(t, p.Calls, "aws:index/getAvailabilityZones:getAvailabilityZones")
			assert.Contains(t, p.Calls, "aws:ec2/getManagedPrefixList:getManagedPrefixList")
			assert.Contains(t, p.Calls, "aws:index/getCallerIdentity:getCallerIdentity")

			e, err := p.Estimate()
			require.NoError(t, err)
			assert.Positive(t, e.Total)
			items := map[string]bool{}
			for _, l := range e.Lines {
				items[l.Item] = true
				assert.Positive(t, l.Monthly, "%s", l.Item)
				assert.NotEmpty(t, l.Price.AsOf, "%s is dated", l.Item)
				assert.True(t, strings.HasPrefix(l.Price.Source, "https://aws.amazon.com/"), "%s cites AWS", l.Item)
			}
			for _, want := range []string{"NAT gateways", "EC2 app instances", "RDS PostgreSQL writer", "ElastiCache nodes", "Application Load Balancer", "KMS keys", "Secrets Manager secrets"} {
				assert.True(t, items[want], "estimate prices %s", want)
			}
			assert.NotEmpty(t, e.Usage, "traffic-driven costs are listed as assumptions")

			r, err := Report(p, map[string]*Plan{"dev": prod, "prod": dev}[p.Stack])
			require.NoError(t, err)
			assert.Contains(t, r, "public SSM parameter `/aws/service/ami-amazon-linux-latest/", "the AMI source is named")
			for _, section := range []string{"## Monthly cost estimate", "**Estimate**, not a quote", "compared with", "```mermaid", "## Resources per type", "## Resource tree", "surge:network:Network"} {
				assert.Contains(t, r, section)
			}
		})
	}

	de, err := dev.Estimate()
	require.NoError(t, err)
	pe, err := prod.Estimate()
	require.NoError(t, err)
	assert.Greater(t, pe.Total, de.Total, "prod costs more than dev")
	line := func(e *Estimate, item string) Line {
		for _, l := range e.Lines {
			if l.Item == item {
				return l
			}
		}
		t.Fatalf("%s: no line %q", e.Stack, item)
		return Line{}
	}
	// The shape the stack files ask for, priced line by line.
	assert.InDelta(t, 1*730, line(de, "NAT gateways").Quantity, 0.01, "dev: one shared NAT gateway")
	assert.InDelta(t, 3*730, line(pe, "NAT gateways").Quantity, 0.01, "prod: a NAT gateway per AZ")
	assert.InDelta(t, 2*730, line(pe, "RDS PostgreSQL writer").Quantity, 0.01, "prod: Multi-AZ doubles the writer")
	assert.InDelta(t, 1*730, line(de, "RDS PostgreSQL writer").Quantity, 0.01, "dev: single-AZ writer")
	assert.InDelta(t, 1*730, line(pe, "RDS PostgreSQL read replica").Quantity, 0.01, "prod: one replica")
	assert.InDelta(t, 6*730, line(pe, "ElastiCache nodes").Quantity, 0.01, "prod: 3 shards x (primary + replica)")
	assert.Contains(t, line(pe, "ElastiCache nodes").Detail, "in 3 shards")
	assert.InDelta(t, 1*730, line(de, "ElastiCache nodes").Quantity, 0.01, "dev: one node")
	assert.Equal(t, "ec2:m7g.large", line(pe, "EC2 app instances").PriceKey)
	assert.Equal(t, "ec2:t4g.small", line(de, "EC2 app instances").PriceKey)
	assert.Positive(t, line(pe, "Interface endpoints").Quantity, "prod keeps AWS API traffic in the VPC")

	diff := map[string][2]string{}
	for _, row := range SettingDiff(dev, prod) {
		diff[row[0]] = [2]string{row[1], row[2]}
	}
	assert.Equal(t, [2]string{"false", "true"}, diff["RDS Multi-AZ"])
	assert.Equal(t, [2]string{"false", "true"}, diff["RDS deletion protection"])
	assert.Equal(t, [2]string{"1 / 3 / 1", "3 / 30 / 3"}, diff["ASG min / max / desired"])
	assert.Equal(t, [2]string{"false", "true"}, diff["cache automatic failover"])
	assert.Equal(t, [2]string{"none", "enabled / 3 / 1"}, diff["cache cluster mode / shards / replicas per shard"])
	r, err := Report(prod, dev)
	require.NoError(t, err)
	assert.Contains(t, r, "| `aws:ec2/natGateway:NatGateway` | 3 | 1 |", "type counts that differ")
	assert.Contains(t, r, "| RDS Multi-AZ | true | false |", "settings that differ")
}

// TestCommittedDocsMatchTheProgram fails when docs/architecture.md's diagram
// or docs/costs.md no longer match what the program declares. Fix: make
// plan-update.
func TestCommittedDocsMatchTheProgram(t *testing.T) {
	dev, prod := runBoth(t)
	arch, err := os.ReadFile(filepath.Join(root, ArchitectureDoc))
	require.NoError(t, err)
	got, ok := Block(string(arch), DiagramStart, DiagramEnd)
	require.True(t, ok, "%s has the diagram markers", ArchitectureDoc)
	assert.Equal(t, DiagramBlock(prod), got, "%s diagram is stale: run make plan-update", ArchitectureDoc)

	costs, err := os.ReadFile(filepath.Join(root, CostsDoc))
	require.NoError(t, err)
	want, err := CostsDocument(dev, prod)
	require.NoError(t, err)
	assert.Equal(t, want, string(costs), "%s is stale: run make plan-update", CostsDoc)
}

func TestMermaidFromTheGraph(t *testing.T) {
	_, prod := runBoth(t)
	sizes, edges := prod.ComponentGraph()
	m := prod.Mermaid()
	assert.True(t, strings.HasPrefix(m, "flowchart LR\n"))
	for c, n := range sizes {
		assert.Contains(t, m, nodeID(c)+"[", "node for %s", c)
		assert.Positive(t, n)
	}
	has := func(from, to string) bool {
		for _, e := range edges {
			if e.From == from && e.To == to {
				return true
			}
		}
		return false
	}
	// Edges the wiring in stacks/run.go implies.
	assert.True(t, has("surge:network:Network", "surge:database:Postgres"), "the database sits in the network's subnets")
	assert.True(t, has("surge:loadbalancer:ALB", "surge:cdn:Distribution"), "CloudFront's VPC origin is the ALB")
	assert.True(t, has("surge:waf:WebACL", "surge:cdn:Distribution"), "the distribution uses the web ACL")
	assert.False(t, has("surge:cdn:Distribution", "surge:network:Network"), "no edge against the wiring")
	assert.Contains(t, m, "network_Network --> database_Postgres")
}

func TestPriceTableRefusesUndatedLines(t *testing.T) {
	tab, err := LoadPrices("eu-west-1")
	require.NoError(t, err)
	assert.Equal(t, 730.0, tab.HoursPerMonth)
	for k, p := range tab.Prices {
		assert.NotEmpty(t, p.AsOf, k)
		assert.Contains(t, p.Source, "https://aws.amazon.com/", k)
	}
	_, err = LoadPrices("ap-south-2")
	assert.ErrorContains(t, err, "no price table for region ap-south-2")
}

func TestUnknownSizeIsAnError(t *testing.T) {
	cfg, err := StackConfig(filepath.Join(root, "Pulumi.dev.yaml"))
	require.NoError(t, err)
	cfg["surge:cache"] = `{"nodeType": "cache.r7g.4xlarge", "replicas": 0, "multiAz": false}`
	p, err := Run("dev", cfg, fakeBuild(t))
	require.NoError(t, err)
	_, err = p.Estimate()
	assert.ErrorContains(t, err, "elasticache-valkey:cache.r7g.4xlarge", "a size without a price is named, never left out")
}

func TestReplaceBlock(t *testing.T) {
	doc := "a\n" + DiagramStart + "\nold\n" + DiagramEnd + "\nb\n"
	got, err := ReplaceBlock(doc, DiagramStart, DiagramEnd, "new\n")
	require.NoError(t, err)
	assert.Equal(t, "a\n"+DiagramStart+"\nnew\n"+DiagramEnd+"\nb\n", got)
	_, err = ReplaceBlock("no markers", DiagramStart, DiagramEnd, "x")
	assert.Error(t, err)
}

// TestMonitorAnswersAsTheRegion checks the data-source answers the plan
// gives: the region's zones and prefix list, an assumed-role identity, an
// AMI for the public Amazon Linux parameter; a region without facts is an
// error that says where to add them.
func TestMonitorAnswersAsTheRegion(t *testing.T) {
	call := func(m *monitor, token string, args resource.PropertyMap) (resource.PropertyMap, error) {
		return m.Call(pulumi.MockCallArgs{Token: token, Args: args})
	}
	m := newMonitor("us-east-1")
	az, err := call(m, "aws:index/getAvailabilityZones:getAvailabilityZones", nil)
	require.NoError(t, err)
	assert.Len(t, az["names"].ArrayValue(), 6)
	assert.Equal(t, "us-east-1a", az["names"].ArrayValue()[0].StringValue())
	pl, err := call(m, "aws:ec2/getManagedPrefixList:getManagedPrefixList", nil)
	require.NoError(t, err)
	assert.Equal(t, "pl-3b927c52", pl["id"].StringValue())
	id, err := call(m, "aws:index/getCallerIdentity:getCallerIdentity", nil)
	require.NoError(t, err)
	assert.Equal(t, Account, id["accountId"].StringValue())
	assert.Contains(t, id["arn"].StringValue(), ":assumed-role/")
	ami, err := call(m, "aws:ssm/getParameter:getParameter", resource.PropertyMap{"name": resource.NewStringProperty("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64")})
	require.NoError(t, err)
	assert.Regexp(t, `^ami-[0-9a-f]{17}$`, ami["value"].StringValue())

	_, err = call(newMonitor("ap-south-2"), "aws:index/getAvailabilityZones:getAvailabilityZones", nil)
	assert.ErrorContains(t, err, "internal/plan")
	_, err = call(m, "aws:ec2/getAmi:getAmi", nil)
	assert.Error(t, err, "an invoke nobody expected still fails")
}
