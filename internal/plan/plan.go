// Package plan runs the real Pulumi program offline, under the recording
// mock monitor with realistic answers for the data sources it reads, and
// turns what it declared into a resource tree, counts per type, a Mermaid
// diagram of the components and a monthly cost estimate. It needs no AWS
// account and no Pulumi CLI: what it shows is what `pulumi preview` would
// create for a new stack, not a diff against deployed state.
package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/surge-dev/surge/components/release"
	"github.com/surge-dev/surge/internal/pulumitest"
	"github.com/surge-dev/surge/stacks"
)

// Project is the Pulumi project name (Pulumi.yaml).
const Project = "surge"

// Plan is what one stack's program declared.
type Plan struct {
	Stack     string
	Region    string
	Resources []pulumitest.Resource
	Calls     []string // invoke tokens the program made, in order
	Artifact  release.Artifact
}

// StackConfig reads a committed Pulumi.<stack>.yaml the way the engine hands
// it to the program: plain strings as they are, objects and lists as JSON.
func StackConfig(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading stack file: %w", err)
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	out := map[string]string{}
	for k, v := range doc.Config {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: encoding %s: %w", path, k, err)
		}
		out[k] = string(j)
	}
	return out, nil
}

// Run runs the program for stack with the given config under the plan's
// monitor. build is the artifact builder (the program's GoBuilder, or a
// stand-in in tests).
func Run(stack string, config map[string]string, build stacks.Builder) (*Plan, error) {
	region := config["aws:region"]
	if region == "" {
		return nil, fmt.Errorf("stack %s: aws:region is not set", stack)
	}
	mon := newMonitor(region)
	withConfig := func(info *pulumi.RunInfo) { info.Config = config }
	var art release.Artifact
	recorded := func(ctx context.Context) (release.Artifact, error) {
		a, err := build(ctx)
		art = a
		return a, err
	}
	program := stacks.RunWith(stacks.Deps{Build: recorded})
	if err := pulumi.RunErr(program, pulumi.WithMocks(Project, stack, mon), withConfig); err != nil {
		return nil, fmt.Errorf("running the program for stack %s: %w", stack, err)
	}
	p := &Plan{Stack: stack, Region: region, Resources: mon.Resources(), Artifact: art}
	for _, c := range mon.Calls() {
		p.Calls = append(p.Calls, c.Token)
	}
	return p, nil
}

// Once wraps a builder so that several stacks share one build.
func Once(b stacks.Builder) stacks.Builder {
	var once sync.Once
	var art release.Artifact
	var err error
	return func(ctx context.Context) (release.Artifact, error) {
		once.Do(func() { art, err = b(ctx) })
		return art, err
	}
}

// monitor is the recording mock monitor of the tests with the invokes the
// program makes answered as the stack's region would answer them.
type monitor struct {
	*pulumitest.Mocks
	region string
}

func newMonitor(region string) *monitor { return &monitor{Mocks: pulumitest.New(), region: region} }

// Account is the AWS account the plan pretends to run in (AWS's documented
// example account ID).
const Account = pulumitest.Account

// regionFacts are the public, per-region answers of the data sources.
type regionFacts struct {
	zones   []string // zone names, in order
	zoneIDs []string // their IDs (the name-to-ID mapping differs per account)
	// cloudFrontPrefixList is the ID of the AWS-managed prefix list
	// com.amazonaws.global.cloudfront.origin-facing in the region.
	cloudFrontPrefixList string
}

var regions = map[string]regionFacts{
	"eu-west-1": {
		zones:                []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		zoneIDs:              []string{"euw1-az1", "euw1-az2", "euw1-az3"},
		cloudFrontPrefixList: "pl-4fa04526",
	},
	"us-east-1": {
		zones:                []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"},
		zoneIDs:              []string{"use1-az1", "use1-az2", "use1-az4", "use1-az6", "use1-az3", "use1-az5"},
		cloudFrontPrefixList: "pl-3b927c52",
	},
}

