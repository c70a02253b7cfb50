package modules

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// wasmCounts are figures read from a module's binary before it is compiled:
// what wazero does not expose, and what bounds the cost of compiling and
// instantiating it.
type wasmCounts struct {
	functions    int    // functions the module defines
	dataSegments int    // decide per-instance bookkeeping
	memMin       uint32 // the defined memory's initial pages
	memMax       uint32 // its declared maximum, 0 if none
}

// readCounts walks the section headers of a wasm binary. It reads only
// counts and the memory section; wazero validates everything else.
func readCounts(b []byte) (wasmCounts, error) {
	var c wasmCounts
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return c, errors.New("not a WebAssembly binary (bad magic)")
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
		switch id {
		case 3: // function section
			if count > 1<<31 {
				return c, fmt.Errorf("function count %d", count)
			}
			c.functions = int(count)
		case 5: // memory section: count, then limits
			if count > 0 {
				rest := body[k:]
				if len(rest) < 2 {
					return c, errors.New("truncated memory section")
				}
				flags := rest[0]
				lo, k2 := binary.Uvarint(rest[1:])
				if k2 <= 0 {
					return c, errors.New("truncated memory limits")
				}
				c.memMin = uint32(min(lo, 1<<32-1))
				if flags&1 != 0 {
					hi, k3 := binary.Uvarint(rest[1+k2:])
					if k3 <= 0 {
						return c, errors.New("truncated memory limits")
					}
					c.memMax = uint32(min(hi, 1<<32-1))
				}
			}
		case 11: // data section
			if count > 1<<31 {
				return c, fmt.Errorf("data segment count %d", count)
			}
			c.dataSegments = int(count)
		}
	}
	return c, nil
}
