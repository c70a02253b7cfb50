package modules

import (
	"encoding/binary"
	"errors"
)

// wasmCounts are figures read from a module's binary that wazero does not
// expose but that decide what an instance costs.
type wasmCounts struct {
	dataSegments int
}

// countSections reads the section headers of a wasm binary. It only runs on
// bytes that wazero already compiled, so it reports, rather than diagnoses,
// a malformed file.
func countSections(b []byte) (wasmCounts, error) {
	var c wasmCounts
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return c, errors.New("not a wasm binary")
	}
	b = b[8:]
	for len(b) > 0 {
		id := b[0]
		size, n := binary.Uvarint(b[1:])
		if n <= 0 || size > uint64(len(b)-1-n) {
			return c, errors.New("truncated section")
		}
		body := b[1+n : 1+n+int(size)]
		b = b[1+n+int(size):]
		count, k := binary.Uvarint(body)
		if k <= 0 {
			continue
		}
		if id == 11 { // data section
			c.dataSegments = int(count)
		}
	}
	return c, nil
}
