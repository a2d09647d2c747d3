package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/surge-dev/surge/app/internal/httpapi"
	"github.com/surge-dev/surge/app/internal/sessions"
	"github.com/surge-dev/surge/app/internal/testenv"
)

func trustCloudFront(d *httpapi.Deps) { d.TrustCloudFront = true }

// viewer is a CloudFront-Viewer-Address header value for the i-th client.
func viewer(i int) string { return fmt.Sprintf("198.51.%d.%d:%d", i/250, i%250+1, 40000+i) }

// TestLoginFloodDoesNotStarveJoins: 1,000 junk sign-ins at production bcrypt
// cost, each from its own client address (so no per-address throttle helps),
// arrive at once while 200 students poll. Password checks run in their own
// bounded pool outside the general in-flight limit: no poll is shed and the
// polls' p99 stays under 100 ms.
func TestLoginFloodDoesNotStarveJoins(t *testing.T) {
	if testing.Short() {
		t.Skip("production bcrypt cost")
	}
	sh := env.NewShared(t)
	app := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, BcryptCost: bcrypt.DefaultCost + 2, Deps: trustCloudFront})
	f := &fixture{t: t, app: app, admin: env.NewClient(t, app.HTTP.URL)}
	course := f.course("FLOOD", 10, past)
	q := fmt.Sprintf("/api/courses/%d/queue", course)
	sess := sessions.New(sh.Redis, sh.Prefix, time.Hour)
	// The pollers keep their own connections (as 200 browsers would): the
	// flood's 1,000 new connections must not make them wait for a dial.
	pollTransport := env.Transport.Clone()
	t.Cleanup(pollTransport.CloseIdleConnections)
	pollers := make([]*testenv.Client, 200)
	for i := range pollers {
		sid, err := sess.Create(context.Background(), int64(i+1))
		require.NoError(t, err)
		pollers[i] = env.NewClient(t, app.HTTP.URL)
		pollers[i].HTTP.Transport = pollTransport
		pollers[i].HTTP.Jar.SetCookies(mustURL(t, app.HTTP.URL), []*http.Cookie{{Name: "surge_session", Value: sid}})
		require.Equal(t, http.StatusAccepted, pollers[i].Must("POST", q, nil).Status)
	}

	// 800 polls per second in all; 200 under the race detector, which makes
	// each request several times as expensive on the same two cores.
	pollEvery := 250 * time.Millisecond
	if raceEnabled {
		pollEvery = time.Second
	}
	ctx, stop := context.WithCancel(context.Background())
	var mu sync.Mutex
	var lat, base []time.Duration
	var flooding atomic.Bool
	var shed atomic.Int64
	codes := map[int]int{}
	var bad []string
	var floodStart time.Time
	var wg sync.WaitGroup
	for _, c := range pollers {
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				r, err := c.Do("GET", q, nil)
				took := time.Since(start)
				mu.Lock()
				if err != nil {
					codes[-1]++
				} else {
					codes[r.Status]++
					if flooding.Load() {
						lat = append(lat, took)
					} else {
						base = append(base, took)
					}
					if r.Status == http.StatusServiceUnavailable && r.ErrorCode() == "overloaded" {
						shed.Add(1)
					}
					if r.Status != http.StatusOK && len(bad) < 5 {
						bad = append(bad, fmt.Sprintf("%d %s after %s", r.Status, r.Body, took))
					}
				}
				mu.Unlock()
				time.Sleep(pollEvery)
			}
		})
	}
	time.Sleep(2 * time.Second) // the baseline: polls without the flood
	floodStart = time.Now()
	flooding.Store(true)

	junk := map[int]int{}
	var jmu sync.Mutex
	var jwg sync.WaitGroup
	// They arrive within one second (one per millisecond), as a flood over
	// the network would, and stay in progress together (each held up to the
	// request timeout before the fix).
	for i := range 1000 {
		jwg.Go(func() {
			time.Sleep(time.Until(floodStart.Add(time.Duration(i) * time.Millisecond)))
			c := env.NewClient(t, app.HTTP.URL)
			// A sign-in that got a worker finishes its bcrypt even past the
			// request timeout (tens of seconds under the race detector).
			c.HTTP.Timeout = 2 * time.Minute
			r, err := c.Do("POST", "/api/login", map[string]string{"studentNo": fmt.Sprintf("junk%04d", i), "password": "guess"},
				"CloudFront-Viewer-Address", viewer(i))
			jmu.Lock()
			defer jmu.Unlock()
			if err != nil {
				junk[-1]++
				return
			}
			junk[r.Status]++
			if r.Status == http.StatusServiceUnavailable || r.Status == http.StatusTooManyRequests {
				assert.NotEmpty(t, r.Header.Get("Retry-After"), "login %d: Retry-After", r.Status)
			}
		})
	}
	jwg.Wait()
	flood := time.Since(floodStart)
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()

	slices.Sort(lat)
	slices.Sort(base)
	pct := func(l []time.Duration, p float64) time.Duration { return l[min(len(l)-1, int(float64(len(l))*p))] }
	t.Logf("baseline polls: %d, p50 %s p99 %s", len(base), pct(base, 0.5), pct(base, 0.99))
	t.Logf("junk sign-ins: %v in %s; polls: %d, codes %v, p50 %s p99 %s max %s",
		junk, flood.Round(time.Millisecond), len(lat), codes, pct(lat, 0.5), pct(lat, 0.99), lat[len(lat)-1])
	assert.Equal(t, 1000, junk[http.StatusUnauthorized]+junk[http.StatusServiceUnavailable]+junk[http.StatusTooManyRequests],
		"every junk sign-in refused (401, or 503/429 without hashing): %v", junk)
	assert.Zero(t, codes[-1], "poll transport errors")
	assert.Zero(t, shed.Load(), "polls shed (503 overloaded)")
	if raceEnabled {
		// Under the race detector on two shared cores one bcrypt at
		// production cost and the flood's requests starve the polls of CPU
		// until some reach the request timeout: that measures the detector,
		// not the design. The latency bound is asserted without -race.
		t.Logf("race detector: %d polls timed out; latency bound not asserted (see the run without -race)", len(lat)+len(base)-codes[http.StatusOK])
		return
	}
	assert.Empty(t, bad, "polls that did not answer 200")
	assert.Equal(t, len(lat)+len(base), codes[http.StatusOK], "every poll answered 200, none shed: %v", codes)
	// The bound: 100 ms at the 99th percentile on a quiet machine. The test
	// shares two cores with whatever else runs (and the race detector), so
	// what the machine itself adds is measured first, without the flood, and
	// allowed on top; the log shows both numbers.
	bound := 100*time.Millisecond + pct(base, 0.99)
	t.Logf("poll p99 bound: 100ms + baseline p99 %s = %s", pct(base, 0.99), bound)
	assert.Less(t, pct(lat, 0.99), bound, "poll p99 during the flood")
}

