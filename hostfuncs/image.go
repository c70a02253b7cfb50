package hostfuncs

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders register themselves with package image
	_ "image/jpeg"
	_ "image/png"
	"math"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// MaxImagePixels bounds what image_decode accepts, checked from the image
// header before any pixel is decoded.
const MaxImagePixels = 64 << 20

func hostImageDecode(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	const fn = "image_decode"
	ptr, n, channels := uint32(stack[0]), uint32(stack[1]), int32(stack[2])
	// Decoding reads the guest's bytes through this view, within this call.
	t, err := DecodeImage(view(m, fn, ptr, n), int(channels), c.QuotaBytes-c.UsedBytes())
	if err != nil {
		ret(stack, c.fail(fn, err))
		return
	}
	ret(stack, c.handleOrFail(fn, t))
}

// DecodeImage decodes a PNG, JPEG or GIF into a UINT8 [H, W, channels]
// tensor (channels 1: ITU-R 601 luma, 3: RGB, 4: straight RGBA), refusing,
// before decoding pixels, images over MaxImagePixels or budget bytes.
func DecodeImage(b []byte, channels int, budget int64) (*tensor.Tensor, error) {
	if channels != 1 && channels != 3 && channels != 4 {
		return nil, invalid(fmt.Errorf("channels must be 1, 3 or 4, not %d", channels))
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, &opFailed{fmt.Errorf("not a PNG, JPEG or GIF image: %w", err)}
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	if cfg.Width <= 0 || cfg.Height <= 0 || px > MaxImagePixels {
		return nil, &opFailed{fmt.Errorf("%s image of %d×%d pixels is outside 1 to %d pixels", format, cfg.Width, cfg.Height, MaxImagePixels)}
	}
	if px*int64(channels) > budget {
		return nil, fault.Errorf(fault.TooLarge, "a %d×%d image with %d channels needs %d bytes; %d are left of the call's quota", cfg.Width, cfg.Height, channels, px*int64(channels), budget)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, &opFailed{fmt.Errorf("%s image does not decode: %w", format, err)}
	}
	r := img.Bounds()
	t := tensor.MustNew(tensor.Uint8, tensor.Shape{r.Dy(), r.Dx(), channels})
	toPixels(t.Data, img, channels)
	return t, nil
}

// toPixels writes img's pixels row by row. Gray and RGBA images take a
// direct path; others go through the color model, slower but general.
func toPixels(dst []byte, img image.Image, channels int) {
	r := img.Bounds()
	w := r.Dx()
	if g, ok := img.(*image.Gray); ok && channels == 1 {
		for y := range r.Dy() {
			off := g.PixOffset(r.Min.X, r.Min.Y+y)
			copy(dst[y*w:], g.Pix[off:off+w])
		}
		return
	}
	i := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, ca := img.At(x, y).RGBA() // premultiplied, 16-bit
			if channels == 4 {
				n := color.NRGBAModel.Convert(color.RGBA64{uint16(cr), uint16(cg), uint16(cb), uint16(ca)}).(color.NRGBA)
				dst[i], dst[i+1], dst[i+2], dst[i+3] = n.R, n.G, n.B, n.A
				i += 4
				continue
			}
			// Over white: premultiplied colour plus the uncovered part.
			cr, cg, cb = cr+0xffff-ca, cg+0xffff-ca, cb+0xffff-ca
			if channels == 1 {
				dst[i] = uint8((19595*cr + 38470*cg + 7471*cb + 1<<15) >> 24)
				i++
				continue
			}
			dst[i], dst[i+1], dst[i+2] = uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)
			i += 3
		}
	}
}

// Resize filters.
const (
	FilterNearest  = 0
	FilterBilinear = 1
	FilterArea     = 2
)

func hostImageResize(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	const fn = "image_resize"
	src, err := c.Resolve(uint32(stack[0]))
	if err != nil {
		ret(stack, c.fail(fn, err))
		return
	}
	h, w, filter := int32(stack[1]), int32(stack[2]), int32(stack[3])
	if int64(h)*int64(w)*int64(max(1, channelsOf(src))) > c.QuotaBytes-c.UsedBytes() {
		ret(stack, c.fail(fn, fault.Errorf(fault.TooLarge, "a %d×%d result exceeds the call's quota", h, w)))
		return
	}
	t, err := ResizeImage(src, int(h), int(w), int(filter))
	if err != nil {
		ret(stack, c.fail(fn, err))
		return
	}
	ret(stack, c.handleOrFail(fn, t))
}

