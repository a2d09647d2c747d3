package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTrustCloudFront(t *testing.T) {
	c, err := Load(env(minimal()), Serve)
	require.NoError(t, err)
	assert.False(t, c.TrustCloudFront, "off by default: the viewer header could be forged")
	m := minimal()
	m["SURGE_TRUST_CLOUDFRONT"] = "true"
	c, err = Load(env(m), Serve)
	require.NoError(t, err)
	assert.True(t, c.TrustCloudFront)
	m["SURGE_TRUST_CLOUDFRONT"] = "yes"
	_, err = Load(env(m), Serve)
	assert.ErrorContains(t, err, "SURGE_TRUST_CLOUDFRONT")
}
