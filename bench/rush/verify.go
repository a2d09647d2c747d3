package rush

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/surge-dev/surge/internal/localenv/surgeapi"
)

// Check is one verified invariant.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func parseDBName(url string) (string, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "", err
	}
	return cfg.Database, nil
}

// courseView is the quiet-state picture of one course through the API.
type courseView struct {
	capacity int
	enrolled []int64 // tickets
	full     []int64
	other    map[string]int // unexpected states
}

// sweep reads every student's final state in every joined course through
// the API (GET .../queue), with the generator's concurrency.
func (g *gen) sweep(ctx context.Context, students []*student, courseIDs []int64) (map[[2]int]surgeapi.QueueState, int, error) {
	var mu sync.Mutex
	out := map[[2]int]surgeapi.QueueState{}
	lost := 0
	err := g.forEach(ctx, students, func(ctx context.Context, s *student) error {
		for _, ci := range s.courses {
			var q surgeapi.QueueState
			status, err := g.do(ctx, nil, nil, "", func(c *surgeapi.Client) (int, error) {
				st, _, err := c.Do(ctx, http.MethodGet, coursePath(courseIDs[ci]), s.cookie, false, nil, &q)
				return st, err
			})
			if status == http.StatusUnauthorized {
				mu.Lock()
				lost++
				mu.Unlock()
				continue
			}
			if err != nil {
				return fmt.Errorf("reading state of %s in course %d: %w", s.no, courseIDs[ci], err)
			}
			mu.Lock()
			out[[2]int{s.idx, ci}] = q
			mu.Unlock()
		}
		return nil
	})
	return out, lost, err
}

// apiChecks verifies the invariants visible through the API at a quiet
// moment: every student final, no overbooking, FIFO by ticket, unique
// tickets, and no student who saw "enrolled" lost the seat.
func apiChecks(sc Scenario, students []*student, states map[[2]int]surgeapi.QueueState, lost int) ([]Check, []courseView) {
	views := make([]courseView, len(sc.Capacities))
	for i := range views {
		views[i] = courseView{capacity: sc.Capacities[i], other: map[string]int{}}
	}
	var notFinal, lostSeats []string
	for _, s := range students {
		if s.err != "" {
			notFinal = append(notFinal, s.no+": "+s.err)
		}
		for j, ci := range s.courses {
			q, ok := states[[2]int{s.idx, ci}]
			if !ok {
				continue
			}
			switch {
			case ci == s.cancelled:
				if q.State != "none" {
					views[ci].other["cancelled but "+q.State]++
				}
			case q.State == "enrolled":
				views[ci].enrolled = append(views[ci].enrolled, q.Ticket)
			case q.State == "full":
				views[ci].full = append(views[ci].full, q.Ticket)
			default:
				views[ci].other[q.State]++
				notFinal = append(notFinal, fmt.Sprintf("%s course#%d: %s", s.no, ci+1, q.State))
			}
			if s.sawEnroll[j] && ci != s.cancelled && q.State != "enrolled" {
				lostSeats = append(lostSeats, fmt.Sprintf("%s course#%d saw enrolled, now %s", s.no, ci+1, q.State))
			}
		}
	}
	var checks []Check
	add := func(name string, problems []string, okDetail string) {
		c := Check{Name: name, OK: len(problems) == 0, Detail: okDetail}
		if !c.OK {
			c.Detail = fmt.Sprintf("%d problem(s): %s", len(problems), strings.Join(first(problems, 5), "; "))
		}
		checks = append(checks, c)
	}
	final := fmt.Sprintf("all %d students final (enrolled or full; cancellations none)", len(students))
	if lost > 0 {
		notFinal = append(notFinal, fmt.Sprintf("%d states unreadable (session lost)", lost))
	}
	add("every student final", notFinal, final)

	var over, fifo, dup []string
	var summary []string
	for ci, v := range views {
		if len(v.enrolled) > v.capacity {
			over = append(over, fmt.Sprintf("course#%d: %d enrolled > %d seats", ci+1, len(v.enrolled), v.capacity))
		}
		want := min(v.capacity, len(v.enrolled)+len(v.full))
		if len(v.enrolled) != want {
			fifo = append(fifo, fmt.Sprintf("course#%d: %d enrolled while %d waiting and %d seats (free seat not given to the lowest full ticket)", ci+1, len(v.enrolled), len(v.full), v.capacity))
		}
		if len(v.enrolled) > 0 && len(v.full) > 0 {
			maxE, minF := slices.Max(v.enrolled), slices.Min(v.full)
			if maxE > minF {
				fifo = append(fifo, fmt.Sprintf("course#%d: ticket %d enrolled while lower ticket %d is full", ci+1, maxE, minF))
			}
		}
		all := append(append([]int64(nil), v.enrolled...), v.full...)
		sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
		for k := 1; k < len(all); k++ {
			if all[k] == all[k-1] {
				dup = append(dup, fmt.Sprintf("course#%d: ticket %d given twice", ci+1, all[k]))
				break
			}
		}
		for st, n := range v.other {
			if strings.HasPrefix(st, "cancelled") {
				fifo = append(fifo, fmt.Sprintf("course#%d: %d %s", ci+1, n, st))
			}
		}
		summary = append(summary, fmt.Sprintf("course#%d %d/%d enrolled, %d full", ci+1, len(v.enrolled), v.capacity, len(v.full)))
	}
	add("no overbooking (API)", over, strings.Join(summary, "; "))
	add("FIFO by ticket (API, quiet moment)", fifo, "seats held by exactly the lowest tickets of the students still in")
	add("tickets unique per course", dup, "no ticket given twice")
	add("no seat lost after a student saw enrolled", lostSeats, "every observed enrollment kept (except cancellations)")
	return checks, views
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... %d more", len(s)-n))
	}
	return s
}

