package rush

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// A small hand-rolled SVG line chart: enough for latency-over-time and
// throughput plots, no dependency.

// Series is one line.
type Series struct {
	Name   string
	Color  string
	Dashed bool
	X, Y   []float64
}

// Chart is a line chart with a linear x axis and a linear or log10 y axis.
type Chart struct {
	Title, XLabel, YLabel string
	LogY                  bool
	Series                []Series
}

const (
	svgW, svgH                     = 760, 396
	padL, padR, padT, padB float64 = 70, 20, 40, 86
)

// niceStep returns a 1/2/5 x 10^n step giving about n ticks over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func fmtTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0fk", v/1000)
	case math.Abs(v) >= 10 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
	}
}

// SVG renders the chart.
func (c Chart) SVG() string {
	xmax, ymin, ymax := 0.0, math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for i := range s.X {
			if c.LogY && s.Y[i] <= 0 {
				continue
			}
			xmax = math.Max(xmax, s.X[i])
			ymin = math.Min(ymin, s.Y[i])
			ymax = math.Max(ymax, s.Y[i])
		}
	}
	if math.IsInf(ymax, -1) {
		ymin, ymax = 0, 1
	}
	if xmax == 0 {
		xmax = 1
	}
	tr := func(v float64) float64 { return v }
	if c.LogY {
		tr = math.Log10
		ymin = math.Pow(10, math.Floor(math.Log10(ymin)))
		ymax = math.Pow(10, math.Ceil(math.Log10(ymax)))
		if ymax <= ymin {
			ymax = ymin * 10
		}
	} else {
		ymin = 0
		ymax = ymax * 1.05
		if ymax == 0 {
			ymax = 1
		}
	}
	pw, ph := svgW-padL-padR, svgH-padT-padB
	px := func(x float64) float64 { return padL + x/xmax*pw }
	py := func(y float64) float64 { return padT + ph - (tr(y)-tr(ymin))/(tr(ymax)-tr(ymin))*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", padL, html.EscapeString(c.Title))
	// Grid and y ticks.
	if c.LogY {
		for e := math.Log10(ymin); e <= math.Log10(ymax)+1e-9; e++ {
			v := math.Pow(10, e)
			fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n",
				padL, padL+pw, py(v), py(v), padL-6, py(v)+4, fmtTick(v))
		}
	} else {
		step := niceStep(ymax, 5)
		for v := 0.0; v <= ymax+1e-9; v += step {
			fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n",
				padL, padL+pw, py(v), py(v), padL-6, py(v)+4, fmtTick(v))
		}
	}
	step := niceStep(xmax, 8)
	for v := 0.0; v <= xmax+1e-9; v += step {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#eee"/><text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n",
			px(v), px(v), padT, padT+ph, px(v), padT+ph+16, fmtTick(v))
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", padL, padT, pw, ph)
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", padL+pw/2, padT+ph+34, html.EscapeString(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">%s</text>`+"\n", padT+ph/2, html.EscapeString(c.YLabel))
	// Lines.
	for _, s := range c.Series {
		var pts []string
		for i := range s.X {
			if c.LogY && s.Y[i] <= 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[i]), py(s.Y[i])))
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		if len(pts) == 1 {
			fmt.Fprintf(&b, `<circle cx="%s" r="3" fill="%s"/>`+"\n", strings.Replace(pts[0], ",", `" cy="`, 1), s.Color)
		} else if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8"%s points="%s"/>`+"\n", s.Color, dash, strings.Join(pts, " "))
		}
	}
	// Legend under the plot, wrapped onto a second row when needed.
	lx, ly := padL, padT+ph+52
	for _, s := range c.Series {
		w := 34 + float64(7*len(s.Name))
		if lx+w > svgW-padR && lx > padL {
			lx, ly = padL, ly+16
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-width="2"%s/><text x="%g" y="%g">%s</text>`+"\n",
			lx, lx+22, ly-4, ly-4, s.Color, dash, lx+26, ly, html.EscapeString(s.Name))
		lx += w
	}
	b.WriteString("</svg>\n")
	return b.String()
}
