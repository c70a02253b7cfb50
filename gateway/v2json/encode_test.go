package v2json

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// sameTensor compares bit-exactly, except that any NaN equals any NaN of the
// same dtype (payloads do not survive JSON).
func sameTensor(a, b *tensor.Tensor) bool {
	if a.DType != b.DType || !a.Shape.Equal(b.Shape) || a.Len() != b.Len() {
		return false
	}
	if a.DType == tensor.Bytes {
		for i := range a.Strings {
			if !bytes.Equal(a.Strings[i], b.Strings[i]) {
				return false
			}
		}
		return true
	}
	if a.DType.IsFloat() {
		for i := range a.Len() {
			x, y := a.Float64At(i), b.Float64At(i)
			if math.IsNaN(x) && math.IsNaN(y) {
				continue
			}
			if x != y || math.Signbit(x) != math.Signbit(y) {
				return false
			}
		}
		return true
	}
	return bytes.Equal(a.Data, b.Data)
}

func TestEncodeResponse(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name string
		out  *tensor.Tensor
		want string // the output object
	}{
		{"FP32", tensor.MustFrom(tensor.Shape{2, 3}, []float32{0.1, -2.5, 1e6, 1e-7, nan, -inf}),
			`{"name":"o","datatype":"FP32","shape":[2,3],"data":[0.1,-2.5,1e+06,1e-07,"NaN","-Infinity"]}`},
		{"FP64", tensor.MustFrom(tensor.Shape{3}, []float64{0.1, math.MaxFloat64, math.Inf(1)}),
			`{"name":"o","datatype":"FP64","shape":[3],"data":[0.1,1.7976931348623157e+308,"Infinity"]}`},
		{"FP16", tensor.MustFrom(tensor.Shape{3}, f16s(0.1, 65504, float32(math.Copysign(0, -1)))),
			`{"name":"o","datatype":"FP16","shape":[3],"data":[0.099975586,65504,-0]}`},
		{"BF16", tensor.MustFrom(tensor.Shape{2}, bf16s(3.14159, -1)),
			`{"name":"o","datatype":"BF16","shape":[2],"data":[3.140625,-1]}`},
		{"UINT8", tensor.MustFrom(tensor.Shape{2}, []uint8{0, 255}), `{"name":"o","datatype":"UINT8","shape":[2],"data":[0,255]}`},
		{"INT8", tensor.MustFrom(tensor.Shape{2}, []int8{-128, 127}), `{"name":"o","datatype":"INT8","shape":[2],"data":[-128,127]}`},
		{"UINT16", tensor.MustFrom(tensor.Shape{1}, []uint16{65535}), `{"name":"o","datatype":"UINT16","shape":[1],"data":[65535]}`},
		{"INT16", tensor.MustFrom(tensor.Shape{1}, []int16{-32768}), `{"name":"o","datatype":"INT16","shape":[1],"data":[-32768]}`},
		{"UINT32", tensor.MustFrom(tensor.Shape{1}, []uint32{4294967295}), `{"name":"o","datatype":"UINT32","shape":[1],"data":[4294967295]}`},
		{"INT32", tensor.MustFrom(tensor.Shape{1}, []int32{-2147483648}), `{"name":"o","datatype":"INT32","shape":[1],"data":[-2147483648]}`},
		{"UINT64", tensor.MustFrom(tensor.Shape{1}, []uint64{math.MaxUint64}), `{"name":"o","datatype":"UINT64","shape":[1],"data":[18446744073709551615]}`},
		{"INT64", tensor.MustFrom(tensor.Shape{2}, []int64{math.MinInt64, 7}), `{"name":"o","datatype":"INT64","shape":[2],"data":[-9223372036854775808,7]}`},
		{"BOOL", tensor.MustFrom(tensor.Shape{2}, []bool{true, false}), `{"name":"o","datatype":"BOOL","shape":[2],"data":[true,false]}`},
		{"scalar", tensor.MustFrom(tensor.Shape{}, []int32{3}), `{"name":"o","datatype":"INT32","shape":[],"data":[3]}`},
		{"empty", tensor.MustFrom(tensor.Shape{0}, []float32{}), `{"name":"o","datatype":"FP32","shape":[0],"data":[]}`},
		{"BYTES text", &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{3}, Strings: [][]byte{[]byte("héllo"), []byte("q\"b\\\n\t\x00\x1f\x7f"), {}}},
			`{"name":"o","datatype":"BYTES","shape":[3],"data":["héllo","q\"b\\\n\t\u0000\u001f` + "\x7f" + `",""]}`},
		{"BYTES binary", &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{2}, Strings: [][]byte{[]byte("ok"), {0xff, 0, 1}}},
			`{"name":"o","datatype":"BYTES","shape":[2],"parameters":{"content_type":"base64"},"data":["b2s=","/wAB"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			got, err := AppendInferResponse(nil, &InferResponse{ModelName: "m", Outputs: []tensor.Named{{Name: "o", Tensor: tc.out}}})
			is.NoErr(err)
			is.Equal(string(got), `{"model_name":"m","outputs":[`+tc.want+`]}`)
			is.True(json.Valid(got))
		})
	}
}

func TestEncodeEnvelope(t *testing.T) {
	is := is.New(t)
	r := &InferResponse{
		ModelName: "mnist", ModelVersion: "2", ID: "req\"1",
		Parameters: Parameters{"z": "s", "a": int64(-1), "b": true, "f": 0.5, "u": uint8(3), "f32": float32(0.1), "n": json.Number("1e3")},
		Outputs: []tensor.Named{
			{Name: "label", Tensor: tensor.MustFrom(tensor.Shape{1}, []int64{7})},
			{Name: "probs", Tensor: tensor.MustFrom(tensor.Shape{1, 2}, []float32{0.25, 0.75})},
		},
	}
	got, err := AppendInferResponse([]byte("prefix:"), r)
	is.NoErr(err)
	is.Equal(string(got), `prefix:{"model_name":"mnist","model_version":"2","id":"req\"1",`+
		`"parameters":{"a":-1,"b":true,"f":0.5,"f32":0.1,"n":1e3,"u":3,"z":"s"},`+
		`"outputs":[{"name":"label","datatype":"INT64","shape":[1],"data":[7]},`+
		`{"name":"probs","datatype":"FP32","shape":[1,2],"data":[0.25,0.75]}]}`)

	got, err = AppendInferResponse(nil, &InferResponse{ModelName: "m"})
	is.NoErr(err)
	is.Equal(string(got), `{"model_name":"m","outputs":[]}`)
}

func TestEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    InferResponse
		msg  string
	}{
		{"nil tensor", InferResponse{Outputs: []tensor.Named{{Name: "o"}}}, `output 0 ("o"): nil tensor`},
		{"inconsistent tensor", InferResponse{Outputs: []tensor.Named{{Name: "o", Tensor: &tensor.Tensor{DType: tensor.Float32, Shape: tensor.Shape{2}, Data: make([]byte, 4)}}}},
			`output 0 ("o"): shape [2] of FP32 needs 8 bytes, got 4`},
		{"bad param type", InferResponse{Parameters: Parameters{"x": []int{1}}}, `parameter "x": unsupported value type []int (want string, bool, an integer or a float)`},
		{"NaN param", InferResponse{Parameters: Parameters{"x": math.NaN()}}, `parameter "x": NaN has no JSON form`},
		{"bad json.Number", InferResponse{Parameters: Parameters{"x": json.Number("1x")}}, `parameter "x": "1x" is not a JSON number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			dst := []byte("keep")
			got, err := AppendInferResponse(dst, &tc.r)
			is.True(err != nil)
			is.Equal(err.Error(), tc.msg)
			is.Equal(fault.KindOf(err), fault.Internal)
			is.Equal(string(got), "keep") // dst unchanged on error
		})
	}
}

