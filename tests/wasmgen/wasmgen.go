package wasmgen

import (
	"bytes"
	"encoding/binary"
	"math"
)

// ValType is a WebAssembly value type.
type ValType byte

const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
	F32 ValType = 0x7d
)

type funcType struct{ params, results []ValType }

type function struct {
	typ    uint32
	locals []ValType
	body   []byte
}

type export struct {
	name string
	kind byte
	idx  uint32
}

type dataSeg struct {
	offset uint32
	bytes  []byte
}

type imp struct {
	module, name string
	typ          uint32
}

// Module is a module under construction.
type Module struct {
	types   []funcType
	imports []imp
	funcs   []function
	mem     *[2]uint32 // min, max pages; max 0 means none
	exports []export
	data    []dataSeg
}

func (m *Module) typeIndex(params, results []ValType) uint32 {
	for i, t := range m.types {
		if bytes.Equal(vt(t.params), vt(params)) && bytes.Equal(vt(t.results), vt(results)) {
			return uint32(i)
		}
	}
	m.types = append(m.types, funcType{params, results})
	return uint32(len(m.types) - 1)
}

func vt(v []ValType) []byte {
	b := make([]byte, len(v))
	for i, t := range v {
		b[i] = byte(t)
	}
	return b
}

// ImportFunc declares an imported function and returns its index. Imports
// must be declared before any Func.
func (m *Module) ImportFunc(module, name string, params, results []ValType) uint32 {
	if len(m.funcs) > 0 {
		panic("wasmgen: imports must come before functions")
	}
	m.imports = append(m.imports, imp{module, name, m.typeIndex(params, results)})
	return uint32(len(m.imports) - 1)
}

// Func defines a function and returns its index. body is the instruction
// sequence without the final End, which Func adds.
func (m *Module) Func(params, results, locals []ValType, body ...[]byte) uint32 {
	m.funcs = append(m.funcs, function{typ: m.typeIndex(params, results), locals: locals, body: bytes.Join(body, nil)})
	return uint32(len(m.imports) + len(m.funcs) - 1)
}

// Export exports function idx as name.
func (m *Module) Export(name string, idx uint32) { m.exports = append(m.exports, export{name, 0, idx}) }

// Memory defines memory 0 with min pages (and max, if max > 0) and exports it
// as "memory".
func (m *Module) Memory(min, max uint32) {
	m.mem = &[2]uint32{min, max}
	m.exports = append(m.exports, export{"memory", 2, 0})
}

// Data places b in memory at offset when an instance starts.
func (m *Module) Data(offset uint32, b []byte) { m.data = append(m.data, dataSeg{offset, b}) }

