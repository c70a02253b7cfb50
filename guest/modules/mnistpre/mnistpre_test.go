//go:build !wasip1

package main

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/guest/sdk"
	"github.com/wasmgate/wasmgate/guest/sdk/sdktest"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

var mnistDir = filepath.Join("..", "..", "..", "testdata", "mnist")

func digit(t *testing.T) *image.Gray {
	t.Helper()
	f, err := os.Open(filepath.Join(mnistDir, "8_28x28.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok || g.Bounds() != image.Rect(0, 0, 28, 28) {
		t.Fatalf("test image is %T %v, want a 28×28 *image.Gray", img, img.Bounds())
	}
	return g
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is a PNG that stops after IHDR: enough for DecodeConfig, so
// size limits can be tested without building huge images.
func pngHeader(w, h uint32, colorType, interlace byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, colorType, 0, 0, interlace)
	chunk := append([]byte("IHDR"), ihdr...)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)))
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

// call runs the module's stage as wasmgate_run would, with the real host
// functions behind the SDK.
func call(t *testing.T, ts ...sdk.Tensor) (int32, string, []float32) {
	t.Helper()
	sdktest.New(t, hostfuncs.Caller{})
	in, err := sdk.AppendTensorList(nil, ts)
	if err != nil {
		t.Fatal(err)
	}
	status, out := sdk.Call(nil, in)
	if status != sdk.StatusOK {
		return status, string(out), nil
	}
	res, err := sdk.DecodeTensorList(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Name != "input" || len(res[0].Shape) != 4 {
		t.Fatalf("unexpected output %+v", res)
	}
	return status, "", res[0].Float32s()
}

func imageIn(b []byte) sdk.Tensor { return sdk.NewBytes("image", []int64{1}, [][]byte{b}) }

func pixelsOf(g *image.Gray) []float32 {
	px := make([]float32, 28*28)
	for i := range px {
		px[i] = float32(g.Pix[i])
	}
	return px
}

func TestImageExact(t *testing.T) {
	g := digit(t)
	want := pixelsOf(g)

	inverted := image.NewGray(g.Bounds())
	for i, v := range g.Pix {
		inverted.Pix[i] = 255 - v
	}
	// Each source pixel as a 2×2 block: area averaging must undo it exactly.
	big := image.NewGray(image.Rect(0, 0, 56, 56))
	for y := range 56 {
		for x := range 56 {
			big.SetGray(x, y, g.GrayAt(x/2, y/2))
		}
	}
	// The same pixels in other colour models the decoders produce.
	rgba := image.NewRGBA(g.Bounds())
	nrgba := image.NewNRGBA(g.Bounds())
	gray16 := image.NewGray16(g.Bounds())
	pal := make(color.Palette, 256)
	for i := range pal {
		pal[i] = color.Gray{uint8(i)}
	}
	paletted := image.NewPaletted(g.Bounds(), pal)
	for y := range 28 {
		for x := range 28 {
			c := g.GrayAt(x, y)
			rgba.Set(x, y, c)
			nrgba.Set(x, y, c)
			gray16.Set(x, y, c)
			paletted.Set(x, y, c)
		}
	}
	// Black on transparent, as a drawing canvas exports it: composited onto
	// white and inverted, it is the digit again.
	canvas := image.NewNRGBA(g.Bounds())
	for i, v := range g.Pix {
		canvas.Pix[4*i+3] = v
	}

	file, err := os.ReadFile(filepath.Join(mnistDir, "8_28x28.png"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		png  []byte
	}{
		{"file", file},
		{"inverted", encodePNG(t, inverted)},
		{"56x56 blocks", encodePNG(t, big)},
		{"RGBA", encodePNG(t, rgba)},
		{"NRGBA", encodePNG(t, nrgba)},
		{"Gray16", encodePNG(t, gray16)},
		{"Paletted", encodePNG(t, paletted)},
		{"transparent canvas", encodePNG(t, canvas)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			status, msg, got := call(t, imageIn(tc.png))
			is.Equal(msg, "")
			is.Equal(status, sdk.StatusOK)
			is.Equal(got, want)
		})
	}
}

func TestImageJPEG(t *testing.T) {
	is := is.New(t)
	want := pixelsOf(digit(t))
	for _, name := range []string{"file", "re-encoded colour"} {
		var b []byte
		var err error
		if name == "file" {
			b, err = os.ReadFile(filepath.Join(mnistDir, "8_28x28.jpg"))
			is.NoErr(err)
		} else {
			rgba := image.NewRGBA(image.Rect(0, 0, 28, 28))
			for i, v := range want {
				rgba.Set(i%28, i/28, color.RGBA{uint8(v), uint8(v), uint8(v), 255})
			}
			var buf bytes.Buffer
			is.NoErr(jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: 95}))
			b = buf.Bytes()
		}
		status, msg, got := call(t, imageIn(b))
		is.Equal(msg, "")
		is.Equal(status, sdk.StatusOK)
		var worst float64
		for i := range got {
			worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
		}
		t.Logf("%s: largest difference from the PNG: %v", name, worst)
		is.True(worst <= 48) // lossy, but the same digit
	}
}

