package sdk

import (
	"fmt"
	"io"
	"runtime"
	"unsafe"
)

// This file is the Go face of the wasmgate host functions (docs/ABI.md §5).
// The raw imports are in imports_wasip1.go; off WebAssembly,
// imports_other.go sends them to a Host that tests install.

// Handle names a tensor the host holds for the current call
// (docs/ABI.md §5.2). Handles end when the call (Stage.Run) returns, except
// those returned in Run's outputs, whose tensors pass to the host. 0 is
// never a valid handle.
type Handle uint32

// Filter is a resampling filter of ResizeImage.
type Filter int32

// The filters of image_resize.
const (
	FilterNearest  Filter = 0
	FilterBilinear Filter = 1
	FilterArea     Filter = 2 // box average, best for shrinking
)

// Layout is the axis order of NormalizeImage's result.
type Layout int32

// The layouts of image_normalize.
const (
	LayoutHWC Layout = 0 // [H, W, C], as decoded
	LayoutCHW Layout = 1 // [C, H, W], what most vision models take
)

// readChunk is the most tensor_read copies in one host call: large reads
// go in pieces, so a guest never asks the host for one huge copy.
const readChunk = 1 << 20

// maxOutputs is the room Op and RunModel leave for output handles at
// first; an operator or model with more is run again with room for all.
const maxOutputs = MaxTensors

// Config returns the module's configuration: the JSON object its model's
// manifest gives this stage, or {}.
func Config() ([]byte, error) {
	b, code := fill(256, rawConfig)
	if code < 0 {
		return nil, hostErr("config", code)
	}
	return b, nil
}

// LastError is the message of the last failed host call of the current
// call, or "" if none failed. The errors of this package already carry it.
func LastError() string {
	b, code := fill(256, rawLastError)
	if code < 0 {
		return ""
	}
	return string(b)
}

// fill implements the (ptr, cap) convention of docs/ABI.md §5.1: when the
// result needs more than the buffer holds, the host writes nothing and says
// how much it needs, and the guest asks again with that much room.
func fill(size int, call func(buf []byte) int32) ([]byte, int32) {
	buf := make([]byte, size)
	for range 4 {
		n := call(buf)
		if n < 0 || int(n) <= len(buf) {
			if n < 0 {
				return nil, n
			}
			return buf[:n], 0
		}
		buf = make([]byte, n)
	}
	return nil, CodeFailed // the result kept growing between calls
}

// Put copies t into the host and returns its handle. A host-held t is
// already there: Put returns its handle without copying. The host keeps the
// bytes until Free or the end of the call, and counts them against the
// call's quota.
func Put(t Tensor) (Handle, error) {
	if t.Handle != 0 {
		return t.Handle, nil
	}
	if t.Name == "" {
		t.Name = "t"
	}
	list, err := AppendTensorList(nil, []Tensor{t})
	if err != nil {
		return 0, fmt.Errorf("sdk: Put: %w", err)
	}
	h := rawTensorPut(list)
	if h <= 0 {
		return 0, hostErr("tensor_put", h)
	}
	return Handle(h), nil
}

// infoCap fits the header of a tensor of the largest rank.
const infoCap = 8 + 8*MaxRank

// Info returns the dtype and shape of the tensor h holds.
func (h Handle) Info() (DType, []int64, error) {
	var buf [infoCap]byte
	n := rawTensorInfo(h, buf[:])
	if n < 0 {
		return 0, nil, hostErr("tensor_info", n)
	}
	if n < 8 || n > infoCap {
		return 0, nil, fmt.Errorf("sdk: tensor_info(%d) needs %d bytes, which is not a tensor header", h, n)
	}
	code, rank := le.Uint32(buf[:]), le.Uint32(buf[4:])
	if int(n) != 8+8*int(rank) || code > 255 || !DType(code).Valid() {
		return 0, nil, fmt.Errorf("sdk: tensor_info(%d) gave dtype %d rank %d in %d bytes", h, code, rank, n)
	}
	shape := make([]int64, rank)
	for i := range shape {
		shape[i] = int64(le.Uint64(buf[8+8*i:]))
	}
	return DType(code), shape, nil
}

// Tensor describes the tensor h holds as a host-held Tensor named name
// (asking the host for its dtype and shape), for example to return it from
// Run.
func (h Handle) Tensor(name string) (Tensor, error) {
	dt, shape, err := h.Info()
	if err != nil {
		return Tensor{}, err
	}
	return Tensor{Name: name, DType: dt, Shape: shape, Handle: h}, nil
}

