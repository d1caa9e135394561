package benchmarks

import (
	"testing"
)

// BenchmarkBreakerParallel runs successful calls from every processor
// through a closed breaker of each library, with each trip rule. It uses
// RunParallel, so -cpu 1,2,8 shows how each scales. The "retry" case
// reports x-<peer>: its time per call divided by the peer's, measured in
// turns with the calls spread over GOMAXPROCS goroutines.
func BenchmarkBreakerParallel(b *testing.B) {
	for _, rule := range breakerRules() {
		b.Run(rule.name, func(b *testing.B) {
			gs := rule.guards()
			for i, g := range gs {
				b.Run(g.name, func(b *testing.B) {
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						v, err := 42, error(nil) // a goroutine may get no call at all
						for pb.Next() {
							v, err = g.call(bare)
						}
						if err != nil || v != 42 {
							b.Error(g.name, v, err)
						}
					})
					if i == 0 {
						b.StopTimer() // and the allocation count: the ratios are not the benchmark
						run := func(g guard) func(int) {
							return parallel(func() { sinkInt, sinkErr = g.call(bare) })
						}
						peers := make([]contender, 0, len(gs)-1)
						for _, p := range gs[1:] {
							peers = append(peers, contender{p.name, run(p)})
						}
						reportRatios(b, run(g), peers...)
					}
				})
			}
		})
	}
}
