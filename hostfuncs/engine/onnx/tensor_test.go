package onnx

import (
	"bytes"
	"math"
	"runtime"
	"testing"

	"github.com/matryer/is"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Builders for hand-encoded protobuf messages.

type enc []byte

func (e enc) varint(num protowire.Number, v uint64) enc {
	e = protowire.AppendTag(e, num, protowire.VarintType)
	return protowire.AppendVarint(e, v)
}

func (e enc) bytes(num protowire.Number, b []byte) enc {
	e = protowire.AppendTag(e, num, protowire.BytesType)
	return protowire.AppendBytes(e, b)
}

func (e enc) str(num protowire.Number, s string) enc { return e.bytes(num, []byte(s)) }

func (e enc) fixed32(num protowire.Number, v uint32) enc {
	e = protowire.AppendTag(e, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(e, v)
}

func (e enc) fixed64(num protowire.Number, v uint64) enc {
	e = protowire.AppendTag(e, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(e, v)
}

func packedVarints(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, v)
	}
	return b
}

func packedFloats(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendFixed32(b, math.Float32bits(v))
	}
	return b
}

func packedDoubles(vs ...float64) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendFixed64(b, math.Float64bits(v))
	}
	return b
}

// dims appends dims (packed) and the data type.
func header(dt tensor.DType, dims ...uint64) enc {
	return enc(nil).bytes(tpDims, packedVarints(dims...)).varint(tpDataType, uint64(dt))
}

func neg(v int64) uint64 { return uint64(v) }

