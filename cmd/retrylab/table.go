package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// clientDoc says in a few words what each client is.
var clientDoc = map[string]string{
	"plain":   "http.Client",
	"retry":   "httpx, retries",
	"hedge":   "+ hedging",
	"guarded": "+ breaker and budget",
}

// writeTable prints one row per client and what the columns mean.
func writeTable(w io.Writer, o *options, results []result) error {
	fmt.Fprintf(w, "%s\n\n", scenarioLine(o))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "client\t\tcalls\tok %\tp50\tp90\tp99\tp99.9\tmax\tload\tretries\thedges\trejected\trefused\tPOSTs intact\t")
	for _, r := range results {
		posts := "-"
		if o.url == "" {
			posts = fmt.Sprintf("%d/%d", r.PostsIntact, r.Posts)
		}
		name := r.Client
		if r.Interrupted {
			name += "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%s\t%s\t%s\t%s\t%s\t%.2f×\t%d\t%d\t%d\t%d\t%s\t\n",
			name, clientDoc[r.Client], r.Calls, r.SuccessPct,
			msText(r.Latency.P50), msText(r.Latency.P90), msText(r.Latency.P99), msText(r.Latency.P999), msText(r.Latency.Max),
			r.LoadX, r.Retries, r.Hedges, r.Rejected, r.Refused, posts)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Interrupted {
			fmt.Fprintln(w, "* interrupted: calls, success and latency cover the calls that ended; requests\n  (so load), retries, hedges, refusals and POSTs include the calls cut short.")
			break
		}
	}
	load := "requests the server saw ÷ calls; net/http itself resends a GET whose\n      kept-alive connection failed, so even plain may pass 1.00×"
	if o.url != "" {
		load = "requests sent ÷ calls. Retries and hedges included, requests go at most\n      -rate a second and -concurrency at once; calls not started by the end of\n      -duration are left out"
	}
	_, err := fmt.Fprintf(w, `
latency: of the successful calls, from start to the last byte of the body.
load: %s.
%s
rejected: attempts a breaker failed fast, hedged copies included. refused: retries
and hedges a budget refused.
POSTs intact: bodies the server received whole, of those it received.
`, load, hedgeLine(o, results))
	return err
}

// hedgeLine says when the hedging clients sent a copy.
func hedgeLine(o *options, results []result) string {
	if o.hedgeDelay > 0 {
		return fmt.Sprintf("hedges: a second copy after %v without an answer.", o.hedgeDelay)
	}
	var ends []string
	for _, r := range results {
		if r.HedgeDelayMS > 0 {
			ends = append(ends, fmt.Sprintf("%s %s", msText(r.HedgeDelayMS), r.Client))
		}
	}
	line := fmt.Sprintf("hedges: a second copy after the p%g of recent latencies", 100*o.hedgeQuantile)
	if len(ends) == 0 {
		return line + "."
	}
	return line + " (at the end: " + strings.Join(ends, ", ") + ")."
}

// scenarioLine says what ran, so that a pasted table can be reproduced.
func scenarioLine(o *options) string {
	var b strings.Builder
	if o.url != "" {
		fmt.Fprintf(&b, "GET %s", o.shownURL())
	} else {
		proto := "HTTP/1.1"
		if o.h2 {
			proto = "HTTP/2"
		}
		var tiers []string
		for _, t := range o.latency {
			tiers = append(tiers, fmt.Sprintf("%g%% ~%v", 100*t.Share, t.Latency))
		}
		fmt.Fprintf(&b, "service (%s): latency %s; %g%% 503 (%g%% of them with Retry-After: 1); %g%% resets",
			proto, strings.Join(tiers, " / "), 100*o.errorRate, 100*o.retryAfter, 100*o.resetRate)
		if o.outageFor > 0 {
			fmt.Fprintf(&b, "; outage %v–%v", o.outageAt, o.outageAt+o.outageFor)
		}
	}
	fmt.Fprintf(&b, "\nworkload: %v per client at %g calls/s, %d at most in flight, seed %d; %d attempts, backoff %v–%v",
		o.duration, o.rate, o.concurrency, o.seed, o.attempts, o.backoffBase, o.backoffMax)
	return b.String()
}

// msText prints milliseconds with three significant digits or so.
func msText(v float64) string {
	d := time.Duration(v * float64(time.Millisecond))
	switch {
	case v == 0:
		return "-"
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	case v < 1000:
		return fmt.Sprintf("%.0fms", v)
	}
	return d.Round(10 * time.Millisecond).String()
}
