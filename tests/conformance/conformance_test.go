package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		os.Exit(worker(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// corpusDir is the shared ONNX node-test corpus beside the checkout.
const corpusDir = "../../../shared/corpus/onnx-node"

// TestConformance runs the ONNX node tests and holds the engine to the
// committed results.tsv: the pass count may not drop, and no test that
// passed there may fail now. Without the shared corpus it runs the copies
// in testdata, which must all pass.
func TestConformance(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadLists("skips.txt", "disputed.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(corpusDir); err != nil {
		t.Logf("the ONNX node-test corpus is not at %s (%v); running the copies in testdata only", corpusDir, err)
		tests, err := findTests("../../testdata/onnx-node", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runTests(self, tests, l.skips, time.Minute, nil) {
			if r.Status != Pass {
				t.Errorf("%s: %s: %s", r.Name, r.Status, r.Reason)
			}
		}
		return
	}
	tests, err := findTests(corpusDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	results := runTests(self, tests, l.skips, time.Minute, nil)
	committed, err := readResults("results.tsv")
	if err != nil {
		t.Fatalf("%v (generate it with: go run ./tests/conformance %s)", err, filepath.Join("..", "shared", "corpus", "onnx-node"))
	}
	was := map[string]Status{}
	wantPass := 0
	for _, r := range committed {
		was[r.Name] = r.Status
		if r.Status == Pass {
			wantPass++
		}
	}
	var regressed, improved []string
	pass := 0
	for _, r := range results {
		if r.Status == Pass {
			pass++
			if was[r.Name] != Pass {
				improved = append(improved, r.Name)
			}
		} else if was[r.Name] == Pass {
			regressed = append(regressed, r.Name+" ("+r.Reason+")")
		}
	}
	t.Log(summarize(results))
	if req, err := readRequired(corpusDir); err == nil {
		t.Log(requiredSummary(results, req, l.disputed))
	}
	if len(regressed) > 0 {
		t.Errorf("%d tests that pass in results.tsv fail now:\n  %s", len(regressed), strings.Join(regressed, "\n  "))
	}
	if pass < wantPass {
		t.Errorf("%d tests pass, results.tsv records %d", pass, wantPass)
	}
	if len(improved) > 0 {
		t.Logf("%d tests pass that results.tsv lists as not passing; record them with: go run ./tests/conformance ../shared/corpus/onnx-node", len(improved))
	}
}
