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

func bytesTensor(s string) *tensor.Tensor {
	return &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{[]byte(s)}}
}

// encode runs the module on a text (and a pair when pair is not nil) with
// config and returns its three outputs.
func encode(t *testing.T, config, a string, pair *string, inline int) (status int32, msg string, ids, mask, types []int64) {
	t.Helper()
	h := sdktest.New(t, hostfuncs.Caller{Config: []byte(config)})
	if inline > 0 {
		h.InlineBytes = inline
	}
	in := []tensor.Named{{Name: "text", Tensor: bytesTensor(a)}}
	if pair != nil {
		in = append(in, tensor.Named{Name: "text_pair", Tensor: bytesTensor(*pair)})
	}
	status, msg, out, err := h.Run(in...)
	if err != nil {
		t.Fatal(err)
	}
	if status != sdk.StatusOK {
		return status, msg, nil, nil, nil
	}
	if len(out) != 3 || out[0].Name != "input_ids" || out[1].Name != "attention_mask" || out[2].Name != "token_type_ids" {
		t.Fatalf("outputs %v", out)
	}
	for _, o := range out {
		if o.DType != tensor.Int64 || len(o.Shape) != 2 || o.Shape[0] != 1 || o.Shape[1] != out[0].Shape[1] {
			t.Fatalf("output %s is %v %v", o.Name, o.DType, o.Shape)
		}
	}
	return status, "", tensor.Values[int64](out[0].Tensor), tensor.Values[int64](out[1].Tensor), tensor.Values[int64](out[2].Tensor)
}

func TestDescribe(t *testing.T) {
	is := is.New(t)
	status, out := sdk.Describe(nil)
	is.Equal(status, sdk.StatusOK)
	var d struct {
		Name            string
		Inputs, Outputs []struct {
			Name, Datatype string
			Shape          []int64
			Optional       bool
		}
	}
	is.NoErr(json.Unmarshal(out, &d))
	is.Equal(d.Name, "bert-pre")
	is.Equal(len(d.Inputs), 2)
	is.Equal(d.Inputs[0].Name, "text")
	is.Equal(d.Inputs[1].Name, "text_pair")
	is.True(d.Inputs[1].Optional)
	var names []string
	for _, o := range d.Outputs {
		names = append(names, o.Name)
		is.Equal(o.Datatype, "INT64")
		is.Equal(o.Shape, []int64{1, -1})
	}
	is.Equal(names, []string{"input_ids", "attention_mask", "token_type_ids"})
}

func ones(n int, v int64) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func TestEncode(t *testing.T) {
	is := is.New(t)
	status, msg, ids, mask, types := encode(t, "", "How are you doing?", nil, 0)
	is.Equal(msg, "")
	is.Equal(status, sdk.StatusOK)
	is.Equal(ids, []int64{101, 2129, 2024, 2017, 2725, 1029, 102})
	is.Equal(mask, ones(7, 1))
	is.Equal(types, ones(7, 0))

	pair := "world"
	_, _, ids, mask, types = encode(t, "{}", "hello", &pair, 0)
	is.Equal(ids, []int64{101, 7592, 102, 2088, 102})
	is.Equal(mask, ones(5, 1))
	is.Equal(types, []int64{0, 0, 0, 1, 1})

	_, _, ids, _, _ = encode(t, `{"cased": true}`, "Hello World", nil, 0)
	is.Equal(ids, []int64{101, 8667, 1291, 102})
	_, _, ids, _, _ = encode(t, `{"cased": false}`, "Hello World", nil, 0)
	is.Equal(ids, []int64{101, 7592, 2088, 102})

	// A text over the inline limit arrives host-held.
	_, msg, ids, _, _ = encode(t, "", "Hello World", nil, 4)
	is.Equal(msg, "")
	is.Equal(ids, []int64{101, 7592, 2088, 102})

	// Empty text: just the special tokens.
	_, _, ids, _, _ = encode(t, "", " \t", nil, 0)
	is.Equal(ids, []int64{101, 102})
}