// Call answers the data sources with the region's facts; anything else goes
// to the test monitor, which refuses invokes nobody expected.
func (m *monitor) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	str := resource.NewStringProperty
	strs := func(ss []string) resource.PropertyValue {
		vs := make([]resource.PropertyValue, len(ss))
		for i, s := range ss {
			vs[i] = str(s)
		}
		return resource.NewArrayProperty(vs)
	}
	facts, ok := regions[m.region]
	switch args.Token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones", "aws:ec2/getManagedPrefixList:getManagedPrefixList":
		if !ok {
			return nil, fmt.Errorf("plan: no zones or prefix lists known for region %s; add them to internal/plan (regions)", m.region)
		}
	}
	// Record the call through the test monitor first (it keeps the list).
	def, err := m.Mocks.Call(args)
	switch args.Token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return resource.PropertyMap{"names": strs(facts.zones), "zoneIds": strs(facts.zoneIDs), "id": str(m.region)}, nil
	case "aws:ec2/getManagedPrefixList:getManagedPrefixList":
		return resource.PropertyMap{
			"id": str(facts.cloudFrontPrefixList), "name": str("com.amazonaws.global.cloudfront.origin-facing"),
			"addressFamily": str("IPv4"), "maxEntries": resource.NewNumberProperty(55), "ownerId": str("AWS"),
		}, nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.PropertyMap{
			"accountId": str(Account), "id": str(Account),
			"arn":    str("arn:aws:sts::" + Account + ":assumed-role/surge-deploy/surge-plan"),
			"userId": str("AROAEXAMPLEROLEID:surge-plan"),
		}, nil
	case "aws:index/getRegion:getRegion":
		return resource.PropertyMap{"name": str(m.region), "id": str(m.region), "endpoint": str("ec2." + m.region + ".amazonaws.com")}, nil
	case "aws:ssm/getParameter:getParameter":
		// The fleet's AMI comes from AWS's public Amazon Linux parameter.
		name := ""
		if v, ok := args.Args["name"]; ok && v.IsString() {
			name = v.StringValue()
		}
		return resource.PropertyMap{
			"name": str(name), "type": str("String"), "value": str("ami-0a1b2c3d4e5f67890"), "insecureValue": str("ami-0a1b2c3d4e5f67890"),
			"arn": str("arn:aws:ssm:" + m.region + "::parameter" + name), "version": resource.NewNumberProperty(1),
		}, nil
	}
	return def, err
}

// Custom returns the custom resources, providers excluded.
func (p *Plan) Custom() []pulumitest.Resource {
	var out []pulumitest.Resource
	for _, r := range p.Resources {
		if r.Custom && !strings.HasPrefix(r.Type, "pulumi:providers:") {
			out = append(out, r)
		}
	}
	return out
}

// ByType returns the custom resources of one type token, sorted by name.
func (p *Plan) ByType(token string) []pulumitest.Resource {
	var out []pulumitest.Resource
	for _, r := range p.Resources {
		if r.Type == token {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Counts is how many custom resources of each type the stack declares.
func (p *Plan) Counts() map[string]int {
	c := map[string]int{}
	for _, r := range p.Custom() {
		c[r.Type]++
	}
	return c
}

// key identifies a resource by type and logical name, as URNs end.
func key(token, name string) string { return token + "::" + name }

// urnKey is the key of the resource a URN names: its last type (after the
// parent types joined by "$") and its name.
func urnKey(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 2 {
		return ""
	}
	types := parts[len(parts)-2]
	if i := strings.LastIndexByte(types, '$'); i >= 0 {
		types = types[i+1:]
	}
	return key(types, parts[len(parts)-1])
}

// Node is a resource in the tree.
type Node struct {
	Type, Name string
	Custom     bool
	Children   []*Node
}

// Size is the number of custom resources under the node, itself included
// (providers are not counted).
func (n *Node) Size() int {
	s := 0
	if n.Custom && !strings.HasPrefix(n.Type, "pulumi:providers:") {
		s = 1
	}
	for _, c := range n.Children {
		s += c.Size()
	}
	return s
}

// Tree is the stack's resources under their parents: the components and,
// beside them, the providers and anything declared at the top.
func (p *Plan) Tree() *Node {
	root := &Node{Type: "pulumi:pulumi:Stack", Name: Project + "-" + p.Stack}
	nodes := map[string]*Node{}
	for _, r := range p.Resources {
		nodes[key(r.Type, r.Name)] = &Node{Type: r.Type, Name: r.Name, Custom: r.Custom}
	}
	for _, r := range p.Resources {
		n := nodes[key(r.Type, r.Name)]
		if parent, ok := nodes[urnKey(r.Parent)]; ok && r.Parent != "" {
			parent.Children = append(parent.Children, n)
		} else {
			root.Children = append(root.Children, n)
		}
	}
	var sortAll func(n *Node)
	sortAll = func(n *Node) {
		sort.SliceStable(n.Children, func(i, j int) bool {
			a, b := n.Children[i], n.Children[j]
			if a.Custom != b.Custom {
				return !a.Custom // components first
			}
			if a.Type != b.Type {
				return a.Type < b.Type
			}
			return a.Name < b.Name
		})
		for _, c := range n.Children {
			sortAll(c)
		}
	}
	sortAll(root)
	return root
}

// component is the top-level component a resource belongs to ("" for the
// providers and resources declared at the top).
func (p *Plan) components() map[string]string {
	parentOf := map[string]string{}
	comp := map[string]bool{}
	for _, r := range p.Resources {
		k := key(r.Type, r.Name)
		parentOf[k] = urnKey(r.Parent)
		if !r.Custom {
			comp[k] = true
		}
	}
	top := map[string]string{}
	for _, r := range p.Resources {
		k := key(r.Type, r.Name)
		cur, owner := k, ""
		for i := 0; i < 64 && cur != ""; i++ {
			if comp[cur] {
				owner = cur
			}
			cur = parentOf[cur]
		}
		top[k] = owner
	}
	return top
}
