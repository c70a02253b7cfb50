package ops

import (
	"strings"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Dtype sets named as the ONNX spec's type constraints describe them. Each
// function returns a fresh slice so schemas can extend them safely.

func floats() []tensor.DType { return []tensor.DType{tensor.Float16, tensor.Float32, tensor.Float64} }

func floatsBF16() []tensor.DType { return append(floats(), tensor.BFloat16) }

func wideInts() []tensor.DType {
	return []tensor.DType{tensor.Int32, tensor.Int64, tensor.Uint32, tensor.Uint64}
}

func narrowInts() []tensor.DType {
	return []tensor.DType{tensor.Int8, tensor.Int16, tensor.Uint8, tensor.Uint16}
}

// allTypes is every dtype the tensor package holds, which is every ONNX
// tensor type the engine can represent.
func allTypes() []tensor.DType {
	return append(append(append(floatsBF16(), wideInts()...), narrowInts()...), tensor.Bool, tensor.Bytes)
}

func cat(sets ...[]tensor.DType) []tensor.DType {
	var out []tensor.DType
	for _, s := range sets {
		out = append(out, s...)
	}
	return out
}

// params builds a parameter list from "Name:Type" pairs; a trailing "?"
// marks an optional parameter, a trailing "..." a variadic one (last only).
func params(specs ...string) []Param {
	ps := make([]Param, len(specs))
	for i, s := range specs {
		p := Param{}
		if n := len(s); n > 0 && s[n-1] == '?' {
			p.Optional, s = true, s[:n-1]
		}
		if v, ok := strings.CutSuffix(s, "..."); ok {
			p.Variadic, s = true, v
		}
		for j := range len(s) {
			if s[j] == ':' {
				p.Name, p.Type = s[:j], s[j+1:]
			}
		}
		ps[i] = p
	}
	return ps
}
