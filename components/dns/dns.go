// Package dns declares the site's DNS: the hosted zone (existing or new),
// DNS-validated ACM certificates and the alias records.
//
// The distribution needs the validated certificate and the alias records
// need the distribution, so the package has two components used in this
// order by the stack:
//
//	certs, _ := dns.NewZoneAndCertificates(ctx, name, &dns.ZoneAndCertificatesArgs{...}) // before loadbalancer and cdn
//	...loadbalancer (certs.OriginCertificateARN), cdn (certs.CloudFrontCertificateARN, certs.OriginDomain)...
//	dns.NewAliasRecords(ctx, name, &dns.AliasRecordsArgs{...})            // after cdn
//
// Without a domain (Domain == "") NewZoneAndCertificates declares nothing and
// reports Enabled == false; the stack then skips NewAliasRecords and serves
// on CloudFront's default domain and certificate.
package dns

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/components/spec"
)

// OriginPrefix names the origin host under the site domain: the name
// CloudFront sends as SNI/Host to the ALB, on the ALB's regional certificate.
const OriginPrefix = "origin."

var (
	hostnameRe = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	zoneIDRe   = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
)

// Spec is the site's name and its hosted zone: the DNS keys of
// `surge:edge` in the stack config. Without a domain the site is served on
// CloudFront's own name and nothing here is declared.
type Spec struct {
	Domain         string `json:"domain"`         // Site name, e.g. register.example.edu; "" = CloudFront's default domain.
	HostedZoneID   string `json:"hostedZoneId"`   // Its existing public hosted zone by ID,
	HostedZoneName string `json:"hostedZoneName"` // or by name,
	CreateZone     bool   `json:"createZone"`     // or created by the stack (two phases: the first up creates only the zone).
	// ACM cannot validate a certificate until the registrar (or parent
	// zone) delegates to the new zone's name servers, so requesting it in
	// the zone's first `up` would block until validation times out.
	ZoneDelegated bool `json:"zoneDelegated"` // With createZone: set true once the registrar delegates to the nameServers output; the next up adds certificates, the site and its aliases.
}

// Defaults are the same in every environment: no domain. (Prod refuses to
// run without one: stacks checks that floor.)
func Defaults(spec.Env) Spec { return Spec{} }

// ZoneOnly reports the first phase of a created zone: the zone and nothing
// else until it is delegated.
func (s Spec) ZoneOnly() bool { return s.CreateZone && !s.ZoneDelegated }

// Validate reports every problem of the Spec, keyed by its JSON path.
func (s Spec) Validate() error {
	var p spec.Problems
	if s.ZoneDelegated && !s.CreateZone {
		p.Add("zoneDelegated", "only applies with createZone: an existing zone is delegated already")
	}
	if s.Domain == "" {
		if s.HostedZoneID != "" || s.HostedZoneName != "" || s.CreateZone {
			p.Add("domain", "is empty but a hosted zone is configured")
		}
		return p.Err()
	}
	if !hostnameRe.MatchString(s.Domain) {
		p.Add("domain", "%q is not a lowercase DNS name", s.Domain)
	}
	n := 0
	if s.HostedZoneID != "" {
		n++
		if !zoneIDRe.MatchString(s.HostedZoneID) {
			p.Add("hostedZoneId", "%q is not a Route 53 zone ID such as Z0123456789ABC", s.HostedZoneID)
		}
	}
	if s.HostedZoneName != "" {
		n++
		zn := strings.TrimSuffix(s.HostedZoneName, ".")
		if !hostnameRe.MatchString(zn) {
			p.Add("hostedZoneName", "%q is not a DNS name", s.HostedZoneName)
		} else if s.Domain != zn && !strings.HasSuffix(s.Domain, "."+zn) {
			p.Add("hostedZoneName", "%q does not contain domain %q", s.HostedZoneName, s.Domain)
		}
	}
	if s.CreateZone {
		n++
	}
	if n != 1 {
		p.Add("domain", "needs exactly one of hostedZoneId, hostedZoneName or createZone")
	}
	return p.Err()
}

