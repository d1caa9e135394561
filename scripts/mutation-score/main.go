// Command mutation-score prints, per file and overall, what the mutation
// runs of scripts/mutation found: gremlins' JSON reports and the
// hand-made mutants' report of scripts/mutation-calls, in one table.
//
// A mutant is detected when a test failed (killed) or hung past its time
// limit (timed out); it lives when every test passed. The score is
// detected ÷ (detected + lived); mutants that no test reaches, or that do
// not compile, are listed but not scored.
package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
)

type report struct {
	Files []struct {
		FileName  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
		} `json:"mutations"`
	} `json:"files"`
}

type tally struct{ killed, timedOut, lived, notCovered, notViable int }

func (t *tally) add(status string) {
	switch status {
	case "KILLED":
		t.killed++
	case "TIMED OUT":
		t.timedOut++
	case "LIVED":
		t.lived++
	case "NOT COVERED":
		t.notCovered++
	case "NOT VIABLE":
		t.notViable++
	}
}

func (t tally) score() float64 {
	detected := t.killed + t.timedOut
	if detected+t.lived == 0 {
		return 100
	}
	return 100 * float64(detected) / float64(detected+t.lived)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mutation-score REPORT.json...")
		os.Exit(2)
	}
	files := map[string]*tally{}
	var total tally
	var lived []string
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var r report
		if err := json.Unmarshal(data, &r); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		for _, f := range r.Files {
			t := files[f.FileName]
			if t == nil {
				t = &tally{}
				files[f.FileName] = t
			}
			for _, m := range f.Mutations {
				t.add(m.Status)
				total.add(m.Status)
				if m.Status == "LIVED" {
					lived = append(lived, fmt.Sprintf("%s:%d %s", f.FileName, m.Line, m.Type))
				}
			}
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(files[a].score(), files[b].score()), cmp.Compare(a, b))
	})
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "file\tscore\tkilled\ttimed out\tlived\tnot covered\t")
	row := func(name string, t tally) {
		fmt.Fprintf(w, "%s\t%.1f%%\t%d\t%d\t%d\t%d\t\n", name, t.score(), t.killed, t.timedOut, t.lived, t.notCovered)
	}
	for _, name := range names {
		if t := files[name]; t.killed+t.timedOut+t.lived > 0 {
			row(name, *t)
		}
	}
	row("all", total)
	w.Flush()
	if len(lived) > 0 && os.Getenv("LIVED") != "" {
		fmt.Println("\nmutants that lived:")
		for _, l := range lived {
			fmt.Println(" ", l)
		}
	}
}
