package retry_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/retrykit/retry"
)

// JoinHooks calls every hook set for an event, in order, and leaves nil
// the fields no one sets.
func TestJoinHooks(t *testing.T) {
	var got []string
	logs := &retry.Hooks{
		OnRetry: func(context.Context, retry.RetryEvent) { got = append(got, "log retry") },
		OnDone:  func(context.Context, retry.CallEvent) { got = append(got, "log done") },
	}
	metrics := &retry.Hooks{
		OnDone: func(context.Context, retry.CallEvent) { got = append(got, "metrics done") },
	}
	h := retry.JoinHooks(nil, logs, nil, metrics)
	if h.OnHedge != nil || h.OnAttempt != nil || h.OnBreakerChange != nil {
		t.Fatal("fields that no hooks set are not nil")
	}
	fn, _ := failing(1, errTransient)
	if err := retry.Do(context.Background(), &retry.Policy{Hooks: h, Backoff: retry.Constant{}}, fn); err != nil {
		t.Fatal(err)
	}
	if want := []string{"log retry", "log done", "metrics done"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("hooks ran %q, want %q", got, want)
	}
	if retry.JoinHooks() != nil || retry.JoinHooks(nil, nil) != nil {
		t.Error("JoinHooks of nothing is not nil")
	}
	if retry.JoinHooks(nil, logs) != logs {
		t.Error("JoinHooks of one set of hooks is not that set")
	}
}