// ZoneAndCertificatesArgs are the Spec plus the us-east-1 provider.
type ZoneAndCertificatesArgs struct {
	Spec
	// USEast1 is an aws provider for us-east-1. Required when Domain is
	// set: CloudFront only uses ACM certificates from us-east-1 (docs/decisions/cloudfront-certificate-region.md).
	USEast1 pulumi.ProviderResource
}

// ZoneAndCertificates is the first DNS component: the hosted zone (found
// or created) and the site's two validated certificates. Its type token,
// surge:dns:Certificates, keeps its first name: it is part of every
// child's URN, and a new token would make `pulumi up` replace the zone.
type ZoneAndCertificates struct {
	pulumi.ResourceState

	// Enabled is false when the stack has no domain; every output is then empty.
	Enabled bool
	// SiteDomain is Domain; OriginDomain is "origin.<Domain>".
	SiteDomain   string
	OriginDomain string
	// ZoneID is the hosted zone the records go in.
	ZoneID pulumi.StringOutput
	// NameServers are the new zone's name servers (CreateZone only; a
	// known empty list otherwise, so exporting it never yields an unknown
	// stack output).
	NameServers pulumi.StringArrayOutput
	// CloudFrontCertificateARN is the VALIDATED us-east-1 certificate for
	// SiteDomain (it resolves only after validation, so the distribution waits).
	CloudFrontCertificateARN pulumi.StringOutput
	// OriginCertificateARN is the VALIDATED certificate for OriginDomain in
	// the stack's region, for the ALB's HTTPS listener.
	OriginCertificateARN pulumi.StringOutput
}

func (a *ZoneAndCertificatesArgs) validate() error {
	var errs []error
	if err := a.Spec.Validate(); err != nil {
		errs = append(errs, err)
	}
	if a.Domain != "" && a.USEast1 == nil {
		errs = append(errs, errors.New("USEast1 is required with a Domain: the CloudFront certificate must be in us-east-1 (docs/decisions/cloudfront-certificate-region.md)"))
	}
	return errors.Join(errs...)
}

// NewZoneAndCertificates resolves the zone and declares the two certificates and
// their validation.
func NewZoneAndCertificates(ctx *pulumi.Context, name string, args *ZoneAndCertificatesArgs, opts ...pulumi.ResourceOption) (*ZoneAndCertificates, error) {
	if args == nil {
		return nil, errors.New("dns: args are required")
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("dns %s: invalid args: %w", name, err)
	}
	c := &ZoneAndCertificates{NameServers: pulumi.StringArray{}.ToStringArrayOutput()}
	if err := ctx.RegisterComponentResource("surge:dns:Certificates", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering dns certificates component: %w", err)
	}
	if args.Domain == "" {
		if err := ctx.RegisterResourceOutputs(c, pulumi.Map{}); err != nil {
			return nil, fmt.Errorf("registering dns outputs: %w", err)
		}
		return c, nil
	}
	parent := pulumi.Parent(c)
	c.Enabled = true
	c.SiteDomain = args.Domain
	c.OriginDomain = OriginPrefix + args.Domain

	switch {
	case args.HostedZoneID != "":
		c.ZoneID = pulumi.String(args.HostedZoneID).ToStringOutput()
	case args.HostedZoneName != "":
		// A public zone only: CloudFront aliases cannot live in private
		// zones (docs/decisions/route53-cloudfront-alias.md).
		z := route53.LookupZoneOutput(ctx, route53.LookupZoneOutputArgs{
			Name:        pulumi.String(strings.TrimSuffix(args.HostedZoneName, ".")),
			PrivateZone: pulumi.Bool(false),
		}, pulumi.Parent(c))
		c.ZoneID = z.ZoneId()
	default:
		z, err := route53.NewZone(ctx, name+"-zone", &route53.ZoneArgs{
			Name:    pulumi.String(args.Domain),
			Comment: pulumi.String("surge " + name),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating hosted zone: %w", err)
		}
		c.ZoneID = z.ZoneId
		c.NameServers = z.NameServers
	}
	if args.ZoneOnly() {
		c.Enabled = false // no certificates yet
		if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"zoneId": c.ZoneID, "nameServers": c.NameServers}); err != nil {
			return nil, fmt.Errorf("registering dns outputs: %w", err)
		}
		return c, nil
	}

	var err error
	// docs/decisions/cloudfront-certificate-region.md: the CloudFront certificate through the us-east-1 provider.
	c.CloudFrontCertificateARN, err = validatedCert(ctx, name+"-cloudfront", c.SiteDomain, c.ZoneID, parent, pulumi.Provider(args.USEast1))
	if err != nil {
		return nil, err
	}
	// The ALB certificate in the stack's region, for the name CloudFront
	// verifies at the origin (docs/decisions/origin-name-on-certificate.md).
	c.OriginCertificateARN, err = validatedCert(ctx, name+"-origin", c.OriginDomain, c.ZoneID, parent)
	if err != nil {
		return nil, err
	}

	out := pulumi.Map{
		"zoneId":                   c.ZoneID,
		"cloudFrontCertificateArn": c.CloudFrontCertificateARN,
		"originCertificateArn":     c.OriginCertificateARN,
	}
	if args.CreateZone {
		out["nameServers"] = c.NameServers
	}
	if err := ctx.RegisterResourceOutputs(c, out); err != nil {
		return nil, fmt.Errorf("registering dns outputs: %w", err)
	}
	return c, nil
}

