package hostfuncs

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// image_decode takes a guest's bytes: any of them decode to a tensor of the
// declared size within the budget, or fail cleanly, and never panic.
func FuzzDecodeImage(f *testing.F) {
	img := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(1, 1, color.NRGBA{R: 255, A: 128})
	var p, j bytes.Buffer
	if err := png.Encode(&p, img); err != nil {
		f.Fatal(err)
	}
	if err := jpeg.Encode(&j, img, nil); err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{p.Bytes(), j.Bytes(), []byte("GIF89a"), nil, p.Bytes()[:20]} {
		for _, ch := range []uint8{1, 3, 4} {
			f.Add(seed, ch)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, channels uint8) {
		const budget = 1 << 20
		got, err := DecodeImage(b, int(channels), budget)
		if err != nil {
			return
		}
		if len(got.Shape) != 3 || got.Shape[2] != int(channels) || got.ByteSize() > budget {
			t.Fatalf("decoded to %v (%d bytes) with %d channels and a budget of %d", got.Shape, got.ByteSize(), channels, budget)
		}
	})
}

// The op host function's attributes are a guest's JSON: parsing answers
// attributes or an error, and never panics.
func FuzzParseAttrs(f *testing.F) {
	for _, seed := range []string{
		`{"axis":1,"keepdims":0}`, `{"alpha":0.5,"perm":[1,0,2]}`, `{"mode":"constant","names":["a","b"]}`,
		`{"value":{"datatype":"FP32","shape":[2],"data":[1,2]}}`, `{"value":{"datatype":"INT64","shape":[1<<40],"data":[]}}`,
		`{"x":[1,2.5]}`, `{"x":[[1]]}`, `{"x":null}`, `{"x":1e400}`, `[]`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		attrs, err := parseAttrs(b)
		if err != nil {
			return
		}
		for name, a := range attrs {
			if a == nil {
				t.Fatalf("attribute %q parsed to nil", name)
			}
			if a.Tensor != nil {
				if verr := a.Tensor.Validate(); verr != nil {
					t.Fatalf("attribute %q holds an invalid tensor: %v", name, verr)
				}
			}
		}
	})
}
