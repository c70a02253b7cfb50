package builtin

import _ "embed"

//go:embed mnist/model.onnx
var mnistONNX []byte

// Model describes one embedded model: its ONNX graph and the modules that
// run before and after it.
type Model struct {
	Name    string
	Version string
	// Pre and Post name modules embedded in package guest; empty for none.
	Pre, Post string
	ONNX      []byte
}

// Models lists the embedded models.
func Models() []Model {
	return []Model{{
		Name:    "mnist",
		Version: "1",
		Pre:     "mnistpre",
		Post:    "mnistpost",
		ONNX:    mnistONNX,
	}}
}