func TestReadTensorTypedFields(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		want *tensor.Tensor
	}{
		{"float_data packed", header(tensor.Float32, 3).bytes(tpFloatData, packedFloats(1, -2.5, 3)),
			tensor.MustFrom(tensor.Shape{3}, []float32{1, -2.5, 3})},
		{"float_data unpacked", header(tensor.Float32, 2).fixed32(tpFloatData, math.Float32bits(4)).fixed32(tpFloatData, math.Float32bits(5)),
			tensor.MustFrom(tensor.Shape{2}, []float32{4, 5})},
		{"float_data mixed chunks", header(tensor.Float32, 3).bytes(tpFloatData, packedFloats(1, 2)).fixed32(tpFloatData, math.Float32bits(3)),
			tensor.MustFrom(tensor.Shape{3}, []float32{1, 2, 3})},
		{"double_data", header(tensor.Float64, 2).bytes(tpDoubleData, packedDoubles(1e300, -0.5)),
			tensor.MustFrom(tensor.Shape{2}, []float64{1e300, -0.5})},
		{"double_data unpacked", header(tensor.Float64, 1).fixed64(tpDoubleData, math.Float64bits(7)),
			tensor.MustFrom(tensor.Shape{1}, []float64{7})},
		{"int32_data", header(tensor.Int32, 3).bytes(tpInt32Data, packedVarints(1, neg(-1), neg(math.MinInt32))),
			tensor.MustFrom(tensor.Shape{3}, []int32{1, -1, math.MinInt32})},
		{"int32_data unpacked", header(tensor.Int32, 2).varint(tpInt32Data, 9).varint(tpInt32Data, neg(-9)),
			tensor.MustFrom(tensor.Shape{2}, []int32{9, -9})},
		{"int8 via int32_data", header(tensor.Int8, 3).bytes(tpInt32Data, packedVarints(neg(-128), 127, 0)),
			tensor.MustFrom(tensor.Shape{3}, []int8{-128, 127, 0})},
		{"uint8 via int32_data", header(tensor.Uint8, 2).bytes(tpInt32Data, packedVarints(255, 1)),
			tensor.MustFrom(tensor.Shape{2}, []uint8{255, 1})},
		{"int16 via int32_data", header(tensor.Int16, 2).bytes(tpInt32Data, packedVarints(neg(-300), 300)),
			tensor.MustFrom(tensor.Shape{2}, []int16{-300, 300})},
		{"uint16 via int32_data", header(tensor.Uint16, 1).bytes(tpInt32Data, packedVarints(65535)),
			tensor.MustFrom(tensor.Shape{1}, []uint16{65535})},
		{"bool via int32_data", header(tensor.Bool, 3).bytes(tpInt32Data, packedVarints(1, 0, 1)),
			tensor.MustFrom(tensor.Shape{3}, []bool{true, false, true})},
		{"float16 bits via int32_data", header(tensor.Float16, 2).bytes(tpInt32Data, packedVarints(0x3c00, 0xc000)),
			tensor.MustFrom(tensor.Shape{2}, []tensor.F16{0x3c00, 0xc000})},
		{"bfloat16 bits via int32_data", header(tensor.BFloat16, 1).bytes(tpInt32Data, packedVarints(0x3f80)),
			tensor.MustFrom(tensor.Shape{1}, []tensor.BF16{0x3f80})},
		{"int64_data", header(tensor.Int64, 2).bytes(tpInt64Data, packedVarints(neg(math.MinInt64), math.MaxInt64)),
			tensor.MustFrom(tensor.Shape{2}, []int64{math.MinInt64, math.MaxInt64})},
		{"int64_data unpacked", header(tensor.Int64, 1).varint(tpInt64Data, neg(-3)),
			tensor.MustFrom(tensor.Shape{1}, []int64{-3})},
		{"uint64_data", header(tensor.Uint64, 2).bytes(tpUint64Data, packedVarints(math.MaxUint64, 1)),
			tensor.MustFrom(tensor.Shape{2}, []uint64{math.MaxUint64, 1})},
		{"uint32 via uint64_data", header(tensor.Uint32, 1).varint(tpUint64Data, math.MaxUint32),
			tensor.MustFrom(tensor.Shape{1}, []uint32{math.MaxUint32})},
		{"raw_data", header(tensor.Float32, 2).bytes(tpRawData, packedFloats(1.5, 2.5)),
			tensor.MustFrom(tensor.Shape{2}, []float32{1.5, 2.5})},
		{"scalar", enc(nil).varint(tpDataType, uint64(tensor.Int64)).bytes(tpInt64Data, packedVarints(42)),
			tensor.MustFrom(nil, []int64{42})},
		{"empty", header(tensor.Float32, 0, 3),
			tensor.MustFrom(tensor.Shape{0, 3}, []float32{})},
		{"unpacked dims", enc(nil).varint(tpDims, 2).varint(tpDims, 1).varint(tpDataType, uint64(tensor.Uint8)).bytes(tpRawData, []byte{7, 8}),
			tensor.MustFrom(tensor.Shape{2, 1}, []uint8{7, 8})},
		{"unknown fields skipped", header(tensor.Float32, 1).varint(99, 5).fixed64(100, 1).bytes(tpFloatData, packedFloats(3)).str(12, "doc"),
			tensor.MustFrom(tensor.Shape{1}, []float32{3})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			got, err := ReadTensor(tc.b)
			is.NoErr(err)
			is.Equal(got.DType, tc.want.DType)
			is.True(got.Shape.Equal(tc.want.Shape))
			is.True(bytes.Equal(got.Data, tc.want.Data))
			is.NoErr(got.Validate())
		})
	}
}

func TestReadTensorStrings(t *testing.T) {
	is := is.New(t)
	b := header(tensor.Bytes, 2).str(tpStringData, "héllo").bytes(tpStringData, nil).str(tpName, "s")
	nt, err := ReadNamedTensor(b)
	is.NoErr(err)
	is.Equal(nt.Name, "s")
	is.Equal(nt.DType, tensor.Bytes)
	is.Equal(len(nt.Strings), 2)
	is.Equal(string(nt.Strings[0]), "héllo")
	is.Equal(len(nt.Strings[1]), 0)
}

