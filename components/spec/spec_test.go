package spec

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGraviton(t *testing.T) {
	tests := []struct {
		prefix, typ string
		want        bool
	}{
		{"", "t4g.small", true},
		{"", "m7g.large", true},
		{"", "c7gn.16xlarge", true},
		{"", "r8g.metal", true},
		{"", "m7i.large", false}, // Intel
		{"", "m5.large", false},
		{"", "a1.large", false}, // first-generation Graviton, left out
		{"db.", "db.r7g.large", true},
		{"db.", "r7g.large", false}, // prefix missing
		{"db.", "db.m5.large", false},
		{"cache.", "cache.t4g.micro", true},
		{"cache.", "db.t4g.micro", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Graviton(tt.prefix, tt.typ), "Graviton(%q, %q)", tt.prefix, tt.typ)
	}
}

func TestVocabularies(t *testing.T) {
	for _, d := range []int{1, 14, 365, 3653} {
		assert.True(t, ValidLogRetention(d), "%d days", d)
	}
	for _, d := range []int{0, 2, 10, 366} {
		assert.False(t, ValidLogRetention(d), "%d days", d)
	}
	for _, u := range []string{"postgres", "Postgres", "rdsadmin", "admin", "root", "public", "rds_superuser"} {
		assert.True(t, ReservedDBUser(u), "%s", u)
	}
	assert.False(t, ReservedDBUser("surge_admin"))
}

// Problems keep every problem with its key path; Merge nests a Spec's
// problems under the key of the section that holds it.
func TestProblems(t *testing.T) {
	var p Problems
	require.NoError(t, p.Err(), "no problem, no error")
	p.Add("replicas", "%d is outside 0..15", 16)
	p.Add("", "whole spec")

	var inner Problems
	inner.Add("minSize", "too big")
	inner.Add("[2]", "indexed")
	p.Merge("warmPool", inner.Err())
	p.Merge("edge", errors.New("plain error"))
	p.Merge("nothing", nil)

	err := p.Err()
	require.Error(t, err)
	var list *ProblemList
	require.ErrorAs(t, err, &list)
	assert.Equal(t, []Problem{
		{"replicas", "16 is outside 0..15"},
		{"", "whole spec"},
		{"warmPool.minSize", "too big"},
		{"warmPool[2]", "indexed"},
		{"edge", "plain error"},
	}, list.Problems)
	assert.Equal(t, "replicas: 16 is outside 0..15\nwhole spec\nwarmPool.minSize: too big\nwarmPool[2]: indexed\nedge: plain error", err.Error())
}
