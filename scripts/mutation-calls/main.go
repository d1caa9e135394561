// Command mutation-calls makes the mutants that gremlins does not: it
// removes calls that release or record something (cancel, Close, Stop,
// drain…) and negates whole if-conditions, one mutant at a time, and runs
// the tests of the mutated file's package against each. It writes its
// results in gremlins' JSON format, for scripts/mutation-score.
//
//	go run ./scripts/mutation-calls -o calls.json . ./httpx
//
// Each worker mutates its own copy of the module, so mutants can run in
// parallel (-workers).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// released matches the names of calls whose removal a test should notice.
var released = regexp.MustCompile(`(?i)^(cancel\w*|close\w*|stop|release\w*|drain\w*|discard\w*|record|result|first|report|disarm|markDecided|notify|done)$`)

type mutant struct {
	file     string // relative to the module root
	line     int
	kind     string // CALL_REMOVED or CONDITION_NEGATED
	start    int    // byte offsets of the text replaced
	end      int
	text     string // its replacement
	pkg      string // the package directory, as go test takes it
	status   string
	duration time.Duration
}

func main() {
	out := flag.String("o", "calls.json", "where to write the report")
	workers := flag.Int("workers", 2, "mutants tested at once")
	timeout := flag.Duration("timeout", 3*time.Minute, "time limit of one package's tests")
	dry := flag.Bool("dry", false, "list the mutants and test none")
	flag.Parse()
	if *workers < 1 {
		fmt.Fprintln(os.Stderr, "mutation-calls: -workers must be at least 1")
		os.Exit(2)
	}
	pkgs := flag.Args()
	if len(pkgs) == 0 {
		pkgs = []string{"."}
	}
	var mutants []*mutant
	for _, pkg := range pkgs {
		ms, err := find(pkg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		mutants = append(mutants, ms...)
	}
	fmt.Fprintf(os.Stderr, "%d mutants in %s\n", len(mutants), strings.Join(pkgs, " "))
	if *dry {
		for _, m := range mutants {
			fmt.Printf("%s:%d %s: %s\n", m.file, m.line, m.kind, m.text)
		}
		return
	}
	jobs := make(chan *mutant)
	var wg sync.WaitGroup
	for w := range *workers {
		dir, err := copyModule(w)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		wg.Go(func() {
			for m := range jobs {
				run(dir, m, *timeout)
				fmt.Fprintf(os.Stderr, "%-11s %s:%d %s (%v)\n", m.status, m.file, m.line, m.kind, m.duration.Round(time.Second))
			}
		})
	}
	for _, m := range mutants {
		jobs <- m
	}
	close(jobs)
	wg.Wait()
	if err := write(*out, mutants); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// find lists the mutants of the non-test files of the package in dir.
func find(dir string) ([]*mutant, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var ms []*mutant
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			return nil, err
		}
		off := func(p token.Pos) int { return fset.Position(p).Offset }
		add := func(kind string, n ast.Node, text string) {
			ms = append(ms, &mutant{file: filepath.Clean(name), line: fset.Position(n.Pos()).Line, kind: kind,
				start: off(n.Pos()), end: off(n.End()), text: text, pkg: "./" + filepath.Clean(dir)})
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ExprStmt:
				if call, ok := n.X.(*ast.CallExpr); ok && releases(call) {
					add("CALL_REMOVED", n, "_ = "+string(src[off(call.Fun.Pos()):off(call.Fun.End())]))
				}
			case *ast.DeferStmt:
				if releases(n.Call) {
					add("CALL_REMOVED", n, "_ = "+string(src[off(n.Call.Fun.Pos()):off(n.Call.Fun.End())]))
				}
			case *ast.IfStmt:
				add("CONDITION_NEGATED", n.Cond, "!("+string(src[off(n.Cond.Pos()):off(n.Cond.End())])+")")
			}
			return true
		})
	}
	return ms, nil
}

// releases reports whether call is one whose removal is a mutant.
func releases(call *ast.CallExpr) bool {
	switch fun := call.Fun.(type) {
	case *ast.Ident:
		return released.MatchString(fun.Name)
	case *ast.SelectorExpr:
		return released.MatchString(fun.Sel.Name)
	}
	return false
}

// copyModule copies the module in the current directory, without .git,
// into a new temporary directory for worker w.
func copyModule(w int) (string, error) {
	dir, err := os.MkdirTemp("", fmt.Sprintf("mutants-%d-", w))
	if err != nil {
		return "", err
	}
	cmd := exec.Command("sh", "-c", `tar --exclude=.git -cf - . | tar -xf - -C "$0"`, dir)
	cmd.Stderr = os.Stderr
	return dir, cmd.Run()
}

// run applies m in dir, runs its package's tests, and restores the file.
func run(dir string, m *mutant, timeout time.Duration) {
	path := filepath.Join(dir, m.file)
	orig, err := os.ReadFile(path)
	if err != nil {
		m.status = "NOT VIABLE"
		return
	}
	mutated := append(append(append([]byte{}, orig[:m.start]...), m.text...), orig[m.end:]...)
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		m.status = "NOT VIABLE"
		return
	}
	defer os.WriteFile(path, orig, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-failfast", m.pkg)
	cmd.Dir = dir
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err = cmd.Run()
	m.duration = time.Since(start)
	var exit *exec.ExitError
	switch {
	case err == nil:
		m.status = "LIVED"
	case ctx.Err() != nil:
		m.status = "TIMED OUT"
	case bytes.Contains(output.Bytes(), []byte("[build failed]")) || bytes.Contains(output.Bytes(), []byte("[setup failed]")):
		m.status = "NOT VIABLE"
	case errors.As(err, &exit):
		m.status = "KILLED"
	default:
		m.status = "NOT VIABLE"
	}
}

// write saves the results in the shape of gremlins' JSON report.
func write(path string, ms []*mutant) error {
	type mutation struct {
		Type   string `json:"type"`
		Status string `json:"status"`
		Line   int    `json:"line"`
	}
	type file struct {
		FileName  string     `json:"file_name"`
		Mutations []mutation `json:"mutations"`
	}
	byFile := map[string][]mutation{}
	for _, m := range ms {
		byFile[m.file] = append(byFile[m.file], mutation{m.kind, m.status, m.line})
	}
	var r struct {
		Files []file `json:"files"`
	}
	for name, muts := range byFile {
		r.Files = append(r.Files, file{name, muts})
	}
	sort.Slice(r.Files, func(i, j int) bool { return r.Files[i].FileName < r.Files[j].FileName })
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
