package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of -url mode: traffic aimed at someone's real service stays small.
const (
	urlMaxRate        = 50
	urlMaxConcurrency = 8
	urlMaxDuration    = time.Minute
)

// Limits of every run: the workload is drawn up front, one entry per call,
// and the timelines have one bucket per bucketWidth.
const (
	maxDuration = time.Hour
	maxCalls    = 2_000_000
)

// serviceFlags shape the embedded service, so -url excludes them.
var serviceFlags = []string{"latency", "errors", "retry-after", "resets", "outage-at", "outage-for", "posts", "body", "h2"}

// clientNames are the clients the lab compares, in the order they run.
var clientNames = []string{"plain", "retry", "hedge", "guarded"}

// options is everything the flags set.
type options struct {
	// The scenario: how the service misbehaves, and the workload.
	scenario
	duration    time.Duration
	rate        float64
	concurrency int
	postShare   float64
	timeout     time.Duration
	h2          bool

	// The policies.
	attempts      int
	backoffBase   time.Duration
	backoffMax    time.Duration
	hedgeDelay    time.Duration
	hedgeQuantile float64
	budgetRatio   float64
	breakerRatio  float64
	breakerOpen   time.Duration

	// What runs and what is written.
	clients []string
	url     string
	json    bool
	report  string
}

// tier is one part of the latency distribution: a share of requests that
// take about that long.
type tier struct {
	Latency time.Duration `json:"latency"`
	Share   float64       `json:"share"`
}

// usageError is a bad flag or flag value: the program says which and
// exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func badUsage(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// parseFlags reads args into options. A bad flag is a *usageError; for -h
// it prints the usage to w and returns flag.ErrHelp.
func parseFlags(args []string, w io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("retrylab", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the caller reports errors, in one line
	fs.Usage = func() {}

	fs.DurationVar(&o.duration, "duration", 4*time.Second, "how long each client runs")
	fs.Float64Var(&o.rate, "rate", 300, "calls started per second")
	fs.IntVar(&o.concurrency, "concurrency", 32, "calls in flight at most")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the workload and the service's faults")
	latency := fs.String("latency", "2ms:0.95,20ms:0.04,100ms:0.01", "service latency: `duration:share,...` (shares sum to 1; each ±25%)")
	fs.Float64Var(&o.errorRate, "errors", 0.03, "share of requests answered 503")
	fs.Float64Var(&o.retryAfter, "retry-after", 0.25, "share of those 503s that carry Retry-After: 1")
	fs.Float64Var(&o.resetRate, "resets", 0.005, "share of requests whose connection is reset")
	fs.DurationVar(&o.outageAt, "outage-at", 0, "start of the full outage, from each client's start (default: 3/8 of -duration)")
	fs.DurationVar(&o.outageFor, "outage-for", 0, "length of the outage, 0 for none (default: 1/8 of -duration)")
	fs.Float64Var(&o.postShare, "posts", 0.3, "share of calls that are POSTs with a body (half with an Idempotency-Key)")
	fs.IntVar(&o.bodyBytes, "body", 2048, "size of a POST body in bytes")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Second, "deadline of each call")
	fs.BoolVar(&o.h2, "h2", false, "serve HTTP/2 over TLS instead of HTTP/1.1")

	fs.IntVar(&o.attempts, "attempts", 4, "attempts per call, the first included")
	fs.DurationVar(&o.backoffBase, "backoff", 5*time.Millisecond, "base of the exponential backoff (full jitter; 0: retry at once)")
	fs.DurationVar(&o.backoffMax, "backoff-max", 200*time.Millisecond, "cap of the backoff")
	fs.DurationVar(&o.hedgeDelay, "hedge-delay", 0, "fixed hedge delay (0: adaptive, see -hedge-quantile)")
	fs.Float64Var(&o.hedgeQuantile, "hedge-quantile", 0.95, "quantile of recent latencies after which to hedge")
	fs.Float64Var(&o.budgetRatio, "budget", 0.1, "retry budget: extra attempts per call, per host (ratio in (0,1])")
	fs.Float64Var(&o.breakerRatio, "breaker-ratio", 0.5, "failure ratio that trips the breaker, in (0,1]")
	fs.DurationVar(&o.breakerOpen, "breaker-open", 300*time.Millisecond, "how long the breaker stays open before a probe")

	clients := fs.String("clients", strings.Join(clientNames, ","), "clients to run, of "+strings.Join(clientNames, ","))
	fs.StringVar(&o.url, "url", "", "aim GET traffic at your own service instead, no redirect followed (at most "+strconv.Itoa(urlMaxRate)+"/s, "+strconv.Itoa(urlMaxConcurrency)+" in flight, "+urlMaxDuration.String()+")")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON")
	fs.StringVar(&o.report, "report", "", "write an HTML report with charts to `FILE`")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(fs, w)
			return nil, err
		}
		return nil, badUsage("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, badUsage("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.url != "" {
		for _, name := range serviceFlags {
			if set[name] {
				return nil, badUsage("-%s shapes the lab's own service: it does not apply with -url", name)
			}
		}
	}
	o.derivedDefaults(set)
	var err error
	if o.latency, err = parseLatency(*latency); err != nil {
		return nil, badUsage("-latency: %v", err)
	}
	if o.clients, err = parseClients(*clients); err != nil {
		return nil, badUsage("-clients: %v", err)
	}
	if err := o.check(); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	return o, nil
}

