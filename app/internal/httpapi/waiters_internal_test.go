package httpapi

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/surge"
)

func TestPollAfter(t *testing.T) {
	cases := []struct {
		name     string
		position int64
		perSec   float64
		waited   bool
		want     time.Duration
	}{
		{name: "no rate: 1 s + 25 ms per place", position: 40, waited: true, want: 2 * time.Second},
		{name: "no rate, far back: capped", position: 100000, waited: true, want: 30 * time.Second},
		{name: "half the time to the turn", position: 1000, perSec: 100, waited: true, want: 5 * time.Second},
		{name: "near the front after a wait: ask again at once", position: 2, perSec: 500, waited: true, want: 2 * time.Millisecond},
		{name: "near the front without a wait: at least a second", position: 2, perSec: 500, waited: false, want: time.Second},
		{name: "slow course, far back: capped", position: 50000, perSec: 10, waited: true, want: 30 * time.Second},
		{name: "no overflow", position: 1 << 50, perSec: 1e-9, waited: true, want: 30 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, pollAfter(tc.position, tc.perSec, tc.waited))
		})
	}
}

func TestRateEstimate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var r rateEstimate
	assert.Zero(t, r.get(t0), "unknown before any progress")
	r.add(t0, 500) // the first batch after a pause covers an unknown time
	assert.Zero(t, r.get(t0))
	r.add(t0.Add(50*time.Millisecond), 100) // closer than rateMinSpan: added up
	assert.Zero(t, r.get(t0.Add(50*time.Millisecond)))
	r.add(t0.Add(200*time.Millisecond), 100)
	assert.InDelta(t, 1000, r.get(t0.Add(200*time.Millisecond)), 1, "200 students in 200 ms")
	for i := range 20 { // the course slows to 100 per second
		r.add(t0.Add(200*time.Millisecond+time.Duration(i+1)*time.Second), 100)
	}
	assert.InDelta(t, 100, r.get(t0.Add(20*time.Second)), 5, "follows the new rate within a few half-lives")
	assert.Zero(t, r.get(t0.Add(40*time.Second)), "unknown again after rateStale without progress")
}

func TestRequestedWait(t *testing.T) {
	s := &Server{d: Deps{MaxWait: 4 * time.Second}}
	cases := []struct {
		name   string
		target string
		prefer string
		want   time.Duration
		bad    bool
	}{
		{name: "none", target: "/", want: 0},
		{name: "parameter", target: "/?wait=2", want: 2 * time.Second},
		{name: "fraction", target: "/?wait=0.5", want: 500 * time.Millisecond},
		{name: "capped", target: "/?wait=60", want: 4 * time.Second},
		{name: "Prefer", target: "/", prefer: "respond-async, wait=3", want: 3 * time.Second},
		{name: "parameter wins", target: "/?wait=1", prefer: "wait=3", want: time.Second},
		{name: "unreadable Prefer ignored", target: "/", prefer: "wait=soon", want: 0},
		{name: "negative", target: "/?wait=-1", bad: true},
		{name: "not a number", target: "/?wait=abc", bad: true},
		{name: "infinite", target: "/?wait=Inf", bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			if tc.prefer != "" {
				r.Header.Set("Prefer", tc.prefer)
			}
			got, err := s.requestedWait(r)
			if tc.bad {
				require.Error(t, err)
				assert.Equal(t, surge.CodeInvalid, surge.ErrorCode(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
