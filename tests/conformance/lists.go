package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type lists struct {
	skips    map[string]string // test → reason
	disputed map[string]string // test → the spec's words
}

// loadLists reads skips.txt and disputed.txt: one test per line, its name,
// a tab, and the reason; blank lines and lines starting with # are ignored.
func loadLists(skipsFile, disputedFile string) (lists, error) {
	var l lists
	var err error
	if l.skips, err = readReasons(skipsFile); err != nil {
		return l, err
	}
	if l.disputed, err = readReasons(disputedFile); err != nil {
		return l, err
	}
	if len(l.disputed) > 10 {
		return l, fmt.Errorf("%s lists %d tests; at most 10 may be disputed", disputedFile, len(l.disputed))
	}
	return l, nil
}

func readReasons(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: want TEST<tab>REASON", path, n)
		}
		out[strings.TrimSpace(name)] = strings.TrimSpace(reason)
	}
	return out, sc.Err()
}

// readRequired reads required.txt beside a corpus's node/ folder.
func readRequired(corpus string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(corpus, "required.txt"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// writeResults writes results.tsv.
func writeResults(path string, results []Result) error {
	var b strings.Builder
	b.WriteString("test\tstatus\treason\n")
	for _, r := range results {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", r.Name, r.Status, r.Reason)
	}
	fmt.Fprintln(&b, summarize(results))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readResults reads a results.tsv written by writeResults.
func readResults(path string) ([]Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Result
	for i, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		f := strings.SplitN(l, "\t", 3)
		if i == 0 || len(f) != 3 {
			continue
		}
		out = append(out, Result{f[0], Status(f[1]), f[2]})
	}
	return out, nil
}

func summarize(results []Result) string {
	var p, f, s int
	for _, r := range results {
		switch r.Status {
		case Pass:
			p++
		case Fail:
			f++
		case Skip:
			s++
		}
	}
	return fmt.Sprintf("%d passed, %d failed, %d skipped", p, f, s)
}

// requiredSummary counts the required tests that pass.
func requiredSummary(results []Result, required []string, disputed map[string]string) string {
	status := map[string]Status{}
	for _, r := range results {
		status[r.Name] = r.Status
	}
	pass, disp, missing := 0, 0, 0
	for _, name := range required {
		switch st, ok := status[name]; {
		case !ok:
			missing++
		case st == Pass:
			pass++
		default:
			if _, d := disputed[name]; d {
				disp++
			}
		}
	}
	s := fmt.Sprintf("required: %d of %d passed", pass, len(required))
	if disp > 0 {
		s += fmt.Sprintf(", %d failing are disputed", disp)
	}
	if missing > 0 {
		s += fmt.Sprintf(", %d not run", missing)
	}
	return s
}
