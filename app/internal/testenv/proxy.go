package testenv

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/app/internal/redisconn"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a real server, to inject
// network faults: a reply dropped after the server ran the command, or the
// server unreachable for a while.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	match  []byte // armed: drop (or delay) the reply to the next command containing it
	delay  time.Duration
	down   bool
	conns  map[net.Conn]struct{}
	drops  int
	closed bool
	wg     sync.WaitGroup
}

// NewProxy starts a proxy to target (host:port), closed at test end.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// DropReplyOnce arms the proxy: the next command whose bytes contain match
// is forwarded to the server (which runs it), then its reply is dropped and
// the client's connection closed, as a network failure after the fact would.
func (p *Proxy) DropReplyOnce(match string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.match, p.delay = []byte(match), 0
}

// DelayReplyOnce arms the proxy: the reply to the next command whose bytes
// contain match is held for d after the server ran the command (longer than
// the client's read timeout: the client gives up and retries).
func (p *Proxy) DelayReplyOnce(match string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.match, p.delay = []byte(match), d
}

// Drops is how many replies were dropped (or delayed) so far.
func (p *Proxy) Drops() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.drops
}

// SetDown makes the server unreachable through the proxy (every connection
// closed, new ones closed at once) or reachable again.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down || p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer p.untrack(c)
	defer c.Close()
	s, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		return
	}
	if !p.track(s) {
		s.Close()
		return
	}
	defer p.untrack(s)
	defer s.Close()
	drop := make(chan time.Duration, 1) // the armed delay; 0: drop
	var wg sync.WaitGroup
	wg.Go(func() {
		defer s.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				p.mu.Lock()
				if p.match != nil && bytes.Contains(buf[:n], p.match) {
					p.match = nil
					drop <- p.delay
				}
				p.mu.Unlock()
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			select {
			case d := <-drop:
				p.mu.Lock()
				p.drops++
				p.mu.Unlock()
				if d > 0 {
					time.Sleep(d)
					break
				}
				c.Close()
				s.Close()
				wg.Wait()
				return
			default:
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	c.Close()
	wg.Wait()
}

// RedisClientAt returns a client of the standalone Redis server at addr (for
// instance a Proxy) with the production client's timeouts and retries.
func RedisClientAt(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c, err := redisconn.New(redisconn.Options{URL: "redis://" + addr + "/0", PoolTimeout: 3 * time.Second, PoolSize: 100})
	if err != nil {
		t.Fatalf("redis client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*redis.Client)
}