// validatedCert requests a DNS-validated certificate for one domain, writes
// its single validation record (one domain -> one record, index 0, so the
// record count is static) and waits for validation. certOpts (the region)
// apply to the certificate and its validation; the record is global.
func validatedCert(ctx *pulumi.Context, logical, domain string, zoneID pulumi.StringOutput, parent pulumi.ResourceOption, certOpts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	cert, err := acm.NewCertificate(ctx, logical, &acm.CertificateArgs{
		DomainName:       pulumi.String(domain),
		ValidationMethod: pulumi.String("DNS"),      // ACM.1: renews automatically
		KeyAlgorithm:     pulumi.String("RSA_2048"), // ACM.2
	}, append([]pulumi.ResourceOption{parent}, certOpts...)...)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("requesting certificate for %s: %w", domain, err)
	}
	dvo := cert.DomainValidationOptions.Index(pulumi.Int(0))
	rec, err := route53.NewRecord(ctx, logical+"-validation", &route53.RecordArgs{
		ZoneId:         zoneID,
		Name:           dvo.ResourceRecordName().Elem(),
		Type:           dvo.ResourceRecordType().Elem(),
		Records:        pulumi.StringArray{dvo.ResourceRecordValue().Elem()},
		Ttl:            pulumi.Int(60),
		AllowOverwrite: pulumi.Bool(true), // the same CNAME is shared by re-requests of the same name
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("creating validation record for %s: %w", domain, err)
	}
	v, err := acm.NewCertificateValidation(ctx, logical, &acm.CertificateValidationArgs{
		CertificateArn:        cert.Arn,
		ValidationRecordFqdns: pulumi.StringArray{rec.Fqdn},
	}, append([]pulumi.ResourceOption{parent}, certOpts...)...)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("validating certificate for %s: %w", domain, err)
	}
	return v.CertificateArn, nil
}

// AliasRecordsArgs configures NewAliasRecords.
type AliasRecordsArgs struct {
	// ZoneID is ZoneAndCertificates.ZoneID. Required.
	ZoneID pulumi.StringInput
	// SiteDomain is the record name; it MUST be one of the distribution's
	// aliases (docs/decisions/route53-cloudfront-alias.md). Required.
	SiteDomain string
	// DistributionDomainName and DistributionHostedZoneID come from the cdn
	// component (its hostedZoneId output, not a literal). Required.
	DistributionDomainName   pulumi.StringInput
	DistributionHostedZoneID pulumi.StringInput
	// OriginDomain, LoadBalancerDNSName and LoadBalancerZoneID, when
	// OriginDomain is set, add an A alias from OriginDomain to the internal
	// ALB. With a VPC origin CloudFront reaches the ALB through the VPC
	// origin's ENI and uses OriginDomain for SNI/Host; the record makes the
	// name resolve too (to private addresses only), so the setup does not
	// depend on whether CloudFront resolves it. Optional.
	OriginDomain        string
	LoadBalancerDNSName pulumi.StringInput
	LoadBalancerZoneID  pulumi.StringInput
}

