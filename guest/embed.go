package guest

import "embed"

//go:generate go run ./internal/buildguests

//go:embed wasm/*.wasm
var wasm embed.FS

const suffix = ".wasm"

// Module returns a copy of the built module name (for example "mnistpre"),
// or false if there is none.
func Module(name string) ([]byte, bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == '\\' {
			return nil, false
		}
	}
	b, err := wasm.ReadFile("wasm/" + name + suffix)
	if err != nil {
		return nil, false
	}
	return b, true
}

// Names lists the built modules, sorted.
func Names() []string {
	entries, err := wasm.ReadDir("wasm")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if len(n) > len(suffix) && n[len(n)-len(suffix):] == suffix {
			names = append(names, n[:len(n)-len(suffix)])
		}
	}
	return names
}