// sqlChecks verifies from the app's database (schema of
// app/internal/postgres/migrations): rows within capacity, the counter equals
// the rows, no double enrollment, and the enrolled tickets are the ones the
// API reports. It also returns the enrollments now held in these courses.
func sqlChecks(ctx context.Context, url string, courseIDs []int64, views []courseView) ([]Check, int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `
		SELECT c.id, c.capacity, c.enrolled, count(e.student_id),
		       coalesce(array_agg(e.ticket ORDER BY e.ticket) FILTER (WHERE e.ticket IS NOT NULL), '{}')
		FROM courses c LEFT JOIN enrollments e ON e.course_id = c.id
		WHERE c.id = ANY($1) GROUP BY c.id`, courseIDs)
	if err != nil {
		return nil, 0, fmt.Errorf("reading enrollments: %w", err)
	}
	byID := map[int64]int{}
	for i, id := range courseIDs {
		byID[id] = i
	}
	var over, mismatch []string
	total := 0
	for rows.Next() {
		var id int64
		var capacity, counter, n int
		var tickets []int64
		if err := rows.Scan(&id, &capacity, &counter, &n, &tickets); err != nil {
			rows.Close()
			return nil, 0, err
		}
		total += n
		ci := byID[id]
		if n > capacity {
			over = append(over, fmt.Sprintf("course %d: %d rows > capacity %d", id, n, capacity))
		}
		if counter != n {
			over = append(over, fmt.Sprintf("course %d: counter %d != %d rows", id, counter, n))
		}
		if ci < len(views) {
			api := append([]int64(nil), views[ci].enrolled...)
			slices.Sort(api)
			if n != len(api) {
				mismatch = append(mismatch, fmt.Sprintf("course %d: %d rows, API says %d enrolled", id, n, len(api)))
			} else if len(tickets) == n && !slices.Equal(tickets, api) {
				mismatch = append(mismatch, fmt.Sprintf("course %d: enrolled tickets in DB differ from the API's", id))
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	var dups int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM enrollments WHERE course_id = ANY($1)
		GROUP BY course_id, student_id HAVING count(*) > 1) d`, courseIDs).Scan(&dups); err != nil {
		return nil, 0, err
	}
	var dupList []string
	if dups > 0 {
		dupList = []string{fmt.Sprintf("%d (student, course) pairs enrolled twice", dups)}
	}
	mk := func(name string, p []string, ok string) Check {
		c := Check{Name: name, OK: len(p) == 0, Detail: ok}
		if !c.OK {
			c.Detail = strings.Join(first(p, 5), "; ")
		}
		return c
	}
	return []Check{
		mk("no overbooking (DB rows and counter)", over, fmt.Sprintf("%d enrollments, all within capacity, counters exact", total)),
		mk("no double enrollment (DB)", dupList, "no (student, course) pair twice"),
		mk("DB agrees with the API", mismatch, "same enrolled count and tickets per course"),
	}, total, nil
}

// grantWindow returns when the first and the last seat still held were
// granted, in seconds since opens, from the enrolled_at column: the
// server-side view of admission speed, independent of when clients polled.
func grantWindow(ctx context.Context, url, table string, courseIDs []int64, opens time.Time) (first, last float64, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(context.Background())
	var lo, hi *time.Time
	err = conn.QueryRow(ctx, `SELECT min(enrolled_at), max(enrolled_at) FROM `+pgx.Identifier{table}.Sanitize()+
		` WHERE course_id = ANY($1)`, courseIDs).Scan(&lo, &hi)
	if err != nil || lo == nil || hi == nil {
		return 0, 0, err
	}
	return lo.Sub(opens).Seconds(), hi.Sub(opens).Seconds(), nil
}
