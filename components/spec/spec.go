// Package spec holds what the stack and the components share about a
// component's static shape: the two environments, the vocabularies AWS
// defines once (Graviton instance families, CloudWatch Logs retention days,
// reserved PostgreSQL user names) and Problems, which collects every
// problem of a Spec under its config key path.
package spec

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Env names the two shapes a stack can take: dev is cheap, prod highly
// available. Each component's Defaults take it.
type Env string

// The environments surge knows.
const (
	Dev  Env = "dev"
	Prod Env = "prod"
)

// graviton matches the size part of a Graviton (arm64) type: the families
// carry a "g" right after the generation (t4g, m7g, c7gn, r8g, x2gd). a1,
// the first generation, is left out: no burst or modern network features.
// https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html
var graviton = regexp.MustCompile(`^[a-z]+[0-9]+g[a-z]*\.(nano|micro|small|medium|large|[0-9]*xlarge|metal)$`)

// Graviton reports whether t is a Graviton type once the service prefix is
// removed: prefix "" for EC2 (m7g.large), "db." for RDS, "cache." for
// ElastiCache.
func Graviton(prefix, t string) bool {
	rest, ok := strings.CutPrefix(t, prefix)
	return ok && graviton.MatchString(rest)
}

// LogRetentionDays are the retention values CloudWatch Logs accepts.
// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// ValidLogRetention reports whether d is one of LogRetentionDays.
func ValidLogRetention(d int) bool { return slices.Contains(LogRetentionDays, d) }

// reservedDBUsers are names the master user must not take: words RDS
// reserves (MasterUsername "can't be a reserved word for the chosen
// database engine"), RDS's own roles, and the defaults Security Hub RDS.25
// flags.
// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html
// https://docs.aws.amazon.com/securityhub/latest/userguide/rds-controls.html#rds-25
var reservedDBUsers = []string{"admin", "postgres", "public", "rds_superuser", "rdsadmin", "root"}

// ReservedDBUser reports whether name (any case) may not be the master user.
func ReservedDBUser(name string) bool {
	return slices.Contains(reservedDBUsers, strings.ToLower(name))
}

// Problems collects every problem of a Spec, each under its key path
// relative to the Spec ("warmPool.minSize", "instanceTypes[1]"). The zero
// value is ready to use.
type Problems struct{ list []Problem }

// Problem is one invalid setting.
type Problem struct {
	Key string // key path inside the Spec; "" for the Spec as a whole
	Msg string
}

func (p Problem) Error() string {
	if p.Key == "" {
		return p.Msg
	}
	return p.Key + ": " + p.Msg
}

// Add records a problem of key.
func (p *Problems) Add(key, format string, args ...any) {
	p.list = append(p.list, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Merge records every problem of err under prefix (a Spec nested in
// another); a non-Problems error is recorded as a problem of prefix.
func (p *Problems) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var ps *ProblemList
	if !errors.As(err, &ps) {
		p.Add(prefix, "%v", err)
		return
	}
	for _, q := range ps.Problems {
		p.list = append(p.list, Problem{Key: Join(prefix, q.Key), Msg: q.Msg})
	}
}

// Err is nil without problems, else a *ProblemList.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ProblemList{Problems: append([]Problem(nil), p.list...)}
}

// ProblemList is the error a Spec's Validate returns: every problem found.
type ProblemList struct{ Problems []Problem }

func (l *ProblemList) Error() string {
	lines := make([]string, len(l.Problems))
	for i, q := range l.Problems {
		lines[i] = q.Error()
	}
	return strings.Join(lines, "\n")
}

// Join appends key to the path prefix with a dot ("" on either side is
// dropped; an index "[2]" is appended without one).
func Join(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	case strings.HasPrefix(key, "["):
		return prefix + key
	}
	return prefix + "." + key
}
