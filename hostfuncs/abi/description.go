package abi

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Description is what wasmgate_describe outputs (docs/ABI.md §3).
type Description struct {
	ABI     int          `json:"abi"`
	Name    string       `json:"name"`
	Inputs  []TensorSpec `json:"inputs"`
	Outputs []TensorSpec `json:"outputs"`
}

// TensorSpec declares one input or output. In JSON the dtype is the
// "datatype" member, spelled as its KServe V2 name. A dim of -1 matches any
// size.
type TensorSpec struct {
	Name     string
	DType    tensor.DType
	Shape    []int64
	Optional bool
}

// specJSON is TensorSpec on the wire. Pointers tell an absent member from a
// zero one, so a forgotten "shape" is not mistaken for a scalar.
type specJSON struct {
	Name     *string  `json:"name"`
	DataType *string  `json:"datatype"`
	Shape    *[]int64 `json:"shape"`
	Optional bool     `json:"optional,omitempty"`
}

// MarshalJSON writes the wire form; a nil shape is written as [] (a scalar).
func (s TensorSpec) MarshalJSON() ([]byte, error) {
	dt := s.DType.String()
	shape := s.Shape
	if shape == nil {
		shape = []int64{}
	}
	return json.Marshal(specJSON{Name: &s.Name, DataType: &dt, Shape: &shape, Optional: s.Optional})
}

// UnmarshalJSON reads the wire form, requiring name, datatype and shape.
func (s *TensorSpec) UnmarshalJSON(b []byte) error {
	var w specJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	v, err := w.spec()
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func (w specJSON) spec() (TensorSpec, error) {
	if w.Name == nil {
		return TensorSpec{}, errors.New(`missing "name"`)
	}
	if w.DataType == nil {
		return TensorSpec{}, errors.New(`missing "datatype"`)
	}
	dt, ok := tensor.ParseV2(*w.DataType)
	if !ok {
		return TensorSpec{}, fmt.Errorf("datatype %q is not supported", clip(*w.DataType))
	}
	if w.Shape == nil {
		return TensorSpec{}, errors.New(`missing "shape" (a scalar has "shape": [])`)
	}
	shape := *w.Shape
	if shape == nil {
		shape = []int64{}
	}
	return TensorSpec{Name: *w.Name, DType: dt, Shape: shape, Optional: w.Optional}, nil
}

// descJSON decodes each spec as raw JSON, so an error can say which one.
type descJSON struct {
	ABI     *int              `json:"abi"`
	Name    string            `json:"name"`
	Inputs  []json.RawMessage `json:"inputs"`
	Outputs []json.RawMessage `json:"outputs"`
}

// DecodeDescription parses and validates a module's description. b is
// untrusted; unknown members are ignored so later ABI minor additions do not
// break older hosts.
func DecodeDescription(b []byte) (Description, error) {
	var w descJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return Description{}, fmt.Errorf("abi: description: %w", err)
	}
	if w.ABI == nil {
		return Description{}, errors.New(`abi: description: missing "abi"`)
	}
	d := Description{ABI: *w.ABI, Name: w.Name}
	var err error
	if d.Inputs, err = decodeSpecs("inputs", w.Inputs); err != nil {
		return Description{}, err
	}
	if d.Outputs, err = decodeSpecs("outputs", w.Outputs); err != nil {
		return Description{}, err
	}
	if err := d.Validate(); err != nil {
		return Description{}, err
	}
	return d, nil
}

func decodeSpecs(field string, raw []json.RawMessage) ([]TensorSpec, error) {
	if len(raw) > MaxTensors {
		return nil, fmt.Errorf("abi: description: %d %s exceed the maximum of %d", len(raw), field, MaxTensors)
	}
	specs := make([]TensorSpec, len(raw))
	for i, r := range raw {
		var w specJSON
		if err := json.Unmarshal(r, &w); err != nil {
			return nil, fmt.Errorf("abi: description: %s[%d]: %w", field, i, err)
		}
		s, err := w.spec()
		if err != nil {
			return nil, fmt.Errorf("abi: description: %s[%d]: %w", field, i, err)
		}
		specs[i] = s
	}
	return specs, nil
}

// Validate checks the rules of docs/ABI.md §3: the ABI version, unique
// non-empty names, supported datatypes, ranks and dims, no optional outputs.
func (d Description) Validate() error {
	if d.ABI != Version {
		return fmt.Errorf("abi: description is for ABI version %d; this host speaks version %d", d.ABI, Version)
	}
	if err := validateSpecs("inputs", d.Inputs, true); err != nil {
		return err
	}
	return validateSpecs("outputs", d.Outputs, false)
}

func validateSpecs(field string, specs []TensorSpec, inputs bool) error {
	if len(specs) > MaxTensors {
		return fmt.Errorf("abi: description: %d %s exceed the maximum of %d", len(specs), field, MaxTensors)
	}
	for i, s := range specs {
		where := fmt.Sprintf("abi: description: %s[%d] %q", field, i, clip(s.Name))
		if err := checkName(s.Name); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		for _, o := range specs[:i] {
			if o.Name == s.Name {
				return fmt.Errorf("%s: duplicate name", where)
			}
		}
		if !s.DType.Valid() {
			return fmt.Errorf("%s: unsupported dtype %v", where, s.DType)
		}
		if len(s.Shape) > MaxRank {
			return fmt.Errorf("%s: rank %d exceeds the maximum of %d", where, len(s.Shape), MaxRank)
		}
		for j, v := range s.Shape {
			if v < -1 {
				return fmt.Errorf("%s: dim %d is %d; dims are >= 0, or -1 for any size", where, j, v)
			}
		}
		if s.Optional && !inputs {
			return fmt.Errorf("%s: outputs cannot be optional", where)
		}
	}
	return nil
}
