package abi_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func named(name string, t *tensor.Tensor) tensor.Named { return tensor.Named{Name: name, Tensor: t} }

func strs(v ...string) [][]byte {
	out := make([][]byte, len(v))
	for i, s := range v {
		out[i] = []byte(s)
	}
	return out
}

// roundTripCases covers every dtype, rank 0, empty tensors, BYTES framing
// and names that put the data at every alignment before padding.
func roundTripCases() []struct {
	name string
	ts   []tensor.Named
} {
	return []struct {
		name string
		ts   []tensor.Named
	}{
		{"empty list", nil},
		{"FP32", []tensor.Named{named("x", tensor.MustFrom(tensor.Shape{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, float32(math.NaN())}))}},
		{"UINT8", []tensor.Named{named("u8", tensor.MustFrom(tensor.Shape{3}, []uint8{0, 1, 255}))}},
		{"INT8", []tensor.Named{named("i8", tensor.MustFrom(tensor.Shape{3}, []int8{-128, 0, 127}))}},
		{"UINT16", []tensor.Named{named("u16", tensor.MustFrom(tensor.Shape{2}, []uint16{0, 65535}))}},
		{"INT16", []tensor.Named{named("i16", tensor.MustFrom(tensor.Shape{2}, []int16{-32768, 32767}))}},
		{"INT32", []tensor.Named{named("i32", tensor.MustFrom(tensor.Shape{1, 1, 1}, []int32{-7}))}},
		{"INT64", []tensor.Named{named("i64", tensor.MustFrom(tensor.Shape{2}, []int64{math.MinInt64, math.MaxInt64}))}},
		{"BOOL", []tensor.Named{named("b", tensor.MustFrom(tensor.Shape{3}, []bool{true, false, true}))}},
		{"FP16", []tensor.Named{named("h", tensor.MustFrom(tensor.Shape{2}, []tensor.F16{tensor.F16From(1.5), tensor.F16From(-2)}))}},
		{"FP64", []tensor.Named{named("d", tensor.MustFrom(tensor.Shape{2}, []float64{math.Pi, -0.0}))}},
		{"UINT32", []tensor.Named{named("u32", tensor.MustFrom(tensor.Shape{2}, []uint32{0, math.MaxUint32}))}},
		{"UINT64", []tensor.Named{named("u64", tensor.MustFrom(tensor.Shape{1}, []uint64{math.MaxUint64}))}},
		{"BF16", []tensor.Named{named("bf", tensor.MustFrom(tensor.Shape{2}, []tensor.BF16{tensor.BF16From(3), tensor.BF16From(-0.5)}))}},
		{"BYTES", []tensor.Named{named("s", mustStrings(tensor.Shape{2, 2}, strs("a", "", "héllo", "\x00\xff")))}},
		{"BYTES empty elements", []tensor.Named{named("s", mustStrings(tensor.Shape{3}, strs("", "", "")))}},
		{"BYTES no elements", []tensor.Named{named("s", mustStrings(tensor.Shape{0}, nil))}},
		{"rank 0", []tensor.Named{named("scalar", tensor.MustFrom(tensor.Shape{}, []float32{42}))}},
		{"rank 0 BYTES", []tensor.Named{named("scalar", mustStrings(tensor.Shape{}, strs("one")))}},
		{"empty", []tensor.Named{named("e", tensor.MustNew(tensor.Float32, tensor.Shape{0}))}},
		{"empty inner dim", []tensor.Named{named("e", tensor.MustNew(tensor.Int64, tensor.Shape{2, 0, 3}))}},
		{"rank 16", []tensor.Named{named("r16", tensor.MustNew(tensor.Uint8, tensor.Shape{1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2}))}},
		{"longest name", []tensor.Named{named(strings.Repeat("n", abi.MaxNameLen), tensor.MustFrom(tensor.Shape{1}, []int8{1}))}},
		{"unicode name", []tensor.Named{named("日本語", tensor.MustFrom(tensor.Shape{1}, []int8{1}))}},
		{"mixed", []tensor.Named{
			named("a", tensor.MustFrom(tensor.Shape{3}, []uint8{1, 2, 3})),
			named("bb", mustStrings(tensor.Shape{1}, strs("xyz"))),
			named("ccc", tensor.MustFrom(tensor.Shape{1}, []float64{1})),
			named("dddd", tensor.MustFrom(tensor.Shape{5}, []int16{1, 2, 3, 4, 5})),
			named("eeeee", tensor.MustNew(tensor.Float32, tensor.Shape{})),
		}},
		{"max tensors", manyTensors(abi.MaxTensors)},
	}
}

