package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	engexec "github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
)

// workerEnv makes the binary (or test binary) run as a worker: it reads
// test directories from stdin and reports each on stdout.
const workerEnv = "WASMGATE_CONFORMANCE_WORKER"

// Status of one test.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one line of results.tsv.
type Result struct {
	Name   string
	Status Status
	Reason string
}

// findTests lists the test directories of a corpus, sorted by name.
func findTests(corpus string, filter *regexp.Regexp) ([]string, error) {
	dir := corpus
	if fi, err := os.Stat(filepath.Join(corpus, "node")); err == nil && fi.IsDir() {
		dir = filepath.Join(corpus, "node")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var tests []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "test_") {
			continue
		}
		if filter != nil && !filter.MatchString(e.Name()) {
			continue
		}
		tests = append(tests, filepath.Join(dir, e.Name()))
	}
	if len(tests) == 0 {
		return nil, fmt.Errorf("no tests under %s", dir)
	}
	slices.Sort(tests)
	return tests, nil
}

// runTests runs tests in worker processes of the executable self, starting
// a fresh worker whenever one dies, so one test cannot stop the run.
func runTests(self string, tests []string, skips map[string]string, timeout time.Duration, progress io.Writer) []Result {
	results := make([]Result, 0, len(tests))
	var todo []string
	for _, t := range tests {
		name := filepath.Base(t)
		if why, ok := skips[name]; ok {
			results = append(results, Result{name, Skip, why})
			continue
		}
		todo = append(todo, t)
	}
	for len(todo) > 0 {
		done, err := runWorker(self, todo, timeout)
		results = append(results, done...)
		todo = todo[len(done):]
		if err != nil && len(todo) > 0 {
			// The worker died during todo[0]: record it and go on.
			results = append(results, Result{filepath.Base(todo[0]), Fail, clean("crashed the engine: " + err.Error())})
			todo = todo[1:]
		}
		if progress != nil {
			fmt.Fprintf(progress, "\r%d/%d", len(results), len(tests))
		}
	}
	if progress != nil {
		fmt.Fprintln(progress)
	}
	slices.SortFunc(results, func(a, b Result) int { return strings.Compare(a.Name, b.Name) })
	return results
}

// runWorker runs tests in order in one worker process until they are all
// done or the worker dies; it returns the results of the tests finished.
func runWorker(self string, tests []string, timeout time.Duration) ([]Result, error) {
	cmd := exec.Command(self, "-test.run=^$") // harmless for main, keeps a test binary quiet
	cmd.Env = append(os.Environ(), workerEnv+"=1", fmt.Sprintf("WASMGATE_CONFORMANCE_TIMEOUT=%d", timeout))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr tail
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { // ends when all names are written or the worker dies
		defer stdin.Close()
		for _, t := range tests {
			if _, err := fmt.Fprintln(stdin, t); err != nil {
				return
			}
		}
	}()
	var results []Result
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) == 3 {
			results = append(results, Result{f[0], Status(f[1]), f[2]})
		}
	}
	werr := cmd.Wait()
	if len(results) == len(tests) {
		return results, nil
	}
	if werr == nil {
		werr = errors.New("worker exited early")
	}
	return results, fmt.Errorf("%v: %s", werr, stderr.last())
}

// worker runs the tests named on r, one per line, writing a result line for
// each to w. A test that outlives its time limit ends the worker (its
// goroutine cannot be stopped); the parent records it and starts another.
func worker(r io.Reader, w io.Writer) int {
	timeout := 60 * time.Second
	if v := os.Getenv("WASMGATE_CONFORMANCE_TIMEOUT"); v != "" {
		fmt.Sscan(v, (*int64)(&timeout))
	}
	bw := bufio.NewWriter(w)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		dir := sc.Text()
		res := make(chan Result, 1)
		go func() { res <- runOne(dir, timeout) }() // ends with the test, or with the process
		select {
		case r := <-res:
			fmt.Fprintf(bw, "%s\t%s\t%s\n", r.Name, r.Status, clean(r.Reason))
			bw.Flush()
		case <-time.After(timeout + 5*time.Second):
			fmt.Fprintf(bw, "%s\t%s\t%s\n", filepath.Base(dir), Fail, fmt.Sprintf("did not finish within %v", timeout))
			bw.Flush()
			return 3
		}
	}
	return 0
}

// runOne loads, compiles and runs one node test and compares its outputs.
func runOne(dir string, timeout time.Duration) (r Result) {
	r.Name = filepath.Base(dir)
	defer func() {
		if p := recover(); p != nil {
			r.Status, r.Reason = Fail, fmt.Sprintf("panic: %v", p)
		}
	}()
	fail := func(format string, a ...any) Result {
		r.Status, r.Reason = Fail, fmt.Sprintf(format, a...)
		return r
	}
	model, inputs, want, err := enginetest.LoadNodeTest(dir)
	if err != nil {
		return fail("load: %v", err)
	}
	m, err := onnx.ReadModel(model)
	if err != nil {
		return fail("read model: %v", err)
	}
	plan, err := engexec.Compile(m)
	if err != nil {
		return fail("compile: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	got, err := plan.Run(ctx, inputs)
	if err != nil {
		return fail("run: %v", err)
	}
	if len(got) != len(want) {
		return fail("%d outputs, want %d", len(got), len(want))
	}
	for i := range want {
		g := got[i]
		for _, o := range got { // outputs are matched by name where the files name them
			if o.Name == want[i].Name {
				g = o
			}
		}
		if err := enginetest.AllClose(g.Tensor, want[i].Tensor); err != nil {
			return fail("output %q: %v", want[i].Name, err)
		}
	}
	r.Status = Pass
	return r
}

// clean makes a reason fit one TSV field.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// tail keeps the end of a worker's stderr for crash reports.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

// last is the most telling line of the stderr tail: the first line of a
// Go fatal error or panic if there is one.
func (t *tail) last() string {
	s := string(t.b)
	for _, marker := range []string{"fatal error:", "panic:", "runtime:"} {
		if i := strings.Index(s, marker); i >= 0 {
			line, _, _ := strings.Cut(s[i:], "\n")
			return line
		}
	}
	return strings.TrimSpace(s)
}
