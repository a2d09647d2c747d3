// Package pulumitest is the recording mock monitor shared by the tests of
// components/ and stacks/: it records every declared resource with its
// inputs, echoes inputs back as outputs plus the computed outputs our code
// reads, answers the data sources we call, and fails on any call nobody
// expected so a new invoke cannot slip through untested.
package pulumitest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Region and Account are what the mocked AWS account answers.
const (
	Region  = "eu-west-1"
	Account = "123456789012"
)

// Resource is one resource the program declared.
type Resource struct {
	Type     string
	Name     string
	Inputs   resource.PropertyMap
	Provider string // provider reference, "urn::id"; empty for the default provider
	Parent   string // parent URN
	Custom   bool
	// Dependencies are the URNs the resource waits for (explicit DependsOn
	// and the resources whose outputs its inputs use).
	Dependencies []string
	// RetainOnDelete and ReplaceOnChanges are the resource options of the
	// same names.
	RetainOnDelete   bool
	ReplaceOnChanges []string
}

// DependsOn reports whether the resource waits for the resource of the
// given type token and logical name.
func (r Resource) DependsOn(token, name string) bool {
	for _, urn := range r.Dependencies {
		// URNs end in "<parent types>$<type>::<name>" or "::<type>::<name>".
		if strings.HasSuffix(urn, "$"+token+"::"+name) || strings.HasSuffix(urn, "::"+token+"::"+name) {
			return true
		}
	}
	return false
}

// Get navigates Inputs by a dotted path ("metadataOptions.httpTokens",
// "ingress[0].fromPort") and unwraps secrets and computed values on the way.
func (r Resource) Get(path string) (resource.PropertyValue, bool) {
	return Lookup(resource.NewObjectProperty(r.Inputs), path)
}

// Str is Get for a string; "" when absent or not a string.
func (r Resource) Str(path string) string {
	v, ok := r.Get(path)
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}

// Num is Get for a number; 0 when absent.
func (r Resource) Num(path string) float64 {
	v, ok := r.Get(path)
	if !ok || !v.IsNumber() {
		return 0
	}
	return v.NumberValue()
}

// Bool is Get for a bool; false when absent.
func (r Resource) Bool(path string) bool {
	v, ok := r.Get(path)
	if !ok || !v.IsBool() {
		return false
	}
	return v.BoolValue()
}

// Has reports whether the path is set to a non-null value.
func (r Resource) Has(path string) bool {
	v, ok := r.Get(path)
	return ok && !v.IsNull()
}

