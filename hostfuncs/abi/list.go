package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

var le = binary.LittleEndian

// minTensorBytes is the smallest encoded tensor: a 1-byte name, rank 0, no
// data, padded. It bounds how many tensors a list of a given size can hold.
const minTensorBytes = 24

// padLen is the number of zero bytes that bring n to a multiple of Align.
func padLen(n int) int { return (Align - n%Align) % Align }

// HeldFlag marks, in a tensor's dtype field, a tensor whose data stays on
// the host behind a handle (docs/ABI.md §2).
const HeldFlag = 1 << 31

// Handles is the host's table of tensors held for a guest call, through
// which a tensor list carries tensors by handle.
type Handles interface {
	// Hold takes t into the table and returns its handle.
	Hold(t *tensor.Tensor) (uint32, error)
	// Resolve returns the tensor behind a handle.
	Resolve(h uint32) (*tensor.Tensor, error)
}

// AppendTensorList appends the encoding of ts to dst, every tensor inline.
// Offsets (and so the alignment of data sections) count from len(dst), the
// start of the list. It fails, leaving dst's contents unchanged, on anything
// DecodeTensorList would reject.
func AppendTensorList(dst []byte, ts []tensor.Named) ([]byte, error) {
	return AppendTensorListHeld(dst, ts, 0, nil)
}

// AppendTensorListHeld is AppendTensorList that passes every tensor whose
// data is larger than inlineLimit bytes by a handle from h instead, so a
// large tensor need not fit in guest memory. A nil h sends all inline.
func AppendTensorListHeld(dst []byte, ts []tensor.Named, inlineLimit int, h Handles) ([]byte, error) {
	if len(ts) > MaxTensors {
		return dst, fmt.Errorf("abi: tensor list of %d tensors exceeds the maximum of %d", len(ts), MaxTensors)
	}
	size := 8
	var held []uint32 // handle of each tensor sent by handle, 0 for inline
	for i, t := range ts {
		n, err := encodedSize(t)
		if err != nil {
			return dst, fmt.Errorf("abi: tensor %d %q: %w", i, clip(t.Name), err)
		}
		if h != nil && DataLen(t.Tensor) > inlineLimit {
			if held == nil {
				held = make([]uint32, len(ts))
			}
			if held[i], err = h.Hold(t.Tensor); err != nil {
				return dst, fmt.Errorf("abi: tensor %d %q: %w", i, clip(t.Name), err)
			}
			n = headSize(t) + 8 // the handle, padded
		}
		size += n
		if slices.ContainsFunc(ts[:i], func(o tensor.Named) bool { return o.Name == t.Name }) {
			return dst, fmt.Errorf("abi: tensor %d: duplicate name %q", i, t.Name)
		}
	}
	start := len(dst)
	dst = slices.Grow(dst, size)
	dst = append(dst, Magic...)
	dst = le.AppendUint32(dst, uint32(len(ts)))
	for i, t := range ts {
		code, n := uint32(t.DType), uint64(DataLen(t.Tensor))
		if held != nil && held[i] != 0 {
			code, n = code|HeldFlag, 4
		}
		dst = le.AppendUint32(dst, uint32(len(t.Name)))
		dst = append(dst, t.Name...)
		dst = le.AppendUint32(dst, code)
		dst = le.AppendUint32(dst, uint32(len(t.Shape)))
		for _, d := range t.Shape {
			dst = le.AppendUint64(dst, uint64(d))
		}
		dst = le.AppendUint64(dst, n)
		dst = appendPad(dst, start)
		if held != nil && held[i] != 0 {
			dst = le.AppendUint32(dst, held[i])
		} else if t.DType == tensor.Bytes {
			for _, s := range t.Strings {
				dst = le.AppendUint32(dst, uint32(len(s)))
				dst = append(dst, s...)
			}
		} else {
			dst = append(dst, t.Data...)
		}
		dst = appendPad(dst, start)
	}
	return dst, nil
}

func appendPad(dst []byte, start int) []byte {
	var zero [Align]byte
	return append(dst, zero[:padLen(len(dst)-start)]...)
}

// encodedSize validates t and returns its padded encoded size.
func encodedSize(t tensor.Named) (int, error) {
	if err := checkName(t.Name); err != nil {
		return 0, err
	}
	if t.Tensor == nil {
		return 0, errors.New("nil tensor")
	}
	if err := t.Validate(); err != nil {
		return 0, err
	}
	if t.DType == tensor.Bool {
		if i := badBool(t.Data); i >= 0 {
			return 0, fmt.Errorf("BOOL element %d is %d, not 0 or 1", i, t.Data[i])
		}
	}
	for i, s := range t.Strings {
		if uint64(len(s)) > math.MaxUint32 {
			return 0, fmt.Errorf("BYTES element %d is longer than 2^32-1 bytes", i)
		}
	}
	data := DataLen(t.Tensor)
	return headSize(t) + data + padLen(data), nil
}

