package main

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"io"
	"math"
	"time"
)

// The page draws with uPlot (MIT, see assets/uPlot.LICENSE), embedded so
// that the report opens offline.
var (
	//go:embed assets/uPlot.iife.min.js
	uplotJS string
	//go:embed assets/uPlot.min.css
	uplotCSS string
	//go:embed assets/uPlot.LICENSE
	uplotLicense string
	//go:embed report.html.tmpl
	reportHTML string
)

var reportTemplate = template.Must(template.New("report").Parse(reportHTML))

// chartData is what the page's script plots.
type chartData struct {
	Clients []string `json:"clients"`
	// CDF: latencies in ms on a log grid, and for each client the share of
	// its successful calls at or under each.
	Grid []float64   `json:"grid"`
	CDF  [][]float64 `json:"cdf"`
	// Over time, per bucket: seconds from the start, and per client the
	// success rate (%) of the calls started then and the requests per
	// second the server saw.
	Time    []float64    `json:"time"`
	Success [][]*float64 `json:"success"`
	Load    [][]float64  `json:"load"`
	OutageS [2]float64   `json:"outage_s"`
}

// writeReport writes one self-contained page: the table, the charts, the
// data as JSON and the charting library with its license.
func writeReport(w io.Writer, o *options, results []result) error {
	data, err := json.Marshal(charts(o, results))
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(newReport(o, results), "", "  ")
	if err != nil {
		return err
	}
	return reportTemplate.Execute(w, map[string]any{
		"Scenario": scenarioLine(o),
		"URL":      o.url,
		"Results":  results,
		"Doc":      clientDoc,
		"Data":     template.JS(data),
		"Raw":      string(raw),
		"JS":       template.JS(uplotJS),
		"CSS":      template.CSS(uplotCSS),
		"License":  uplotLicense,
	})
}

// charts computes the series of the page.
func charts(o *options, results []result) chartData {
	d := chartData{ // lists, never null, even with nothing to plot: the page's script needs them
		Clients: []string{}, Grid: []float64{}, CDF: [][]float64{},
		Time: []float64{}, Success: [][]*float64{}, Load: [][]float64{},
	}
	if o.url == "" && o.outageFor > 0 {
		d.OutageS = [2]float64{o.outageAt.Seconds(), (o.outageAt + o.outageFor).Seconds()}
	}
	lo, hi := math.Inf(1), 0.0
	buckets := 0
	for _, r := range results {
		if n := len(r.latencies); n > 0 {
			lo = min(lo, float64(r.latencies[0])/1e6)
			hi = max(hi, float64(r.latencies[n-1])/1e6)
		}
		buckets = max(buckets, len(r.timeline.calls), len(r.timeline.load))
	}
	if hi > 0 {
		const points = 200
		lo, hi = math.Log10(max(lo*0.9, 0.01)), math.Log10(hi*1.1)
		for i := range points {
			d.Grid = append(d.Grid, math.Pow(10, lo+(hi-lo)*float64(i)/(points-1)))
		}
	}
	for i := range buckets {
		d.Time = append(d.Time, (float64(i)+0.5)*bucketWidth.Seconds()) // the middle of the bucket
	}
	perSecond := float64(time.Second / bucketWidth)
	for _, r := range results {
		d.Clients = append(d.Clients, r.Client)
		d.CDF = append(d.CDF, cdf(r.latencies, d.Grid))
		succ, load := make([]*float64, buckets), make([]float64, buckets)
		for i := range buckets {
			if i < len(r.timeline.calls) && r.timeline.calls[i] > 0 {
				v := 100 * float64(r.timeline.ok[i]) / float64(r.timeline.calls[i])
				succ[i] = &v
			}
			if i < len(r.timeline.load) {
				load[i] = float64(r.timeline.load[i]) * perSecond
			}
		}
		d.Success = append(d.Success, succ)
		if o.url == "" {
			d.Load = append(d.Load, load) // with -url, the server's load is unknown
		}
	}
	return d
}

// cdf is, at each point of grid (ms), the share of sorted at or under it.
func cdf(sorted []time.Duration, grid []float64) []float64 {
	out := make([]float64, len(grid))
	j := 0
	for i, g := range grid {
		for j < len(sorted) && float64(sorted[j])/1e6 <= g {
			j++
		}
		if len(sorted) > 0 {
			out[i] = float64(j) / float64(len(sorted))
		}
	}
	return out
}