// Strings is Get for an array of strings.
func (r Resource) Strings(path string) []string {
	v, ok := r.Get(path)
	if !ok || !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		e = unwrap(e)
		if e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// Len is the length of an array at path; 0 when absent.
func (r Resource) Len(path string) int {
	v, ok := r.Get(path)
	if !ok || !v.IsArray() {
		return 0
	}
	return len(v.ArrayValue())
}

// IsSecret reports whether the value at path was declared secret.
func (r Resource) IsSecret(path string) bool {
	v, ok := lookupRaw(resource.NewObjectProperty(r.Inputs), path)
	return ok && v.IsSecret()
}

// JSON decodes a JSON-document string input (a policy, a dashboard body).
func (r Resource) JSON(path string) (map[string]any, error) {
	s := r.Str(path)
	if s == "" {
		return nil, fmt.Errorf("%s %s: %s is not a JSON string", r.Type, r.Name, path)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("%s %s: decoding %s: %w", r.Type, r.Name, path, err)
	}
	return m, nil
}

// UsesProvider reports whether the resource was declared with the explicit
// provider whose logical name is given (e.g. "us-east-1").
func (r Resource) UsesProvider(name string) bool {
	// Provider references look like "urn:pulumi:stack::proj::pulumi:providers:aws::NAME::ID".
	parts := strings.Split(r.Provider, "::")
	return len(parts) >= 2 && parts[len(parts)-2] == name
}

func unwrap(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsComputed():
			v = v.Input().Element
		case v.IsOutput():
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

// Lookup navigates v by a dotted path with [i] indexes, unwrapping secrets.
func Lookup(v resource.PropertyValue, path string) (resource.PropertyValue, bool) {
	raw, ok := lookupRaw(v, path)
	return unwrap(raw), ok
}

func lookupRaw(v resource.PropertyValue, path string) (resource.PropertyValue, bool) {
	if path == "" {
		return v, true
	}
	for _, seg := range strings.Split(path, ".") {
		key, idx := seg, []int{}
		if i := strings.IndexByte(seg, '['); i >= 0 {
			key = seg[:i]
			for _, p := range strings.Split(seg[i+1:], "[") {
				n, err := strconv.Atoi(strings.TrimSuffix(p, "]"))
				if err != nil {
					return resource.PropertyValue{}, false
				}
				idx = append(idx, n)
			}
		}
		v = unwrap(v)
		if key != "" {
			if !v.IsObject() {
				return resource.PropertyValue{}, false
			}
			nv, ok := v.ObjectValue()[resource.PropertyKey(key)]
			if !ok {
				return resource.PropertyValue{}, false
			}
			v = nv
		}
		for _, n := range idx {
			v = unwrap(v)
			if !v.IsArray() || n >= len(v.ArrayValue()) {
				return resource.PropertyValue{}, false
			}
			v = v.ArrayValue()[n]
		}
	}
	return v, true
}

// OutputsFunc adds computed outputs for a resource type; its result is merged
// over the echoed inputs.
type OutputsFunc func(args pulumi.MockResourceArgs) resource.PropertyMap

// CallFunc answers one invoke token.
type CallFunc func(args pulumi.MockCallArgs) (resource.PropertyMap, error)

// Mocks is the recording mock monitor. The zero value is not usable: call New.
type Mocks struct {
	// Invokes answer invoke tokens before the defaults (a test's own
	// answer, e.g. a missing object). Set before Run.
	Invokes map[string]CallFunc

	mu        sync.Mutex
	resources []Resource
	calls     []pulumi.MockCallArgs
}

// MockRandomBytesBase64 is what every random.RandomBytes returns under
// these mocks: the bytes 0x00..0x1f.
const MockRandomBytesBase64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// MockPublicKeyPEM and MockPrivateKeyPEM are what every tls.PrivateKey
// returns under these mocks: PEM-shaped placeholders, not a key.
const (
	MockPublicKeyPEM  = "-----BEGIN PUBLIC KEY-----\nmock-public-key\n-----END PUBLIC KEY-----\n"
	MockPrivateKeyPEM = "-----BEGIN RSA PRIVATE KEY-----\nmock-private-key\n-----END RSA PRIVATE KEY-----\n" //nolint:gosec // G101: a placeholder with no key material
)

// New returns a monitor that answers with the defaults every surge package
// needs (defaultOutputs, defaultInvokes).
func New() *Mocks { return &Mocks{} }

// NewResource implements pulumi.MockResourceMonitor.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := Resource{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs, Provider: args.Provider, Custom: args.Custom}
	if args.RegisterRPC != nil {
		r.Parent = args.RegisterRPC.GetParent()
		r.Dependencies = args.RegisterRPC.GetDependencies()
		r.RetainOnDelete = args.RegisterRPC.GetRetainOnDelete()
		r.ReplaceOnChanges = args.RegisterRPC.GetReplaceOnChanges()
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()

	outs := args.Inputs.Copy()
	outs["arn"] = resource.NewStringProperty(FakeARN(args.TypeToken, args.Name))
	outs["id"] = resource.NewStringProperty(args.Name + "-id")
	if f, ok := defaultOutputs[args.TypeToken]; ok {
		for k, v := range f(args) {
			outs[k] = v
		}
	}
	return args.Name + "-id", outs, nil
}

// Call implements pulumi.MockResourceMonitor; unknown tokens are an error.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, args)
	m.mu.Unlock()
	f, ok := m.Invokes[args.Token]
	if !ok {
		f, ok = defaultInvokes[args.Token]
	}
	if !ok {
		return nil, fmt.Errorf("pulumitest: unexpected invoke %q with %v", args.Token, args.Args)
	}
	return f(args)
}

// Resources returns every recorded resource, components included.
func (m *Mocks) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Resource(nil), m.resources...)
}

