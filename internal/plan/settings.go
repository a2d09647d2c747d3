package plan

import (
	"fmt"
	"strings"

	"github.com/surge-dev/surge/internal/pulumitest"
)

// setting is an input worth comparing between stacks: availability,
// protection and retention choices that the resource counts do not show.
type setting struct {
	label, token, path string
	pick               func([]pulumitest.Resource) []pulumitest.Resource // nil: all of the type
}

func writers(rs []pulumitest.Resource) []pulumitest.Resource {
	var out []pulumitest.Resource
	for _, r := range rs {
		if !r.Has("replicateSourceDb") {
			out = append(out, r)
		}
	}
	return out
}

var settings = []setting{
	{"ASG min / max / desired", "aws:autoscaling/group:Group", "minSize,maxSize,desiredCapacity", nil},
	{"ASG warm pool", "aws:autoscaling/group:Group", "warmPool.minSize,warmPool.poolState", nil},
	{"ALB deletion protection", "aws:lb/loadBalancer:LoadBalancer", "enableDeletionProtection", nil},
	{"RDS Multi-AZ", "aws:rds/instance:Instance", "multiAz", writers},
	{"RDS backup retention (days)", "aws:rds/instance:Instance", "backupRetentionPeriod", writers},
	{"RDS deletion protection", "aws:rds/instance:Instance", "deletionProtection", writers},
	{"cache cluster mode / shards / replicas per shard", "aws:elasticache/replicationGroup:ReplicationGroup", "clusterMode,numNodeGroups,replicasPerNodeGroup", nil},
	{"cache automatic failover", "aws:elasticache/replicationGroup:ReplicationGroup", "automaticFailoverEnabled", nil},
	{"cache Multi-AZ", "aws:elasticache/replicationGroup:ReplicationGroup", "multiAzEnabled", nil},
	{"cache snapshot retention (days)", "aws:elasticache/replicationGroup:ReplicationGroup", "snapshotRetentionLimit", nil},
	{"CloudFront price class", "aws:cloudfront/distribution:Distribution", "priceClass", nil},
	{"log retention (days)", "aws:cloudwatch/logGroup:LogGroup", "retentionInDays", nil},
}

// settingValue renders the comma-separated paths of every picked resource,
// "-" where unset, distinct values joined.
func (p *Plan) settingValue(s setting) string {
	rs := p.ByType(s.token)
	if s.pick != nil {
		rs = s.pick(rs)
	}
	var vals []string
	seen := map[string]bool{}
	for _, r := range rs {
		var parts []string
		for _, path := range strings.Split(s.path, ",") {
			v, ok := r.Get(path)
			switch {
			case !ok || v.IsNull():
				parts = append(parts, "-")
			case v.IsString():
				parts = append(parts, v.StringValue())
			case v.IsNumber():
				parts = append(parts, fmt.Sprintf("%g", v.NumberValue()))
			case v.IsBool():
				parts = append(parts, fmt.Sprintf("%t", v.BoolValue()))
			default:
				parts = append(parts, "?")
			}
		}
		val := strings.Join(parts, " / ")
		if strings.Trim(val, "- /") == "" {
			val = "none"
		}
		if !seen[val] {
			seen[val] = true
			vals = append(vals, val)
		}
	}
	if len(vals) == 0 {
		return "none"
	}
	return strings.Join(vals, ", ")
}

// SettingDiff lists the settings whose values differ between a and b.
func SettingDiff(a, b *Plan) [][3]string {
	var rows [][3]string
	for _, s := range settings {
		va, vb := a.settingValue(s), b.settingValue(s)
		if va != vb {
			rows = append(rows, [3]string{s.label, va, vb})
		}
	}
	return rows
}
