package rush

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, 1 µs .. 2 min, 3 significant
// digits for the totals and 2 for the per-bucket series.
const (
	histMin    = 1
	histMax    = int64(2 * time.Minute / time.Microsecond)
	maxSamples = 5
)

// Recorder collects per-endpoint latency histograms, status counts and a time
// series (fixed buckets since the release instant). Safe for concurrent use.
type Recorder struct {
	start  time.Time
	bucket time.Duration

	mu     sync.Mutex
	eps    map[string]*endpoint
	order  []string
	finals *hdrhistogram.Histogram // time from release to a final state, µs
	clicks *hdrhistogram.Histogram // time from the student's click to the final answer, µs
	finalN []int64                 // finals per bucket
}

type endpoint struct {
	h       *hdrhistogram.Histogram
	buckets []*hdrhistogram.Histogram
	status  map[int]int64
	errors  int64
	samples []string
	first   time.Time
	last    time.Time
}

// NewRecorder starts a recorder whose time series counts from start.
func NewRecorder(start time.Time, bucket time.Duration) *Recorder {
	return &Recorder{
		start: start, bucket: bucket, eps: map[string]*endpoint{},
		finals: hdrhistogram.New(histMin, histMax, 3),
		clicks: hdrhistogram.New(histMin, histMax, 3),
	}
}

func (r *Recorder) bucketOf(t time.Time) int {
	d := t.Sub(r.start)
	if d < 0 {
		return 0
	}
	return int(d / r.bucket)
}

// Record adds one request: name of the endpoint, start time, duration, HTTP
// status (0 = transport error) and the error, if any.
func (r *Recorder) Record(name string, t0 time.Time, d time.Duration, status int, err error) {
	us := max(int64(d/time.Microsecond), histMin)
	r.mu.Lock()
	defer r.mu.Unlock()
	ep := r.eps[name]
	if ep == nil {
		ep = &endpoint{h: hdrhistogram.New(histMin, histMax, 3), status: map[int]int64{}, first: t0}
		r.eps[name] = ep
		r.order = append(r.order, name)
	}
	_ = ep.h.RecordValue(min(us, histMax))
	b := r.bucketOf(t0.Add(d))
	for len(ep.buckets) <= b {
		ep.buckets = append(ep.buckets, nil)
	}
	if ep.buckets[b] == nil {
		ep.buckets[b] = hdrhistogram.New(histMin, histMax, 2)
	}
	_ = ep.buckets[b].RecordValue(min(us, histMax))
	ep.status[status]++
	if status == 0 || status >= 500 || (err != nil && status < 400) {
		ep.errors++
	}
	if err != nil && len(ep.samples) < maxSamples {
		ep.samples = append(ep.samples, err.Error())
	}
	if t0.Before(ep.first) {
		ep.first = t0
	}
	if end := t0.Add(d); end.After(ep.last) {
		ep.last = end
	}
}

// Final records that a student reached a final state in a course at t.
func (r *Recorder) Final(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.finals.RecordValue(min(max(int64(t.Sub(r.start)/time.Microsecond), histMin), histMax))
	b := r.bucketOf(t)
	for len(r.finalN) <= b {
		r.finalN = append(r.finalN, 0)
	}
	r.finalN[b]++
}

// Answer records a final answer at t to a click at click: Final(t), and
// the time the student waited for it.
func (r *Recorder) Answer(click, t time.Time) {
	r.Final(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.clicks.RecordValue(min(max(int64(t.Sub(click)/time.Microsecond), histMin), histMax))
}

// EndpointSummary is one endpoint's totals (latencies in milliseconds).
type EndpointSummary struct {
	Name     string           `json:"name"`
	Count    int64            `json:"count"`
	Errors   int64            `json:"errors"`
	Status   map[string]int64 `json:"status"`
	WindowS  float64          `json:"windowSeconds"`
	RPS      float64          `json:"rps"`
	P50      float64          `json:"p50Ms"`
	P90      float64          `json:"p90Ms"`
	P99      float64          `json:"p99Ms"`
	Max      float64          `json:"maxMs"`
	Mean     float64          `json:"meanMs"`
	Samples  []string         `json:"errorSamples,omitempty"`
	Timeline []Point          `json:"timeline"`
}

// Point is one time bucket of an endpoint: requests completed per second and
// latency percentiles (ms) of the requests completed in it.
type Point struct {
	T   float64 `json:"t"`
	RPS float64 `json:"rps"`
	P50 float64 `json:"p50Ms"`
	P99 float64 `json:"p99Ms"`
}

func ms(us int64) float64 { return float64(us) / 1000 }

// Summaries returns every endpoint in first-seen order.
func (r *Recorder) Summaries() []EndpointSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]EndpointSummary, 0, len(r.order))
	for _, name := range r.order {
		ep := r.eps[name]
		s := EndpointSummary{
			Name: name, Count: ep.h.TotalCount(), Errors: ep.errors, Status: map[string]int64{},
			P50: ms(ep.h.ValueAtQuantile(50)), P90: ms(ep.h.ValueAtQuantile(90)),
			P99: ms(ep.h.ValueAtQuantile(99)), Max: ms(ep.h.Max()), Mean: ep.h.Mean() / 1000,
			Samples: ep.samples,
		}
		for st, n := range ep.status {
			key := strconv.Itoa(st)
			if st == 0 {
				key = "transport"
			}
			s.Status[key] = n
		}
		s.WindowS = ep.last.Sub(ep.first).Seconds()
		if s.WindowS > 0 {
			s.RPS = float64(s.Count) / s.WindowS
		}
		for i, b := range ep.buckets {
			p := Point{T: (time.Duration(i+1) * r.bucket).Seconds()}
			if b != nil {
				p.RPS = float64(b.TotalCount()) / r.bucket.Seconds()
				p.P50, p.P99 = ms(b.ValueAtQuantile(50)), ms(b.ValueAtQuantile(99))
			}
			s.Timeline = append(s.Timeline, p)
		}
		out = append(out, s)
	}
	return out
}

// FinalSummary describes when students reached final states.
type FinalSummary struct {
	Count int64     `json:"count"`
	First float64   `json:"firstMs"`
	P50   float64   `json:"p50Ms"`
	P99   float64   `json:"p99Ms"`
	Last  float64   `json:"lastMs"`
	Cum   []float64 `json:"cumulative"` // finals completed by the end of each bucket
	// Click is the time from each click (the first request for a course)
	// to its final answer: what a student waits.
	Click Percentiles `json:"fromClick"`
}

// Percentiles of a latency, in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50Ms"`
	P99   float64 `json:"p99Ms"`
	Last  float64 `json:"lastMs"`
}

// Finals summarizes the final-state times.
func (r *Recorder) Finals() FinalSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := FinalSummary{Count: r.finals.TotalCount()}
	if f.Count > 0 {
		f.First, f.P50, f.P99, f.Last = ms(r.finals.Min()), ms(r.finals.ValueAtQuantile(50)), ms(r.finals.ValueAtQuantile(99)), ms(r.finals.Max())
	}
	if n := r.clicks.TotalCount(); n > 0 {
		f.Click = Percentiles{Count: n, P50: ms(r.clicks.ValueAtQuantile(50)), P99: ms(r.clicks.ValueAtQuantile(99)), Last: ms(r.clicks.Max())}
	}
	var c float64
	for _, n := range r.finalN {
		c += float64(n)
		f.Cum = append(f.Cum, c)
	}
	return f
}

// statusLine renders a status map as "200:1234 409:3".
func statusLine(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s:%d", k, m[k])
	}
	return s
}