// headSize is the padded size of a tensor's fields before its data.
func headSize(t tensor.Named) int {
	head := 4 + len(t.Name) + 8 + 8*len(t.Shape) + 8
	return head + padLen(head)
}

// DataLen is the size of t's data section in a tensor list: its bytes, or
// for BYTES its length-prefixed elements. AppendTensorListHeld compares it
// with the inline limit.
func DataLen(t *tensor.Tensor) int {
	if t.DType != tensor.Bytes {
		return len(t.Data)
	}
	n := 4 * len(t.Strings)
	for _, s := range t.Strings {
		n += len(s)
	}
	return n
}

func checkName(name string) error {
	switch {
	case len(name) == 0:
		return errors.New("empty name")
	case len(name) > MaxNameLen:
		return fmt.Errorf("name of %d bytes exceeds the maximum of %d", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return errors.New("name is not valid UTF-8")
	}
	return nil
}

// clip keeps error messages bounded when a name is itself the problem.
func clip(name string) string {
	if len(name) > 64 {
		return name[:64] + "..."
	}
	return name
}

func badBool(b []byte) int {
	for i, v := range b {
		if v > 1 {
			return i
		}
	}
	return -1
}

// DecodeTensorList decodes a tensor list, enforcing every rule of
// docs/ABI.md §2. b is untrusted (typically a view of guest memory); the
// result shares no memory with it, and nothing is allocated beyond a small
// constant factor of len(b). A tensor held by handle is an error.
func DecodeTensorList(b []byte) ([]tensor.Named, error) { return DecodeTensorListHeld(b, nil) }

// DecodeTensorListHeld is DecodeTensorList that resolves tensors held by
// handle through h; their dtype and shape must match the handle's tensor,
// which the result then shares with h's table.
func DecodeTensorListHeld(b []byte, h Handles) ([]tensor.Named, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("abi: tensor list of %d bytes is shorter than its 8-byte header", len(b))
	}
	if string(b[:4]) != Magic {
		return nil, fmt.Errorf("abi: tensor list starts with %q, not the magic %q", b[:4], Magic)
	}
	count := le.Uint32(b[4:])
	if count > MaxTensors {
		return nil, fmt.Errorf("abi: tensor list count %d exceeds the maximum of %d", count, MaxTensors)
	}
	if uint64(count)*minTensorBytes > uint64(len(b)-8) {
		return nil, fmt.Errorf("abi: tensor list count %d cannot fit in %d bytes", count, len(b))
	}
	d := decoder{b: b, off: 8, h: h}
	ts := make([]tensor.Named, 0, count)
	var seen map[string]struct{}
	if count > 8 {
		seen = make(map[string]struct{}, count)
	}
	for i := range int(count) {
		start := d.off
		t, err := d.tensor()
		if err != nil {
			if t.Name != "" {
				return nil, fmt.Errorf("abi: tensor %d %q at offset %d: %w", i, t.Name, start, err)
			}
			return nil, fmt.Errorf("abi: tensor %d at offset %d: %w", i, start, err)
		}
		dup := false
		if seen != nil {
			_, dup = seen[t.Name]
			seen[t.Name] = struct{}{}
		} else {
			dup = slices.ContainsFunc(ts, func(o tensor.Named) bool { return o.Name == t.Name })
		}
		if dup {
			return nil, fmt.Errorf("abi: tensor %d: duplicate name %q", i, t.Name)
		}
		ts = append(ts, t)
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("abi: %d trailing bytes after %d tensors", len(b)-d.off, count)
	}
	return ts, nil
}

type decoder struct {
	b   []byte
	off int
	h   Handles
}

func (d *decoder) left() int { return len(d.b) - d.off }

// take returns the next n bytes, or an error naming what was cut short.
func (d *decoder) take(n uint64, what string) ([]byte, error) {
	if n > uint64(d.left()) {
		return nil, fmt.Errorf("%s of %d bytes runs past the end (%d bytes left)", what, n, d.left())
	}
	p := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return p, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	p, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return le.Uint32(p), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	p, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return le.Uint64(p), nil
}

func (d *decoder) pad(what string) error {
	p, err := d.take(uint64(padLen(d.off)), what)
	if err != nil {
		return err
	}
	for _, v := range p {
		if v != 0 {
			return fmt.Errorf("%s is not zero", what)
		}
	}
	return nil
}