// Read copies the tensor h holds into guest memory, in pieces of at most
// 1 MiB, as a new inline Tensor with no name. Fixed-size data is 8-aligned,
// so typed views work in place. The handle stays valid.
func (h Handle) Read() (Tensor, error) {
	dt, shape, err := h.Info()
	if err != nil {
		return Tensor{}, err
	}
	n, err := NumElements(shape)
	if err != nil {
		return Tensor{}, fmt.Errorf("sdk: tensor %d: %w", h, err)
	}
	t := Tensor{DType: dt, Shape: shape}
	if dt == Bytes {
		t.Strings, err = h.readStrings(n)
		return t, err
	}
	size := n * dt.Size()
	collectBefore(size)
	words := make([]uint64, (size+7)/8)
	t.Data = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), 8*len(words))[:size:size]
	if err := h.readAt(0, t.Data); err != nil {
		return Tensor{}, err
	}
	if dt == Bool {
		if i := badBool(t.Data); i >= 0 {
			return Tensor{}, fmt.Errorf("sdk: tensor %d: BOOL element %d is %d", h, i, t.Data[i])
		}
	}
	return t, nil
}

// ReadAt copies bytes [off, off+len(p)) of the tensor's data, in its
// docs/ABI.md §2 encoding (for BYTES, each element as len:u32 bytes), into
// p with tensor_read, at most 1 MiB per host call. It implements
// io.ReaderAt: when the data ends first it returns the bytes it copied and
// io.EOF. A module that knows a tensor's size reads it this way without the
// allocation of Read.
func (h Handle) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("sdk: ReadAt of tensor %d at negative offset %d", h, off)
	}
	n := 0
	for n < len(p) {
		k := rawTensorRead(h, off+int64(n), p[n:n+min(len(p)-n, readChunk)])
		if k < 0 {
			return n, hostErr("tensor_read", int32(k))
		}
		if k > int64(len(p)-n) {
			return n, fmt.Errorf("sdk: tensor_read(%d) copied %d bytes into %d", h, k, len(p)-n)
		}
		if k == 0 {
			return n, io.EOF
		}
		n += int(k)
	}
	return n, nil
}

// readAt fills dst with the tensor's data bytes from off on; running out of
// data first is an error.
func (h Handle) readAt(off int64, dst []byte) error {
	if _, err := h.ReadAt(dst, off); err != nil {
		if err == io.EOF {
			return fmt.Errorf("sdk: tensor %d: the data ends before offset %d", h, off+int64(len(dst)))
		}
		return err
	}
	return nil
}

// readStrings reads n BYTES elements. Their total size is not known in
// advance, so each element's length prefix is read first and the element
// gets a buffer of exactly its size: a large input never needs twice its
// size in guest memory.
func (h Handle) readStrings(n int) ([][]byte, error) {
	strs := make([][]byte, n)
	var off int64
	var hdr [4]byte
	for i := range strs {
		if err := h.readAt(off, hdr[:]); err != nil {
			return nil, fmt.Errorf("sdk: BYTES element %d of tensor %d: %w", i, h, err)
		}
		l := int64(le.Uint32(hdr[:]))
		collectBefore(int(l))
		strs[i] = make([]byte, l)
		if err := h.readAt(off+4, strs[i]); err != nil {
			return nil, fmt.Errorf("sdk: BYTES element %d of tensor %d: %w", i, h, err)
		}
		off += 4 + l
	}
	// The elements fill the data exactly: nothing may follow.
	if k := rawTensorRead(h, off, hdr[:1]); k != 0 {
		if k < 0 {
			return nil, hostErr("tensor_read", int32(k))
		}
		return nil, fmt.Errorf("sdk: tensor %d has data after its %d BYTES elements", h, n)
	}
	return strs, nil
}

// collectBefore collects garbage before a large allocation: when linear
// memory cannot grow the Go runtime throws rather than collects, and the
// garbage of earlier calls may not be collected yet (as wasmgate_input does).
func collectBefore(size int) {
	if size > 4<<20 {
		runtime.GC()
	}
}

// Free ends h early, returning its bytes to the call's quota. Freeing an
// unknown handle does nothing.
func (h Handle) Free() { rawTensorFree(h) }