// check reports the first flag out of its range.
func (o *options) check() error {
	switch {
	case o.duration <= 0:
		return errors.New("-duration must be positive")
	case o.duration > maxDuration:
		return fmt.Errorf("-duration must be at most %v", maxDuration)
	case !(o.rate > 0 && o.rate <= 1e5): // written so that NaN fails
		return errors.New("-rate must be in (0, 100000]")
	case o.rate*o.duration.Seconds() > maxCalls:
		return fmt.Errorf("-rate × -duration must be at most %d calls per client", maxCalls)
	case o.concurrency < 1 || o.concurrency > 10000:
		return errors.New("-concurrency must be in [1, 10000]")
	case !isShare(o.errorRate), !isShare(o.retryAfter), !isShare(o.resetRate), !isShare(o.postShare):
		return errors.New("-errors, -retry-after, -resets and -posts must be in [0, 1]")
	case o.errorRate+o.resetRate > 1:
		return errors.New("-errors plus -resets must be at most 1")
	case o.outageAt < 0 || o.outageFor < 0:
		return errors.New("-outage-at and -outage-for must not be negative")
	case o.outageFor > 0 && o.outageAt >= o.duration:
		return errors.New("-outage-at must be within -duration (or -outage-for 0 for no outage)")
	case o.bodyBytes < 1 || o.bodyBytes > 1<<20:
		return errors.New("-body must be in [1, 1048576]")
	case o.timeout <= 0:
		return errors.New("-timeout must be positive")
	case o.attempts < 1 || o.attempts > 10:
		return errors.New("-attempts must be in [1, 10]")
	case o.backoffBase < 0 || o.backoffMax < o.backoffBase:
		return errors.New("need 0 ≤ -backoff ≤ -backoff-max")
	case o.hedgeDelay < 0:
		return errors.New("-hedge-delay must not be negative")
	case !(o.hedgeQuantile > 0 && o.hedgeQuantile < 1):
		return errors.New("-hedge-quantile must be in (0, 1)")
	case !(o.budgetRatio > 0 && o.budgetRatio <= 1):
		return errors.New("-budget must be in (0, 1]")
	case !(o.breakerRatio > 0 && o.breakerRatio <= 1):
		return errors.New("-breaker-ratio must be in (0, 1]")
	case o.breakerOpen <= 0:
		return errors.New("-breaker-open must be positive")
	}
	if o.url != "" {
		return o.checkURL()
	}
	return nil
}

// derivedDefaults adjusts the defaults of flags that were not set to the
// ones that were: the outage stays in the middle of a -duration other than
// 4s, and -url lowers the rate and concurrency to gentle values for a real
// service.
func (o *options) derivedDefaults(set map[string]bool) {
	if !set["outage-at"] {
		o.outageAt = o.duration * 3 / 8 // 1.5s of 4s
	}
	if !set["outage-for"] {
		o.outageFor = o.duration / 8 // 500ms of 4s
	}
	if o.url == "" {
		return
	}
	if !set["rate"] {
		o.rate = 10
	}
	if !set["concurrency"] {
		o.concurrency = 4
	}
}

// checkURL checks -url and the limits that go with it.
func (o *options) checkURL() error {
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q: need an http or https URL with a host", o.url)
	}
	if o.rate > urlMaxRate || o.concurrency > urlMaxConcurrency || o.duration > urlMaxDuration {
		return fmt.Errorf("with -url: -rate at most %d, -concurrency at most %d, -duration at most %v", urlMaxRate, urlMaxConcurrency, urlMaxDuration)
	}
	return nil
}

// shownURL is -url as printed: without its password, if it has one.
func (o *options) shownURL() string {
	u, err := url.Parse(o.url)
	if err != nil {
		return o.url // not reached: checkURL parsed it
	}
	return u.Redacted()
}

func isShare(f float64) bool { return f >= 0 && f <= 1 }

// parseLatency reads "2ms:0.95,20ms:0.04,100ms:0.01".
func parseLatency(s string) ([]tier, error) {
	var tiers []tier
	sum := 0.0
	for part := range strings.SplitSeq(s, ",") {
		d, share, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("%q is not duration:share", part)
		}
		lat, err := time.ParseDuration(d)
		if err != nil || lat < 0 || lat > time.Minute {
			return nil, fmt.Errorf("%q: need a duration in [0, 1m]", d)
		}
		f, err := strconv.ParseFloat(share, 64)
		if err != nil || !(f > 0 && f <= 1) { // NaN fails
			return nil, fmt.Errorf("%q: need a share in (0, 1]", share)
		}
		sum += f
		tiers = append(tiers, tier{Latency: lat, Share: f})
	}
	if sum < 0.999 || sum > 1.001 {
		return nil, fmt.Errorf("shares sum to %g, not 1", sum)
	}
	return tiers, nil
}

// parseClients reads "plain,hedge" into the known names, in run order.
func parseClients(s string) ([]string, error) {
	var picked []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(clientNames, name) {
			return nil, fmt.Errorf("unknown client %q (know %s)", name, strings.Join(clientNames, ", "))
		}
		if !slices.Contains(picked, name) {
			picked = append(picked, name)
		}
	}
	slices.SortFunc(picked, func(a, b string) int { return slices.Index(clientNames, a) - slices.Index(clientNames, b) })
	return picked, nil
}

// usage prints what the lab does and its flags.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `Usage: retrylab [flags]

retrylab starts a misbehaving service on loopback (long-tail latency, 503s,
some with Retry-After, connection resets, a short outage) and sends the same
seeded calls through four clients: a plain http.Client (plain), httpx with
retries (retry), plus adaptive hedging (hedge), plus a breaker and a retry
budget per host (guarded). It prints success, latency and load per client.

With -url it sends GET requests to your own service instead, at most
`+strconv.Itoa(urlMaxRate)+`/s with `+strconv.Itoa(urlMaxConcurrency)+` in flight for at most `+urlMaxDuration.String()+` per client:
only aim it at a service you own.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