// tensor decodes one tensor. On error the returned Named carries the name if
// it was read, for the message.
func (d *decoder) tensor() (tensor.Named, error) {
	var nt tensor.Named
	nameLen, err := d.u32("name_len")
	if err != nil {
		return nt, err
	}
	if nameLen == 0 || nameLen > MaxNameLen {
		return nt, fmt.Errorf("name_len %d is not within 1..%d", nameLen, MaxNameLen)
	}
	name, err := d.take(uint64(nameLen), "name")
	if err != nil {
		return nt, err
	}
	if !utf8.Valid(name) {
		return nt, errors.New("name is not valid UTF-8")
	}
	nt.Name = string(name)

	code, err := d.u32("dtype")
	if err != nil {
		return nt, err
	}
	isHeld := code&HeldFlag != 0
	code &^= HeldFlag
	dt := tensor.DType(code)
	if code > math.MaxUint8 || !dt.Valid() {
		return nt, fmt.Errorf("dtype %d is not supported", code)
	}
	rank, err := d.u32("rank")
	if err != nil {
		return nt, err
	}
	if rank > MaxRank {
		return nt, fmt.Errorf("rank %d exceeds the maximum of %d", rank, MaxRank)
	}
	dims, err := d.take(8*uint64(rank), "dims")
	if err != nil {
		return nt, err
	}
	shape := make(tensor.Shape, rank)
	for i := range shape {
		v := int64(le.Uint64(dims[8*i:]))
		if v < 0 {
			return nt, fmt.Errorf("dim %d is negative (%d)", i, v)
		}
		if uint64(v) > math.MaxInt {
			return nt, fmt.Errorf("dim %d (%d) does not fit this host's int", i, v)
		}
		shape[i] = int(v)
	}
	n, err := shape.NumElements()
	if err != nil {
		return nt, err
	}
	dataLen, err := d.u64("data_len")
	if err != nil {
		return nt, err
	}
	if err := d.pad("padding before data"); err != nil {
		return nt, err
	}
	if isHeld {
		return d.heldTensor(nt, dt, shape, dataLen)
	}
	if dt != tensor.Bytes {
		if want := uint64(n) * uint64(dt.Size()); dataLen != want {
			return nt, fmt.Errorf("data_len %d does not match %v%v, which needs %d bytes", dataLen, dt, []int(shape), want)
		}
	} else if dataLen < 4*uint64(n) {
		return nt, fmt.Errorf("data_len %d is too short for %d BYTES elements", dataLen, n)
	}
	data, err := d.take(dataLen, "data")
	if err != nil {
		return nt, err
	}
	t := &tensor.Tensor{DType: dt, Shape: shape}
	if dt == tensor.Bytes {
		if t.Strings, err = decodeStrings(data, n); err != nil {
			return nt, err
		}
	} else {
		if dt == tensor.Bool {
			if i := badBool(data); i >= 0 {
				return nt, fmt.Errorf("BOOL element %d is %d, not 0 or 1", i, data[i])
			}
		}
		t.Data = append(make([]byte, 0, len(data)), data...)
	}
	if err := d.pad("padding after data"); err != nil {
		return nt, err
	}
	nt.Tensor = t
	return nt, nil
}

// heldTensor finishes decoding a tensor passed by handle.
func (d *decoder) heldTensor(nt tensor.Named, dt tensor.DType, shape tensor.Shape, dataLen uint64) (tensor.Named, error) {
	if d.h == nil {
		return nt, errors.New("a host-held tensor where none is allowed")
	}
	if dataLen != 4 {
		return nt, fmt.Errorf("a host-held tensor has data_len %d, not 4", dataLen)
	}
	hb, err := d.take(4, "handle")
	if err != nil {
		return nt, err
	}
	t, err := d.h.Resolve(le.Uint32(hb))
	if err != nil {
		return nt, err
	}
	if t.DType != dt || !t.Shape.Equal(shape) {
		return nt, fmt.Errorf("handle %d holds %v%v, the list says %v%v", le.Uint32(hb), t.DType, []int(t.Shape), dt, []int(shape))
	}
	if err := d.pad("padding after data"); err != nil {
		return nt, err
	}
	nt.Tensor = t
	return nt, nil
}

// decodeStrings copies n length-prefixed elements that must fill data
// exactly into one backing array. The caller has checked len(data) >= 4n, so
// the headers cost at most 6 bytes per byte of input.
func decodeStrings(data []byte, n int) ([][]byte, error) {
	strs := make([][]byte, n)
	back := make([]byte, 0, len(data)-4*n)
	off := 0
	for i := range strs {
		if len(data)-off < 4 {
			return nil, fmt.Errorf("BYTES element %d: length prefix runs past data_len", i)
		}
		l := uint64(le.Uint32(data[off:]))
		off += 4
		if l > uint64(len(data)-off) {
			return nil, fmt.Errorf("BYTES element %d: length %d runs past data_len (%d bytes left)", i, l, len(data)-off)
		}
		s := len(back)
		back = append(back, data[off:off+int(l)]...)
		strs[i] = back[s:len(back):len(back)]
		off += int(l)
	}
	if off != len(data) {
		return nil, fmt.Errorf("%d bytes after the last BYTES element within data_len", len(data)-off)
	}
	return strs, nil
}
