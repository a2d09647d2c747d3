package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surge-dev/surge/app/internal/surge"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	shed     prometheus.Counter
}

func newHTTPMetrics(reg prometheus.Registerer, log *slog.Logger) httpMetrics {
	m := httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "surge_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "surge_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "surge_http_inflight_requests", Help: "API requests being served."}),
		shed:     prometheus.NewCounter(prometheus.CounterOpts{Name: "surge_http_shed_total", Help: "Requests refused with 503 because too many were in flight."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.inflight, m.shed} {
			if err := reg.Register(c); err != nil {
				log.Warn("registering http metric", "err", err)
			}
		}
	}
	return m
}

// statusRecorder remembers the status for logs and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe records metrics and logs for one route. Successful requests are
// logged at debug level: at the opening second an info line per request
// would cost more than the request.
func (s *Server) observe(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		s.m.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		s.m.duration.WithLabelValues(route).Observe(took.Seconds())
		level := slog.LevelDebug
		switch {
		case rec.status >= 500:
			level = slog.LevelWarn
		case took > time.Second:
			level = slog.LevelInfo
		}
		s.d.Logger.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("took", took))
	})
}

// recoverer turns a panic into a 500 JSON answer without the stack trace
// (which is logged).
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.d.Logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, surge.Errorf(surge.CodeInternal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// admit sheds load: past MaxInflight concurrent API requests a request
// waits up to OverloadWait for a slot (at most 4×MaxInflight wait, served in
// arrival order, after the parked requests that woke: gate), then is
// refused with 503 and Retry-After instead of queueing without bound; while
// draining it is refused at once.
func (s *Server) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Count first, then look at the flag: whoever drains and then waits for
		// Active()==0 cannot miss a request that passed the check.
		s.active.Add(1)
		defer s.active.Add(-1)
		if s.draining.Load() {
			writeError(w, surge.Errorf(surge.CodeDraining, "server is shutting down, retry"))
			return
		}
		if !s.inflight.enter(r.Context(), lineNew, s.d.OverloadWait) {
			s.m.shed.Inc()
			writeError(w, surge.Errorf(surge.CodeOverloaded, "too many requests in flight, retry"))
			return
		}
		s.m.inflight.Inc()
		sl := &slot{s: s, held: true}
		defer sl.release()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), slotKey{}, sl)))
	})
}

// slot is a request's in-flight slot (admit). A request parked in the
// waiting room gives it back while it waits and takes one again to read its
// state, so the students waiting do not crowd out the requests being served:
// SURGE_MAX_INFLIGHT bounds the work, SURGE_MAX_WAITERS the parked requests.
// Only the request's own goroutine uses it.
type slot struct {
	s    *Server
	held bool
}

type slotKey struct{}

// slotFrom is the request's slot; nil outside admit (tests that call a
// handler directly).
func slotFrom(ctx context.Context) *slot {
	sl, _ := ctx.Value(slotKey{}).(*slot)
	return sl
}

func (sl *slot) release() {
	if sl == nil || !sl.held {
		return
	}
	sl.s.inflight.leave()
	sl.s.m.inflight.Dec()
	sl.held = false
}

// acquire takes a slot again for a parked request that woke: ahead of the
// new requests, waiting up to OverloadWait; false: none came.
func (sl *slot) acquire(ctx context.Context) bool {
	if sl == nil || sl.held {
		return true
	}
	if !sl.s.inflight.enter(ctx, lineWoken, sl.s.d.OverloadWait) {
		sl.s.m.shed.Inc()
		return false
	}
	sl.s.m.inflight.Inc()
	sl.held = true
	return true
}

// admitLogin is admit for sign-ins: they have their own bound (LoginQueue)
// instead of the general in-flight limit.
func (s *Server) admitLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.active.Add(1)
		defer s.active.Add(-1)
		if s.draining.Load() {
			writeError(w, surge.Errorf(surge.CodeDraining, "server is shutting down, retry"))
			return
		}
		select {
		case s.loginSlots <- struct{}{}:
		default:
			s.m.shed.Inc()
			writeError(w, surge.Errorf(surge.CodeOverloaded, "too many sign-ins in progress, retry"))
			return
		}
		defer func() { <-s.loginSlots }()
		next.ServeHTTP(w, r)
	})
}