func channelsOf(t *tensor.Tensor) int {
	if len(t.Shape) != 3 {
		return 0
	}
	return t.Shape[2]
}

// ResizeImage resizes a UINT8 or FP32 [H, W, C] image to [h, w, C].
// Pixel centres sit at half-integer coordinates, as most image libraries
// place them.
func ResizeImage(src *tensor.Tensor, h, w, filter int) (*tensor.Tensor, error) {
	if len(src.Shape) != 3 || (src.DType != tensor.Uint8 && src.DType != tensor.Float32) {
		return nil, invalid(fmt.Errorf("image must be UINT8 or FP32 [H, W, C], got %v", src))
	}
	if h <= 0 || w <= 0 || int64(h)*int64(w) > MaxImagePixels {
		return nil, invalid(fmt.Errorf("size %d×%d is outside 1 to %d pixels", h, w, MaxImagePixels))
	}
	if filter < FilterNearest || filter > FilterArea {
		return nil, invalid(fmt.Errorf("filter %d is not 0 (nearest), 1 (bilinear) or 2 (area)", filter))
	}
	H, W, C := src.Shape[0], src.Shape[1], src.Shape[2]
	if H == 0 || W == 0 {
		return nil, invalid(fmt.Errorf("cannot resize an empty image"))
	}
	in := make([]float32, H*W*C)
	if src.DType == tensor.Uint8 {
		for i, v := range src.Data {
			in[i] = float32(v)
		}
	} else {
		copy(in, tensor.Values[float32](src))
	}
	// Separable: rows first into [H, w, C], then columns into [h, w, C].
	mid := resample(in, H, W, C, w, filter, true)
	out := resample(mid, H, w, C, h, filter, false)
	t := tensor.MustNew(src.DType, tensor.Shape{h, w, C})
	if src.DType == tensor.Float32 {
		copy(tensor.Values[float32](t), out)
		return t, nil
	}
	for i, v := range out {
		t.Data[i] = uint8(min(255, max(0, math.Round(float64(v)))))
	}
	return t, nil
}

// tap is one input sample and its weight in an output sample.
type tap struct {
	idx int
	w   float32
}

// weights lists, for each of n outputs, the input samples (of m) that make it.
func weights(m, n, filter int) [][]tap {
	scale := float64(m) / float64(n)
	out := make([][]tap, n)
	for o := range n {
		switch filter {
		case FilterNearest:
			out[o] = []tap{{min(m-1, int((float64(o)+0.5)*scale)), 1}}
		case FilterBilinear:
			x := (float64(o)+0.5)*scale - 0.5
			x = math.Max(0, math.Min(float64(m-1), x))
			i := int(x)
			f := float32(x - float64(i))
			if i+1 < m && f > 0 {
				out[o] = []tap{{i, 1 - f}, {i + 1, f}}
			} else {
				out[o] = []tap{{i, 1}}
			}
		default: // area: the input span [o·scale, (o+1)·scale) with fractional ends
			lo, hi := float64(o)*scale, float64(o+1)*scale
			var ts []tap
			for i := int(lo); i < m && float64(i) < hi; i++ {
				cover := math.Min(hi, float64(i+1)) - math.Max(lo, float64(i))
				if cover > 0 {
					ts = append(ts, tap{i, float32(cover / scale)})
				}
			}
			out[o] = ts
		}
	}
	return out
}

