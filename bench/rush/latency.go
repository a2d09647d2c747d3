package rush

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// latencyProxy is a TCP proxy in front of PostgreSQL that delays every
// chunk of bytes by the same latency in each direction: a database in
// another availability zone. It is Shopify's toxiproxy, embedded as a
// library (https://github.com/Shopify/toxiproxy#toxics, the latency toxic),
// so no API port is involved. A rush runs it in a process of its own (the
// "dbproxy" role): inside the load generator its goroutines would queue
// behind thousands of students' and add seconds, not milliseconds.
type latencyProxy struct {
	p *toxiproxy.Proxy
}

// startLatencyProxy listens on listen (host:port; port 0 for a free one)
// and forwards to upstream (host:port) with d added each way (whole
// milliseconds: the toxic's unit).
func startLatencyProxy(listen, upstream string, d time.Duration) (*latencyProxy, error) {
	if d < time.Millisecond || d%time.Millisecond != 0 {
		return nil, fmt.Errorf("DB latency must be whole milliseconds, got %v", d)
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "postgres", listen, upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("starting the latency proxy: %w", err)
	}
	for _, stream := range []string{"upstream", "downstream"} {
		spec := fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"toxicity":1,"attributes":{"latency":%d,"jitter":0}}`,
			stream, stream, d.Milliseconds())
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
			p.Stop()
			return nil, fmt.Errorf("adding the %s latency: %w", stream, err)
		}
	}
	return &latencyProxy{p: p}, nil
}

// Addr is the proxy's listening address.
func (l *latencyProxy) Addr() string { return l.p.Listen }

// Close stops the proxy and its connections.
func (l *latencyProxy) Close() error {
	l.p.Stop()
	return nil
}

// throughProxy rewrites a PostgreSQL URL to connect to addr (the proxy).
func throughProxy(dbURL, addr string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	u.Host = addr
	return u.String(), nil
}
