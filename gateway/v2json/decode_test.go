package v2json

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/matryer/is"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// req wraps one input object's members into a request body.
func req(input string) []byte {
	return []byte(`{"inputs":[{` + input + `}]}`)
}

func decode1(t *testing.T, body []byte) *tensor.Tensor {
	t.Helper()
	r, err := DecodeInferRequest(body, Limits{})
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if len(r.Inputs) != 1 {
		t.Fatalf("decode %s: %d inputs", body, len(r.Inputs))
	}
	if err := r.Inputs[0].Validate(); err != nil {
		t.Fatalf("decode %s: invalid tensor: %v", body, err)
	}
	return r.Inputs[0].Tensor
}

func f16s(v ...float32) []tensor.F16 {
	out := make([]tensor.F16, len(v))
	for i, x := range v {
		out[i] = tensor.F16From(x)
	}
	return out
}

func bf16s(v ...float32) []tensor.BF16 {
	out := make([]tensor.BF16, len(v))
	for i, x := range v {
		out[i] = tensor.BF16From(x)
	}
	return out
}

func TestDecodeDTypes(t *testing.T) {
	inf32, nan32 := float32(math.Inf(1)), float32(math.NaN())
	for _, tc := range []struct {
		name string
		in   string // members of the input object
		want *tensor.Tensor
	}{
		{"FP32", `"name":"x","datatype":"FP32","shape":[2,3],"data":[1,-2.5,0.1,1e-3,3.4028234663852886e38,-0]`,
			tensor.MustFrom(tensor.Shape{2, 3}, []float32{1, -2.5, 0.1, 1e-3, math.MaxFloat32, float32(math.Copysign(0, -1))})},
		{"FP32 specials", `"name":"x","datatype":"FP32","shape":[3],"data":["Infinity","-Infinity","NaN"]`,
			tensor.MustFrom(tensor.Shape{3}, []float32{inf32, -inf32, nan32})},
		{"FP32 underflow rounds to zero", `"name":"x","datatype":"FP32","shape":[2],"data":[1e-50,-1e-400]`,
			tensor.MustFrom(tensor.Shape{2}, []float32{0, float32(math.Copysign(0, -1))})},
		{"FP32 integer syntax", `"name":"x","datatype":"FP32","shape":[2],"data":[16777217,7]`,
			tensor.MustFrom(tensor.Shape{2}, []float32{16777216, 7})},
		{"FP64", `"name":"x","datatype":"FP64","shape":[4],"data":[0.1,-1e308,5e-324,123456789012345678]`,
			tensor.MustFrom(tensor.Shape{4}, []float64{0.1, -1e308, 5e-324, 123456789012345678})},
		{"FP16", `"name":"x","datatype":"FP16","shape":[5],"data":[1,0.1,65504,-2.5e-8,"NaN"]`,
			tensor.MustFrom(tensor.Shape{5}, f16s(1, 0.1, 65504, -2.5e-8, nan32))},
		// 1+2^-11 is halfway between two FP16 values; the extra 1e-15 puts it
		// above, which float32 rounding would erase (double rounding).
		{"FP16 rounds once", `"name":"x","datatype":"FP16","shape":[2],"data":[1.00048828125,1.000488281250001]`,
			tensor.MustFrom(tensor.Shape{2}, []tensor.F16{0x3c00, 0x3c01})},
		{"BF16", `"name":"x","datatype":"BF16","shape":[4],"data":[1,3.140625,-1e38,"-Infinity"]`,
			tensor.MustFrom(tensor.Shape{4}, bf16s(1, 3.140625, -1e38, -inf32))},
		{"BF16 rounds once", `"name":"x","datatype":"BF16","shape":[2],"data":[1.00390625,1.003906250000001]`,
			tensor.MustFrom(tensor.Shape{2}, []tensor.BF16{0x3f80, 0x3f81})},
		{"UINT8", `"name":"x","datatype":"UINT8","shape":[3],"data":[0,255,1e2]`,
			tensor.MustFrom(tensor.Shape{3}, []uint8{0, 255, 100})},
		{"INT8", `"name":"x","datatype":"INT8","shape":[3],"data":[-128,127,-0]`,
			tensor.MustFrom(tensor.Shape{3}, []int8{-128, 127, 0})},
		{"UINT16", `"name":"x","datatype":"UINT16","shape":[2],"data":[65535,3.0]`,
			tensor.MustFrom(tensor.Shape{2}, []uint16{65535, 3})},
		{"INT16", `"name":"x","datatype":"INT16","shape":[2],"data":[-32768,32767]`,
			tensor.MustFrom(tensor.Shape{2}, []int16{-32768, 32767})},
		{"UINT32", `"name":"x","datatype":"UINT32","shape":[2],"data":[4294967295,0.5e1]`,
			tensor.MustFrom(tensor.Shape{2}, []uint32{4294967295, 5})},
		{"INT32", `"name":"x","datatype":"INT32","shape":[2],"data":[-2147483648,2147483647]`,
			tensor.MustFrom(tensor.Shape{2}, []int32{-2147483648, 2147483647})},
		{"UINT64", `"name":"x","datatype":"UINT64","shape":[3],"data":[18446744073709551615,0,1844674407370955161.5e1]`,
			tensor.MustFrom(tensor.Shape{3}, []uint64{math.MaxUint64, 0, 18446744073709551615})},
		{"INT64", `"name":"x","datatype":"INT64","shape":[3],"data":[-9223372036854775808,9223372036854775807,9007199254740993]`,
			tensor.MustFrom(tensor.Shape{3}, []int64{math.MinInt64, math.MaxInt64, 9007199254740993})},
		{"BOOL", `"name":"x","datatype":"BOOL","shape":[3],"data":[true,false,true]`,
			tensor.MustFrom(tensor.Shape{3}, []bool{true, false, true})},
		{"BYTES", `"name":"x","datatype":"BYTES","shape":[4],"data":["hi","","\u00e9\n\"\\\/","\ud83d\ude00\ud800"]`,
			&tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{4}, Strings: [][]byte{[]byte("hi"), {}, []byte("é\n\"\\/"), []byte("😀\uFFFD")}}},
		{"BYTES base64", `"name":"x","datatype":"BYTES","shape":[4],"data":["AAEC/w==","AAEC/w","","aGk\u003d"],"parameters":{"content_type":"base64"}`,
			&tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{4}, Strings: [][]byte{{0, 1, 2, 255}, {0, 1, 2, 255}, {}, []byte("hi")}}},
		{"scalar", `"name":"x","datatype":"INT32","shape":[],"data":[7]`,
			tensor.MustFrom(tensor.Shape{}, []int32{7})},
		{"empty", `"name":"x","datatype":"FP32","shape":[0,3],"data":[]`,
			tensor.MustFrom(tensor.Shape{0, 3}, []float32{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			got := decode1(t, req(tc.in))
			is.True(sameTensor(got, tc.want)) // got vs want
		})
	}
}

