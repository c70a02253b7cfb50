package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// The tensor files the Go side and ortrunner exchange: "WGT1", uint32
// element type (ONNX's code, which is tensor.DType's), uint32 rank, int64
// dimensions, then the elements; all little-endian.
const tensorMagic = "WGT1"

func writeTensorFile(path string, t *tensor.Tensor) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if t.DType == tensor.Bytes {
		return fmt.Errorf("%s: STRING tensors have no fixed-size encoding", path)
	}
	b := make([]byte, 0, 12+8*len(t.Shape)+len(t.Data))
	b = append(b, tensorMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(t.DType))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Shape)))
	for _, d := range t.Shape {
		b = binary.LittleEndian.AppendUint64(b, uint64(d))
	}
	b = append(b, t.Data...)
	return os.WriteFile(path, b, 0o644)
}

func readTensorFile(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:4]) != tensorMagic {
		return nil, fmt.Errorf("%s: not a %s tensor file", path, tensorMagic)
	}
	dt := tensor.DType(binary.LittleEndian.Uint32(hdr[4:]))
	rank := binary.LittleEndian.Uint32(hdr[8:])
	if rank > tensor.MaxRank || !dt.Valid() || dt == tensor.Bytes {
		return nil, fmt.Errorf("%s: bad header (dtype %d, rank %d)", path, dt, rank)
	}
	shape := make(tensor.Shape, rank)
	for i := range shape {
		var d [8]byte
		if _, err := io.ReadFull(r, d[:]); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		shape[i] = int(binary.LittleEndian.Uint64(d[:]))
	}
	t, err := tensor.New(dt, shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Data = tensor.AlignedBytes(len(t.Data))
	if _, err := io.ReadFull(r, t.Data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%s: data beyond the shape's size", path)
	}
	return t, nil
}