// AliasRecords is the second DNS component.
type AliasRecords struct {
	pulumi.ResourceState

	// SiteFQDN is the name the records answer for.
	SiteFQDN pulumi.StringOutput
}

func (a *AliasRecordsArgs) validate() error {
	var errs []error
	if a.ZoneID == nil {
		errs = append(errs, errors.New("ZoneID is required"))
	}
	if !hostnameRe.MatchString(a.SiteDomain) {
		errs = append(errs, fmt.Errorf("SiteDomain %q: want a lowercase DNS name (one of the distribution's aliases)", a.SiteDomain))
	}
	if a.DistributionDomainName == nil || a.DistributionHostedZoneID == nil {
		errs = append(errs, errors.New("DistributionDomainName and DistributionHostedZoneID are required"))
	}
	if a.OriginDomain != "" {
		if !hostnameRe.MatchString(a.OriginDomain) {
			errs = append(errs, fmt.Errorf("OriginDomain %q: want a lowercase DNS name", a.OriginDomain))
		}
		if a.LoadBalancerDNSName == nil || a.LoadBalancerZoneID == nil {
			errs = append(errs, errors.New("LoadBalancerDNSName and LoadBalancerZoneID are required with OriginDomain"))
		}
	}
	return errors.Join(errs...)
}

// NewAliasRecords declares A and AAAA aliases for the site and, optionally,
// the origin alias.
func NewAliasRecords(ctx *pulumi.Context, name string, args *AliasRecordsArgs, opts ...pulumi.ResourceOption) (*AliasRecords, error) {
	if args == nil {
		return nil, errors.New("dns: args are required")
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("dns %s: invalid args: %w", name, err)
	}
	c := &AliasRecords{}
	if err := ctx.RegisterComponentResource("surge:dns:AliasRecords", name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering dns alias component: %w", err)
	}
	parent := pulumi.Parent(c)

	// A and AAAA: the distribution has IPv6 enabled.
	var site *route53.Record
	for _, typ := range []string{"A", "AAAA"} {
		r, err := route53.NewRecord(ctx, name+"-site-"+strings.ToLower(typ), &route53.RecordArgs{
			ZoneId: args.ZoneID,
			Name:   pulumi.String(args.SiteDomain),
			Type:   pulumi.String(typ),
			Aliases: route53.RecordAliasArray{&route53.RecordAliasArgs{
				Name:   args.DistributionDomainName,
				ZoneId: args.DistributionHostedZoneID,
				// CloudFront alias targets cannot evaluate health (docs/decisions/route53-cloudfront-alias.md).
				EvaluateTargetHealth: pulumi.Bool(false),
			}},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating %s alias for %s: %w", typ, args.SiteDomain, err)
		}
		if site == nil {
			site = r
		}
	}
	if args.OriginDomain != "" {
		if _, err := route53.NewRecord(ctx, name+"-origin-a", &route53.RecordArgs{
			ZoneId: args.ZoneID,
			Name:   pulumi.String(args.OriginDomain),
			Type:   pulumi.String("A"),
			Aliases: route53.RecordAliasArray{&route53.RecordAliasArgs{
				Name:                 args.LoadBalancerDNSName,
				ZoneId:               args.LoadBalancerZoneID,
				EvaluateTargetHealth: pulumi.Bool(true),
			}},
		}, parent); err != nil {
			return nil, fmt.Errorf("creating origin alias %s: %w", args.OriginDomain, err)
		}
	}
	c.SiteFQDN = site.Fqdn
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"siteFqdn": site.Fqdn}); err != nil {
		return nil, fmt.Errorf("registering dns alias outputs: %w", err)
	}
	return c, nil
}
