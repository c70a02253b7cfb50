// Command conformance runs the ONNX backend node tests through wasmgate's
// engine and compares every output with the ONNX runner's rule: equal shape
// and dtype; floats within 1e-7 + 1e-3·|want|; integers, booleans and
// strings exact.
//
//	go run ./tests/conformance [-out FILE] [-run REGEXP] ../shared/corpus/onnx-node
//
// It writes one line per test (name, pass/fail/skip, reason) to
// tests/conformance/results.tsv and ends with "N passed, M failed, K skipped".
// Tests run in a worker process, so a test that crashes or hangs the engine
// is recorded as a failure and the run goes on in a fresh worker. A test is
// skipped only for a reason listed in skips.txt; a test listed in
// disputed.txt is run and reported as usual, but its failure does not count
// against the required set.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

func main() {
	if os.Getenv(workerEnv) == "1" {
		os.Exit(worker(os.Stdin, os.Stdout))
	}
	out := flag.String("out", filepath.Join("tests", "conformance", "results.tsv"), "where to write the per-test results (empty: nowhere)")
	skipsFile := flag.String("skips", filepath.Join("tests", "conformance", "skips.txt"), "tests to skip, with the reason")
	disputedFile := flag.String("disputed", filepath.Join("tests", "conformance", "disputed.txt"), "tests whose reference output contradicts the spec")
	run := flag.String("run", "", "only tests whose name matches this regular expression")
	timeout := flag.Duration("timeout", 60*time.Second, "time limit of one test")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./tests/conformance [flags] CORPUS_DIR\n\nCORPUS_DIR holds the node tests, directly or under node/.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	var filter *regexp.Regexp
	if *run != "" {
		var err error
		if filter, err = regexp.Compile(*run); err != nil {
			fmt.Fprintln(os.Stderr, "conformance: -run:", err)
			os.Exit(2)
		}
	}
	lists, err := loadLists(*skipsFile, *disputedFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	corpus := flag.Arg(0)
	tests, err := findTests(corpus, filter)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
	start := time.Now()
	results := runTests(self, tests, lists.skips, *timeout, os.Stderr)
	if *out != "" {
		if err := writeResults(*out, results); err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			os.Exit(1)
		}
	}
	s := summarize(results)
	if req, err := readRequired(corpus); err == nil {
		fmt.Println(requiredSummary(results, req, lists.disputed))
	}
	fmt.Printf("ran %d tests in %v\n", len(results), time.Since(start).Round(time.Millisecond))
	fmt.Println(s)
}