// ByType returns the recorded resources of one type token, sorted by name.
func (m *Mocks) ByType(token string) []Resource {
	var out []Resource
	for _, r := range m.Resources() {
		if r.Type == token {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Named returns the resource of the given type and logical name.
func (m *Mocks) Named(token, name string) (Resource, bool) {
	for _, r := range m.ByType(token) {
		if r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// Calls returns the invokes made, in order.
func (m *Mocks) Calls() []pulumi.MockCallArgs {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]pulumi.MockCallArgs(nil), m.calls...)
}

// Count returns how many resources of each type token were declared.
func (m *Mocks) Count() map[string]int {
	c := map[string]int{}
	for _, r := range m.Resources() {
		c[r.Type]++
	}
	return c
}

// Run runs program under the monitor with the given stack config
// ("surge:key" -> JSON or plain value) and returns the program's error.
// Config goes through PULUMI_CONFIG, so tests using it cannot be parallel.
func (m *Mocks) Run(t testing.TB, stack string, config map[string]string, program pulumi.RunFunc) error {
	t.Helper()
	cfg := "{}"
	if len(config) > 0 {
		b, err := json.Marshal(config)
		if err != nil {
			t.Fatalf("encoding config: %v", err)
		}
		cfg = string(b)
	}
	if ts, ok := t.(interface{ Setenv(string, string) }); ok {
		ts.Setenv("PULUMI_CONFIG", cfg)
	} else {
		os.Setenv("PULUMI_CONFIG", cfg)
	}
	return pulumi.RunErr(program, pulumi.WithMocks("surge", stack, m))
}

// Await resolves an output to its value. It is the one place tests wait
// for outputs; call it inside the program (the mock resolves outputs while
// the program runs). known is false for values unknown during preview.
func Await(ctx context.Context, out pulumi.Output) (value any, known bool, err error) {
	res, err := internals.UnsafeAwaitOutput(ctx, out)
	if err != nil {
		return nil, false, fmt.Errorf("awaiting output: %w", err)
	}
	return res.Value, res.Known, nil
}

// FakeARN is the ARN the mock gives a resource that has none of its own.
func FakeARN(token, name string) string {
	svc := "unknown"
	if parts := strings.Split(token, ":"); len(parts) == 3 {
		svc = strings.Split(parts[1], "/")[0]
	}
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s", svc, Region, Account, svc, name)
}

// LogGroupARN is the ARN the mock gives a log group of that physical name:
// the provider's form, without the ":*" suffix.
func LogGroupARN(name string) string {
	return "arn:aws:logs:" + Region + ":" + Account + ":log-group:" + name
}

func str(s string) resource.PropertyValue { return resource.NewStringProperty(s) }

var defaultOutputs = map[string]OutputsFunc{
	"aws:ec2/vpc:Vpc": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{"defaultSecurityGroupId": str(a.Name + "-default-sg"), "ownerId": str(Account)}
	},
	"aws:ec2/launchTemplate:LaunchTemplate": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{"latestVersion": resource.NewNumberProperty(3)}
	},
	"aws:lb/loadBalancer:LoadBalancer": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{
			"dnsName":   str("internal-" + a.Name + ".eu-west-1.elb.amazonaws.com"),
			"zoneId":    str("Z32O12XQLNTSW2"),
			"arnSuffix": str("app/" + a.Name + "/abc123"),
			"arn":       str("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/" + a.Name + "/abc123"),
		}
	},
	"aws:lb/targetGroup:TargetGroup": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{"arnSuffix": str("targetgroup/" + a.Name + "/def456")}
	},
	"aws:rds/instance:Instance": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		host := a.Name + ".abc.eu-west-1.rds.amazonaws.com"
		return resource.PropertyMap{
			"address":    str(host),
			"endpoint":   str(host + ":5432"),
			"port":       resource.NewNumberProperty(5432),
			"identifier": str(a.Name),
			"resourceId": str("db-" + strings.ToUpper(a.Name)),
		}
	},
	// As AWS reports them: a cluster-mode group has only a configuration
	// endpoint, a cluster-mode-disabled one a primary and a reader endpoint.
	"aws:elasticache/replicationGroup:ReplicationGroup": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		if m := a.Inputs["clusterMode"]; m.IsString() && m.StringValue() == "enabled" {
			return resource.PropertyMap{"configurationEndpointAddress": str("clustercfg." + a.Name + ".cache.amazonaws.com")}
		}
		return resource.PropertyMap{
			"primaryEndpointAddress": str("master." + a.Name + ".cache.amazonaws.com"),
			"readerEndpointAddress":  str("replica." + a.Name + ".cache.amazonaws.com"),
		}
	},
	"random:index/randomId:RandomId": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{"hex": str("0a1b2c3d"), "b64Url": str("ChssPQ"), "dec": str("169552957")}
	},
	// 32 fixed bytes (0x00..0x1f), as the provider returns them: secret.
	"random:index/randomBytes:RandomBytes": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{"base64": resource.MakeSecret(str(MockRandomBytesBase64))}
	},
	// A key pair in the provider's PEM forms; the private half secret, as
	// the provider marks it. Not a real key: mocks only check the wiring.
	"tls:index/privateKey:PrivateKey": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{
			"publicKeyPem":  str(MockPublicKeyPEM),
			"privateKeyPem": resource.MakeSecret(str(MockPrivateKeyPEM)),
		}
	},
	"random:index/randomPassword:RandomPassword": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		n := 32
		if v, ok := a.Inputs["length"]; ok && v.IsNumber() {
			n = int(v.NumberValue())
		}
		return resource.PropertyMap{"result": resource.MakeSecret(str(strings.Repeat("x", n)))}
	},
	"aws:cloudfront/distribution:Distribution": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{
			"domainName":   str("d111111abcdef8.cloudfront.net"),
			"hostedZoneId": str("Z2FDTNDATAQYW2"),
			"arn":          str("arn:aws:cloudfront::123456789012:distribution/" + a.Name),
		}
	},
	"aws:s3/bucketV2:BucketV2": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		b := a.Name
		if v, ok := a.Inputs["bucket"]; ok && v.IsString() {
			b = v.StringValue()
		}
		return resource.PropertyMap{
			"bucket":                   str(b),
			"arn":                      str("arn:aws:s3:::" + b),
			"bucketRegionalDomainName": str(b + ".s3.eu-west-1.amazonaws.com"),
		}
	},
	// The provider's LogGroup arn has no ":*" suffix (what IAM policies
	// and the CloudWatch agent's log group need).
	"aws:cloudwatch/logGroup:LogGroup": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		n := a.Name
		if v, ok := a.Inputs["name"]; ok && v.IsString() {
			n = v.StringValue()
		}
		return resource.PropertyMap{"arn": str(LogGroupARN(n))}
	},
	"aws:route53/record:Record": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{"fqdn": a.Inputs["name"]}
	},
	"aws:route53/zone:Zone": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{
			"zoneId":      str("ZNEW" + strings.ToUpper(strings.ReplaceAll(a.Name, "-", ""))),
			"nameServers": resource.NewArrayProperty([]resource.PropertyValue{str("ns-1.awsdns-01.org"), str("ns-2.awsdns-02.net")}),
		}
	},
	"aws:acm/certificate:Certificate": func(a pulumi.MockResourceArgs) resource.PropertyMap {
		return resource.PropertyMap{"domainValidationOptions": resource.NewArrayProperty([]resource.PropertyValue{
			resource.NewObjectProperty(resource.PropertyMap{
				"domainName":          a.Inputs["domainName"],
				"resourceRecordName":  str("_x1." + a.Inputs["domainName"].StringValue() + "."),
				"resourceRecordType":  str("CNAME"),
				"resourceRecordValue": str("_y1.acm-validations.aws."),
			}),
		})}
	},
}

