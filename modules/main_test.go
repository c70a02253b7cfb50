package modules

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// Runtimes with IsolateCompiles start this test binary to compile.
	RunCompileChild()
	os.Exit(m.Run())
}