func mustStrings(shape tensor.Shape, v [][]byte) *tensor.Tensor {
	if v == nil {
		v = [][]byte{}
	}
	t, err := tensor.FromStrings(shape, v)
	if err != nil {
		panic(err)
	}
	return t
}

func manyTensors(n int) []tensor.Named {
	ts := make([]tensor.Named, n)
	for i := range ts {
		ts[i] = named("t"+strings.Repeat("x", i%9)+string(rune('A'+i/9)), tensor.MustFrom(tensor.Shape{1}, []uint8{uint8(i)}))
	}
	return ts
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			// A non-empty, oddly sized prefix: offsets must count from the
			// list start, not from the start of dst.
			prefix := []byte("abc")
			b, err := abi.AppendTensorList(prefix, tc.ts)
			is.NoErr(err)
			is.True(bytes.HasPrefix(b, []byte("abc")))
			list := b[len(prefix):]
			is.Equal(len(list)%abi.Align, 0) // the list ends padded

			offs := dataOffsets(t, list)
			is.Equal(len(offs), len(tc.ts))
			for _, off := range offs {
				is.Equal(off%abi.Align, 0) // data starts 8-aligned
			}

			got, err := abi.DecodeTensorList(list)
			is.NoErr(err)
			is.Equal(len(got), len(tc.ts))
			for i := range got {
				assertSame(t, got[i], tc.ts[i])
			}

			// Nothing decoded may alias the input.
			for i := range list {
				list[i] = 0xAA
			}
			for i := range got {
				assertSame(t, got[i], tc.ts[i])
			}
		})
	}
}

func assertSame(t *testing.T, got, want tensor.Named) {
	t.Helper()
	is := is.NewRelaxed(t)
	is.Equal(got.Name, want.Name)
	is.Equal(got.DType, want.DType)
	is.True(got.Shape.Equal(want.Shape))
	is.True(bytes.Equal(got.Data, want.Data))
	is.Equal(len(got.Strings), len(want.Strings))
	for j := range got.Strings {
		is.True(bytes.Equal(got.Strings[j], want.Strings[j]))
	}
	is.NoErr(got.Validate())
}

// dataOffsets walks a list independently of the decoder and returns where
// each tensor's data starts.
func dataOffsets(t *testing.T, b []byte) []int {
	t.Helper()
	le := binary.LittleEndian
	n := int(le.Uint32(b[4:]))
	off := 8
	var offs []int
	for range n {
		nameLen := int(le.Uint32(b[off:]))
		off += 4 + nameLen + 4
		rank := int(le.Uint32(b[off:]))
		off += 4 + 8*rank
		dataLen := int(le.Uint64(b[off:]))
		off += 8
		off += (8 - off%8) % 8
		offs = append(offs, off)
		off += dataLen
		off += (8 - off%8) % 8
	}
	if off != len(b) {
		t.Fatalf("walked to %d of %d bytes", off, len(b))
	}
	return offs
}

// rawTensor builds encodings by hand, including wrong ones. Nil pointers
// and slices mean "what a correct encoder would write".
type rawTensor struct {
	name      string
	nameLen   *uint32
	dtype     uint32
	rank      *uint32
	dims      []int64
	dataLen   *uint64
	data      []byte
	padBefore []byte
	padAfter  []byte
}

func u32(v uint32) *uint32 { return &v }
func u64(v uint64) *uint64 { return &v }

func rawList(count uint32, ts ...rawTensor) []byte {
	le := binary.LittleEndian
	b := append([]byte(abi.Magic), le.AppendUint32(nil, count)...)
	pad := func(given []byte) {
		if given != nil {
			b = append(b, given...)
			return
		}
		b = append(b, make([]byte, (8-len(b)%8)%8)...)
	}
	for _, t := range ts {
		nameLen := uint32(len(t.name))
		if t.nameLen != nil {
			nameLen = *t.nameLen
		}
		b = le.AppendUint32(b, nameLen)
		b = append(b, t.name...)
		b = le.AppendUint32(b, t.dtype)
		rank := uint32(len(t.dims))
		if t.rank != nil {
			rank = *t.rank
		}
		b = le.AppendUint32(b, rank)
		for _, d := range t.dims {
			b = le.AppendUint64(b, uint64(d))
		}
		dataLen := uint64(len(t.data))
		if t.dataLen != nil {
			dataLen = *t.dataLen
		}
		b = le.AppendUint64(b, dataLen)
		pad(t.padBefore)
		b = append(b, t.data...)
		pad(t.padAfter)
	}
	return b
}