// TestLoginThrottles: failed sign-ins are throttled per account and per
// client address with 429 and Retry-After. The client address comes from
// CloudFront's viewer-address header only when the app is told that its
// traffic comes through CloudFront; login fields have length bounds.
func TestLoginThrottles(t *testing.T) {
	sh := env.NewShared(t)
	trusted := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Deps: func(d *httpapi.Deps) {
		d.TrustCloudFront = true
		d.LoginAccountLimit = 3
		d.LoginClientLimit = 5
	}})
	f := &fixture{t: t, app: trusted, admin: env.NewClient(t, trusted.HTTP.URL)}
	f.students("t1", "t2")
	c := env.NewClient(t, trusted.HTTP.URL)
	login := func(no, pw, from string) testenv.Response {
		return c.Must("POST", "/api/login", map[string]string{"studentNo": no, "password": pw}, "CloudFront-Viewer-Address", from)
	}

	// Per account: the 4th wrong password for t1 is throttled, from any address.
	for i := range 3 {
		assertError(t, login("t1", "wrong", viewer(i)), http.StatusUnauthorized, "unauthorized", "wrong password")
	}
	r := login("t1", "pw-t1", viewer(10))
	assertError(t, r, http.StatusTooManyRequests, "rate_limited", "account throttled, even with the right password")
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	assert.Equal(t, http.StatusOK, login("t2", "pw-t2", viewer(11)).Status, "another account is not throttled")

	// Per client address: 5 failures from one viewer address (any accounts).
	for i := range 5 {
		assertError(t, login(fmt.Sprintf("nobody%d", i), "x", "203.0.113.7:1000"), http.StatusUnauthorized, "unauthorized", "unknown student")
	}
	r = login("t2", "pw-t2", "203.0.113.7:2000")
	assertError(t, r, http.StatusTooManyRequests, "rate_limited", "client address throttled (another source port)")
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	assert.Equal(t, http.StatusOK, login("t2", "pw-t2", "203.0.113.8:2000").Status, "another address is not throttled")

	// Untrusted: the header is ignored; every request counts for the peer address.
	plain := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Deps: func(d *httpapi.Deps) { d.LoginClientLimit = 2 }})
	pc := env.NewClient(t, plain.HTTP.URL)
	for i := range 2 {
		pc.Must("POST", "/api/login", map[string]string{"studentNo": "zz", "password": "x"}, "CloudFront-Viewer-Address", viewer(100+i))
	}
	r = pc.Must("POST", "/api/login", map[string]string{"studentNo": "t2", "password": "pw-t2"}, "CloudFront-Viewer-Address", viewer(200))
	assertError(t, r, http.StatusTooManyRequests, "rate_limited", "a forged viewer address does not escape the throttle")

	// Trusted but without the header (an origin request policy that does
	// not forward it): the peer is the load balancer, shared by every
	// student, so there is no per-client throttle; the account one holds.
	nohdr := env.NewClient(t, trusted.HTTP.URL)
	for i := range 6 {
		assertError(t, nohdr.Must("POST", "/api/login", map[string]string{"studentNo": fmt.Sprintf("nohdr%d", i), "password": "x"}), http.StatusUnauthorized, "unauthorized", "unknown student, no viewer address")
	}
	assert.Equal(t, http.StatusOK, nohdr.Must("POST", "/api/login", map[string]string{"studentNo": "t2", "password": "pw-t2"}).Status,
		"six failures from the load balancer's address do not lock every student out")

	// Length bounds.
	for what, body := range map[string]map[string]string{
		"long student number":  {"studentNo": strings.Repeat("9", 65), "password": "x"},
		"empty student number": {"studentNo": "", "password": "x"},
		"long password":        {"studentNo": "t2", "password": strings.Repeat("p", 73)},
		"empty password":       {"studentNo": "t2", "password": ""},
	} {
		assertError(t, c.Must("POST", "/api/login", body), http.StatusBadRequest, "invalid_request", what)
	}
}
