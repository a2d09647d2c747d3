package rush

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/localenv/surgeapi"
)

func TestMaxAge(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"public, max-age=1":            time.Second,
		"max-age=5, s-maxage=2":        2 * time.Second,
		"no-store":                     0,
		"private, max-age=60":          0,
		"public, max-age=60, no-cache": 0,
		"":                             0,
		"max-age=abc":                  0,
	} {
		assert.Equal(t, want, maxAge(cc), cc)
	}
}

// TestEdgeCache: concurrent reads of one path within the max-age cost one
// origin request (misses collapsed, hits served from the entry); after it,
// the origin is asked again; an answer without max-age is never kept.
func TestEdgeCache(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cc          string
		wantFetches int64 // for two rounds of 50 concurrent reads, 1.1 s apart
	}{
		{name: "cached for max-age", cc: "public, max-age=1", wantFetches: 2},
		{name: "not cacheable", cc: "no-store", wantFetches: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fetches atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := fetches.Add(1)
				time.Sleep(20 * time.Millisecond) // misses arriving meanwhile wait for this answer
				w.Header().Set("Cache-Control", tc.cc)
				_, _ = io.WriteString(w, `{"courseId":7,"decidedThrough":`+itoa(n)+`,"seatsLeft":3}`)
			}))
			t.Cleanup(srv.Close)
			c := newEdgeCache(func(ctx context.Context, path string) (*http.Response, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
				if err != nil {
					return nil, err
				}
				return http.DefaultClient.Do(req)
			})
			var hits atomic.Int64
			round := func() {
				var wg sync.WaitGroup
				for range 50 {
					wg.Go(func() {
						p, hit, status, err := c.get(context.Background(), "/api/courses/7/progress")
						assert.NoError(t, err)
						assert.Equal(t, http.StatusOK, status)
						assert.Equal(t, int64(7), p.CourseID)
						if hit {
							hits.Add(1)
						}
					})
				}
				wg.Wait()
			}
			round()
			time.Sleep(1100 * time.Millisecond)
			round()
			assert.Equal(t, tc.wantFetches, fetches.Load(), "origin requests")
			assert.Equal(t, 100-tc.wantFetches, hits.Load(), "reads the edge answered")
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestLatencyProxy: a request/response through the proxy takes at least
// the latency twice (once each way), and the bytes arrive intact.
func TestLatencyProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }() // echo
		}
	}()
	_, err = startLatencyProxy("127.0.0.1:0", ln.Addr().String(), 1500*time.Microsecond)
	require.ErrorContains(t, err, "whole milliseconds")
	const lat = 5 * time.Millisecond
	p, err := startLatencyProxy("127.0.0.1:0", ln.Addr().String(), lat)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	u, err := throughProxy("postgres://surge@127.0.0.1:5432/app?sslmode=disable", p.Addr())
	require.NoError(t, err)
	assert.Equal(t, "postgres://surge@"+p.Addr()+"/app?sslmode=disable", u)

	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	buf := make([]byte, 5)
	for i := range 3 {
		t0 := time.Now()
		_, err = c.Write([]byte("ping" + itoa(int64(i))))
		require.NoError(t, err)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		rtt := time.Since(t0)
		assert.Equal(t, "ping"+itoa(int64(i)), string(buf))
		assert.GreaterOrEqual(t, rtt, 2*lat, "round trip %d: latency each way", i)
		assert.Less(t, rtt, 2*lat+200*time.Millisecond, "round trip %d: not much more", i)
	}
}

// TestRetryDelay: the student model retries as the page does (never before
// Retry-After, then full jitter growing with the attempt); the pool model
// keeps its fixed delays; a course not open yet is retried at once in both.
func TestRetryDelay(t *testing.T) {
	busy := &surgeapi.Error{Status: http.StatusServiceUnavailable, RetryAfter: "1"}
	for _, tc := range []struct {
		name     string
		clients  string
		err      error
		status   int
		attempt  int
		min, max time.Duration
	}{
		{"student 503 first retry", ClientsStudent, busy, 503, 0, time.Second, 1500 * time.Millisecond},
		{"student 503 fourth retry", ClientsStudent, busy, 503, 3, time.Second, 5 * time.Second},
		{"student 503 capped", ClientsStudent, busy, 503, 40, time.Second, 33 * time.Second},
		{"student transport error", ClientsStudent, errors.New("refused"), 0, 0, 0, 500 * time.Millisecond},
		{"student not open yet", ClientsStudent, &surgeapi.Error{Status: 409}, 409, 5, 20 * time.Millisecond, 20 * time.Millisecond},
		{"pool 503", ClientsPool, busy, 503, 3, time.Second, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gen{sc: Scenario{Clients: tc.clients}}
			spread := map[time.Duration]bool{}
			for range 50 {
				d := g.retryDelay(tc.err, tc.status, tc.attempt)
				assert.GreaterOrEqual(t, d, tc.min)
				assert.LessOrEqual(t, d, tc.max)
				spread[d] = true
			}
			if tc.max > tc.min {
				assert.Greater(t, len(spread), 10, "jittered")
			}
		})
	}
}