func bytesElems(v ...string) []byte {
	var b []byte
	for _, s := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

var fp32x2 = rawTensor{name: "x", dtype: 1, dims: []int64{2}, data: make([]byte, 8)}

func with(t rawTensor, f func(*rawTensor)) rawTensor { f(&t); return t }

func decodeErrorCases() []struct {
	name string
	b    []byte
	want string
} {
	valid := rawList(1, fp32x2)
	return []struct {
		name string
		b    []byte
		want string
	}{
		{"nil", nil, "shorter than its 8-byte header"},
		{"short header", []byte("WGTL\x00\x00"), "shorter than its 8-byte header"},
		{"bad magic", append([]byte("WGTX"), valid[4:]...), "not the magic"},
		{"count over limit", rawList(257), "exceeds the maximum of 256"},
		{"count past end", rawList(2, fp32x2), "cannot fit"},
		{"count huge", rawList(math.MaxUint32), "exceeds the maximum"},
		{"zero count with tensor", rawList(0, fp32x2), "trailing bytes"},
		{"name_len 0", rawList(1, with(fp32x2, func(t *rawTensor) { t.name = ""; t.data = make([]byte, 16) })), "name_len 0"},
		{"name_len over limit", rawList(1, with(fp32x2, func(t *rawTensor) { t.nameLen = u32(1025) })), "name_len 1025"},
		{"name past end", rawList(1, with(fp32x2, func(t *rawTensor) { t.nameLen = u32(1000) })), "name of 1000 bytes runs past the end"},
		{"name not UTF-8", rawList(1, with(fp32x2, func(t *rawTensor) { t.name = "\xff" })), "not valid UTF-8"},
		{"dtype 0", rawList(1, with(fp32x2, func(t *rawTensor) { t.dtype = 0 })), "dtype 0 is not supported"},
		{"dtype 14", rawList(1, with(fp32x2, func(t *rawTensor) { t.dtype = 14 })), "dtype 14 is not supported"},
		{"dtype 17", rawList(1, with(fp32x2, func(t *rawTensor) { t.dtype = 17 })), "dtype 17 is not supported"},
		{"dtype aliasing FP32 mod 256", rawList(1, with(fp32x2, func(t *rawTensor) { t.dtype = 257 })), "dtype 257 is not supported"},
		{"rank 17", rawList(1, with(fp32x2, func(t *rawTensor) { t.dims = make([]int64, 17) })), "rank 17 exceeds"},
		{"dims past end", rawList(1, with(fp32x2, func(t *rawTensor) { t.rank = u32(16) })), "dims of 128 bytes runs past the end"},
		{"negative dim", rawList(1, with(fp32x2, func(t *rawTensor) { t.dims = []int64{-2} })), "negative"},
		{"too many elements", rawList(1, with(fp32x2, func(t *rawTensor) { t.dims = []int64{1 << 16, 1 << 15} })), "more than 1073741824 elements"},
		{"huge dim", rawList(1, with(fp32x2, func(t *rawTensor) { t.dims = []int64{math.MaxInt64} })), "more than 1073741824 elements"},
		{"data_len short", rawList(1, with(fp32x2, func(t *rawTensor) { t.data = make([]byte, 4) })), "data_len 4 does not match FP32[2]"},
		{"data_len long", rawList(1, with(fp32x2, func(t *rawTensor) { t.data = make([]byte, 16) })), "data_len 16 does not match"},
		{"data past end", rawList(1, with(fp32x2, func(t *rawTensor) { t.data = nil; t.dataLen = u64(8); t.padAfter = []byte{} })), "data of 8 bytes runs past the end"},
		{"data_len huge", rawList(1, with(fp32x2, func(t *rawTensor) { t.dtype = 8; t.dims = []int64{1}; t.dataLen = u64(math.MaxUint64) })), "runs past the end"},
		{"pad before not zero", rawList(1, with(fp32x2, func(t *rawTensor) { t.padBefore = []byte{0, 1, 0} })), "padding before data is not zero"},
		{"pad before missing", rawList(1, with(fp32x2, func(t *rawTensor) { t.padBefore = []byte{}; t.data = bytes.Repeat([]byte{1}, 8) })), "padding before data is not zero"},
		{"pad after not zero", rawList(1, with(fp32x2, func(t *rawTensor) { t.dims = []int64{1}; t.data = make([]byte, 4); t.padAfter = []byte{0, 0, 0, 9} })), "padding after data is not zero"},
		{"pad after missing", rawList(1, with(fp32x2, func(t *rawTensor) { t.dims = []int64{1}; t.data = make([]byte, 4); t.padAfter = []byte{} })), "padding after data"},
		{"trailing bytes", append(rawList(1, fp32x2), make([]byte, 8)...), "8 trailing bytes"},
		{"duplicate names", rawList(2, fp32x2, fp32x2), `duplicate name "x"`},
		{"BOOL not 0 or 1", rawList(1, rawTensor{name: "b", dtype: 9, dims: []int64{2}, data: []byte{1, 2}}), "BOOL element 1 is 2"},
		{"BYTES data_len under 4 per element", rawList(1, rawTensor{name: "s", dtype: 8, dims: []int64{3}, data: bytesElems("", "")}), "too short for 3 BYTES elements"},
		{"BYTES element past data_len", rawList(1, rawTensor{name: "s", dtype: 8, dims: []int64{1}, data: bytesElems("abc")[:6]}), "length 3 runs past data_len"},
		{"BYTES prefix past data_len", rawList(1, rawTensor{name: "s", dtype: 8, dims: []int64{2}, data: append(bytesElems("abcdef"), 0, 0)}), "length prefix runs past data_len"},
		{"BYTES leftover", rawList(1, rawTensor{name: "s", dtype: 8, dims: []int64{1}, data: append(bytesElems("ab"), 'x')}), "1 bytes after the last BYTES element"},
		{"BYTES huge count, little data", rawList(1, rawTensor{name: "s", dtype: 8, dims: []int64{1 << 30}, data: bytesElems("")}), "too short for 1073741824 BYTES elements"},
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range decodeErrorCases() {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			got, err := abi.DecodeTensorList(tc.b)
			is.True(err != nil) // must be rejected
			is.Equal(got, nil)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeValidRaw(t *testing.T) {
	// The hand-built encoding and the encoder agree byte for byte.
	is := is.New(t)
	want, err := abi.AppendTensorList(nil, []tensor.Named{
		named("x", tensor.MustFrom(tensor.Shape{2}, []float32{0, 0})),
		named("s", mustStrings(tensor.Shape{2}, strs("ab", ""))),
	})
	is.NoErr(err)
	got := rawList(2, fp32x2, rawTensor{name: "s", dtype: 8, dims: []int64{2}, data: bytesElems("ab", "")})
	is.Equal(got, want)
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		ts   []tensor.Named
		want string
	}{
		{"empty name", []tensor.Named{named("", tensor.MustNew(tensor.Float32, tensor.Shape{1}))}, "empty name"},
		{"long name", []tensor.Named{named(strings.Repeat("n", 1025), tensor.MustNew(tensor.Float32, tensor.Shape{1}))}, "exceeds the maximum of 1024"},
		{"bad UTF-8", []tensor.Named{named("\xff", tensor.MustNew(tensor.Float32, tensor.Shape{1}))}, "UTF-8"},
		{"nil tensor", []tensor.Named{{Name: "x"}}, "nil tensor"},
		{"duplicate", []tensor.Named{named("x", tensor.MustNew(tensor.Float32, tensor.Shape{1})), named("x", tensor.MustNew(tensor.Float32, tensor.Shape{1}))}, "duplicate name"},
		{"data mismatch", []tensor.Named{named("x", &tensor.Tensor{DType: tensor.Float32, Shape: tensor.Shape{2}, Data: make([]byte, 4)})}, "needs 8 bytes"},
		{"bad dtype", []tensor.Named{named("x", &tensor.Tensor{DType: 14, Shape: tensor.Shape{}})}, "unsupported dtype"},
		{"bad bool", []tensor.Named{named("x", &tensor.Tensor{DType: tensor.Bool, Shape: tensor.Shape{1}, Data: []byte{7}})}, "BOOL element 0 is 7"},
		{"too many", manyTensors(abi.MaxTensors + 1), "exceeds the maximum of 256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			dst := []byte("keep")
			got, err := abi.AppendTensorList(dst, tc.ts)
			is.True(err != nil)
			is.Equal(string(got), "keep")
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestDecodeAllocation checks that a small input cannot make the decoder
// allocate much: the largest claims (count, dims, BYTES elements) are all
// refused or bounded by the bytes present.
func TestDecodeAllocation(t *testing.T) {
	for _, tc := range decodeErrorCases() {
		allocs := testing.AllocsPerRun(10, func() { _, _ = abi.DecodeTensorList(tc.b) })
		if allocs > 20 {
			t.Errorf("%s: %v allocations", tc.name, allocs)
		}
	}
	// 4,096 empty BYTES elements need 16 KiB of prefixes; what is allocated
	// is bounded by that, not by the claimed shape.
	b := rawList(1, rawTensor{name: "s", dtype: 8, dims: []int64{4096}, data: bytesElems(make([]string, 4096)...)})
	var ms1, ms2 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	_, err := abi.DecodeTensorList(b)
	runtime.ReadMemStats(&ms2)
	if err != nil {
		t.Fatal(err)
	}
	if got := ms2.TotalAlloc - ms1.TotalAlloc; got > 8*uint64(len(b)) {
		t.Errorf("decoding %d bytes allocated %d", len(b), got)
	}
}
