// Command grpctail measures the tail latency of unary gRPC calls over
// loopback TCP without hedging and with grpcx's hedging (fixed and adaptive
// delay), against a server whose latency follows the distribution of the
// core's tail-latency test: 2ms (95%), 20ms (4%) or 100ms (1%), drawn from a
// seeded source, two draws per call (one per attempt). It prints a Markdown
// table of p50, p90, p99, p99.9 and load (attempts per call).
//
//	go run ./cmd/grpctail -calls 2000 -concurrency 8
//
// Figures are measured in real time on a real connection: they vary from
// run to run with the machine, unlike the core's virtual-time table.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
)

func main() {
	calls := flag.Int("calls", 2000, "calls per run")
	concurrency := flag.Int("concurrency", 8, "calls in flight")
	delay := flag.Duration("delay", 3*time.Millisecond, "fixed hedge delay")
	seed := flag.Uint64("seed", 2026, "seed of the latency draws")
	flag.Parse()

	r := rand.New(rand.NewPCG(*seed, 3))
	draw := func() time.Duration {
		switch u := r.Float64(); {
		case u < 0.95:
			return 2 * time.Millisecond
		case u < 0.99:
			return 20 * time.Millisecond
		default:
			return 100 * time.Millisecond
		}
	}
	draws := make([][2]time.Duration, *calls)
	for i := range draws {
		draws[i] = [2]time.Duration{draw(), draw()}
	}
	srv := &backend{draws: draws}
	addr, stop := start(srv)
	defer stop()

	tracker, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Quantile: 0.95})
	if err != nil {
		log.Fatal(err)
	}
	runs := []struct {
		name  string
		hedge *retry.HedgePolicy
	}{
		{"no hedge", nil},
		{fmt.Sprintf("hedged, delay %v", *delay), &retry.HedgePolicy{MaxAttempts: 2, Delay: *delay}},
		{"hedged, adaptive p95 (LatencyTracker, defaults)", &retry.HedgePolicy{MaxAttempts: 2, Latency: tracker}},
	}
	fmt.Printf("%d calls, %d at a time, over loopback TCP; seed %d\n\n", *calls, *concurrency, *seed)
	fmt.Println("| run | p50 | p90 | p99 | p99.9 | load (attempts/calls) |\n|---|---|---|---|---|---|")
	for _, run := range runs {
		cfg := grpcx.Config{Default: grpcx.Method{Retry: &retry.Policy{MaxAttempts: 1}}}
		if run.hedge != nil {
			cfg.Default = grpcx.Method{Hedge: run.hedge}
		}
		ic, err := grpcx.New(cfg)
		if err != nil {
			log.Fatal(err)
		}
		lat, attempts := measure(addr, ic, srv, *calls, *concurrency)
		fmt.Printf("| %s | %s | %s | %s | %s | %.3f |\n", run.name,
			ms(pct(lat, 0.5)), ms(pct(lat, 0.9)), ms(pct(lat, 0.99)), ms(pct(lat, 0.999)),
			float64(attempts)/float64(*calls))
	}
	fmt.Printf("\nadaptive: final delay %s\n", ms(tracker.Delay()))
}

// backend answers call i's attempt n after draws[i][n-1], or as soon as
// the attempt is cancelled.
type backend struct {
	testgrpc.UnimplementedTestServiceServer
	draws    [][2]time.Duration
	attempts atomic.Int64
}

func (b *backend) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	b.attempts.Add(1)
	n := 0
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(grpcx.PreviousAttemptsKey); len(v) > 0 {
			n, _ = strconv.Atoi(v[0])
		}
	}
	t := time.NewTimer(b.draws[req.ResponseSize][min(n, 1)])
	defer t.Stop()
	select {
	case <-t.C:
		return &testgrpc.SimpleResponse{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func start(b *backend) (string, func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, b)
	go s.Serve(lis)
	return lis.Addr().String(), s.Stop
}

// measure makes calls calls through ic, concurrency at a time, and returns
// their latencies and the attempts the server saw.
func measure(addr string, ic *grpcx.Interceptor, b *backend, calls, concurrency int) ([]time.Duration, int64) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(ic.Unary))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := testgrpc.NewTestServiceClient(conn)
	// Warm the connection up, then count from zero.
	if _, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}); err != nil && conn.GetState().String() == "SHUTDOWN" {
		log.Fatal(err)
	}
	b.attempts.Store(0)
	lat := make([]time.Duration, calls)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= calls {
					return
				}
				start := time.Now()
				if _, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{ResponseSize: int32(i)}); err != nil {
					fmt.Fprintln(os.Stderr, "call", i, err)
				}
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	return lat, b.attempts.Load()
}

func pct(l []time.Duration, q float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[max(int(math.Ceil(q*float64(len(s)))), 1)-1]
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}