func TestImageResize(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		fill func(x, y int) uint8
		want func(i int) float32
	}{
		{"uniform 100x37", 100, 37, func(x, y int) uint8 { return 60 }, func(int) float32 { return 60 }},
		{"uniform light is inverted", 300, 300, func(x, y int) uint8 { return 200 }, func(int) float32 { return 55 }},
		{"1x1 upscaled", 1, 1, func(x, y int) uint8 { return 9 }, func(int) float32 { return 9 }},
		{"14x14 upscaled", 14, 14, func(x, y int) uint8 { return uint8(x * 10) }, func(i int) float32 { return float32((i % 28) / 2 * 10) }},
		{"vertical halves 28x56", 28, 56, func(x, y int) uint8 {
			if y < 28 {
				return 0
			}
			return 100
		}, func(i int) float32 {
			if i/28 < 14 {
				return 0
			}
			return 100
		}},
		// 3 source columns per 2 output columns: the middle one is split
		// between both, so each is (0·1 + 50·0.5)/1.5 = 16.67 → 17.
		{"42 wide, fractional", 42, 28, func(x, y int) uint8 {
			if x%3 == 1 {
				return 50
			}
			return 0
		}, func(int) float32 { return 17 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			img := image.NewGray(image.Rect(0, 0, tc.w, tc.h))
			for y := range tc.h {
				for x := range tc.w {
					img.SetGray(x, y, color.Gray{tc.fill(x, y)})
				}
			}
			status, msg, got := call(t, imageIn(encodePNG(t, img)))
			is.Equal(msg, "")
			is.Equal(status, sdk.StatusOK)
			for i, v := range got {
				if v != tc.want(i) {
					t.Fatalf("pixel %d (%d,%d) = %v, want %v", i, i%28, i/28, v, tc.want(i))
				}
			}
		})
	}
}

// An image larger than the server's inline limit arrives host-held; the
// output is the same.
func TestImageHeld(t *testing.T) {
	is := is.New(t)
	want := pixelsOf(digit(t))
	file, err := os.ReadFile(filepath.Join(mnistDir, "8_28x28.png"))
	is.NoErr(err)
	h := sdktest.New(t, hostfuncs.Caller{})
	h.InlineBytes = 64 // the PNG is larger
	img := &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{file}}
	status, msg, out, err := h.Run(tensor.Named{Name: "image", Tensor: img})
	is.NoErr(err)
	is.Equal(msg, "")
	is.Equal(status, sdk.StatusOK)
	is.Equal(tensor.Values[float32](out[0].Tensor), want)
}

