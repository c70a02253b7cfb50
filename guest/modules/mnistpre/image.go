package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	_ "image/jpeg" // registers the formats image.Decode accepts
	_ "image/png"
	"runtime"
	"strings"

	"github.com/wasmgate/wasmgate/guest/sdk"
)

const (
	side    = 28   // the model's input is side×side
	maxSide = 4096 // larger images are refused before decoding

	// maxDecodeBytes bounds what decoding allocates (4096×4096 grayscale
	// fits). An instance has 64 MiB of linear memory by default and running
	// out kills it, so refusing (status 1) is the better answer. The bound
	// is this low because linear memory only grows and Go cannot move
	// objects: after a few large calls the free space is in holes the size
	// of earlier allocations. Measured on one instance: a mix of 16 MiB
	// images and inputs of up to 22 MiB peaked at 936 pages (58.5 MiB); an
	// 18.5 MiB image after them ran out of memory.
	maxDecodeBytes = 16 << 20

	// collectAbove is the decode cost above which the garbage of earlier
	// calls is collected first. The Go runtime throws when linear memory
	// cannot grow instead of collecting, and earlier garbage is only
	// collected by the time its GC cycle, paced for a small heap, completes.
	collectAbove = 4 << 20
)

// fromImage decodes a PNG or JPEG and returns the model's 28×28 grayscale
// pixels, white digit on black.
func fromImage(b []byte) (*[side * side]uint8, error) {
	if len(b) == 0 {
		return nil, sdk.Invalid("image: empty")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, sdk.Invalid("image: not a PNG or JPEG image: %s", strings.TrimPrefix(err.Error(), "image: "))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, sdk.Invalid("image: %s has no pixels (%d×%d)", format, cfg.Width, cfg.Height)
	}
	if cfg.Width > maxSide || cfg.Height > maxSide {
		return nil, sdk.Invalid("image: %d×%d pixels is larger than the limit of %d×%d", cfg.Width, cfg.Height, maxSide, maxSide)
	}
	cost := decodeCost(cfg, format, b)
	if cost > maxDecodeBytes {
		return nil, sdk.Invalid("image: decoding this %d×%d %s would need about %d MiB, more than the %d MiB this module allows",
			cfg.Width, cfg.Height, strings.ToUpper(format), (cost+1<<20-1)>>20, maxDecodeBytes>>20)
	}
	if cost > collectAbove {
		runtime.GC()
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, sdk.Invalid("image: corrupt %s: %v", strings.ToUpper(format), err)
	}
	px := boxResize(img)
	if lightBorder(px) {
		for i := range px {
			px[i] = 255 - px[i]
		}
	}
	return px, nil
}

// decodeCost estimates the bytes the standard decoders allocate for an
// image: the decoded pixels, plus the pass images of an interlaced PNG or
// the int32 coefficients a progressive JPEG keeps for every sample.
func decodeCost(cfg image.Config, format string, b []byte) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	var bpp, comps int64
	switch cfg.ColorModel {
	case color.GrayModel:
		bpp, comps = 1, 1
	case color.Gray16Model:
		bpp = 2
	case color.YCbCrModel:
		bpp, comps = 3, 3
	case color.RGBAModel, color.NRGBAModel:
		bpp = 4
	case color.CMYKModel:
		bpp, comps = 4, 4
	case color.RGBA64Model, color.NRGBA64Model:
		bpp = 8
	default:
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			bpp = 1
		} else {
			bpp = 8
		}
	}
	n := px * bpp
	switch {
	case format == "png" && len(b) > 28 && b[28] == 1: // IHDR interlace method: Adam7
		n *= 2
	case format == "jpeg" && jpegProgressive(b):
		n += px * comps * 4
	}
	return n
}

// jpegProgressive reports whether the frame header of a JPEG that
// DecodeConfig accepted is SOF2, the only progressive frame Go decodes.
func jpegProgressive(b []byte) bool {
	i := 2 // after SOI
	for i+4 <= len(b) {
		if b[i] != 0xff {
			return false
		}
		m := b[i+1]
		if m == 0xff { // fill byte
			i++
			continue
		}
		if m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc {
			return m == 0xc2
		}
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
	}
	return false
}

