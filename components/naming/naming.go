// Package naming derives physical AWS names from a component's logical name
// so that two stacks, or two instances of a component in one stack, never
// collide and every name stays within the service's length limit.
package naming

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Common AWS name length limits.
const (
	MaxLoadBalancer  = 32 // ALB and target group names
	MaxRDSIdentifier = 63
	MaxElastiCacheID = 40 // replication group ID
	MaxS3Bucket      = 63
	MaxIAMRole       = 64
	MaxSecretName    = 512
	MaxLogGroup      = 512
	MaxDefault       = 128
)

// Physical joins base and suffix with "-" and lowercases the result. When it
// is longer than max it is cut and ends in a 6-character hash of the full
// name, so distinct long names stay distinct. Characters outside [a-z0-9-]
// become "-", the form every service here accepts.
func Physical(base, suffix string, max int) string {
	full := base
	if suffix != "" {
		full = base + "-" + suffix
	}
	full = sanitize(full)
	if len(full) <= max {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	h := hex.EncodeToString(sum[:])[:6]
	cut := strings.TrimRight(full[:max-len(h)-1], "-")
	return cut + "-" + h
}

func sanitize(s string) string {
	var b strings.Builder
	prevDash := false
	for _, r := range strings.ToLower(s) {
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
		switch {
		case ok:
			b.WriteRune(r)
			prevDash = false
		case !prevDash:
			b.WriteByte('-')
			prevDash = true
		}
	}
	return strings.Trim(b.String(), "-")
}
