package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demonstration runs on small settings, shows all three ways, and
// rejects bad flags with an error.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-calls", "30", "-fail", "0.3"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"plain http.Client", "retry.Do, 4 attempts", "httpx client, 4 attempts", "invalid argument"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run([]string{"-fail", "1.5"}, &out); err == nil {
		t.Error("-fail 1.5 accepted")
	}
}
