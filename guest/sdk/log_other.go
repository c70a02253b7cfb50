//go:build !wasip1

package sdk

import (
	"fmt"
	"os"
)

// Off wasm there is no host to log to: module tests on the host see the
// messages on stderr.
func logWrite(level Level, msg string) {
	fmt.Fprintf(os.Stderr, "sdk log level %d: %s\n", level, msg)
}