// clientAddr names the client for throttling: CloudFront's viewer address
// when the app is told all traffic comes through CloudFront, else the peer.
// IPv6 clients are grouped per /64 (one subscriber's usual allocation).
func (s *Server) clientAddr(r *http.Request) (string, bool) {
	if s.d.TrustCloudFront {
		// "198.51.100.10:46532" or "2001:db8::1:46532": address, then the port.
		if v := r.Header.Get("CloudFront-Viewer-Address"); v != "" {
			if i := strings.LastIndexByte(v, ':'); i > 0 {
				if a, err := netip.ParseAddr(strings.Trim(v[:i], "[]")); err == nil {
					return addrKey(a), true
				}
			}
		}
		// Behind CloudFront the peer is the load balancer: keying on it
		// would throttle every student behind one node together. Without
		// the viewer's address there is no per-client key at all.
		return "", false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if a, perr := netip.ParseAddr(host); err == nil && perr == nil {
		return addrKey(a), true
	}
	return r.RemoteAddr, true
}

func addrKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// timeout bounds the work of one request so that a dependency that stopped
// answering turns into a 503, never a hung request.
func (s *Server) timeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.d.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireAdmin checks the bearer token against the current admin token and
// writes one audit line per admin request, allowed or not: who (the caller's
// address and, once authenticated, a fingerprint of the token in force, so
// a rotation shows), what (route, path, target) and the result. Never the
// token. Every admin route goes through it, so every one is audited.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		who := "anonymous"
		defer func() {
			if v := recover(); v != nil {
				s.audit(r, who, http.StatusInternalServerError)
				panic(v)
			}
			s.audit(r, who, rec.status)
		}()
		want, err := s.adminTokenSum(r.Context())
		if err != nil {
			s.d.Logger.Error("reading the admin token", "err", err)
			writeError(rec, surge.Errorf(surge.CodeUnavailable, "admin API temporarily unavailable, retry"))
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(token))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			writeError(rec, surge.Errorf(surge.CodeUnauthorized, "admin token required"))
			return
		}
		who = "admin-token:" + hex.EncodeToString(want[:4])
		next.ServeHTTP(rec, r)
	})
}

func (s *Server) adminTokenSum(ctx context.Context) ([32]byte, error) {
	if s.d.AdminTokenFunc == nil {
		return s.adminSum, nil
	}
	t, err := s.d.AdminTokenFunc(ctx)
	if err == nil && t == "" {
		err = errors.New("empty admin token")
	}
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256([]byte(t)), nil
}

// target is the route's wildcards with their values ("id=7"): what the
// action was applied to, whatever the admin route.
func target(r *http.Request) string {
	var parts []string
	rest := r.Pattern
	for {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			return strings.Join(parts, " ")
		}
		name := strings.TrimSuffix(rest[i+1:j], "...")
		if name != "$" {
			parts = append(parts, name+"="+r.PathValue(name))
		}
		rest = rest[j+1:]
	}
}

// audit logs one admin request. X-Forwarded-For is logged as received (the
// load balancer appends the address it saw; earlier entries are the
// client's claim), capped so a client cannot flood the log.
func (s *Server) audit(r *http.Request, who string, status int) {
	result, level := "ok", slog.LevelInfo
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		result, level = "denied", slog.LevelWarn
	case status >= 400:
		result, level = "failed", slog.LevelWarn
	}
	remote, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remote = r.RemoteAddr
	}
	xff := r.Header.Get("X-Forwarded-For")
	if len(xff) > 256 {
		xff = xff[:256]
	}
	s.d.Logger.LogAttrs(r.Context(), level, "admin action",
		slog.String("who", who), slog.String("remote_addr", remote), slog.String("forwarded_for", xff),
		slog.String("route", r.Pattern), slog.String("path", r.URL.Path), slog.String("target", target(r)),
		slog.Int("status", status), slog.String("result", result))
}

type studentKey struct{}

func studentFrom(ctx context.Context) int64 {
	id, _ := ctx.Value(studentKey{}).(int64)
	return id
}

func (s *Server) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(s.cookieName)
		if err != nil {
			writeError(w, surge.Errorf(surge.CodeUnauthorized, "sign in first"))
			return
		}
		id, err := s.d.Sessions.Student(r.Context(), c.Value)
		if err != nil {
			if errors.Is(err, surge.ErrNoSession) {
				writeError(w, surge.Errorf(surge.CodeUnauthorized, "session expired, sign in again"))
				return
			}
			s.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), studentKey{}, id)))
	})
}

// fail answers an error: application errors with their code; failures of
// PostgreSQL or Redis (down, restarting, timed out) with 503 and
// Retry-After; a defect in our SQL with 500. Details go to the log only.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *surge.Error
	if errors.As(err, &e) {
		writeError(w, e)
		return
	}
	if surge.IsBug(err) {
		s.d.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, surge.Errorf(surge.CodeInternal, "internal error"))
		return
	}
	level := slog.LevelWarn
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		level = slog.LevelDebug // the client went away
	}
	s.d.Logger.Log(r.Context(), level, "dependency unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, surge.Errorf(surge.CodeUnavailable, "service temporarily unavailable, retry"))
}