func TestAppendError(t *testing.T) {
	is := is.New(t)
	got := AppendError(nil, "input \"x\": bad\n\xff\u2028")
	is.Equal(string(got), `{"error":"input \"x\": bad\n\ufffd`+"\u2028"+`"}`)
	var v struct{ Error string }
	is.NoErr(json.Unmarshal(got, &v))
	is.Equal(v.Error, "input \"x\": bad\n\uFFFD\u2028")
}

// requestFor builds a request body whose inputs are the given tensors, in
// the response's output encoding (the two objects share their form).
func requestFor(ts ...tensor.Named) []byte {
	b := []byte(`{"inputs":[`)
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOutput(b, t)
	}
	return append(b, "]}"...)
}

var allDTypes = []tensor.DType{
	tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16, tensor.Bool,
	tensor.Uint8, tensor.Int8, tensor.Uint16, tensor.Int16, tensor.Uint32, tensor.Int32,
	tensor.Uint64, tensor.Int64, tensor.Bytes,
}

// randomTensor draws a tensor whose elements are arbitrary bit patterns
// (NaNs, infinities, subnormals, invalid UTF-8 included).
func randomTensor(rng *rand.Rand, dt tensor.DType) *tensor.Tensor {
	shape := make(tensor.Shape, rng.IntN(4))
	for i := range shape {
		shape[i] = rng.IntN(5)
	}
	t := tensor.MustNew(dt, shape)
	switch dt {
	case tensor.Bytes:
		for i := range t.Strings {
			s := make([]byte, rng.IntN(8))
			for j := range s {
				if rng.IntN(2) == 0 {
					s[j] = byte(rng.IntN(128))
				} else {
					s[j] = byte(rng.Uint32())
				}
			}
			t.Strings[i] = s
		}
	case tensor.Bool:
		for i := range t.Data {
			t.Data[i] = byte(rng.IntN(2))
		}
	default:
		for i := range t.Data {
			t.Data[i] = byte(rng.Uint32())
		}
	}
	return t
}

