//go:build !wasip1

package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/guest/sdk"
	"github.com/wasmgate/wasmgate/guest/sdk/sdktest"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func encode(t *testing.T, config, text string, inline int) (status int32, msg string, ids []int64) {
	t.Helper()
	h := sdktest.New(t, hostfuncs.Caller{Config: []byte(config)})
	if inline > 0 {
		h.InlineBytes = inline
	}
	in := &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{[]byte(text)}}
	status, msg, out, err := h.Run(tensor.Named{Name: "text", Tensor: in})
	if err != nil {
		t.Fatal(err)
	}
	if status != sdk.StatusOK {
		return status, msg, nil
	}
	if len(out) != 1 || out[0].Name != "input_ids" || out[0].DType != tensor.Int64 || len(out[0].Shape) != 2 || out[0].Shape[0] != 1 {
		t.Fatalf("outputs %v", out)
	}
	return status, "", tensor.Values[int64](out[0].Tensor)
}

func TestDescribe(t *testing.T) {
	is := is.New(t)
	status, out := sdk.Describe(nil)
	is.Equal(status, sdk.StatusOK)
	is.Equal(string(out), `{"abi":1,"name":"gpt2-pre","inputs":[{"name":"text","datatype":"BYTES","shape":[1]}],"outputs":[{"name":"input_ids","datatype":"INT64","shape":[1,-1]}]}`)
}

func TestEncode(t *testing.T) {
	is := is.New(t)
	status, msg, ids := encode(t, "", "Hello World", 0)
	is.Equal(msg, "")
	is.Equal(status, sdk.StatusOK)
	is.Equal(ids, []int64{15496, 2159})
	_, _, ids = encode(t, "", "Hello<|endoftext|>", 0)
	is.Equal(ids, []int64{15496, 50256})
	_, msg, ids = encode(t, "", "Hello World", 4) // host-held
	is.Equal(msg, "")
	is.Equal(ids, []int64{15496, 2159})

	long := strings.Repeat(" hello", 2000)
	_, _, ids = encode(t, "", long, 0)
	is.Equal(len(ids), 1024)
	_, _, ids = encode(t, `{"max_length": 3}`, "one two three four five", 0)
	is.Equal(ids, []int64{505, 734, 1115})
	_, _, ids = encode(t, `{"max_length": 3, "truncation_side": "left"}`, "one two three four five", 0)
	is.Equal(ids, []int64{1115, 1440, 1936})
	_, _, ids = encode(t, `{"max_length": 3, "truncation_side": "right"}`, "one", 0)
	is.Equal(ids, []int64{505})
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, config, text string
		status             int32
		msg                string
	}{
		{"empty", "", "", sdk.StatusInvalid, "text: empty"},
		{"not UTF-8", "", "\xc3(", sdk.StatusInvalid, "text: not valid UTF-8"},
		{"unknown option", `{"cased": true}`, "hi", sdk.StatusFailed, `unknown option "cased"`},
		{"max_length 0", `{"max_length": 0}`, "hi", sdk.StatusFailed, `"max_length" must be an integer from 1 to 1048576`},
		{"side", `{"truncation_side": "middle"}`, "hi", sdk.StatusFailed, `"truncation_side" must be one of "right", "left"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, msg, _ := encode(t, tc.config, tc.text, 0)
			if status != tc.status || !strings.Contains(msg, tc.msg) {
				t.Fatalf("status %d %q, want %d with %q", status, msg, tc.status, tc.msg)
			}
		})
	}
}

// Every GPT-2 reference case gives the reference ids through the module.
func TestReferenceCases(t *testing.T) {
	b, err := os.ReadFile("../../tokenize/testdata/reference_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]map[string]struct {
		Text string  `json:"text"`
		IDs  []int64 `json:"ids"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, group := range []string{"Xenova/gpt2", "openai-community/gpt2"} {
		for name, c := range ref[group] {
			n++
			status, msg, ids := encode(t, "", c.Text, 0)
			if status != sdk.StatusOK || !slices.Equal(ids, c.IDs) {
				t.Errorf("%s/%s: status %d %q, ids %v, want %v", group, name, status, msg, ids, c.IDs)
			}
		}
	}
	if n != 52 {
		t.Errorf("%d GPT-2 cases, want 52", n)
	}
}