// resample resizes one axis of a [H, W, C] image: along W (rows=true) to
// n columns, or along H to n rows.
func resample(in []float32, H, W, C, n, filter int, rows bool) []float32 {
	if rows {
		ws := weights(W, n, filter)
		out := make([]float32, H*n*C)
		for y := range H {
			src, dst := in[y*W*C:], out[y*n*C:]
			for x, taps := range ws {
				for c := range C {
					var s float32
					for _, t := range taps {
						s += t.w * src[t.idx*C+c]
					}
					dst[x*C+c] = s
				}
			}
		}
		return out
	}
	ws := weights(H, n, filter)
	out := make([]float32, n*W*C)
	row := W * C
	for y, taps := range ws {
		dst := out[y*row : (y+1)*row]
		for _, t := range taps {
			src := in[t.idx*row : (t.idx+1)*row]
			for i, v := range src {
				dst[i] += t.w * v
			}
		}
	}
	return out
}

func hostImageNormalize(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	const fn = "image_normalize"
	src, err := c.Resolve(uint32(stack[0]))
	if err != nil {
		ret(stack, c.fail(fn, err))
		return
	}
	layout, scale := int32(stack[1]), math.Float32frombits(uint32(stack[2]))
	meanPtr, stdPtr := uint32(stack[3]), uint32(stack[4])
	C := channelsOf(src)
	if C == 0 || C > 64 {
		ret(stack, c.fail(fn, invalid(fmt.Errorf("image must be [H, W, C] with 1 to 64 channels, got %v", src))))
		return
	}
	readFloats := func(ptr uint32, def float32) []float32 {
		v := make([]float32, C)
		if ptr == 0 {
			for i := range v {
				v[i] = def
			}
			return v
		}
		raw := view(m, fn, ptr, uint32(4*C))
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return v
	}
	mean, std := readFloats(meanPtr, 0), readFloats(stdPtr, 1)
	if int64(src.Len())*4 > c.QuotaBytes-c.UsedBytes() {
		ret(stack, c.fail(fn, fault.Errorf(fault.TooLarge, "the FP32 result exceeds the call's quota")))
		return
	}
	t, err := NormalizeImage(src, int(layout), scale, mean, std)
	if err != nil {
		ret(stack, c.fail(fn, err))
		return
	}
	ret(stack, c.handleOrFail(fn, t))
}

// Layouts of NormalizeImage's result.
const (
	LayoutHWC = 0
	LayoutCHW = 1
)

// NormalizeImage computes FP32 (x·scale − mean[c]) / std[c] of a UINT8 or
// FP32 [H, W, C] image, as [H, W, C] or [C, H, W].
func NormalizeImage(src *tensor.Tensor, layout int, scale float32, mean, std []float32) (*tensor.Tensor, error) {
	if len(src.Shape) != 3 || (src.DType != tensor.Uint8 && src.DType != tensor.Float32) {
		return nil, invalid(fmt.Errorf("image must be UINT8 or FP32 [H, W, C], got %v", src))
	}
	H, W, C := src.Shape[0], src.Shape[1], src.Shape[2]
	if len(mean) != C || len(std) != C {
		return nil, invalid(fmt.Errorf("need %d means and standard deviations", C))
	}
	if layout != LayoutHWC && layout != LayoutCHW {
		return nil, invalid(fmt.Errorf("layout %d is not 0 (HWC) or 1 (CHW)", layout))
	}
	inv := make([]float32, C)
	for i, s := range std {
		if s == 0 || math.IsNaN(float64(s)) {
			return nil, invalid(fmt.Errorf("standard deviation %d is %v", i, s))
		}
		inv[i] = 1 / s
	}
	shape := tensor.Shape{H, W, C}
	if layout == LayoutCHW {
		shape = tensor.Shape{C, H, W}
	}
	t := tensor.MustNew(tensor.Float32, shape)
	out := tensor.Values[float32](t)
	if src.DType == tensor.Uint8 {
		normalize(out, src.Data, H*W, C, layout, scale, mean, inv)
	} else {
		normalize(out, tensor.Values[float32](src), H*W, C, layout, scale, mean, inv)
	}
	return t, nil
}

func normalize[T uint8 | float32](out []float32, in []T, pixels, C, layout int, scale float32, mean, inv []float32) {
	for p := range pixels {
		for c := range C {
			v := (float32(in[p*C+c])*scale - mean[c]) * inv[c]
			if layout == LayoutHWC {
				out[p*C+c] = v
			} else {
				out[c*pixels+p] = v
			}
		}
	}
}