func TestRoundTripRandom(t *testing.T) {
	is := is.New(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var ts []tensor.Named
		for j := range 1 + rng.IntN(3) {
			ts = append(ts, tensor.Named{Name: string(rune('a' + j)), Tensor: randomTensor(rng, allDTypes[rng.IntN(len(allDTypes))])})
		}
		body := requestFor(ts...)
		is.True(json.Valid(body))
		r, err := DecodeInferRequest(body, Limits{})
		if err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		is.Equal(len(r.Inputs), len(ts))
		for j := range ts {
			if !sameTensor(r.Inputs[j].Tensor, ts[j].Tensor) {
				t.Fatalf("round trip of %v changed it:\nbody %s", ts[j].Tensor, body)
			}
		}
	}
}

// TestRoundTripFloatsExhaustive checks every FP16 and BF16 value and a sweep
// of FP32 values survive encode→decode.
func TestRoundTripFloatsExhaustive(t *testing.T) {
	h := make([]tensor.F16, 1<<16)
	bf := make([]tensor.BF16, 1<<16)
	for i := range h {
		h[i], bf[i] = tensor.F16(i), tensor.BF16(i)
	}
	f := make([]float32, 1<<16)
	for i := range f {
		f[i] = math.Float32frombits(uint32(i) * 65537)
	}
	for _, tt := range []*tensor.Tensor{
		tensor.MustFrom(tensor.Shape{len(h)}, h),
		tensor.MustFrom(tensor.Shape{len(bf)}, bf),
		tensor.MustFrom(tensor.Shape{len(f)}, f),
	} {
		body := requestFor(tensor.Named{Name: "x", Tensor: tt})
		r, err := DecodeInferRequest(body, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !sameTensor(r.Inputs[0].Tensor, tt) {
			t.Fatalf("%v round trip changed values", tt)
		}
	}
}
