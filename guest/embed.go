package guest

import (
	"embed"
	"strings"
)

//go:generate go run ./internal/buildguests

//go:embed wasm/*.wasm c/wasm/*.wasm
var wasm embed.FS

const (
	suffix = ".wasm"
	// CPrefix starts the names of the C modules (built from guest/c), so
	// they cannot collide with the Go ones: "c/mnistpost".
	CPrefix = "c/"
)

// Module returns a copy of the built module name: a Go module (for example
// "mnistpre") or, under CPrefix, a C one ("c/mnistpost"). It reports false
// if there is none.
func Module(name string) ([]byte, bool) {
	dir := "wasm/"
	if rest, ok := strings.CutPrefix(name, CPrefix); ok {
		dir, name = "c/wasm/", rest
	}
	if name == "" || strings.ContainsAny(name, `/\`) {
		return nil, false
	}
	b, err := wasm.ReadFile(dir + name + suffix)
	if err != nil {
		return nil, false
	}
	return b, true
}

// Names lists the built Go modules, sorted: the ones the built-in models
// use.
func Names() []string { return list("wasm", "") }

// CNames lists the built C modules, sorted, as Module names them
// ("c/mnistadapter", "c/mnistpost").
func CNames() []string { return list("c/wasm", CPrefix) }

func list(dir, prefix string) []string {
	entries, err := wasm.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), suffix); ok && n != "" {
			names = append(names, prefix+n)
		}
	}
	return names
}
