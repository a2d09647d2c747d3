package rush

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Before and after: the same scenarios measured at two points in time (an
// earlier app or client model, then the current one). Only figures every
// report holds are compared: when students had their final answer counted
// from the opening (reports from before the click-to-final measure lack
// that one), and the requests each sent. Each run's ratios stay within
// that run; the two runs are only set side by side.

// BeforeAfterIntro explains the before/after table.
const BeforeAfterIntro = "When students knew their final answer, counted from the opening instant (the one measure every report holds; " +
	"the click-to-final times of the headline table start at each student's own first request), and the requests each student sent, " +
	"before and after, per system. Loopback runs only; each run's systems were measured side by side in that run.\n"

// pairs matches the loopback run of each scenario in after with the one
// in before, in after's order.
func pairs(before, after []*Report) [][2]*Report {
	old := map[string]*Report{}
	for _, r := range before {
		if r.DBLatency == 0 {
			old[r.Scenario.Name] = r
		}
	}
	var out [][2]*Report
	for _, r := range after {
		if b, ok := old[r.Scenario.Name]; ok && r.DBLatency == 0 {
			out = append(out, [2]*Report{b, r})
		}
	}
	return out
}

// requestsPerStudent is the report's count, or for reports from before it
// was recorded, the same count from the endpoints.
func requestsPerStudent(s *SystemResult) float64 {
	if s.Requests.Total > 0 {
		return s.Requests.PerStudent
	}
	return countRequests(s.Endpoints, s.Students).PerStudent
}

func clientsOf(r *Report) string {
	if r.Scenario.Clients == "" {
		return ClientsPool // reports from before the student model
	}
	return r.Scenario.Clients
}

// BeforeAfterTable renders one row per system of each scenario present in
// both sets.
func BeforeAfterTable(before, after []*Report) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("| scenario | system | students (before, after) | clients (before, after) | final p50 s (before → after) | p99 s | last s | requests / student |\n")
	w("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, p := range pairs(before, after) {
		for _, sa := range p[1].Systems {
			sb := p[0].System(sa.System)
			if sb == nil {
				continue
			}
			fb, fa := sb.Finals, sa.Finals
			w("| %s | %s | %d, %d | %s, %s | %.2f → %.2f (%s) | %.2f → %.2f (%s) | %.2f → %.2f (%s) | %.2f → %.2f |\n",
				p[1].Scenario.Name, sa.System, sb.Students, sa.Students, clientsOf(p[0]), clientsOf(p[1]),
				fb.P50/1000, fa.P50/1000, ratio(fa.P50, fb.P50), fb.P99/1000, fa.P99/1000, ratio(fa.P99, fb.P99),
				fb.Last/1000, fa.Last/1000, ratio(fa.Last, fb.Last), requestsPerStudent(sb), requestsPerStudent(sa))
		}
	}
	return b.String()
}

func ratio(after, before float64) string {
	if before <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", after/before)
}

// BeforeAfterPlots writes <scenario>-before-after.svg into dir for each
// scenario in both sets: the share of students holding a final answer over
// time since the opening, each system before (dashed) and after (solid).
func BeforeAfterPlots(before, after []*Report, dir string) ([]string, error) {
	var names []string
	for _, p := range pairs(before, after) {
		c := Chart{Title: fmt.Sprintf("%s: students with a final answer (%% of joins), before and after", p[1].Scenario.Name),
			XLabel: "seconds since opening", YLabel: "% final"}
		for _, sa := range p[1].Systems {
			sb := p[0].System(sa.System)
			if sb == nil {
				continue
			}
			color := "#1f77b4"
			if sa.System == "baseline" {
				color = "#d62728"
			}
			for i, x := range []struct {
				r    *Report
				s    *SystemResult
				when string
			}{{p[0], sb, "before"}, {p[1], sa, "after"}} {
				total := float64(x.s.Students * x.r.Scenario.joins())
				if total == 0 {
					continue
				}
				sr := Series{Name: fmt.Sprintf("%s %s (%s)", x.s.System, x.when, clientsOf(x.r)), Color: color, Dashed: i == 0}
				for j, n := range x.s.Finals.Cum {
					sr.X = append(sr.X, (time.Duration(j+1) * bucket).Seconds())
					sr.Y = append(sr.Y, 100*n/total)
				}
				c.Series = append(c.Series, sr)
			}
		}
		name := p[1].Scenario.Name + "-before-after.svg"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c.SVG()), 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		names = append(names, name)
	}
	return names, nil
}