// boxResize converts img to 8-bit luma and scales it to side×side by area
// averaging: every output pixel is the mean of the source area it covers,
// partial pixels weighted by the part covered. All arithmetic is exact
// integers, so a side×side image comes out unchanged.
func boxResize(img image.Image) *[side * side]uint8 {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	xs, ys := axisWeights(w), axisWeights(h)
	row := make([]uint8, w)
	luma := lumaRow(img)
	var acc [side * side]uint64
	for y := range h {
		luma(r.Min.Y+y, row)
		var rowAcc [side]uint64
		for x, v := range row {
			for _, c := range xs.of(x) {
				rowAcc[c.dst] += uint64(c.w) * uint64(v)
			}
		}
		for _, c := range ys.of(y) {
			a := acc[c.dst*side : c.dst*side+side]
			for i, v := range rowAcc {
				a[i] += uint64(c.w) * v
			}
		}
	}
	// Each output pixel's weights sum to w·h.
	total := uint64(w) * uint64(h)
	var out [side * side]uint8
	for i, v := range acc {
		out[i] = uint8((v + total/2) / total)
	}
	return &out
}

type contrib struct{ dst, w int }

// weights maps each source index to the output indices it overlaps, with
// the overlap measured in units of 1/side of a source pixel (a source pixel
// is side units long, an output pixel n units).
type weights struct {
	start []int // contribs of source s are c[start[s]:start[s+1]]
	c     []contrib
}

func (ws weights) of(s int) []contrib { return ws.c[ws.start[s]:ws.start[s+1]] }

func axisWeights(n int) weights {
	ws := weights{start: make([]int, n+1), c: make([]contrib, 0, n+side)}
	for s := range n {
		lo, hi := side*s, side*s+side
		for d := lo / n; d < side && d*n < hi; d++ {
			if o := min(hi, d*n+n) - max(lo, d*n); o > 0 {
				ws.c = append(ws.c, contrib{d, o})
			}
		}
		ws.start[s+1] = len(ws.c)
	}
	return ws
}

// lumaRow returns a function that writes row y of img as 8-bit luma. The
// decoders' concrete types get loops without per-pixel interface calls,
// which would allocate, and within one call the garbage is not collected.
func lumaRow(img image.Image) func(y int, dst []uint8) {
	r := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		return func(y int, dst []uint8) {
			copy(dst, m.Pix[m.PixOffset(r.Min.X, y):])
		}
	case *image.YCbCr:
		// Y is the luma by definition, at full resolution.
		return func(y int, dst []uint8) {
			i := (y - m.Rect.Min.Y) * m.YStride
			copy(dst, m.Y[i:])
		}
	case *image.Gray16:
		return func(y int, dst []uint8) {
			p := m.Pix[m.PixOffset(r.Min.X, y):]
			for x := range dst {
				dst[x] = p[2*x] // the high byte, as color.GrayModel rounds
			}
		}
	case *image.RGBA:
		return func(y int, dst []uint8) {
			for x := range dst {
				dst[x] = luma(m.RGBAAt(r.Min.X+x, y).RGBA())
			}
		}
	case *image.NRGBA:
		return func(y int, dst []uint8) {
			for x := range dst {
				dst[x] = luma(m.NRGBAAt(r.Min.X+x, y).RGBA())
			}
		}
	case *image.RGBA64:
		return func(y int, dst []uint8) {
			for x := range dst {
				dst[x] = luma(m.RGBA64At(r.Min.X+x, y).RGBA())
			}
		}
	case *image.NRGBA64:
		return func(y int, dst []uint8) {
			for x := range dst {
				dst[x] = luma(m.NRGBA64At(r.Min.X+x, y).RGBA())
			}
		}
	case *image.CMYK:
		return func(y int, dst []uint8) {
			for x := range dst {
				dst[x] = luma(m.CMYKAt(r.Min.X+x, y).RGBA())
			}
		}
	case *image.Paletted:
		var lut [256]uint8
		for i, c := range m.Palette {
			lut[i] = luma(c.RGBA())
		}
		return func(y int, dst []uint8) {
			p := m.Pix[m.PixOffset(r.Min.X, y):]
			for x := range dst {
				dst[x] = lut[p[x]]
			}
		}
	}
	return func(y int, dst []uint8) {
		for x := range dst {
			dst[x] = luma(img.At(r.Min.X+x, y).RGBA())
		}
	}
}

// luma composites a premultiplied 16-bit colour onto white and returns its
// 8-bit BT.601 luma, with color.GrayModel's coefficients and rounding.
func luma(r, g, b, a uint32) uint8 {
	r += 0xffff - a
	g += 0xffff - a
	b += 0xffff - a
	return uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 24)
}

// lightBorder reports whether the mean of the outermost ring of px is above
// 127, i.e. the image is dark-on-light.
func lightBorder(px *[side * side]uint8) bool {
	sum, n := 0, 0
	for i, v := range px {
		x, y := i%side, i/side
		if x == 0 || y == 0 || x == side-1 || y == side-1 {
			sum += int(v)
			n++
		}
	}
	return sum > 127*n
}