func TestTruncation(t *testing.T) {
	is := is.New(t)
	long := strings.Repeat("hello world ", 500)
	_, _, ids, mask, _ := encode(t, "", long, nil, 0)
	is.Equal(len(ids), 128) // the default max_length
	is.Equal(len(mask), 128)
	is.Equal(ids[0], int64(101))
	is.Equal(ids[127], int64(102))
	is.Equal(ids[1:3], []int64{7592, 2088})

	_, _, ids, _, _ = encode(t, `{"max_length": 512}`, long, nil, 0)
	is.Equal(len(ids), 512)
	_, _, ids, _, _ = encode(t, `{"max_length": 3}`, long, nil, 0)
	is.Equal(ids, []int64{101, 7592, 102})

	q := "what is this?"
	_, _, ids, _, types := encode(t, `{"max_length": 10}`, long, &q, 0)
	// 1000 and 4 tokens into 7, by Hugging Face's longest_first rule: the
	// shorter would keep 4 and the longer 4, 8 is too many, so both are cut
	// to half of 7: the longer keeps 4, the shorter 3.
	is.Equal(ids, []int64{101, 7592, 2088, 7592, 2088, 102, 2054, 2003, 2023, 102})
	is.Equal(types, []int64{0, 0, 0, 0, 0, 0, 1, 1, 1, 1})
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, config, text string
		status             int32
		msg                string
	}{
		{"not UTF-8", "", "caf\xe9", sdk.StatusInvalid, "text: not valid UTF-8"},
		{"unknown option", `{"max_len": 64}`, "hi", sdk.StatusFailed, `unknown option "max_len"`},
		{"max_length too small", `{"max_length": 2}`, "hi", sdk.StatusFailed, `"max_length" must be an integer from 3 to 8192`},
		{"max_length not an integer", `{"max_length": 12.5}`, "hi", sdk.StatusFailed, `"max_length" must be an integer`},
		{"cased not a boolean", `{"cased": "yes"}`, "hi", sdk.StatusFailed, `"cased" must be true or false`},
		{"not an object", `[1]`, "hi", sdk.StatusFailed, "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, msg, _, _, _ := encode(t, tc.config, tc.text, nil, 0)
			if status != tc.status || !strings.Contains(msg, tc.msg) {
				t.Fatalf("status %d %q, want %d with %q", status, msg, tc.status, tc.msg)
			}
		})
	}
	t.Run("no text", func(t *testing.T) {
		h := sdktest.New(t, hostfuncs.Caller{})
		status, msg, _, err := h.Run()
		if err != nil || status != sdk.StatusInvalid || !strings.Contains(msg, "text") {
			t.Fatalf("status %d %q %v", status, msg, err)
		}
	})
	t.Run("pair not UTF-8", func(t *testing.T) {
		bad := "\xff"
		status, msg, _, _, _ := encode(t, "", "ok", &bad, 0)
		if status != sdk.StatusInvalid || msg != "text_pair: not valid UTF-8" {
			t.Fatalf("status %d %q", status, msg)
		}
	})
}

// Every BERT reference case gives the reference ids through the module.
func TestReferenceCases(t *testing.T) {
	b, err := os.ReadFile("../../tokenize/testdata/reference_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]map[string]struct {
		Text     string  `json:"text"`
		TextPair *string `json:"text_pair"`
		IDs      []int64 `json:"ids"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	n := 0
	for group, cases := range ref {
		config := ""
		switch {
		case strings.Contains(group, "uncased"):
		case strings.Contains(group, "cased"):
			config = `{"cased": true}`
		default:
			continue // GPT-2
		}
		for name, c := range cases {
			n++
			status, msg, ids, _, _ := encode(t, config, c.Text, c.TextPair, 0)
			if status != sdk.StatusOK || !slices.Equal(ids, c.IDs) {
				t.Errorf("%s/%s: status %d %q, ids %v, want %v", group, name, status, msg, ids, c.IDs)
			}
		}
	}
	if n != 76 {
		t.Errorf("%d BERT cases, want 76", n)
	}
}
