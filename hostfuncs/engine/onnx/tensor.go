package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TensorProto field numbers.
const (
	tpDims         = 1
	tpDataType     = 2
	tpSegment      = 3
	tpFloatData    = 4
	tpInt32Data    = 5
	tpStringData   = 6
	tpInt64Data    = 7
	tpName         = 8
	tpRawData      = 9
	tpDoubleData   = 10
	tpUint64Data   = 11
	tpExternalData = 13
	tpDataLocation = 14
)

// ReadTensor decodes a serialized TensorProto.
func ReadTensor(b []byte) (*tensor.Tensor, error) {
	nt, err := ReadNamedTensor(b)
	return nt.Tensor, err
}

// ReadNamedTensor decodes a serialized TensorProto with the name it carries
// (empty if it has none).
func ReadNamedTensor(b []byte) (tensor.Named, error) {
	name, t, err := decodeTensor(b)
	if err != nil {
		if name != "" {
			err = fmt.Errorf("tensor %q: %w", name, err)
		}
		return tensor.Named{}, err
	}
	return tensor.Named{Name: name, Tensor: t}, nil
}

// tensorFields is what a first pass over a TensorProto learns: everything
// needed to decide, before allocating, whether the data present matches the
// shape claimed.
type tensorFields struct {
	name     string
	dims     []uint64
	dataType int32
	raw      []byte
	hasRaw   bool
	external bool
	location string
	counts   [tpUint64Data + 1]int // values present per typed data field
	fields   []field               // typed data field occurrences, in order
}

func scanTensor(b []byte) (tensorFields, error) {
	var tf tensorFields
	err := eachField(b, func(f field) error {
		var err error
		var n int
		switch f.num {
		case tpDims:
			tf.dims, err = appendVarints(tf.dims, "dims", f)
		case tpDataType:
			tf.dataType, err = int32Field("data_type", f)
		case tpSegment:
			err = fault.Errorf(fault.Unsupported, "segmented tensors are not supported")
		case tpName:
			tf.name, err = str("name", f)
		case tpRawData:
			tf.raw, err = sub("raw_data", f)
			tf.hasRaw = true
		case tpDataLocation:
			var loc int32
			loc, err = int32Field("data_location", f)
			tf.external = loc == 1
		case tpExternalData:
			var kv []byte
			if kv, err = sub("external_data", f); err == nil {
				var k, v string
				k, v, err = readStringPair(kv)
				if k == "location" {
					tf.location = v
				}
			}
		case tpFloatData:
			n, err = countFixed("float_data", f, 4)
		case tpDoubleData:
			n, err = countFixed("double_data", f, 8)
		case tpInt32Data:
			n, err = countVarints("int32_data", f)
		case tpInt64Data:
			n, err = countVarints("int64_data", f)
		case tpUint64Data:
			n, err = countVarints("uint64_data", f)
		case tpStringData:
			if f.typ != protowire.BytesType {
				err = wrongWire("string_data", f)
			}
			n = 1
		default:
			return nil
		}
		if err != nil {
			return err
		}
		if n > 0 {
			tf.counts[f.num] += n
			tf.fields = append(tf.fields, f)
		}
		return nil
	})
	return tf, err
}

// readStringPair decodes a StringStringEntryProto.
func readStringPair(b []byte) (k, v string, err error) {
	err = eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			k, err = str("key", f)
		case 2:
			v, err = str("value", f)
		}
		return err
	})
	return k, v, err
}

// dataFieldFor names the typed field that may carry each dtype's values.
func dataFieldFor(dt tensor.DType) protowire.Number {
	switch dt {
	case tensor.Float32:
		return tpFloatData
	case tensor.Float64:
		return tpDoubleData
	case tensor.Int64:
		return tpInt64Data
	case tensor.Uint32, tensor.Uint64:
		return tpUint64Data
	case tensor.Bytes:
		return tpStringData
	}
	return tpInt32Data // the narrow integer, bool and 16-bit float types
}

var dataFieldNames = map[protowire.Number]string{
	tpFloatData: "float_data", tpInt32Data: "int32_data", tpStringData: "string_data",
	tpInt64Data: "int64_data", tpDoubleData: "double_data", tpUint64Data: "uint64_data",
}