// Load returns t with its data in guest memory: t itself when it is inline,
// otherwise a copy read from the host (named as t, with Handle 0; the handle
// stays valid). A tensor that arrived host-held because it is large may not
// fit in the instance's memory.
func (t Tensor) Load() (Tensor, error) {
	if t.Handle == 0 {
		return t, nil
	}
	c, err := t.Handle.Read()
	if err != nil {
		return Tensor{}, err
	}
	if c.DType != t.DType || !equalShape(c.Shape, t.Shape) {
		return Tensor{}, fmt.Errorf("sdk: handle %d of %q holds %v%v, the tensor says %v%v", t.Handle, t.Name, c.DType, c.Shape, t.DType, t.Shape)
	}
	c.Name = t.Name
	return c, nil
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Op applies the ONNX operator name (domain ai.onnx, the newest opset the
// host implements) with attrs to the input handles (0 marks an omitted
// optional input) and returns the handles of its required outputs. See OpN
// for optional outputs.
//
//	sum, err := sdk.Op("Add", sdk.Attrs{}, a, b)
func Op(name string, attrs Attrs, in ...Handle) ([]Handle, error) {
	return OpN(name, 0, attrs, in...)
}

// OpN is Op that asks for n outputs: the operator's required outputs and,
// when n is more, its optional ones up to n (for example Dropout's mask, or
// the outputs of a Split). The host computes the outputs it is asked for.
func OpN(name string, n int, attrs Attrs, in ...Handle) ([]Handle, error) {
	js, err := attrs.JSON()
	if err != nil {
		return nil, err
	}
	want := max(n, 1)
	for try := 0; ; try++ {
		out := make([]Handle, want)
		k := rawOp(name, js, in, out)
		if k < 0 {
			return nil, hostErr("op", k)
		}
		if int(k) <= want || try > 0 {
			return out[:min(int(k), want)], nil
		}
		// The operator needs more outputs than there was room for: the host
		// kept only those it could return. Run it again with room for all.
		freeAll(out)
		want = int(k)
	}
}

// RunModel runs the model name (its whole pipeline) on the input handles,
// bound by position to its inputs (0 marks an omitted optional input), and
// returns the handles of its outputs, in order. The model must be listed
// under calls in the calling model's manifest.
func RunModel(name string, in ...Handle) ([]Handle, error) {
	want := maxOutputs
	for try := 0; ; try++ {
		out := make([]Handle, want)
		k := rawModelRun(name, in, out)
		if k < 0 {
			return nil, hostErr("model_run", k)
		}
		if int(k) <= want || try > 0 {
			return out[:min(int(k), want)], nil
		}
		freeAll(out)
		want = int(k)
	}
}

func freeAll(hs []Handle) {
	for _, h := range hs {
		if h != 0 {
			h.Free()
		}
	}
}

// DecodeImage decodes a PNG, JPEG or GIF on the host into a UINT8
// [height, width, channels] tensor: channels 1 is grey (ITU-R 601 luma), 3
// RGB, 4 RGBA; transparent pixels are composited onto white for 1 and 3.
// An image that does not decode is ErrFailed.
func DecodeImage(b []byte, channels int) (Handle, error) {
	if len(b) > 1<<31-1 {
		return 0, &HostError{Code: CodeInvalid, Op: "image_decode", Message: "image_decode: image larger than 2 GiB"}
	}
	h := rawImageDecode(b, int32(channels))
	if h <= 0 {
		return 0, hostErr("image_decode", h)
	}
	return Handle(h), nil
}

// ResizeImage resizes a UINT8 or FP32 [H, W, C] image held at h to
// [height, width, C] with filter, into a new handle of the same dtype.
func ResizeImage(h Handle, height, width int, filter Filter) (Handle, error) {
	if height <= 0 || width <= 0 || height > 1<<31-1 || width > 1<<31-1 {
		return 0, &HostError{Code: CodeInvalid, Op: "image_resize", Message: fmt.Sprintf("image_resize: size %d×%d", height, width)}
	}
	r := rawImageResize(h, int32(height), int32(width), int32(filter))
	if r <= 0 {
		return 0, hostErr("image_resize", r)
	}
	return Handle(r), nil
}

// NormalizeImage turns the [H, W, C] image held at h into FP32 values
// (x·scale − mean[c]) / std[c], laid out as layout says, in a new handle.
// mean and std hold C values each, or are nil for 0 and 1.
func NormalizeImage(h Handle, layout Layout, scale float32, mean, std []float32) (Handle, error) {
	if mean != nil || std != nil {
		// The host reads C values at each pointer: check that they are there.
		_, shape, err := h.Info()
		if err != nil {
			return 0, err
		}
		if len(shape) == 3 {
			c := shape[2]
			if (mean != nil && int64(len(mean)) != c) || (std != nil && int64(len(std)) != c) {
				return 0, &HostError{Code: CodeInvalid, Op: "image_normalize",
					Message: fmt.Sprintf("image_normalize: %d means and %d standard deviations for an image of %d channels", len(mean), len(std), c)}
			}
		}
	}
	r := rawImageNormalize(h, int32(layout), scale, mean, std)
	if r <= 0 {
		return 0, hostErr("image_normalize", r)
	}
	return Handle(r), nil
}
