package sessions_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/app/internal/sessions"
	"github.com/surge-dev/surge/app/internal/waitroom"
)

// redisCPU is the Redis server's CPU time so far (INFO cpu).
func redisCPU(b *testing.B, rdb *redis.Client) time.Duration {
	b.Helper()
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// BenchmarkSessionCheck measures what a student's status poll costs with
// the session read from Redis before the waiting-room script (two round
// trips) against a session this instance verified before (the script
// only), with the real status script on a real Redis, many clients at once.
// It reports requests per second and the Redis CPU per request (Redis's one
// core is what caps a rush): go test -run '^$' -bench SessionCheck ./app/internal/sessions/
func BenchmarkSessionCheck(b *testing.B) {
	for _, tt := range []struct {
		name  string
		watch bool
	}{
		{"redis-read", false},
		{"remembered", true},
	} {
		b.Run(tt.name, func(b *testing.B) {
			rdb, prefix := env.RedisClient(b)
			ctx := context.Background()
			s := sessions.New(rdb, prefix, time.Hour)
			if tt.watch {
				w := s.Watch(ctx)
				b.Cleanup(func() { _ = w.Close() })
			}
			room := waitroom.New(rdb, prefix, nil)
			const students = 256
			cookies := make([]string, students)
			for i := range cookies {
				c, err := s.Create(ctx, int64(i+1))
				if err != nil {
					b.Fatal(err)
				}
				cookies[i] = c
			}
			// Every cookie checked once (remembered when watching), the
			// script loaded.
			deadline := time.Now().Add(5 * time.Second)
			for _, c := range cookies {
				for {
					if _, err := s.Student(ctx, c); err != nil {
						b.Fatal(err)
					}
					if _, err := room.Status(ctx, 1, 1); err != nil {
						b.Fatal(err)
					}
					if !tt.watch || time.Now().After(deadline) {
						break
					}
					if _, err := s.Student(ctx, c); err == nil {
						break
					}
				}
			}
			b.SetParallelism(16) // 32 clients on 2 cores, as in a rush
			cpu0 := redisCPU(b, rdb)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					c := cookies[i%students]
					i++
					st, err := s.Student(ctx, c)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := room.Status(ctx, 1, st); err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			cpu := redisCPU(b, rdb) - cpu0
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e3, "redis-cpu-µs/req")
		})
	}
}
