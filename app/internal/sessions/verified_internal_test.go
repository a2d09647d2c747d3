package sessions

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestVerifiedMemory(t *testing.T) {
	now := time.Now()
	ss := session{student: 3, hash: sha256.Sum256([]byte("x"))}
	h := hex.EncodeToString(ss.hash[:])
	tests := []struct {
		name    string
		steps   func(v *verified) // between the lookup that misses and remember
		live    bool
		want    bool
		expires time.Time
	}{
		{name: "remembered", live: true, want: true, expires: now.Add(time.Hour)},
		{name: "not while the subscription is unconfirmed", live: false, want: false, expires: now.Add(time.Hour)},
		{name: "a revocation during the read wins", live: true, steps: func(v *verified) { v.forget(h) }, want: false, expires: now.Add(time.Hour)},
		{name: "another session's revocation also blocks (conservative)", live: true, steps: func(v *verified) { v.forget("00") }, want: false, expires: now.Add(time.Hour)},
		{name: "trust lost during the read", live: true, steps: func(v *verified) { v.distrust() }, want: false, expires: now.Add(time.Hour)},
		{name: "expired", live: true, want: false, expires: now.Add(-time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerified(16)
			if tt.live {
				v.subscribed(now)
			}
			hit, gen, _ := v.lookup(ss, now)
			assert.False(t, hit)
			if tt.steps != nil {
				tt.steps(v)
			}
			v.remember(ss, tt.expires, gen)
			hit, _, _ = v.lookup(ss, now)
			assert.Equal(t, tt.want, hit)
		})
	}
}

func TestVerifiedMemoryTrustNeedsFreshSignsOfLife(t *testing.T) {
	now := time.Now()
	v := newVerified(16)
	v.subscribed(now)
	ss := session{student: 1, hash: sha256.Sum256([]byte("y"))}
	_, gen, trusted := v.lookup(ss, now)
	assert.True(t, trusted)
	v.remember(ss, now.Add(time.Hour), gen)
	hit, _, _ := v.lookup(ss, now.Add(maxSilence))
	assert.True(t, hit, "within maxSilence of the last sign of life")
	hit, _, trusted = v.lookup(ss, now.Add(maxSilence+time.Millisecond))
	assert.False(t, hit, "a silent subscription is not trusted")
	assert.False(t, trusted)
	v.sawLife(now.Add(time.Second))
	hit, _, _ = v.lookup(ss, now.Add(time.Second))
	assert.True(t, hit, "a pong restores it")
}

func TestVerifiedMemoryIsBounded(t *testing.T) {
	now := time.Now()
	v := newVerified(64)
	v.subscribed(now)
	for i := range 1000 {
		ss := session{student: int64(i + 1), hash: sha256.Sum256([]byte{byte(i), byte(i >> 8)})}
		_, gen, _ := v.lookup(ss, now)
		v.remember(ss, now.Add(time.Hour), gen)
		assert.LessOrEqual(t, len(v.entries), 64)
	}
}
