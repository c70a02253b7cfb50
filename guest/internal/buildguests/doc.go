// Command buildguests rebuilds every built-in guest module into guest/wasm
// and records the Go version that built them. Run it from anywhere in the
// repository after changing guest/sdk or guest/modules:
//
//	go run ./guest/internal/buildguests
//
// Each module is built with
//
//	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags="-s -w" -o guest/wasm/<name>.wasm ./guest/modules/<name>
//
// and .wasm files whose module source is gone are removed.
package main