func decodeTensor(b []byte) (string, *tensor.Tensor, error) {
	tf, err := scanTensor(b)
	if err != nil {
		return tf.name, nil, err
	}
	if tf.external {
		return tf.name, nil, fault.Errorf(fault.Unsupported, "tensor data stored in an external file (%q) is not supported", tf.location)
	}
	dt, err := dtypeOf(tf.dataType)
	if err != nil {
		return tf.name, nil, err
	}
	shape, n, err := shapeOf(tf.dims)
	if err != nil {
		return tf.name, nil, err
	}

	want := dataFieldFor(dt)
	for num, c := range tf.counts {
		if c > 0 && protowire.Number(num) != want {
			return tf.name, nil, fault.Errorf(fault.Invalid, "%s cannot hold %v values", dataFieldNames[protowire.Number(num)], dt.ONNXName())
		}
	}
	if tf.hasRaw {
		if tf.counts[want] > 0 {
			return tf.name, nil, fault.Errorf(fault.Invalid, "both raw_data and %s are set", dataFieldNames[want])
		}
		if dt == tensor.Bytes {
			return tf.name, nil, fault.Errorf(fault.Invalid, "STRING tensors cannot use raw_data")
		}
		if len(tf.raw) != n*dt.Size() {
			return tf.name, nil, fault.Errorf(fault.Invalid, "shape %v of %v needs %d bytes of raw_data, got %d", []int(shape), dt.ONNXName(), n*dt.Size(), len(tf.raw))
		}
		t := &tensor.Tensor{DType: dt, Shape: shape, Data: tensor.AlignedBytes(len(tf.raw))}
		copy(t.Data, tf.raw)
		return tf.name, t, nil
	}
	if got := tf.counts[want]; got != n {
		return tf.name, nil, fault.Errorf(fault.Invalid, "shape %v needs %d values, %s holds %d", []int(shape), n, dataFieldNames[want], got)
	}
	t, err := decodeTyped(dt, shape, n, tf.fields)
	return tf.name, t, err
}

// shapeOf converts wire dims and returns the element count, rejecting
// negative sizes and counts beyond what a tensor may hold.
func shapeOf(dims []uint64) (tensor.Shape, int, error) {
	if len(dims) > tensor.MaxRank {
		return nil, 0, fault.Errorf(fault.Invalid, "rank %d exceeds the maximum of %d", len(dims), tensor.MaxRank)
	}
	shape := make(tensor.Shape, len(dims))
	for i, d := range dims {
		if d > math.MaxInt32 { // also every negative int64
			return nil, 0, fault.Errorf(fault.Invalid, "dimension %d is %d", i, int64(d))
		}
		shape[i] = int(d)
	}
	n, err := shape.NumElements()
	if err != nil {
		return nil, 0, fault.Wrap(fault.Invalid, err)
	}
	return shape, n, nil
}

// decodeTyped fills a tensor from typed data fields whose value count has
// already been checked against n.
func decodeTyped(dt tensor.DType, shape tensor.Shape, n int, fields []field) (*tensor.Tensor, error) {
	t := &tensor.Tensor{DType: dt, Shape: shape}
	if dt == tensor.Bytes {
		t.Strings = make([][]byte, 0, n)
		for _, f := range fields {
			t.Strings = append(t.Strings, append([]byte(nil), f.b...))
		}
		return t, nil
	}
	t.Data = tensor.AlignedBytes(n * dt.Size())
	size, i := dt.Size(), 0
	put := func(v uint64) {
		if i >= n { // unreachable after the count check; keeps writes in bounds
			return
		}
		switch size {
		case 1:
			if dt == tensor.Bool && v != 0 {
				v = 1
			}
			t.Data[i] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(t.Data[2*i:], uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(t.Data[4*i:], uint32(v))
		case 8:
			binary.LittleEndian.PutUint64(t.Data[8*i:], v)
		}
		i++
	}
	for _, f := range fields {
		var err error
		switch f.num {
		case tpFloatData:
			eachFixed(f, 4, put)
		case tpDoubleData:
			eachFixed(f, 8, put)
		default:
			err = eachVarint(dataFieldNames[f.num], f, put)
		}
		if err != nil {
			return nil, err
		}
	}
	if i != n {
		return nil, fault.Errorf(fault.Invalid, "decoded %d values, want %d", i, n)
	}
	return t, nil
}

// unsupportedTypes names the ONNX element types the tensor package does not
// hold, so the error says which one a model uses.
var unsupportedTypes = map[int32]string{
	14: "COMPLEX64", 15: "COMPLEX128", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ",
	19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1",
	24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2",
}

func dtypeOf(code int32) (tensor.DType, error) {
	if dt, ok := tensor.FromONNX(code); ok {
		return dt, nil
	}
	if name, ok := unsupportedTypes[code]; ok {
		return tensor.Invalid, fault.Errorf(fault.Unsupported, "data type %s is not supported", name)
	}
	return tensor.Invalid, fault.Errorf(fault.Invalid, "unknown data type %d", code)
}