// Bytes encodes the module.
func (m *Module) Bytes() []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	section := func(id byte, body []byte) {
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	if len(m.types) > 0 {
		b := binary.AppendUvarint(nil, uint64(len(m.types)))
		for _, t := range m.types {
			b = append(b, 0x60)
			b = binary.AppendUvarint(b, uint64(len(t.params)))
			b = append(b, vt(t.params)...)
			b = binary.AppendUvarint(b, uint64(len(t.results)))
			b = append(b, vt(t.results)...)
		}
		section(1, b)
	}
	if len(m.imports) > 0 {
		b := binary.AppendUvarint(nil, uint64(len(m.imports)))
		for _, im := range m.imports {
			b = appendName(b, im.module)
			b = appendName(b, im.name)
			b = append(b, 0x00)
			b = binary.AppendUvarint(b, uint64(im.typ))
		}
		section(2, b)
	}
	if len(m.funcs) > 0 {
		b := binary.AppendUvarint(nil, uint64(len(m.funcs)))
		for _, f := range m.funcs {
			b = binary.AppendUvarint(b, uint64(f.typ))
		}
		section(3, b)
	}
	if m.mem != nil {
		b := []byte{1}
		if m.mem[1] > 0 {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(m.mem[0]))
			b = binary.AppendUvarint(b, uint64(m.mem[1]))
		} else {
			b = append(b, 0)
			b = binary.AppendUvarint(b, uint64(m.mem[0]))
		}
		section(5, b)
	}
	if len(m.exports) > 0 {
		b := binary.AppendUvarint(nil, uint64(len(m.exports)))
		for _, e := range m.exports {
			b = appendName(b, e.name)
			b = append(b, e.kind)
			b = binary.AppendUvarint(b, uint64(e.idx))
		}
		section(7, b)
	}
	if len(m.funcs) > 0 {
		b := binary.AppendUvarint(nil, uint64(len(m.funcs)))
		for _, f := range m.funcs {
			var fb []byte
			fb = binary.AppendUvarint(fb, uint64(len(f.locals)))
			for _, l := range f.locals {
				fb = append(fb, 1, byte(l))
			}
			fb = append(fb, f.body...)
			fb = append(fb, 0x0b)
			b = binary.AppendUvarint(b, uint64(len(fb)))
			b = append(b, fb...)
		}
		section(10, b)
	}
	if len(m.data) > 0 {
		b := binary.AppendUvarint(nil, uint64(len(m.data)))
		for _, d := range m.data {
			b = append(b, 0x00)
			b = append(b, I32Const(int32(d.offset))...)
			b = append(b, 0x0b)
			b = binary.AppendUvarint(b, uint64(len(d.bytes)))
			b = append(b, d.bytes...)
		}
		section(11, b)
	}
	return out
}

func appendName(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Instructions.

func I32Const(v int32) []byte  { return appendSLEB(b(0x41), int64(v)) }
func I64Const(v int64) []byte  { return appendSLEB(b(0x42), v) }
func LocalGet(i uint32) []byte { return binary.AppendUvarint(b(0x20), uint64(i)) }
func LocalSet(i uint32) []byte { return binary.AppendUvarint(b(0x21), uint64(i)) }
func Call(f uint32) []byte     { return binary.AppendUvarint(b(0x10), uint64(f)) }
func Br(depth uint32) []byte   { return binary.AppendUvarint(b(0x0c), uint64(depth)) }
func BrIf(depth uint32) []byte { return binary.AppendUvarint(b(0x0d), uint64(depth)) }

var (
	Loop        = []byte{0x03, 0x40} // loop with no result
	Block       = []byte{0x02, 0x40} // block with no result
	End         = []byte{0x0b}
	Unreachable = []byte{0x00}
	Drop        = []byte{0x1a}
	I32Add      = []byte{0x6a}
	I32Sub      = []byte{0x6b}
	I32Eqz      = []byte{0x45}
	I64Shl      = []byte{0x86}
	I64Or       = []byte{0x84}
	I64ExtendU  = []byte{0xad} // i64.extend_i32_u
	MemoryGrow  = []byte{0x40, 0x00}
	MemorySize  = []byte{0x3f, 0x00}
)

func b(op byte) []byte { return []byte{op} }

func appendSLEB(dst []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(dst, c)
		}
		dst = append(dst, c|0x80)
	}
}

// I32Load and I32Store access memory at the address on the stack plus offset.
func I32Load(offset uint32) []byte  { return binary.AppendUvarint([]byte{0x28, 2}, uint64(offset)) }
func I32Store(offset uint32) []byte { return binary.AppendUvarint([]byte{0x36, 2}, uint64(offset)) }

// More instructions.
var (
	I32Eq  = []byte{0x46}
	I32Ne  = []byte{0x47}
	I32LtU = []byte{0x49}
	I32GtU = []byte{0x4b}
	Return = []byte{0x0f}
	If     = []byte{0x04, 0x40} // if with no result
	Else   = []byte{0x05}
)

// F32Const pushes a float32.
func F32Const(v float32) []byte {
	return binary.LittleEndian.AppendUint32([]byte{0x43}, math.Float32bits(v))
}

// I64Load loads an i64 at the address on the stack plus offset.
func I64Load(offset uint32) []byte { return binary.AppendUvarint([]byte{0x29, 3}, uint64(offset)) }
