package bench

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH                  = 880, 420
	plotL, plotR, plotT, plotB      = 70, 860, 50, 360
	chartTicks                      = 5
	fontFamily                      = "font-family=\"sans-serif\""
	chartFont                       = fontFamily + " font-size=\"12\""
	seriesP50, seriesP95, seriesMax = "#1f77b4", "#ff7f0e", "#7f7f7f"
)

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	exp := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*exp >= raw {
			return m * exp
		}
	}
	return 10 * exp
}

// WriteSVG draws r's latency over time (p50, p95 and max of the operations sent in each time
// slice, in milliseconds, against seconds since the start of the round) as a standalone SVG.
func WriteSVG(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	var maxMs float64
	var end time.Duration
	for _, b := range r.Buckets {
		maxMs = math.Max(maxMs, float64(b.Max)/float64(time.Millisecond))
	}
	if n := len(r.Buckets); n > 0 {
		end = r.Buckets[n-1].Start + (r.Buckets[n-1].Start-r.Buckets[0].Start)/time.Duration(max(1, n-1))
	}
	yStep := niceStep(maxMs / chartTicks)
	yMax := yStep * math.Ceil(maxMs/yStep)
	if yMax <= 0 {
		yMax = yStep
	}
	endS := math.Max(end.Seconds(), 1e-3)
	xStep := niceStep(endS / chartTicks)
	xMax := xStep * math.Ceil(endS/xStep)
	x := func(s float64) float64 { return plotL + (plotR-plotL)*s/xMax }
	y := func(v float64) float64 { return plotB - (plotB-plotT)*v/yMax }

	p("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n", chartW, chartH, chartW, chartH)
	p("<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n")
	l := r.Stats.Latency
	p("<text x=\"%d\" y=\"22\" %s font-size=\"15\" font-weight=\"bold\">%s</text>\n", plotL, fontFamily, html.EscapeString(r.Label))
	p("<text x=\"%d\" y=\"40\" %s>%s, %s, %d workers, rate %s: %d ok, %d failed, %.1f op/s, p50 %s ms, p95 %s ms, p99 %s ms</text>\n",
		plotL, chartFont, html.EscapeString(r.Workload), html.EscapeString(r.Target), r.Workers, rateText(r.Rate),
		r.Stats.Succeeded, r.Stats.Failed, r.Stats.Throughput, ms(l.P50), ms(l.P95), ms(l.P99))
	// Grid and axes.
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		p("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n", plotL, y(v), plotR, y(v))
		p("<text x=\"%d\" y=\"%.1f\" %s text-anchor=\"end\">%s</text>\n", plotL-6, y(v)+4, chartFont, trimFloat(v))
	}
	for v := 0.0; v <= xMax+xStep/2; v += xStep {
		p("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e0e0e0\"/>\n", x(v), plotT, x(v), plotB)
		p("<text x=\"%.1f\" y=\"%d\" %s text-anchor=\"middle\">%s</text>\n", x(v), plotB+18, chartFont, trimFloat(v))
	}
	p("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", plotL, plotB, plotR, plotB)
	p("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", plotL, plotT, plotL, plotB)
	p("<text x=\"%d\" y=\"%d\" %s text-anchor=\"middle\">seconds since the start of the round (operations by send time)</text>\n", (plotL+plotR)/2, plotB+38, chartFont)
	p("<text x=\"16\" y=\"%d\" %s text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">latency (ms)</text>\n", (plotT+plotB)/2, chartFont, (plotT+plotB)/2)
	// Series.
	series := []struct {
		name, color, dash string
		v                 func(Bucket) time.Duration
	}{
		{"max", seriesMax, " stroke-dasharray=\"4 3\"", func(b Bucket) time.Duration { return b.Max }},
		{"p95", seriesP95, "", func(b Bucket) time.Duration { return b.P95 }},
		{"p50", seriesP50, "", func(b Bucket) time.Duration { return b.P50 }},
	}
	half := 0.0
	if n := len(r.Buckets); n > 1 {
		half = (r.Buckets[1].Start - r.Buckets[0].Start).Seconds() / 2
	}
	for _, s := range series {
		// Empty slices are skipped, not broken: the line joins the slices that have samples.
		var pts []string
		for _, b := range r.Buckets {
			if b.Succeeded == 0 {
				continue
			}
			px, py := x(b.Start.Seconds()+half), y(float64(s.v(b))/float64(time.Millisecond))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
			p("<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\"/>\n", s.name, px, py, s.color)
		}
		if len(pts) > 1 {
			p("<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s points=\"%s\"/>\n", s.name, s.color, s.dash, strings.Join(pts, " "))
		}
	}
	// Failures: red ticks on the time axis where operations failed.
	for _, b := range r.Buckets {
		if b.Failed > 0 {
			p("<line class=\"failed\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#d62728\" stroke-width=\"3\"><title>%d failed</title></line>\n",
				x(b.Start.Seconds()+half), plotB-8, x(b.Start.Seconds()+half), plotB, b.Failed)
		}
	}
	// Legend.
	for i, s := range []struct{ name, color string }{{"p50", seriesP50}, {"p95", seriesP95}, {"max", seriesMax}, {"failed", "#d62728"}} {
		lx := plotR - 300 + i*75
		p("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>\n", lx, chartH-14, lx+18, chartH-14, s.color)
		p("<text x=\"%d\" y=\"%d\" %s>%s</text>\n", lx+22, chartH-10, chartFont, s.name)
	}
	p("</svg>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write SVG chart: %w", err)
	}
	return nil
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-0" {
		return "0"
	}
	return s
}
