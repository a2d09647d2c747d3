package plan

import (
	"embed"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/surge-dev/surge/internal/pulumitest"
)

//go:embed prices/*.yaml
var priceFiles embed.FS

// Price is one dated line of a region's price table.
type Price struct {
	USD    float64 `yaml:"usd"`
	Unit   string  `yaml:"unit"`
	AsOf   string  `yaml:"asOf"`
	Source string  `yaml:"source"`
}

// PriceTable is a region's committed price table (prices/<region>.yaml).
type PriceTable struct {
	Region        string           `yaml:"region"`
	HoursPerMonth float64          `yaml:"hoursPerMonth"`
	Prices        map[string]Price `yaml:"prices"`
	Usage         []string         `yaml:"usage"`
}

// LoadPrices reads the committed price table of a region.
func LoadPrices(region string) (*PriceTable, error) {
	b, err := priceFiles.ReadFile("prices/" + region + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no price table for region %s (add internal/plan/prices/%s.yaml): %w", region, region, err)
	}
	var t PriceTable
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("parsing the %s price table: %w", region, err)
	}
	var problems []error
	if t.Region != region {
		problems = append(problems, fmt.Errorf("region %q, want %q", t.Region, region))
	}
	if t.HoursPerMonth <= 0 {
		problems = append(problems, errors.New("hoursPerMonth must be > 0"))
	}
	for k, p := range t.Prices {
		if p.USD <= 0 || p.AsOf == "" || !strings.HasPrefix(p.Source, "https://aws.amazon.com/") {
			problems = append(problems, fmt.Errorf("%s: needs usd > 0, an asOf date and an aws.amazon.com source", k))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("price table %s: %w", region, err)
	}
	return &t, nil
}

// Line is one item of the estimate.
type Line struct {
	Item     string  // what costs money
	Detail   string  // its size, as the program declared it
	Quantity float64 // in the price's unit, per month
	PriceKey string
	Price    Price
	Monthly  float64
}

// Estimate is a stack's monthly cost while idle at its desired capacity.
type Estimate struct {
	Stack, Region string
	Lines         []Line
	Total         float64
	Usage         []string // traffic-driven costs, not estimated
	AsOf          string   // the oldest price date used
}