func TestImageRejected(t *testing.T) {
	g := digit(t)
	good := encodePNG(t, g)
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "image: empty"},
		{"garbage", []byte("this is not an image at all"), "image: not a PNG or JPEG image: unknown format"},
		{"GIF", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "image: not a PNG or JPEG image"},
		{"truncated header", good[:20], "image: not a PNG or JPEG image"},
		{"truncated data", good[:len(good)-30], "image: corrupt PNG"},
		{"too wide", pngHeader(4097, 1, 0, 0), "image: 4097×1 pixels is larger than the limit of 4096×4096"},
		{"too tall", pngHeader(10, 5000, 2, 0), "image: 10×5000 pixels"},
		{"too much memory", pngHeader(4096, 4096, 6, 0), "decoding this 4096×4096 PNG would need about 64 MiB, more than the 16 MiB this module allows"},
		{"interlaced", pngHeader(2048, 1500, 2, 1), "would need about 24 MiB"},
		// Within budget when not interlaced: refused only when decoding
		// finds no image data.
		{"not interlaced", pngHeader(2048, 1500, 2, 0), "image: corrupt PNG"},
		{"largest gray", pngHeader(4096, 4096, 0, 0), "image: corrupt PNG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			status, msg, _ := call(t, imageIn(tc.b))
			is.Equal(status, sdk.StatusInvalid)
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not contain %q", msg, tc.want)
			}
		})
	}
}

func TestDecodeCostJPEG(t *testing.T) {
	is := is.New(t)
	img := image.NewRGBA(image.Rect(0, 0, 64, 32))
	var buf bytes.Buffer
	is.NoErr(jpeg.Encode(&buf, img, nil))
	b := buf.Bytes()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	is.NoErr(err)
	is.True(!jpegProgressive(b)) // Go writes baseline JPEGs
	is.Equal(decodeCost(cfg, format, b), int64(64*32*3))
	// Turn the SOF0 marker into SOF2 (progressive): the cost includes the
	// coefficients.
	i := bytes.Index(b, []byte{0xff, 0xc0})
	is.True(i > 0)
	prog := bytes.Clone(b)
	prog[i+1] = 0xc2
	is.True(jpegProgressive(prog))
	is.Equal(decodeCost(cfg, format, prog), int64(64*32*(3+12)))
	is.True(!jpegProgressive([]byte{0xff, 0xd8, 0xff}))
	is.True(!jpegProgressive([]byte{0xff, 0xd8, 0x00, 0x00, 0x00}))
}

func TestPixels(t *testing.T) {
	good := pixelsOf(digit(t))
	with := func(i int, v float32) []float32 {
		p := append([]float32(nil), good...)
		p[i] = v
		return p
	}
	shape := []int64{1, 1, 28, 28}
	tests := []struct {
		name   string
		in     []sdk.Tensor
		status int32
		want   string
	}{
		{"pass through", []sdk.Tensor{sdk.NewFloat32("pixels", shape, good)}, sdk.StatusOK, ""},
		{"NaN", []sdk.Tensor{sdk.NewFloat32("pixels", shape, with(5, float32(math.NaN())))}, sdk.StatusInvalid, "pixels: element 5 is NaN"},
		{"Inf", []sdk.Tensor{sdk.NewFloat32("pixels", shape, with(783, float32(math.Inf(1))))}, sdk.StatusInvalid, "element 783 is +Inf"},
		{"negative", []sdk.Tensor{sdk.NewFloat32("pixels", shape, with(0, -0.5))}, sdk.StatusInvalid, "element 0 is -0.5"},
		{"above 255", []sdk.Tensor{sdk.NewFloat32("pixels", shape, with(10, 255.5))}, sdk.StatusInvalid, "element 10 is 255.5; pixels must be finite and within 0..255"},
		{"wrong shape", []sdk.Tensor{sdk.NewFloat32("pixels", []int64{784}, good)}, sdk.StatusInvalid, "shape is [784], want [1 1 28 28]"},
		{"both", []sdk.Tensor{sdk.NewFloat32("pixels", shape, good), imageIn([]byte("x"))}, sdk.StatusInvalid, `give either "image" or "pixels", not both`},
		{"neither", nil, sdk.StatusInvalid, `give one of "image"`},
		{"unknown", []sdk.Tensor{sdk.NewFloat32("pixel", shape, good)}, sdk.StatusInvalid, `unknown input "pixel"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			status, msg, got := call(t, tc.in...)
			is.Equal(status, tc.status)
			if tc.status == sdk.StatusOK {
				is.Equal(got, good)
				return
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not contain %q", msg, tc.want)
			}
		})
	}
}
