package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// A worker that dies in the middle of a test costs that test, not the run:
// the runner records it as a failure and goes on in a fresh worker.
func TestRunnerSurvivesCrashingWorker(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	// This stand-in worker passes one test, then crashes on the next.
	script := filepath.Join(dir, "worker.sh")
	is.NoErr(os.WriteFile(script, []byte("#!/bin/sh\nread a\nprintf '%s\\tpass\\t\\n' \"$(basename \"$a\")\"\nread b\necho 'fatal error: simulated crash' >&2\nexit 2\n"), 0o755))
	tests := []string{"/x/test_a", "/x/test_b", "/x/test_c", "/x/test_d"}
	res := runTests(script, tests, map[string]string{"test_d": "seeded random output"}, time.Minute, nil)
	is.Equal(len(res), 4)
	is.Equal(res[0], Result{"test_a", Pass, ""})
	is.Equal(res[1].Status, Fail)
	is.True(strings.Contains(res[1].Reason, "crashed the engine"))
	is.True(strings.Contains(res[1].Reason, "simulated crash"))
	is.Equal(res[2], Result{"test_c", Pass, ""}) // a fresh worker took over
	is.Equal(res[3], Result{"test_d", Skip, "seeded random output"})
	is.Equal(summarize(res), "2 passed, 1 failed, 1 skipped")
}
