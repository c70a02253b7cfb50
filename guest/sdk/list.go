package sdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// This file is the guest's own copy of the tensor-list codec: guests must
// not import host packages. It applies exactly the host's rules; a
// differential fuzz test on the host side holds the two to that.

const magic = "WGTL"

// minTensorBytes is the smallest encoded tensor (1-byte name, rank 0, no
// data, padded); it bounds the count a list of a given size can hold.
const minTensorBytes = 24

var le = binary.LittleEndian

func padLen(n int) int { return (8 - n%8) % 8 }

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

func badBool(b []byte) int {
	for i, v := range b {
		if v > 1 {
			return i
		}
	}
	return -1
}

// HeldFlag marks, in the dtype field of an encoded tensor, a tensor whose
// data is a u32 host handle (docs/ABI.md §2).
const HeldFlag = 1 << 31

func dataLen(t *Tensor) int {
	if t.Handle != 0 {
		return 4
	}
	if t.DType != Bytes {
		return len(t.Data)
	}
	n := 4 * len(t.Strings)
	for _, s := range t.Strings {
		n += len(s)
	}
	return n
}

// AppendTensorList appends the ABI encoding of ts to dst; alignment counts
// from len(dst). A tensor with a Handle is encoded host-held. It fails on
// anything a reader would reject.
func AppendTensorList(dst []byte, ts []Tensor) ([]byte, error) {
	if len(ts) > MaxTensors {
		return dst, fmt.Errorf("tensor list of %d tensors exceeds the maximum of %d", len(ts), MaxTensors)
	}
	size := 8
	for i := range ts {
		t := &ts[i]
		if err := t.Validate(); err != nil {
			return dst, fmt.Errorf("tensor %d %q: %w", i, t.Name, err)
		}
		for _, o := range ts[:i] {
			if o.Name == t.Name {
				return dst, fmt.Errorf("tensor %d: duplicate name %q", i, t.Name)
			}
		}
		head := 4 + len(t.Name) + 8 + 8*len(t.Shape) + 8
		data := dataLen(t)
		size += head + padLen(head) + data + padLen(data)
	}
	start := len(dst)
	dst = slices.Grow(dst, size)
	dst = append(dst, magic...)
	dst = le.AppendUint32(dst, uint32(len(ts)))
	for i := range ts {
		t := &ts[i]
		code := uint32(t.DType)
		if t.Handle != 0 {
			code |= HeldFlag
		}
		dst = le.AppendUint32(dst, uint32(len(t.Name)))
		dst = append(dst, t.Name...)
		dst = le.AppendUint32(dst, code)
		dst = le.AppendUint32(dst, uint32(len(t.Shape)))
		for _, d := range t.Shape {
			dst = le.AppendUint64(dst, uint64(d))
		}
		dst = le.AppendUint64(dst, uint64(dataLen(t)))
		dst = appendPad(dst, start)
		if t.Handle != 0 {
			dst = le.AppendUint32(dst, uint32(t.Handle))
		} else if t.DType == Bytes {
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
	var zero [8]byte
	return append(dst, zero[:padLen(len(dst)-start)]...)
}

// DecodeTensorList decodes an ABI tensor list whose tensors are all inline;
// a host-held tensor is an error, as in the host's DecodeTensorList. Unlike
// the host's decoder it does not copy: Data and Strings point into b (with
// capacity clipped, so appending to them cannot overwrite a neighbour),
// which is what keeps a large input from costing twice its size in the
// guest's small memory.
func DecodeTensorList(b []byte) ([]Tensor, error) { return decodeTensorList(b, false) }

// DecodeTensorListHeld is DecodeTensorList that also accepts host-held
// tensors (dtype | HeldFlag, data a u32 handle), returned with their Handle
// set and no data: what the host sends as a call's input list.
func DecodeTensorListHeld(b []byte) ([]Tensor, error) { return decodeTensorList(b, true) }

func decodeTensorList(b []byte, held bool) ([]Tensor, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("tensor list of %d bytes is shorter than its 8-byte header", len(b))
	}
	if string(b[:4]) != magic {
		return nil, fmt.Errorf("tensor list starts with %q, not the magic %q", b[:4], magic)
	}
	count := le.Uint32(b[4:])
	if count > MaxTensors {
		return nil, fmt.Errorf("tensor list count %d exceeds the maximum of %d", count, MaxTensors)
	}
	if uint64(count)*minTensorBytes > uint64(len(b)-8) {
		return nil, fmt.Errorf("tensor list count %d cannot fit in %d bytes", count, len(b))
	}
	off := 8
	ts := make([]Tensor, 0, count)
	for i := range int(count) {
		start := off
		t, next, err := decodeTensor(b, off, held)
		if err != nil {
			if t.Name != "" {
				return nil, fmt.Errorf("tensor %d %q at offset %d: %w", i, t.Name, start, err)
			}
			return nil, fmt.Errorf("tensor %d at offset %d: %w", i, start, err)
		}
		for _, o := range ts {
			if o.Name == t.Name {
				return nil, fmt.Errorf("tensor %d: duplicate name %q", i, t.Name)
			}
		}
		ts = append(ts, t)
		off = next
	}
	if off != len(b) {
		return nil, fmt.Errorf("%d trailing bytes after %d tensors", len(b)-off, count)
	}
	return ts, nil
}

// decodeTensor decodes the tensor at off and returns the offset after it;
// held allows host-held tensors.
func decodeTensor(b []byte, off int, held bool) (t Tensor, next int, err error) {
	take := func(n uint64, what string) ([]byte, error) {
		if left := len(b) - off; n > uint64(left) {
			return nil, fmt.Errorf("%s of %d bytes runs past the end (%d bytes left)", what, n, left)
		}
		p := b[off : off+int(n) : off+int(n)]
		off += int(n)
		return p, nil
	}
	pad := func(what string) error {
		p, err := take(uint64(padLen(off)), what)
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
	p, err := take(4, "name_len")
	if err != nil {
		return t, 0, err
	}
	nameLen := le.Uint32(p)
	if nameLen == 0 || nameLen > MaxNameLen {
		return t, 0, fmt.Errorf("name_len %d is not within 1..%d", nameLen, MaxNameLen)
	}
	name, err := take(uint64(nameLen), "name")
	if err != nil {
		return t, 0, err
	}
	if !utf8.Valid(name) {
		return t, 0, errors.New("name is not valid UTF-8")
	}
	t.Name = string(name)
	if p, err = take(8, "dtype and rank"); err != nil {
		return t, 0, err
	}
	code, rank := le.Uint32(p), le.Uint32(p[4:])
	isHeld := code&HeldFlag != 0
	code &^= HeldFlag
	if code > math.MaxUint8 || !DType(code).Valid() {
		return t, 0, fmt.Errorf("dtype %d is not supported", code)
	}
	t.DType = DType(code)
	if rank > MaxRank {
		return t, 0, fmt.Errorf("rank %d exceeds the maximum of %d", rank, MaxRank)
	}
	dims, err := take(8*uint64(rank), "dims")
	if err != nil {
		return t, 0, err
	}
	t.Shape = make([]int64, rank)
	for i := range t.Shape {
		t.Shape[i] = int64(le.Uint64(dims[8*i:]))
	}
	n, err := NumElements(t.Shape)
	if err != nil {
		return t, 0, err
	}
	if p, err = take(8, "data_len"); err != nil {
		return t, 0, err
	}
	dl := le.Uint64(p)
	if err := pad("padding before data"); err != nil {
		return t, 0, err
	}
	if isHeld {
		if !held {
			return t, 0, errors.New("a host-held tensor where none is allowed")
		}
		if dl != 4 {
			return t, 0, fmt.Errorf("a host-held tensor has data_len %d, not 4", dl)
		}
		hb, err := take(4, "handle")
		if err != nil {
			return t, 0, err
		}
		if t.Handle = Handle(le.Uint32(hb)); t.Handle == 0 {
			return t, 0, errors.New("a host-held tensor with handle 0")
		}
		if err := pad("padding after data"); err != nil {
			return t, 0, err
		}
		return t, off, nil
	}
	if t.DType != Bytes {
		if want := uint64(n) * uint64(t.DType.Size()); dl != want {
			return t, 0, fmt.Errorf("data_len %d does not match %v%v, which needs %d bytes", dl, t.DType, t.Shape, want)
		}
	} else if dl < 4*uint64(n) {
		return t, 0, fmt.Errorf("data_len %d is too short for %d BYTES elements", dl, n)
	}
	data, err := take(dl, "data")
	if err != nil {
		return t, 0, err
	}
	if t.DType == Bytes {
		if t.Strings, err = splitStrings(data, n); err != nil {
			return t, 0, err
		}
	} else {
		if t.DType == Bool {
			if i := badBool(data); i >= 0 {
				return t, 0, fmt.Errorf("BOOL element %d is %d, not 0 or 1", i, data[i])
			}
		}
		t.Data = data
	}
	if err := pad("padding after data"); err != nil {
		return t, 0, err
	}
	return t, off, nil
}

// splitStrings slices n length-prefixed elements that must fill data exactly.
func splitStrings(data []byte, n int) ([][]byte, error) {
	strs := make([][]byte, n)
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
		strs[i] = data[off : off+int(l) : off+int(l)]
		off += int(l)
	}
	if off != len(data) {
		return nil, fmt.Errorf("%d bytes after the last BYTES element within data_len", len(data)-off)
	}
	return strs, nil
}
