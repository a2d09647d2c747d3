package waitroom_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/waitroom"
)

// evaluator runs one of waitroom.Scripts and returns its reply as go-redis
// and rueidis decode it (strings, int64s and slices of them).
type evaluator func(ctx context.Context, name string, keys []string, args ...string) (any, error)

// goRedisEval runs the scripts through go-redis (EVALSHA, EVAL on NOSCRIPT),
// as the waiting room does.
func goRedisEval(rdb redis.Scripter) evaluator {
	scripts := map[string]*redis.Script{}
	for name, s := range waitroom.Scripts {
		scripts[name] = redis.NewScript(s.Src)
	}
	return func(ctx context.Context, name string, keys []string, args ...string) (any, error) {
		a := make([]any, len(args))
		for i, v := range args {
			a[i] = v
		}
		return scripts[name].Run(ctx, rdb, keys, a...).Result()
	}
}

// rueidisEval runs them through rueidis, whose client pipelines concurrent
// commands on shared connections by itself (auto-pipelining).
func rueidisEval(c rueidis.Client) evaluator {
	scripts := map[string]*rueidis.Lua{}
	for name, s := range waitroom.Scripts {
		scripts[name] = rueidis.NewLuaScript(s.Src)
	}
	return func(ctx context.Context, name string, keys []string, args ...string) (any, error) {
		return scripts[name].Exec(ctx, c, keys, args).ToAny()
	}
}

// benchCourses spreads the load over a dozen courses, as a rush does.
const benchCourses = 12

// benchScripts runs the request path's scripts: each op is a join of a new
// student and a status poll; every 50th op an admitter's take of up to 50
// students and their completion (all granted). Goroutines run ops
// concurrently, as an instance's requests do.
func benchScripts(b *testing.B, eval evaluator, room *waitroom.Room) {
	ctx := context.Background()
	for c := range int64(benchCourses) {
		if _, err := eval(ctx, "seed", waitroom.Scripts["seed"].Keys(room, c, ""), strconv.FormatInt(1<<32, 10)); err != nil {
			b.Fatal(err)
		}
	}
	var n, rq atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			course, student := i%benchCourses, strconv.FormatInt(i, 10)
			if _, err := eval(ctx, "join", waitroom.Scripts["join"].Keys(room, course, ""), student); err != nil {
				b.Error(err)
				return
			}
			if _, err := eval(ctx, "status", waitroom.Scripts["status"].Keys(room, course, ""), student); err != nil {
				b.Error(err)
				return
			}
			if i%50 != 0 {
				continue
			}
			req := strconv.FormatInt(rq.Add(1), 10)
			res, err := eval(ctx, "take", waitroom.Scripts["take"].Keys(room, course, ""), "5000", "50", req)
			if err != nil {
				b.Error(err)
				return
			}
			out, _ := res.([]any)
			if len(out) < 2 || fmt.Sprint(out[0]) != "ok" {
				continue // busy or idle: another goroutine has the course
			}
			token := fmt.Sprint(out[1])
			args := []string{token}
			for j := 2; j+1 < len(out); j += 2 {
				args = append(args, "g", fmt.Sprint(out[j]), fmt.Sprint(out[j+1]))
			}
			if _, err := eval(ctx, "complete", waitroom.Scripts["complete"].Keys(room, course, "done:"+token), args...); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchClients runs the same workload through go-redis and rueidis against
// the standalone Redis.
func benchClients(b *testing.B, client string) {
	var eval evaluator
	var prefix string
	switch client {
	case "go-redis":
		var rdb redis.UniversalClient
		rdb, prefix = env.RedisClientMode(b, redisconn.Standalone)
		eval = goRedisEval(rdb)
	case "go-redis-autopipeline":
		// go-redis' own auto-pipelining (v9.23): the blocking face batches
		// concurrent callers' commands on shared connections.
		var rdb redis.UniversalClient
		rdb, prefix = env.RedisClientMode(b, redisconn.Standalone)
		ap, err := rdb.(*redis.Client).AutoPipeline()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ap.Close() })
		eval = goRedisEval(ap)
	case "rueidis":
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{env.Redis.Addr()}, DisableCache: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		_, prefix = env.RedisClientMode(b, redisconn.Standalone)
		eval = rueidisEval(c)
	}
	benchScripts(b, eval, waitroom.New(nil, prefix, nil))
}

// clients are the clients compared: go-redis as the app uses it, go-redis
// with its auto-pipeliner, rueidis.
var clients = []string{"go-redis", "go-redis-autopipeline", "rueidis"}

// BenchmarkClients compares go-redis with rueidis on the waiting room's
// scripts: go test ./app/internal/waitroom -run '^$' -bench Clients.
func BenchmarkClients(b *testing.B) {
	for _, c := range clients {
		b.Run(c, func(b *testing.B) { benchClients(b, c) })
	}
}

// TestClientsRatio runs BenchmarkClients' clients in one run and reports
// rueidis' speed-up over go-redis (the waiting room would switch only at
// 1.2 or more). Opt-in: SURGE_BENCH_CLIENTS=1 go test ./app/internal/waitroom -run TestClientsRatio -v.
func TestClientsRatio(t *testing.T) {
	if os.Getenv("SURGE_BENCH_CLIENTS") == "" {
		t.Skip("a benchmark: set SURGE_BENCH_CLIENTS=1")
	}
	results := map[string]testing.BenchmarkResult{}
	for round := range 3 { // interleaved, so machine noise hits both
		for _, c := range clients {
			r := testing.Benchmark(func(b *testing.B) { benchClients(b, c) })
			t.Logf("round %d %-8s %s", round, c, r)
			if prev, ok := results[c]; !ok || r.NsPerOp() < prev.NsPerOp() {
				results[c] = r
			}
		}
	}
	g, a, r := results["go-redis"].NsPerOp(), results["go-redis-autopipeline"].NsPerOp(), results["rueidis"].NsPerOp()
	if g == 0 || a == 0 || r == 0 {
		t.Fatalf("no measurement: go-redis %d, go-redis-autopipeline %d, rueidis %d ns/op", g, a, r)
	}
	t.Logf("best of 3: go-redis %d ns/op, go-redis auto-pipelined %d ns/op, rueidis %d ns/op", g, a, r)
	t.Logf("rueidis is %.2fx go-redis as used (switch at >= 1.20: %v), %.2fx go-redis auto-pipelined",
		float64(g)/float64(r), float64(g)/float64(r) >= 1.2, float64(a)/float64(r))
}
