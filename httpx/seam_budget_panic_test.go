package httpx_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// panicBudget is a Budget whose chosen method panics.
type panicBudget struct {
	onResultTrue, onResultFalse, onExtra bool
}

func (b *panicBudget) First() {}
func (b *panicBudget) Extra() bool {
	if b.onExtra {
		panic("boom: Extra")
	}
	return true
}
func (b *panicBudget) Result(ok bool) {
	if ok && b.onResultTrue || !ok && b.onResultFalse {
		panic(fmt.Sprintf("boom: Result(%v)", ok))
	}
}

// A Budget that panics in the retry loop of a plain call (Result(true)
// after the attempt handed its response over; Result(false) or Extra
// while a 503 is held in the error, before OnRetry drains it): the panic
// reaches the caller, and the response is closed.
func TestPanickingBudgetLeaksResponse(t *testing.T) {
	type variant struct {
		name   string
		codes  []int
		budget *panicBudget
	}
	variants := []variant{
		{"ResultTrue/200", []int{200}, &panicBudget{onResultTrue: true}},
		{"ResultFalse/503", []int{503, 200}, &panicBudget{onResultFalse: true}},
		{"Extra/503", []int{503, 200}, &panicBudget{onExtra: true}},
	}
	for _, h2 := range []bool{false, true} {
		for _, v := range variants {
			t.Run(fmt.Sprintf("h2=%v/%s", h2, v.name), func(t *testing.T) {
				srv, tr := statusServer(t, h2, v.codes...)
				b := v.budget
				rt, err := httpx.New(httpx.Config{Base: tr, Retry: fastPolicy(2),
					Budget: func(*http.Request) retry.Budget { return b }})
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest("GET", srv.URL, nil)
				mustPanic(t, rt, req)
				waitFor(t, func() bool { return tr.open.Load() == 0 })
			})
		}
	}
}
