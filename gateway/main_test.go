package gateway

import (
	"os"
	"testing"

	"github.com/wasmgate/wasmgate/modules"
)

func TestMain(m *testing.M) {
	// Servers these tests start compile uploads in child processes of this
	// binary.
	modules.RunCompileChild()
	os.Exit(m.Run())
}
