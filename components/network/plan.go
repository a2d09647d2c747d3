package network

import (
	"errors"
	"fmt"
	"net/netip"
)

// Default subnet sizes, as bits added to the VPC prefix. With a /16 VPC they
// give /20 app subnets (4091 usable addresses each: instances, ALB nodes,
// interface endpoints, the CloudFront VPC-origin ENIs) and /24 public and
// data subnets (NAT gateways; RDS and ElastiCache nodes).
const (
	DefaultPublicNewBits = 8
	DefaultAppNewBits    = 4
	DefaultDataNewBits   = 8
)

// AWS limits on VPC and subnet sizes (VPC user guide, "VPC CIDR blocks"),
// and the smallest subnet an ALB accepts (/27 with 8 free addresses,
// ELB guide "Subnets for your load balancer").
const (
	minVPCPrefix    = 16
	maxVPCPrefix    = 28
	maxSubnetPrefix = 28
	maxALBPrefix    = 27
)

// SubnetBits sizes the three tiers; a zero field takes its default, which
// is shrunk for small VPCs so the subnets stay within AWS's limits (a /22
// VPC gets /26 app and /28 public and data subnets). Explicit values are
// taken as given and validated.
type SubnetBits struct {
	Public int // default DefaultPublicNewBits, at most down to /28
	App    int // default DefaultAppNewBits, at most down to /27
	Data   int // default DefaultDataNewBits, at most down to /28
}

func (b SubnetBits) withDefaults(vpcBits int) SubnetBits {
	def := func(v *int, d, maxPrefix int) {
		if *v != 0 {
			return
		}
		*v = d
		if vpcBits+d > maxPrefix && maxPrefix-vpcBits >= 1 {
			*v = maxPrefix - vpcBits
		}
	}
	def(&b.Public, DefaultPublicNewBits, maxSubnetPrefix)
	def(&b.App, DefaultAppNewBits, maxALBPrefix)
	def(&b.Data, DefaultDataNewBits, maxSubnetPrefix)
	return b
}

// SubnetPlan is the deterministic address plan of a VPC: one subnet per tier
// per AZ, each slice ordered like the AZs.
type SubnetPlan struct {
	VPC    netip.Prefix
	Public []netip.Prefix
	App    []netip.Prefix
	Data   []netip.Prefix
}

// Plan computes the subnets of a VPC over azs availability zones without
// declaring anything, so the stack can call it while validating config. The
// largest subnets are placed first and each is aligned on its own size, so
// the layout is packed, stable for the same input and never overlaps, e.g.
// 10.20.0.0/16 over 3 AZs: app 10.20.0.0/20, 10.20.16.0/20, 10.20.32.0/20;
// public 10.20.48.0/24 .. 10.20.50.0/24; data 10.20.51.0/24 .. 10.20.53.0/24.
func Plan(cidr string, azs int, bits SubnetBits) (SubnetPlan, error) {
	vpc, err := parseVPCCIDR(cidr)
	if err != nil {
		return SubnetPlan{}, err
	}
	if azs < 1 {
		return SubnetPlan{}, fmt.Errorf("availabilityZones: need at least 1 zone to plan subnets, got %d", azs)
	}
	bits = bits.withDefaults(vpc.Bits())
	var errs []error
	for _, t := range []struct {
		tier string
		n    int
		max  int
	}{
		{"publicNewBits", bits.Public, maxSubnetPrefix},
		{"appNewBits", bits.App, maxALBPrefix},
		{"dataNewBits", bits.Data, maxSubnetPrefix},
	} {
		switch {
		case t.n < 1:
			errs = append(errs, fmt.Errorf("%s: must be at least 1, got %d", t.tier, t.n))
		case vpc.Bits()+t.n > t.max:
			errs = append(errs, fmt.Errorf("%s: %d gives /%d subnets in %s, smaller than the /%d AWS allows here", t.tier, t.n, vpc.Bits()+t.n, vpc, t.max))
		}
	}
	if len(errs) > 0 {
		return SubnetPlan{}, errors.Join(errs...)
	}

	// Allocate tiers from the largest subnet size to the smallest: with
	// non-increasing sizes every next free address is already aligned.
	type tier struct {
		bits int
		out  *[]netip.Prefix
	}
	p := SubnetPlan{VPC: vpc}
	tiers := []tier{{bits.App, &p.App}, {bits.Public, &p.Public}, {bits.Data, &p.Data}}
	// Stable insertion sort by size (ties keep app, public, data order).
	for i := 1; i < len(tiers); i++ {
		for j := i; j > 0 && tiers[j].bits < tiers[j-1].bits; j-- {
			tiers[j], tiers[j-1] = tiers[j-1], tiers[j]
		}
	}
	next := uint64(addrToUint(vpc.Addr()))
	end := next + (uint64(1) << (32 - vpc.Bits()))
	for _, t := range tiers {
		size := uint64(1) << (32 - vpc.Bits() - t.bits)
		for i := 0; i < azs; i++ {
			if next+size > end {
				return SubnetPlan{}, fmt.Errorf("cidr: %d AZs x 3 tiers (app /%d, public /%d, data /%d) do not fit in %s",
					azs, vpc.Bits()+bits.App, vpc.Bits()+bits.Public, vpc.Bits()+bits.Data, vpc)
			}
			*t.out = append(*t.out, netip.PrefixFrom(uintToAddr(uint32(next)), vpc.Bits()+t.bits))
			next += size
		}
	}
	if err := p.Check(); err != nil {
		return SubnetPlan{}, err
	}
	return p, nil
}

// Check verifies that every subnet lies inside the VPC and that no two
// subnets overlap. Plan always satisfies it; it guards hand-made plans.
func (p SubnetPlan) Check() error {
	type named struct {
		name string
		p    netip.Prefix
	}
	var all []named
	for tier, list := range map[string][]netip.Prefix{"public": p.Public, "app": p.App, "data": p.Data} {
		for i, s := range list {
			all = append(all, named{fmt.Sprintf("%s[%d]", tier, i), s})
		}
	}
	// Deterministic order for stable error text.
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && all[j].name < all[j-1].name; j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	var errs []error
	for _, s := range all {
		if !s.p.IsValid() || !p.VPC.Contains(s.p.Addr()) || s.p.Bits() < p.VPC.Bits() {
			errs = append(errs, fmt.Errorf("subnet %s %s is outside the VPC %s", s.name, s.p, p.VPC))
		}
	}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if all[i].p.Overlaps(all[j].p) {
				errs = append(errs, fmt.Errorf("subnet %s %s overlaps subnet %s %s", all[i].name, all[i].p, all[j].name, all[j].p))
			}
		}
	}
	return errors.Join(errs...)
}

// Strings returns the plan as CIDR strings per tier.
func (p SubnetPlan) Strings() (public, app, data []string) {
	conv := func(in []netip.Prefix) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = s.String()
		}
		return out
	}
	return conv(p.Public), conv(p.App), conv(p.Data)
}

// parseVPCCIDR accepts only a canonical IPv4 network address of a size AWS
// allows for a VPC.
func parseVPCCIDR(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("cidr: %q is not an IPv4 CIDR block", cidr)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("cidr: %q has host bits set, did you mean %q?", cidr, p.Masked().String())
	}
	if p.Bits() < minVPCPrefix || p.Bits() > maxVPCPrefix {
		return netip.Prefix{}, fmt.Errorf("cidr: %q must be between /%d and /%d", cidr, minVPCPrefix, maxVPCPrefix)
	}
	return p, nil
}

func addrToUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintToAddr(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}