func TestReadTensorErrors(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		kind fault.Kind
	}{
		{"huge dims, few bytes", header(tensor.Float32, 1<<20, 1<<20).bytes(tpRawData, make([]byte, 8)), fault.Invalid},
		{"dims beyond MaxElements", header(tensor.Uint8, 1<<31).bytes(tpRawData, make([]byte, 8)), fault.Invalid},
		{"huge dims, typed data", header(tensor.Int64, 1<<30).bytes(tpInt64Data, packedVarints(1, 2)), fault.Invalid},
		{"negative dim", header(tensor.Float32, neg(-1)).bytes(tpRawData, nil), fault.Invalid},
		{"raw too short", header(tensor.Float32, 3).bytes(tpRawData, make([]byte, 11)), fault.Invalid},
		{"raw too long", header(tensor.Float32, 1).bytes(tpRawData, make([]byte, 5)), fault.Invalid},
		{"count mismatch", header(tensor.Float32, 3).bytes(tpFloatData, packedFloats(1, 2)), fault.Invalid},
		{"no data", header(tensor.Float32, 2), fault.Invalid},
		{"wrong field for dtype", header(tensor.Int64, 1).bytes(tpFloatData, packedFloats(1)), fault.Invalid},
		{"raw and typed", header(tensor.Float32, 1).bytes(tpRawData, packedFloats(1)).bytes(tpFloatData, packedFloats(1)), fault.Invalid},
		{"string raw", header(tensor.Bytes, 1).bytes(tpRawData, []byte("x")), fault.Invalid},
		{"packed floats misaligned", header(tensor.Float32, 1).bytes(tpFloatData, []byte{1, 2, 3}), fault.Invalid},
		{"truncated varint", header(tensor.Int64, 1).bytes(tpInt64Data, []byte{0x80}), fault.Invalid},
		{"undefined dtype", enc(nil).bytes(tpDims, packedVarints(1)), fault.Invalid},
		{"unknown dtype", header(99, 1), fault.Invalid},
		{"complex unsupported", header(14, 1).bytes(tpFloatData, packedFloats(1, 2)), fault.Unsupported},
		{"int4 unsupported", header(22, 2).bytes(tpRawData, []byte{0x21}), fault.Unsupported},
		{"external data", header(tensor.Float32, 4).varint(tpDataLocation, 1).bytes(tpExternalData, enc(nil).str(1, "location").str(2, "w.bin")), fault.Unsupported},
		{"segment", header(tensor.Float32, 1).bytes(tpSegment, nil).bytes(tpRawData, packedFloats(1)), fault.Unsupported},
		{"truncated message", header(tensor.Float32, 1).bytes(tpRawData, packedFloats(1))[:5], fault.Invalid},
		{"wire type mismatch", enc(nil).fixed32(tpDims, 1).varint(tpDataType, 1), fault.Invalid},
		{"too many dims", header(tensor.Float32, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1).bytes(tpRawData, packedFloats(1)), fault.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := ReadTensor(tc.b)
			is.True(err != nil)
			is.Equal(fault.KindOf(err), tc.kind)
		})
	}
}

// TestReadTensorAllocatesOnlyWhatIsPresent checks that a tensor claiming far
// more elements than it carries is refused before anything of the claimed
// size is allocated.
func TestReadTensorAllocatesOnlyWhatIsPresent(t *testing.T) {
	is := is.New(t)
	b := header(tensor.Float64, 1<<15, 1<<15).bytes(tpRawData, make([]byte, 8)) // claims 8 GiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadTensor(b)
	runtime.ReadMemStats(&after)
	is.True(err != nil)
	is.True(after.TotalAlloc-before.TotalAlloc < 1<<16) // a few error strings, not the claim
}

func TestReadTensorErrorNamesTensor(t *testing.T) {
	is := is.New(t)
	_, err := ReadTensor(header(tensor.Float32, 2).str(tpName, "weights").bytes(tpRawData, nil))
	is.True(err != nil)
	is.Equal(err.Error(), `tensor "weights": shape [2] of FLOAT needs 8 bytes of raw_data, got 0`)
}

func TestReadTensorAlignedCopy(t *testing.T) {
	is := is.New(t)
	// raw_data at an odd offset in the input must not make a misaligned view.
	b := append([]byte{0}, header(tensor.Float64, 1).bytes(tpRawData, packedDoubles(2.5))...)
	got, err := ReadTensor(b[1:])
	is.NoErr(err)
	is.True(tensor.Aligned(got.Data, tensor.Float64))
	is.Equal(tensor.Values[float64](got)[0], 2.5)
}