var defaultInvokes = map[string]CallFunc{
	"aws:index/getAvailabilityZones:getAvailabilityZones": func(pulumi.MockCallArgs) (resource.PropertyMap, error) {
		return resource.PropertyMap{
			"names":   resource.NewArrayProperty([]resource.PropertyValue{str(Region + "a"), str(Region + "b"), str(Region + "c")}),
			"zoneIds": resource.NewArrayProperty([]resource.PropertyValue{str("euw1-az1"), str("euw1-az2"), str("euw1-az3")}),
		}, nil
	},
	"aws:index/getCallerIdentity:getCallerIdentity": func(pulumi.MockCallArgs) (resource.PropertyMap, error) {
		return resource.PropertyMap{"accountId": str(Account), "arn": str("arn:aws:iam::" + Account + ":user/test"), "userId": str("AIDTEST")}, nil
	},
	"aws:index/getRegion:getRegion": func(pulumi.MockCallArgs) (resource.PropertyMap, error) {
		return resource.PropertyMap{"name": str(Region), "id": str(Region)}, nil
	},
	"aws:index/getPartition:getPartition": func(pulumi.MockCallArgs) (resource.PropertyMap, error) {
		return resource.PropertyMap{"partition": str("aws"), "dnsSuffix": str("amazonaws.com")}, nil
	},
	"aws:route53/getZone:getZone": func(a pulumi.MockCallArgs) (resource.PropertyMap, error) {
		name := "example.com"
		if v, ok := a.Args["name"]; ok && v.IsString() {
			name = v.StringValue()
		}
		return resource.PropertyMap{"zoneId": str("ZLOOKUP" + strings.ToUpper(strings.ReplaceAll(name, ".", ""))), "id": str("ZLOOKUP"), "name": str(name), "privateZone": resource.NewBoolProperty(false)}, nil
	},
	// An uploaded release: the key's digest is the object's SHA-256, as S3
	// reports it (checksumSha256, base64) and as the upload stamped it.
	"aws:s3/getObject:getObject": func(a pulumi.MockCallArgs) (resource.PropertyMap, error) {
		key := a.Args["key"].StringValue()
		parts := strings.Split(key, "/")
		if len(parts) != 3 || parts[0] != "releases" {
			return nil, fmt.Errorf("NotFound: no object %s", key)
		}
		raw, err := hex.DecodeString(parts[1])
		if err != nil {
			return nil, fmt.Errorf("NotFound: no object %s", key)
		}
		return resource.PropertyMap{
			"bucket":         a.Args["bucket"],
			"key":            str(key),
			"checksumSha256": str(base64.StdEncoding.EncodeToString(raw)),
			"metadata":       resource.NewObjectProperty(resource.PropertyMap{"sha256": str(parts[1])}),
		}, nil
	},
	"aws:ec2/getManagedPrefixList:getManagedPrefixList": func(a pulumi.MockCallArgs) (resource.PropertyMap, error) {
		return resource.PropertyMap{
			"id":         str("pl-4fa04526"),
			"name":       str("com.amazonaws.global.cloudfront.origin-facing"),
			"maxEntries": resource.NewNumberProperty(55),
		}, nil
	},
}

// AssertUniqueNames fails the test when two resources share a type and a
// logical name: two instances of a component in one stack must not collide.
func (m *Mocks) AssertUniqueNames(t testing.TB) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range m.Resources() {
		key := r.Type + "::" + r.Name
		if seen[key] {
			t.Errorf("duplicate logical name %s", key)
		}
		seen[key] = true
	}
}

// AssertChildrenOf fails the test unless every custom resource was
// parented to the component (componentType, name), so it inherits the
// component's providers and transformations, and named from its name.
func (m *Mocks) AssertChildrenOf(t testing.TB, componentType, name string) {
	t.Helper()
	parent := componentType + "::" + name
	n := 0
	for _, r := range m.Resources() {
		if !r.Custom || strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		n++
		if !strings.HasSuffix(r.Parent, parent) {
			t.Errorf("%s %s: parent %q, want the component %s", r.Type, r.Name, r.Parent, parent)
		}
		if !strings.HasPrefix(r.Name, name+"-") {
			t.Errorf("%s %s: logical name must derive from the component name %q", r.Type, r.Name, name)
		}
	}
	if n == 0 {
		t.Errorf("component %s declared no resources", parent)
	}
}