// Estimate prices what the plan declares with the region's table. A
// resource whose size has no price is an error naming it, so the estimate
// never silently leaves something out.
func (p *Plan) Estimate() (*Estimate, error) {
	t, err := LoadPrices(p.Region)
	if err != nil {
		return nil, err
	}
	e := &Estimate{Stack: p.Stack, Region: p.Region, Usage: t.Usage}
	var missing []string
	add := func(item, detail, priceKey string, quantity float64) {
		if quantity == 0 {
			return
		}
		pr, ok := t.Prices[priceKey]
		if !ok {
			missing = append(missing, priceKey+" ("+item+")")
			return
		}
		e.Lines = append(e.Lines, Line{Item: item, Detail: detail, Quantity: quantity, PriceKey: priceKey, Price: pr, Monthly: quantity * pr.USD})
		if e.AsOf == "" || pr.AsOf < e.AsOf {
			e.AsOf = pr.AsOf
		}
	}
	h := t.HoursPerMonth
	count := func(token string) float64 { return float64(len(p.ByType(token))) }

	nat := count("aws:ec2/natGateway:NatGateway")
	add("NAT gateways", fmt.Sprintf("%.0f × %.0f h", nat, h), "nat-gateway-hour", nat*h)
	eips := count("aws:ec2/eip:Eip")
	add("Public IPv4 addresses (NAT)", fmt.Sprintf("%.0f × %.0f h", eips, h), "public-ipv4-hour", eips*h)

	enis := 0.0
	var services []string
	for _, r := range p.ByType("aws:ec2/vpcEndpoint:VpcEndpoint") {
		if r.Str("vpcEndpointType") != "Interface" {
			continue
		}
		enis += float64(r.Len("subnetIds"))
		svc := r.Str("serviceName")
		services = append(services, svc[strings.LastIndexByte(svc, '.')+1:])
	}
	add("Interface endpoints", fmt.Sprintf("%s, %.0f ENIs × %.0f h", strings.Join(services, ", "), enis, h), "interface-endpoint-hour", enis*h)

	albs := count("aws:lb/loadBalancer:LoadBalancer")
	add("Application Load Balancer", fmt.Sprintf("%.0f × %.0f h (LCUs: usage)", albs, h), "alb-hour", albs*h)

	if err := p.fleetCost(add, h); err != nil {
		return nil, err
	}

	for _, r := range p.ByType("aws:rds/instance:Instance") {
		class := r.Str("instanceClass")
		role := "writer"
		if r.Has("replicateSourceDb") {
			role = "read replica"
		}
		copies, az := 1.0, "Single-AZ"
		if r.Bool("multiAz") {
			copies, az = 2, "Multi-AZ (×2)"
		}
		add("RDS PostgreSQL "+role, fmt.Sprintf("%s, %s, %.0f h", class, az, h), "rds-postgres:"+class, copies*h)
		gib := r.Num("allocatedStorage")
		if gib == 0 && role == "read replica" {
			gib = p.writerStorage()
		}
		add("RDS storage "+role, fmt.Sprintf("%.0f GiB gp3, %s", gib, az), "rds-gp3-gb-month", copies*gib)
	}

	for _, r := range p.ByType("aws:elasticache/replicationGroup:ReplicationGroup") {
		engine, node := r.Str("engine"), r.Str("nodeType")
		nodes := r.Num("numCacheClusters")
		shape := ""
		if r.Has("numNodeGroups") { // cluster mode: shards of a primary and its replicas
			shards, replicas := r.Num("numNodeGroups"), r.Num("replicasPerNodeGroup")
			nodes = shards * (1 + replicas)
			shape = fmt.Sprintf(" in %.0f shards", shards)
		}
		add("ElastiCache nodes", fmt.Sprintf("%.0f × %s (%s)%s, %.0f h", nodes, node, engine, shape, h), "elasticache-"+engine+":"+node, nodes*h)
	}

	keys := count("aws:kms/key:Key")
	add("KMS keys", fmt.Sprintf("%.0f keys", keys), "kms-key-month", keys)
	secrets := count("aws:secretsmanager/secret:Secret")
	add("Secrets Manager secrets", fmt.Sprintf("%.0f secrets", secrets), "secret-month", secrets)

	rules := 0.0
	acls := p.ByType("aws:wafv2/webAcl:WebAcl")
	for _, r := range acls {
		rules += float64(r.Len("rules"))
	}
	add("WAF web ACL", fmt.Sprintf("%d web ACL", len(acls)), "waf-web-acl-month", float64(len(acls)))
	add("WAF rules", fmt.Sprintf("%.0f rules and managed rule groups", rules), "waf-rule-month", rules)

	alarms := count("aws:cloudwatch/metricAlarm:MetricAlarm")
	add("CloudWatch alarms", fmt.Sprintf("%.0f standard-resolution alarms", alarms), "cloudwatch-alarm-month", alarms)
	dashboards := count("aws:cloudwatch/dashboard:Dashboard")
	add("CloudWatch dashboards", fmt.Sprintf("%.0f (free if the account has fewer than 3)", dashboards), "cloudwatch-dashboard-month", dashboards)
	zones := count("aws:route53/zone:Zone")
	add("Route 53 hosted zones", fmt.Sprintf("%.0f zones", zones), "route53-zone-month", zones)

	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("stack %s: no %s price for %s; add them to internal/plan/prices/%s.yaml", p.Stack, p.Region, strings.Join(missing, ", "), p.Region)
	}
	for _, l := range e.Lines {
		e.Total += l.Monthly
	}
	return e, nil
}

// fleetCost prices the app fleet at its desired capacity, on demand (the
// on-demand base covers the minimum, so spot only ever adds capacity above
// it), plus the root volumes of running and warm-pool instances.
func (p *Plan) fleetCost(add func(item, detail, key string, qty float64), h float64) error {
	templates := p.ByType("aws:ec2/launchTemplate:LaunchTemplate")
	for _, g := range p.ByType("aws:autoscaling/group:Group") {
		lt := findTemplate(templates)
		itype := lt.Str("instanceType")
		if itype == "" {
			itype = g.Str("mixedInstancesPolicy.launchTemplate.overrides[0].instanceType")
		}
		if itype == "" {
			return fmt.Errorf("app fleet %s: cannot tell its instance type from the launch template or the mixed instances policy", g.Name)
		}
		desired := g.Num("desiredCapacity")
		if desired == 0 {
			desired = g.Num("minSize")
		}
		add("EC2 app instances", fmt.Sprintf("%.0f × %s on demand, %.0f h", desired, itype, h), "ec2:"+itype, desired*h)
		gib := lt.Num("blockDeviceMappings[0].ebs.volumeSize")
		warm := g.Num("warmPool.minSize")
		detail := fmt.Sprintf("%.0f running × %.0f GiB gp3", desired, gib)
		if warm > 0 {
			detail = fmt.Sprintf("%.0f running + %.0f stopped in the warm pool, × %.0f GiB gp3", desired, warm, gib)
		}
		add("EBS root volumes", detail, "ebs-gp3-gb-month", (desired+warm)*gib)
	}
	return nil
}

func findTemplate(ts []pulumitest.Resource) pulumitest.Resource {
	if len(ts) == 0 {
		return pulumitest.Resource{}
	}
	return ts[0]
}

// writerStorage is the allocated storage of the database that replicas copy.
func (p *Plan) writerStorage() float64 {
	for _, r := range p.ByType("aws:rds/instance:Instance") {
		if !r.Has("replicateSourceDb") {
			return r.Num("allocatedStorage")
		}
	}
	return 0
}
