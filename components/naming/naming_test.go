package naming

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPhysical(t *testing.T) {
	tests := []struct {
		base, suffix string
		max          int
		want         string
	}{
		{"surge-dev", "alb", MaxLoadBalancer, "surge-dev-alb"},
		{"Surge_Prod", "db", MaxRDSIdentifier, "surge-prod-db"},
		{"surge-production-eu-west", "app-target-group", MaxLoadBalancer, "surge-production-eu-west-" + hash("surge-production-eu-west-app-target-group")},
		{"a--b", "", MaxDefault, "a-b"},
	}
	for _, tt := range tests {
		got := Physical(tt.base, tt.suffix, tt.max)
		assert.Equal(t, tt.want, got, "Physical(%q, %q, %d)", tt.base, tt.suffix, tt.max)
		assert.LessOrEqual(t, len(got), tt.max, "Physical(%q, %q, %d) too long", tt.base, tt.suffix, tt.max)
		assert.False(t, strings.HasSuffix(got, "-") || strings.HasPrefix(got, "-"), "Physical(%q, %q) = %q has an edge dash", tt.base, tt.suffix, got)
	}
}

func TestPhysicalDistinct(t *testing.T) {
	a := Physical("surge-production-eu-west-1-blue", "targets-http", MaxLoadBalancer)
	b := Physical("surge-production-eu-west-1-blue", "targets-https", MaxLoadBalancer)
	assert.NotEqual(t, a, b, "long names that differ only past the cut must stay distinct")
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:6]
}
