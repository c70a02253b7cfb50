package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	_ "image/jpeg" // registers the formats image.DecodeConfig accepts
	_ "image/png"
	"strings"

	"github.com/wasmgate/wasmgate/guest/sdk"
)

const (
	side    = 28   // the model's input is side×side
	maxSide = 4096 // larger images are refused before decoding

	// maxDecodeBytes bounds what decoding an image may allocate (4096×4096
	// grayscale fits). It dates from when the module decoded in its own
	// 64 MiB of linear memory; the host decodes now, but the module keeps
	// accepting exactly the images it accepted then, and the bound still
	// keeps one request from making the host allocate much.
	maxDecodeBytes = 16 << 20
)

// fromImage decodes a PNG or JPEG and returns the model's 28×28 grayscale
// pixels, white digit on black. The guest only reads the image header, to
// refuse what the module has always refused with the same messages;
// decoding, grey conversion and resizing run on the host (docs/ABI.md
// §5.3), where pixel loops do not pay the guest's per-iteration deadline
// check.
func fromImage(b []byte) (*[side * side]uint8, error) {
	if len(b) == 0 {
		return nil, sdk.Invalid("image: empty")
	}
	format, w, h, ok := quickPNG(b)
	if !ok {
		// Everything but a plain PNG within the limits takes the general
		// path, which gives every refusal its message.
		cfg, f, err := checkHeader(b)
		if err != nil {
			return nil, err
		}
		format, w, h = f, cfg.Width, cfg.Height
	}
	img, err := sdk.DecodeImage(b, 1)
	if err != nil {
		return nil, decodeError(format, err)
	}
	if w != side || h != side {
		if img, err = sdk.ResizeImage(img, side, side, sdk.FilterArea); err != nil {
			return nil, err
		}
	}
	px := &pixels
	if _, err := img.ReadAt(px[:], 0); err != nil {
		return nil, err
	}
	if lightBorder(px) {
		for i := range px {
			px[i] = 255 - px[i]
		}
	}
	return px, nil
}

// pixels is fromImage's result; one call runs at a time, and the output is
// encoded before the next.
var pixels [side * side]uint8

// checkHeader reads the image header with the standard decoders and applies
// the module's limits, before anything is decoded.
func checkHeader(b []byte) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err == nil && format != "png" && format != "jpeg" {
		// Another format registered by something linked in (tests link the
		// host's GIF decoder): the module takes PNG and JPEG only.
		err = image.ErrFormat
	}
	if err != nil {
		return cfg, "", sdk.Invalid("image: not a PNG or JPEG image: %s", strings.TrimPrefix(err.Error(), "image: "))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, "", sdk.Invalid("image: %s has no pixels (%d×%d)", format, cfg.Width, cfg.Height)
	}
	if cfg.Width > maxSide || cfg.Height > maxSide {
		return cfg, "", sdk.Invalid("image: %d×%d pixels is larger than the limit of %d×%d", cfg.Width, cfg.Height, maxSide, maxSide)
	}
	if cost := decodeCost(cfg, format, b); cost > maxDecodeBytes {
		return cfg, "", sdk.Invalid("image: decoding this %d×%d %s would need about %d MiB, more than the %d MiB this module allows",
			cfg.Width, cfg.Height, strings.ToUpper(format), (cost+1<<20-1)>>20, maxDecodeBytes>>20)
	}
	return cfg, format, nil
}

// quickPNG is checkHeader's answer for the common case, without the
// standard decoder's allocations, which cost a Go guest more than the rest
// of the call: ok means b starts like a PNG that png.DecodeConfig accepts
// (signature, then an IHDR chunk with a valid checksum, a supported
// non-palette colour type and depth, methods 0 and interlace 0 or 1) and
// that is within the module's limits. Anything else gets ok false and goes
// the general way.
func quickPNG(b []byte) (format string, w, h int, ok bool) {
	const sig = "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"
	if len(b) < 33 || string(b[:16]) != sig {
		return "", 0, 0, false
	}
	ihdr := b[16:29]
	if crc32.ChecksumIEEE(b[12:29]) != binary.BigEndian.Uint32(b[29:33]) {
		return "", 0, 0, false
	}
	w, h = int(int32(binary.BigEndian.Uint32(ihdr[0:]))), int(int32(binary.BigEndian.Uint32(ihdr[4:])))
	depth, colorType := ihdr[8], ihdr[9]
	if w <= 0 || h <= 0 || w > maxSide || h > maxSide || ihdr[10] != 0 || ihdr[11] != 0 || ihdr[12] > 1 {
		return "", 0, 0, false
	}
	var bpp int64 // decoded bytes per pixel, as decodeCost counts them
	switch {
	case colorType == 0 && (depth == 1 || depth == 2 || depth == 4 || depth == 8): // Gray
		bpp = 1
	case colorType == 0 && depth == 16: // Gray16
		bpp = 2
	case (colorType == 2 || colorType == 4 || colorType == 6) && depth == 8: // RGBA, NRGBA
		bpp = 4
	case (colorType == 2 || colorType == 4 || colorType == 6) && depth == 16: // RGBA64, NRGBA64
		bpp = 8
	default: // a palette (read from a later chunk), or unsupported
		return "", 0, 0, false
	}
	cost := int64(w) * int64(h) * bpp
	if ihdr[12] == 1 { // Adam7
		cost *= 2
	}
	if cost > maxDecodeBytes {
		return "", 0, 0, false
	}
	return "png", w, h, true
}

// decodeError words a failed image_decode for the caller when the image is
// at fault (it does not decode, or is too large for the call's host memory
// quota); anything else is the module's failure.
func decodeError(format string, err error) error {
	var he *sdk.HostError
	switch {
	case errors.Is(err, sdk.ErrFailed) && errors.As(err, &he):
		msg := he.Message
		if _, after, ok := strings.Cut(msg, "does not decode: "); ok {
			msg = after
		}
		return sdk.Invalid("image: corrupt %s: %s", strings.ToUpper(format), msg)
	case errors.Is(err, sdk.ErrQuota):
		return sdk.Invalid("image: %v", err)
	}
	return err
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

// lightBorder reports whether the mean of the outermost ring of px is above
// 127, i.e. the image is dark-on-light.
func lightBorder(px *[side * side]uint8) bool {
	sum := 0
	for i := range side {
		sum += int(px[i]) + int(px[(side-1)*side+i]) // top and bottom rows
	}
	for y := 1; y < side-1; y++ {
		sum += int(px[y*side]) + int(px[y*side+side-1]) // left and right columns
	}
	return sum > 127*(4*side-4)
}
