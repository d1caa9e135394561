// Command retrylab shows, on your machine and in one command, what retries,
// hedging, a circuit breaker and a retry budget do to success rate, tail
// latency and load.
//
// It starts a service on loopback that misbehaves as real ones do (a long
// tail of latency, 503s, some with Retry-After, connection resets, a short
// full outage) and sends the same seeded calls, GETs and POSTs with bodies,
// through four clients in turn: a plain http.Client; httpx with retries;
// plus hedging after an adaptive delay; plus a circuit breaker and a retry
// budget per host. Then it prints a table per client:
//
//	go run ./cmd/retrylab
//	go run ./cmd/retrylab -report lab.html      # charts: latency CDFs, success and load over time
//	go run ./cmd/retrylab -json                 # for scripts
//	go run ./cmd/retrylab -latency 5ms:0.9,50ms:0.09,500ms:0.01 -hedge-quantile 0.9
//	go run ./cmd/retrylab -url http://localhost:8080/health -duration 10s
//
// With -url, it sends GET requests to your own service instead, gently (at
// most 50 a second and 8 at once, retries and hedges included, for a minute
// per client). Run retrylab -h for every flag.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := notifyStop(context.Background())
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// notifyStop returns a context that ends at Ctrl-C or SIGTERM (timeout(1),
// docker stop), so that either still prints what was measured.
func notifyStop(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// run is the whole program: it returns the exit code, 2 for bad flags and
// 130 when ctx ends early (what was measured is still printed).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "retrylab: %v\nRun retrylab -h for the flags.\n", err)
		return 2
	}
	var page *os.File
	if o.report != "" { // before the run, so that a bad path fails at once
		if page, err = os.Create(o.report); err != nil {
			fmt.Fprintln(stderr, "retrylab:", err)
			return 1
		}
		defer page.Close()
	}
	lab := startLab(o)
	defer lab.close()
	results, err := lab.runAll(ctx, isTerminal(stderr), stderr)
	if err != nil {
		fmt.Fprintln(stderr, "retrylab:", err)
		return 1
	}
	if o.json {
		err = writeJSON(stdout, o, results)
	} else {
		err = writeTable(stdout, o, results)
	}
	if err == nil && page != nil {
		if err = writeReport(page, o, results); err == nil {
			err = page.Close()
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "retrylab:", err)
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "retrylab: interrupted; the results cover the calls that ended")
		return 130
	}
	return 0
}

// lab is the service (unless -url) and the workload.
type lab struct {
	o      *options
	svc    *service
	srv    *httptest.Server
	target string
	tls    *tls.Config
	calls  []call
}

// startLab starts the embedded service, unless -url names one.
func startLab(o *options) *lab {
	l := &lab{o: o, calls: workload(o), target: o.url}
	if o.url != "" {
		return l
	}
	l.svc = newService(o.scenario)
	l.srv = httptest.NewUnstartedServer(l.svc)
	l.srv.Config.ErrorLog = quietLog()
	l.srv.Config.ConnState = l.svc.connState
	if o.h2 {
		l.srv.EnableHTTP2 = true
		l.srv.StartTLS()
		l.tls = l.srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	} else {
		l.srv.Start()
	}
	l.target = l.srv.URL + "/item"
	return l
}

// quietLog is the service's error log: resets make servers complain.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

func (l *lab) close() {
	if l.srv != nil {
		l.srv.Close()
	}
}

// runAll runs the clients in turn, each over the same calls, until they are
// done or ctx ends.
func (l *lab) runAll(ctx context.Context, tty bool, stderr io.Writer) ([]result, error) {
	var results []result
	for _, name := range l.o.clients {
		if ctx.Err() != nil {
			break
		}
		c, err := newClient(name, l.o, l.tls)
		if err != nil {
			return nil, err
		}
		results = append(results, l.runClient(ctx, c, tty, stderr))
		c.base.CloseIdleConnections()
	}
	return results, nil
}

// runClient runs the calls through c and measures.
func (l *lab) runClient(ctx context.Context, c *client, tty bool, stderr io.Writer) result {
	r := &runner{o: l.o, target: l.target, calls: l.calls, c: c}
	start := time.Now()
	if l.svc != nil {
		l.svc.begin(start)
	}
	if tty {
		stop := showProgress(stderr, r, start)
		defer stop()
	}
	res := summarize(c.name, r.run(ctx, start))
	res.Interrupted = ctx.Err() != nil
	c.tally.settle(time.Second)
	res.Retries, res.Hedges = c.tally.retries.Load(), c.tally.hedges.Load()
	res.Rejected, res.Refused = c.tally.rejected.Load(), c.tally.refused.Load()
	if c.latency != nil {
		res.HedgeDelayMS = ms(c.latency.Delay())
	}
	if l.svc == nil {
		res.setLoad(c.tally.sent.Load())
		return res
	}
	st := l.svc.snapshot()
	res.setLoad(st.Requests)
	res.Posts, res.PostsIntact, res.Conns = st.Posts, st.PostsIntact, st.Conns
	res.timeline.load = st.Load
	return res
}