func TestDecodeNesting(t *testing.T) {
	flat := tensor.MustFrom(tensor.Shape{2, 2, 2}, []int32{1, 2, 3, 4, 5, 6, 7, 8})
	for _, tc := range []struct{ name, data string }{
		{"flat", `[1,2,3,4,5,6,7,8]`},
		{"as shape", `[[[1,2],[3,4]],[[5,6],[7,8]]]`},
		{"partial", `[[1,2,3,4],[5,6,7,8]]`},
		{"ragged", `[1,[2,[3,[4]]],[],[[5,6]],7,[[[8]]]]`},
		{"spaces", " [ [ 1 ,2\n,3\t,4 ] , [5,6,7,8\r\n] ] "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			got := decode1(t, req(`"name":"x","datatype":"INT32","shape":[2,2,2],"data":`+tc.data))
			is.True(sameTensor(got, flat))
		})
	}
}

func TestDecodeEnvelope(t *testing.T) {
	is := is.New(t)
	body := `{
		"id": "req-\u00e91",
		"unknown": {"deep": [1, {"x": null}, "s", true, false, -1.5e3]},
		"parameters": {"s": "v", "b": true, "f": false, "i": -42, "big": 9223372036854775808, "x": 1.5, "e": 1e2, "n": null},
		"outputs": [{"name": "probs", "parameters": {"binary_data": false}}, {"name": "label", "extra": 1}],
		"inputs": [
			{"data": [1, 2], "shape": [2], "name": "a", "datatype": "INT64", "parameters": {"k": 1}},
			{"\u006eame": "b", "datatype": "BYTES", "data": ["aGk="], "parameters": {"content_type": "base64"}, "shape": [1]},
			{"name": "c", "datatype": "BOOL", "shape": [1], "data": [true], "parameters": null, "extra": [[[]]]}
		]
	}`
	r, err := DecodeInferRequest([]byte(body), Limits{})
	is.NoErr(err)
	is.Equal(r.ID, "req-é1")
	is.Equal(r.Parameters, Parameters{"s": "v", "b": true, "f": false, "i": int64(-42), "big": 9223372036854775808.0, "x": 1.5, "e": 100.0})
	is.Equal(r.Outputs, []RequestedOutput{{Name: "probs", Parameters: Parameters{"binary_data": false}}, {Name: "label"}})
	is.Equal(len(r.Inputs), 3)
	is.Equal(r.Inputs[0].Name, "a")
	is.True(sameTensor(r.Inputs[0].Tensor, tensor.MustFrom(tensor.Shape{2}, []int64{1, 2})))
	is.Equal(r.Inputs[0].Parameters, Parameters{"k": int64(1)})
	is.Equal(r.Inputs[1].Name, "b")
	is.Equal(string(r.Inputs[1].Strings[0]), "hi")
	is.Equal(r.Inputs[2].Parameters, nil)

	// Optional parts absent or null.
	r, err = DecodeInferRequest([]byte(`{"id":null,"parameters":null,"outputs":null,"inputs":[{"name":"a","datatype":"BOOL","shape":[1],"data":[false]}]}`), Limits{})
	is.NoErr(err)
	is.Equal(r.ID, "")
	is.Equal(r.Parameters, nil)
	is.Equal(r.Outputs, nil)
	r, err = DecodeInferRequest([]byte(`{"outputs":[],"inputs":[{"name":"a","datatype":"BOOL","shape":[1],"data":[false]}]}`), Limits{})
	is.NoErr(err)
	is.Equal(r.Outputs, nil) // no outputs named: all of them
}

