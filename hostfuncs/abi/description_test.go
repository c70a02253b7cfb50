package abi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// docExample is the description in docs/ABI.md §3.
const docExample = `{
  "abi": 1,
  "name": "mnist-pre",
  "inputs":  [{"name": "image",  "datatype": "BYTES", "shape": [1], "optional": true},
              {"name": "pixels", "datatype": "FP32",  "shape": [1, 1, 28, 28], "optional": true}],
  "outputs": [{"name": "input",  "datatype": "FP32",  "shape": [1, 1, 28, 28]}]
}`

func TestDecodeDescription(t *testing.T) {
	is := is.New(t)
	d, err := abi.DecodeDescription([]byte(docExample))
	is.NoErr(err)
	is.Equal(d, abi.Description{
		ABI:  1,
		Name: "mnist-pre",
		Inputs: []abi.TensorSpec{
			{Name: "image", DType: tensor.Bytes, Shape: []int64{1}, Optional: true},
			{Name: "pixels", DType: tensor.Float32, Shape: []int64{1, 1, 28, 28}, Optional: true},
		},
		Outputs: []abi.TensorSpec{{Name: "input", DType: tensor.Float32, Shape: []int64{1, 1, 28, 28}}},
	})

	b, err := json.Marshal(d)
	is.NoErr(err)
	again, err := abi.DecodeDescription(b)
	is.NoErr(err)
	is.Equal(again, d)
}

func TestDecodeDescriptionAccepts(t *testing.T) {
	tests := []struct {
		name, json string
	}{
		{"scalar and wildcard", `{"abi":1,"name":"m","inputs":[{"name":"s","datatype":"INT64","shape":[]}],"outputs":[{"name":"y","datatype":"FP16","shape":[-1,3]}]}`},
		{"unknown members ignored", `{"abi":1,"future":true,"inputs":[{"name":"x","datatype":"BOOL","shape":[1],"doc":"?"}],"outputs":[]}`},
		{"no name, no lists", `{"abi":1}`},
		{"same name in and out", `{"abi":1,"inputs":[{"name":"x","datatype":"FP32","shape":[1]}],"outputs":[{"name":"x","datatype":"FP32","shape":[1]}]}`},
		{"every datatype", `{"abi":1,"inputs":[` + everyDatatype() + `]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := abi.DecodeDescription([]byte(tc.json))
			is.NoErr(err)
		})
	}
}

func everyDatatype() string {
	var specs []string
	for _, dt := range []string{"FP32", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "BYTES", "BOOL", "FP16", "FP64", "UINT32", "UINT64", "BF16"} {
		specs = append(specs, `{"name":"`+dt+`","datatype":"`+dt+`","shape":[1]}`)
	}
	return strings.Join(specs, ",")
}

func TestDecodeDescriptionErrors(t *testing.T) {
	spec := func(s string) string { return `{"abi":1,"inputs":[` + s + `]}` }
	tests := []struct {
		name, json, want string
	}{
		{"empty", ``, "unexpected end of JSON"},
		{"not JSON", `abi=1`, "invalid character"},
		{"array", `[]`, "cannot unmarshal array"},
		{"trailing data", `{"abi":1} {}`, "invalid character"},
		{"missing abi", `{"name":"m"}`, `missing "abi"`},
		{"abi 2", `{"abi":2}`, "ABI version 2"},
		{"abi 0", `{"abi":0}`, "ABI version 0"},
		{"abi string", `{"abi":"1"}`, "cannot unmarshal string"},
		{"missing name", spec(`{"datatype":"FP32","shape":[1]}`), `inputs[0]: missing "name"`},
		{"empty name", spec(`{"name":"","datatype":"FP32","shape":[1]}`), "empty name"},
		{"long name", spec(`{"name":"` + strings.Repeat("n", 1025) + `","datatype":"FP32","shape":[1]}`), "exceeds the maximum of 1024"},
		{"missing datatype", spec(`{"name":"x","shape":[1]}`), `missing "datatype"`},
		{"bad datatype", spec(`{"name":"x","datatype":"FLOAT","shape":[1]}`), `datatype "FLOAT" is not supported`},
		{"lowercase datatype", spec(`{"name":"x","datatype":"fp32","shape":[1]}`), `datatype "fp32"`},
		{"missing shape", spec(`{"name":"x","datatype":"FP32"}`), `missing "shape"`},
		{"null shape", spec(`{"name":"x","datatype":"FP32","shape":null}`), `missing "shape"`},
		{"dim -2", spec(`{"name":"x","datatype":"FP32","shape":[3,-2]}`), "dim 1 is -2"},
		{"fractional dim", spec(`{"name":"x","datatype":"FP32","shape":[1.5]}`), "cannot unmarshal number 1.5"},
		{"rank 17", spec(`{"name":"x","datatype":"FP32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}`), "rank 17"},
		{"duplicate input", spec(`{"name":"x","datatype":"FP32","shape":[1]},{"name":"x","datatype":"INT8","shape":[1]}`), `inputs[1] "x": duplicate name`},
		{"duplicate output", `{"abi":1,"outputs":[{"name":"y","datatype":"FP32","shape":[1]},{"name":"y","datatype":"FP32","shape":[1]}]}`, `outputs[1] "y": duplicate name`},
		{"optional output", `{"abi":1,"outputs":[{"name":"y","datatype":"FP32","shape":[1],"optional":true}]}`, "outputs cannot be optional"},
		{"too many inputs", `{"abi":1,"inputs":[` + strings.Repeat(`{},`, 256) + `{}]}`, "257 inputs exceed the maximum of 256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := abi.DecodeDescription([]byte(tc.json))
			is.True(err != nil) // must be rejected
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestTensorSpecJSON(t *testing.T) {
	is := is.New(t)
	b, err := json.Marshal(abi.TensorSpec{Name: "s", DType: tensor.Int64})
	is.NoErr(err)
	is.Equal(string(b), `{"name":"s","datatype":"INT64","shape":[]}`)
	var s abi.TensorSpec
	is.NoErr(json.Unmarshal([]byte(`{"name":"x","datatype":"BF16","shape":[-1],"optional":true}`), &s))
	is.Equal(s, abi.TensorSpec{Name: "x", DType: tensor.BFloat16, Shape: []int64{-1}, Optional: true})
	is.True(json.Unmarshal([]byte(`{"name":"x","datatype":"NOPE","shape":[]}`), &s) != nil)
}
