package rush

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/surge-dev/surge/internal/localenv/surgeapi"
)

// edgeEndpoint names the progress reads the CDN model answered itself.
const edgeEndpoint = "progress (edge)"

// edgeCache models the CDN in front of the progress counter: one shared
// entry per path, kept for the max-age of the origin's Cache-Control (no
// max-age, no caching), and concurrent misses of one path collapsed into
// one origin request, as CloudFront does
// (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorCustomOrigin.html#request-custom-traffic-spikes).
type edgeCache struct {
	fetch func(ctx context.Context, path string) (*http.Response, error)

	mu      sync.Mutex
	entries map[string]*edgeEntry
}

type edgeEntry struct {
	lock    chan struct{} // held while the origin is asked: later misses wait for the answer
	p       surgeapi.Progress
	expires time.Time
}

func newEdgeCache(fetch func(ctx context.Context, path string) (*http.Response, error)) *edgeCache {
	return &edgeCache{fetch: fetch, entries: map[string]*edgeEntry{}}
}

// get returns the progress at path, from the edge (hit) or the origin, with
// the origin's HTTP status (200 for a hit).
func (c *edgeCache) get(ctx context.Context, path string) (p surgeapi.Progress, hit bool, status int, err error) {
	c.mu.Lock()
	e := c.entries[path]
	if e == nil {
		e = &edgeEntry{lock: make(chan struct{}, 1)}
		c.entries[path] = e
	}
	c.mu.Unlock()
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return p, false, 0, ctx.Err()
	}
	defer func() { <-e.lock }()
	if time.Now().Before(e.expires) {
		return e.p, true, http.StatusOK, nil
	}
	resp, err := c.fetch(ctx, path)
	if err != nil {
		return p, false, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return p, false, resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return p, false, resp.StatusCode, fmt.Errorf("progress: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, false, resp.StatusCode, fmt.Errorf("progress: %w", err)
	}
	if age := maxAge(resp.Header.Get("Cache-Control")); age > 0 {
		e.p, e.expires = p, time.Now().Add(age)
	}
	return p, false, resp.StatusCode, nil
}

// maxAge reads a shared cache's lifetime from Cache-Control: s-maxage, else
// max-age; 0 for private, no-store, no-cache or neither.
func maxAge(cc string) time.Duration {
	var age, shared time.Duration = 0, -1
	for part := range strings.SplitSeq(cc, ",") {
		k, v, _ := strings.Cut(strings.ToLower(strings.TrimSpace(part)), "=")
		switch k {
		case "private", "no-store", "no-cache":
			return 0
		case "max-age", "s-maxage":
			n, err := strconv.Atoi(strings.Trim(v, `"`))
			if err != nil || n < 0 {
				continue
			}
			if k == "s-maxage" {
				shared = time.Duration(n) * time.Second
			} else {
				age = time.Duration(n) * time.Second
			}
		}
	}
	if shared >= 0 {
		return shared
	}
	return age
}