func TestDecodeDoesNotAlias(t *testing.T) {
	is := is.New(t)
	body := req(`"name":"x","datatype":"BYTES","shape":[1],"data":["abc"]`)
	r, err := DecodeInferRequest(body, Limits{})
	is.NoErr(err)
	for i := range body {
		body[i] = 'z'
	}
	is.Equal(string(r.Inputs[0].Strings[0]), "abc")
	is.Equal(r.Inputs[0].Name, "x")
}

func TestDecodeErrors(t *testing.T) {
	deep := `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":` + strings.Repeat("[", 70) + "1" + strings.Repeat("]", 70) + `}]}`
	deepUnknown := `{"u":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"inputs":[]}`
	for _, tc := range []struct {
		name, body string
		kind       fault.Kind
		msg        string
	}{
		// Malformed JSON and the body as a whole.
		{"empty", ``, fault.Invalid, "empty body: expected a JSON inference request object"},
		{"only spaces", " \n\t ", fault.Invalid, "empty body: expected a JSON inference request object"},
		{"not an object", `[1]`, fault.Invalid, "the body must be a JSON object (an inference request), got an array"},
		{"truncated", `{"inputs":[{"name":"x"`, fault.Invalid, `input "x": inputs[0]: invalid JSON: unexpected end of body, expected ',' or '}'`},
		{"truncated data", "{\"inputs\":[{\"name\":\"0\",\"datatype\":\"FP32\",\"shape\":[],\"data\":[ ", fault.Invalid, `input "0": inputs[0].data[0]: expected a number for FP32, got the end of the body`},
		{"NUL byte", "\x00", fault.Invalid, `the body must be a JSON object (an inference request), got '\x00'`},
		{"missing comma in data", `{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1 2]}]}`, fault.Invalid, `input "x": inputs[0].data: invalid JSON at byte 63: unexpected '2', expected ',' or ']'`},
		{"trailing garbage", `{"inputs":[{"name":"x","datatype":"BOOL","shape":[1],"data":[true]}]} x`, fault.Invalid, "invalid JSON at byte 70: unexpected data after the request object"},
		{"two objects", `{"inputs":[{"name":"x","datatype":"BOOL","shape":[1],"data":[true]}]}{}`, fault.Invalid, "invalid JSON at byte 69: unexpected data after the request object"},
		{"bad UTF-8", "{\"id\":\"\xff\"}", fault.Invalid, "invalid JSON: body is not valid UTF-8 (first bad byte at offset 7)"},
		{"missing colon", `{"inputs" []}`, fault.Invalid, `invalid JSON at byte 10: unexpected '[', expected ':'`},
		{"trailing comma", `{"inputs":[{"name":"x","datatype":"INT8","shape":[2],"data":[1,2,]}]}`, fault.Invalid, `input "x": inputs[0].data[2]: expected an integer for INT8, got ']'`},
		{"raw control char", "{\"id\":\"a\nb\"}", fault.Invalid, `invalid JSON at byte 8: unexpected '\n', expected a string without raw control characters (escape them)`},
		{"bad escape", `{"id":"a\x"}`, fault.Invalid, `invalid JSON at byte 8: unexpected '\\', expected a valid escape (\" \\ \/ \b \f \n \r \t \uXXXX)`},
		{"bad literal", `{"id":nul}`, fault.Invalid, `id: must be a string, got null`},
		{"bad number", `{"x":01,"inputs":[]}`, fault.Invalid, `invalid JSON at byte 6: unexpected '1', expected ',' or '}'`},
		{"bad fraction", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1.]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: invalid JSON at byte 63: unexpected ']', expected a digit after the decimal point`},
		{"deep data", deep, fault.Invalid, `input "x": inputs[0].data[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: invalid JSON at byte 122: nested deeper than 64 levels`},
		{"deep unknown", deepUnknown, fault.Invalid, `invalid JSON at byte 69: nested deeper than 64 levels`},
		{"duplicate top key", `{"inputs":[],"inputs":[]}`, fault.Invalid, `inputs: must not be empty: a request needs at least one input`},
		{"duplicate top key 2", `{"id":"a","id":"b"}`, fault.Invalid, `duplicate key "id" in the request object`},

		// Missing and mistyped fields.
		{"no inputs", `{"id":"a"}`, fault.Invalid, `missing "inputs": a request needs at least one input`},
		{"null inputs", `{"inputs":null}`, fault.Invalid, `inputs: must be a non-empty array of input objects, got null`},
		{"inputs not array", `{"inputs":{}}`, fault.Invalid, `inputs: must be a non-empty array of input objects, got an object`},
		{"input not object", `{"inputs":[1]}`, fault.Invalid, `inputs[0]: must be an object, got a number`},
		{"id not string", `{"id":1,"inputs":[]}`, fault.Invalid, `id: must be a string, got a number`},
		{"missing name", `{"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]}`, fault.Invalid, `inputs[0]: missing "name"`},
		{"empty name", `{"inputs":[{"name":"","datatype":"FP32","shape":[1],"data":[1]}]}`, fault.Invalid, `inputs[0].name: must not be empty`},
		{"name not string", `{"inputs":[{"name":5}]}`, fault.Invalid, `inputs[0].name: must be a string, got a number`},
		{"missing datatype", `{"inputs":[{"name":"x","shape":[1],"data":[1]}]}`, fault.Invalid, `input "x": inputs[0]: missing "datatype"`},
		{"missing shape", `{"inputs":[{"name":"x","datatype":"FP32","data":[1]}]}`, fault.Invalid, `input "x": inputs[0]: missing "shape"`},
		{"missing data", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]}`, fault.Invalid, `input "x": inputs[0]: missing "data"`},
		{"duplicate input key", `{"inputs":[{"name":"x","shape":[1],"shape":[2]}]}`, fault.Invalid, `input "x": inputs[0]: duplicate key "shape"`},
		{"duplicate input names", `{"inputs":[{"name":"x","datatype":"BOOL","shape":[1],"data":[true]},{"name":"x","datatype":"BOOL","shape":[1],"data":[true]}]}`, fault.Invalid, `input "x": inputs[1]: duplicate input name (also inputs[0])`},
		{"bad datatype", `{"inputs":[{"name":"x","datatype":"FLOAT32","shape":[1],"data":[1]}]}`, fault.Invalid, `input "x": inputs[0].datatype: unknown datatype "FLOAT32" (want one of FP32, UINT8, INT8, UINT16, INT16, INT32, INT64, BYTES, BOOL, FP16, FP64, UINT32, UINT64, BF16)`},
		{"lower-case datatype", `{"inputs":[{"name":"x","datatype":"fp32","shape":[1],"data":[1]}]}`, fault.Invalid, `input "x": inputs[0].datatype: unknown datatype "fp32" (want one of FP32, UINT8, INT8, UINT16, INT16, INT32, INT64, BYTES, BOOL, FP16, FP64, UINT32, UINT64, BF16)`},
		{"datatype not string", `{"inputs":[{"name":"x","datatype":1}]}`, fault.Invalid, `input "x": inputs[0].datatype: must be a string, got a number`},
		{"data not array", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":1}]}`, fault.Invalid, `input "x": inputs[0].data: must be an array of FP32 elements, got a number`},
		{"data not array deferred", `{"inputs":[{"data":"abc","name":"x","datatype":"BYTES","shape":[1]}]}`, fault.Invalid, `input "x": inputs[0].data: must be an array of BYTES elements, got a string`},
		{"params not object", `{"parameters":[1],"inputs":[]}`, fault.Invalid, `parameters: must be an object, got an array`},
		{"param value object", `{"parameters":{"h":{}},"inputs":[]}`, fault.Invalid, `parameters: parameter "h": must be a string, number or boolean, got an object`},
		{"param duplicate", `{"parameters":{"a":1,"a":2},"inputs":[]}`, fault.Invalid, `parameters: duplicate parameter "a"`},
		{"param out of range", `{"parameters":{"a":1e400},"inputs":[]}`, fault.Invalid, `parameters: parameter "a": 1e400 is out of range for a 64-bit float`},
		{"input param bad", `{"inputs":[{"name":"x","parameters":{"a":[1]}}]}`, fault.Invalid, `input "x": inputs[0].parameters: parameter "a": must be a string, number or boolean, got an array`},
		{"output missing name", `{"inputs":[{"name":"x","datatype":"BOOL","shape":[1],"data":[true]}],"outputs":[{}]}`, fault.Invalid, `outputs[0]: missing "name"`},
		{"output duplicate", `{"outputs":[{"name":"y"},{"name":"y"}],"inputs":[]}`, fault.Invalid, `output "y": outputs[1]: duplicate output name (also outputs[0])`},
		{"outputs not array", `{"outputs":"y","inputs":[]}`, fault.Invalid, `outputs: must be an array of output objects, got a string`},

		// Shapes.
		{"shape not array", `{"inputs":[{"name":"x","datatype":"FP32","shape":3,"data":[1]}]}`, fault.Invalid, `input "x": inputs[0].shape: must be an array of non-negative integers, got a number`},
		{"negative dim", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,-1],"data":[1]}]}`, fault.Invalid, `input "x": inputs[0].shape: [1]: -1 is negative; dimensions must be non-negative (variable dimensions, -1, are for metadata, not requests)`},
		{"fractional dim", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1.5],"data":[1]}]}`, fault.Invalid, `input "x": inputs[0].shape: [0]: 1.5 is not an integer`},
		{"string dim", `{"inputs":[{"name":"x","datatype":"FP32","shape":["1"],"data":[1]}]}`, fault.Invalid, `input "x": inputs[0].shape: [0]: must be a non-negative integer, got a string`},
		{"dim over uint64", `{"inputs":[{"name":"x","datatype":"FP32","shape":[18446744073709551616],"data":[1]}]}`, fault.Invalid, `input "x": inputs[0].shape: [0]: 18446744073709551616 does not fit in an unsigned 64-bit integer`},
		{"dim over int", `{"inputs":[{"name":"x","datatype":"FP32","shape":[18446744073709551615],"data":[1]}]}`, fault.TooLarge, `input "x": inputs[0].shape: [0]: 18446744073709551615 is larger than this server supports`},
		{"product too large", `{"inputs":[{"name":"x","datatype":"FP32","shape":[65536,65536],"data":[1]}]}`, fault.TooLarge, `input "x": inputs[0].shape: shape [65536 65536] has more than 1073741824 elements`},
		{"rank too large", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data":[1]}]}`, fault.TooLarge, `input "x": inputs[0].shape: more than 16 dimensions`},
		{"over limit", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1001],"data":[1]}]}`, fault.TooLarge, `input "x": inputs[0].shape: shape [1001] has 1001 elements, over the limit of 1000 per input`},
		{"body too short", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1000],"data":[1]}]}`, fault.Invalid, `input "x": inputs[0].data: shape [1000] needs 1000 elements but the data takes only 6 bytes of the body, too few to hold them`},

		// Data.
		{"too few", `{"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,1,2,2],"data":[[1,2],[3]]}]}`, fault.Invalid, `input "pixels": inputs[0].data: shape [1,1,2,2] needs 4 elements, data has 3`},
		{"too many", `{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,2,3]}]}`, fault.Invalid, `input "x": inputs[0].data: shape [2] needs 2 elements, data has 3`},
		{"too many deferred", `{"inputs":[{"data":[1,2,3],"name":"x","datatype":"FP32","shape":[2]}]}`, fault.Invalid, `input "x": inputs[0].data: shape [2] needs 2 elements, data has 3`},
		{"uint8 range", `{"inputs":[{"name":"x","datatype":"UINT8","shape":[2,2],"data":[[1,2],[256,4]]}]}`, fault.Invalid, `input "x": inputs[0].data[1][0] (element 2): 256 is out of range for UINT8 (0 to 255)`},
		{"int8 range", `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[-129]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: -129 is out of range for INT8 (-128 to 127)`},
		{"uint negative", `{"inputs":[{"name":"x","datatype":"UINT32","shape":[1],"data":[-1]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: -1 is out of range for UINT32 (0 to 4294967295)`},
		{"int64 range", `{"inputs":[{"name":"x","datatype":"INT64","shape":[1],"data":[9223372036854775808]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: 9223372036854775808 is out of range for INT64 (-9223372036854775808 to 9223372036854775807)`},
		{"uint64 range", `{"inputs":[{"name":"x","datatype":"UINT64","shape":[1],"data":[1e20]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: 1e20 is out of range for UINT64 (0 to 18446744073709551615)`},
		{"non-integral", `{"inputs":[{"name":"x","datatype":"INT32","shape":[2],"data":[1,2.5]}]}`, fault.Invalid, `input "x": inputs[0].data[1]: 2.5 is not an integer, as INT32 needs`},
		{"non-integral exp", `{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[1e-1]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: 1e-1 is not an integer, as INT32 needs`},
		{"int from bool", `{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[true]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: expected an integer for INT32, got true`},
		{"int from string", `{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":["1"]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: expected an integer for INT32, got a string`},
		{"float from null", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[null]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: expected a number for FP32, got null`},
		{"float from string", `{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":["nan"]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: expected a number for FP64, got the string "nan" (only "NaN", "Infinity" and "-Infinity" are accepted as strings)`},
		{"float from object", `{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":[{}]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: expected a number for FP64, got an object`},
		{"fp32 overflow", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1e39]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: 1e39 is out of range for FP32`},
		{"fp64 overflow", `{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":[-1e309]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: -1e309 is out of range for FP64`},
		{"fp16 overflow", `{"inputs":[{"name":"x","datatype":"FP16","shape":[1],"data":[65520]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: 65520 is out of range for FP16`},
		{"bf16 overflow", `{"inputs":[{"name":"x","datatype":"BF16","shape":[1],"data":[3.4e38]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: 3.4e38 is out of range for BF16`},
		{"bool from number", `{"inputs":[{"name":"x","datatype":"BOOL","shape":[1],"data":[1]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: expected true or false for BOOL, got a number`},
		{"bytes from number", `{"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":[1]}]}`, fault.Invalid, `input "x": inputs[0].data[0]: expected a string for BYTES, got a number`},
		{"bad base64", `{"inputs":[{"name":"img","datatype":"BYTES","shape":[2],"parameters":{"content_type":"base64"},"data":["aGk=","a$b="]}]}`, fault.Invalid, `input "img": inputs[0].data[1]: invalid base64 (the input's parameters say "content_type": "base64"): illegal base64 data at input byte 1`},
		{"bad base64 length", `{"inputs":[{"name":"img","datatype":"BYTES","shape":[1],"parameters":{"content_type":"base64"},"data":["abcde"]}]}`, fault.Invalid, `input "img": inputs[0].data[0]: invalid base64 (the input's parameters say "content_type": "base64"): illegal base64 data at input byte 4`},
		{"bytes too few", `{"inputs":[{"name":"x","datatype":"BYTES","shape":[3],"data":["a",[]]}]}`, fault.Invalid, `input "x": inputs[0].data: shape [3] needs 3 elements but the data takes only 8 bytes of the body, too few to hold them`},
		{"bytes count", `{"inputs":[{"name":"x","datatype":"BYTES","shape":[2],"data":["a",[],"bb","c"]}]}`, fault.Invalid, `input "x": inputs[0].data: shape [2] needs 2 elements, data has 3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			lim := Limits{}
			if tc.name == "over limit" {
				lim.MaxElements = 1000
			}
			r, err := DecodeInferRequest([]byte(tc.body), lim)
			is.True(err != nil) // an error
			is.Equal(r, nil)
			is.Equal(fault.KindOf(err), tc.kind)
			is.Equal(err.Error(), tc.msg)
			var fe *fault.Error
			is.True(errors.As(err, &fe))
		})
	}
}

// randomDecimal draws a JSON number text of the kinds clients send and of
// the kinds that stress rounding (long mantissas, halfway cases, exponents).
func randomDecimal(rng *rand.Rand) string {
	var b []byte
	if rng.IntN(2) == 0 {
		b = append(b, '-')
	}
	nInt := 1 + rng.IntN(12)
	for i := range nInt {
		c := byte('0' + rng.IntN(10))
		if i == 0 && nInt > 1 && c == '0' {
			c = '1'
		}
		b = append(b, c)
	}
	if nInt == 1 && rng.IntN(2) == 0 {
		b[len(b)-1] = '0'
	}
	if rng.IntN(3) > 0 {
		b = append(b, '.')
		for range 1 + rng.IntN(22) {
			b = append(b, byte('0'+rng.IntN(10)))
		}
	}
	if rng.IntN(3) == 0 {
		b = append(b, "eE"[rng.IntN(2)])
		b = strconv.AppendInt(b, int64(rng.IntN(90)-45), 10)
	}
	return string(b)
}

func TestFloatParsing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		s := randomDecimal(rng)
		d := decoder{buf: []byte(s)}
		n, err := d.number()
		if err != nil || d.pos != len(s) {
			t.Fatalf("number(%q): %v at %d", s, err, d.pos)
		}
		want32, err32 := strconv.ParseFloat(s, 32)
		got32, ok32 := n.float32()
		if ok32 != (err32 == nil || !math.IsInf(want32, 0)) || (ok32 && math.Float32bits(got32) != math.Float32bits(float32(want32))) {
			t.Fatalf("float32(%q) = %v, %v; strconv says %v, %v", s, got32, ok32, want32, err32)
		}
		want64, err64 := strconv.ParseFloat(s, 64)
		got64, ok64 := n.float64()
		if ok64 != (err64 == nil || !math.IsInf(want64, 0)) || (ok64 && math.Float64bits(got64) != math.Float64bits(want64)) {
			t.Fatalf("float64(%q) = %v, %v; strconv says %v, %v", s, got64, ok64, want64, err64)
		}
		// FP16 and BF16 must be the decimal rounded once; big.Float rounds
		// exactly (in the normal range, as its exponent is unbounded).
		exact, _, err := big.ParseFloat(s, 10, 1000, big.ToNearestEven)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			dt       tensor.DType
			prec     uint
			min, max float64
		}{{tensor.Float16, 11, 6.103515625e-05, 65504}, {tensor.BFloat16, 8, 1.1754943508222875e-38, 3.3895313892515355e+38}} {
			if a := math.Abs(got64); a < c.min || a > c.max {
				continue
			}
			want, _ := new(big.Float).SetPrec(c.prec).SetMode(big.ToNearestEven).Set(exact).Float64()
			if got := narrow(c.dt, got64); got != want {
				t.Fatalf("%v(%q) = %v, want %v", c.dt, s, got, want)
			}
		}
	}
}
