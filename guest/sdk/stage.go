package sdk

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Version is the ABI version this SDK implements.
const Version = 1

// Status codes of wasmgate_describe and wasmgate_run.
const (
	StatusOK      int32 = 0 // the output is a tensor list (or the description)
	StatusInvalid int32 = 1 // the caller's input is invalid; the output is a message for them
	StatusFailed  int32 = 2 // the module failed; the output is a message
)

// Spec declares one input or output of a stage. A dim of -1 matches any
// size. Only inputs may be Optional.
type Spec struct {
	Name     string
	DType    DType
	Shape    []int64
	Optional bool
}

// Stage is what a module does. Run gets one tensor per declared input, in
// declared order, already checked against its Spec; an optional input the
// request left out is the zero Tensor (see Tensor.Present). Run returns one
// tensor per declared output, in declared order; an empty Name is filled in
// from the Spec, and dtypes and shapes are checked before they are sent.
//
// An error made by Invalid becomes status 1 and its message goes to the
// caller; any other error, or a panic, becomes status 2.
type Stage struct {
	Name    string
	Inputs  []Spec
	Outputs []Spec
	Run     func(in []Tensor) ([]Tensor, error)
}

var (
	stage    *Stage
	stageErr error
)

// Register makes s the module's stage. Call it once, from an init function:
// a reactor's main is never run. A mistake in s is reported when the host
// asks for the description, so the module fails to load with a clear message.
func Register(s Stage) {
	if stage != nil || stageErr != nil {
		stageErr = errors.New("sdk: Register called more than once")
		stage = nil
		return
	}
	if err := s.validate(); err != nil {
		stageErr = fmt.Errorf("sdk: invalid stage %q: %w", s.Name, err)
		return
	}
	c := s
	c.Inputs = cloneSpecs(s.Inputs)
	c.Outputs = cloneSpecs(s.Outputs)
	stage = &c
}

func cloneSpecs(specs []Spec) []Spec {
	c := make([]Spec, len(specs))
	for i, s := range specs {
		c[i] = s
		c[i].Shape = append([]int64{}, s.Shape...)
	}
	return c
}

func (s Stage) validate() error {
	if s.Run == nil {
		return errors.New("Run is nil")
	}
	if !utf8.ValidString(s.Name) {
		return errors.New("name is not valid UTF-8")
	}
	if err := validateSpecs("input", s.Inputs); err != nil {
		return err
	}
	if err := validateSpecs("output", s.Outputs); err != nil {
		return err
	}
	for _, o := range s.Outputs {
		if o.Optional {
			return fmt.Errorf("output %q: outputs cannot be optional", o.Name)
		}
	}
	return nil
}

func validateSpecs(kind string, specs []Spec) error {
	if len(specs) > MaxTensors {
		return fmt.Errorf("%d %ss exceed the maximum of %d", len(specs), kind, MaxTensors)
	}
	for i, s := range specs {
		if err := checkName(s.Name); err != nil {
			return fmt.Errorf("%s %d: %w", kind, i, err)
		}
		for _, o := range specs[:i] {
			if o.Name == s.Name {
				return fmt.Errorf("%s %q declared twice", kind, s.Name)
			}
		}
		if !s.DType.Valid() {
			return fmt.Errorf("%s %q: unsupported dtype %v", kind, s.Name, s.DType)
		}
		if len(s.Shape) > MaxRank {
			return fmt.Errorf("%s %q: rank %d exceeds the maximum of %d", kind, s.Name, len(s.Shape), MaxRank)
		}
		for _, d := range s.Shape {
			if d < -1 {
				return fmt.Errorf("%s %q: dim %d (dims are >= 0, or -1 for any size)", kind, s.Name, d)
			}
		}
	}
	return nil
}

// Describe appends the registered stage's description (docs/ABI.md §3) to
// dst, as wasmgate_describe does. It is exported so a module's tests can run
// on the host.
func Describe(dst []byte) (int32, []byte) {
	if err := registered(); err != nil {
		return StatusFailed, appendMessage(dst, err.Error())
	}
	dst = append(dst, `{"abi":`...)
	dst = strconv.AppendInt(dst, Version, 10)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, stage.Name)
	dst = append(dst, `,"inputs":`...)
	dst = appendSpecs(dst, stage.Inputs)
	dst = append(dst, `,"outputs":`...)
	dst = appendSpecs(dst, stage.Outputs)
	return StatusOK, append(dst, '}')
}

func registered() error {
	if stageErr != nil {
		return stageErr
	}
	if stage == nil {
		return errors.New("sdk: no stage registered (call sdk.Register from an init function)")
	}
	return nil
}

func appendSpecs(dst []byte, specs []Spec) []byte {
	dst = append(dst, '[')
	for i, s := range specs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendJSONString(dst, s.Name)
		dst = append(dst, `,"datatype":"`...)
		dst = append(dst, s.DType.String()...)
		dst = append(dst, `","shape":[`...)
		for j, d := range s.Shape {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, d, 10)
		}
		dst = append(dst, ']')
		if s.Optional {
			dst = append(dst, `,"optional":true`...)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendJSONString quotes s (valid UTF-8) as a JSON string; encoding/json
// would cost the module its reflection-heavy code for four fields.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// Call runs the registered stage on an encoded input list and appends the
// output (a tensor list, or a message) to dst, as wasmgate_run does. It is
// exported so a module's tests can run on the host. Decoded inputs alias
// input; the input list may hold host-held tensors, and so may the output.
func Call(dst, input []byte) (status int32, out []byte) {
	defer func() {
		if r := recover(); r != nil {
			Log(LevelError, fmt.Sprintf("panic in Run: %v\n%s", r, debug.Stack()))
			status, out = StatusFailed, appendMessage(dst, fmt.Sprintf("panic: %v", r))
		}
	}()
	if err := registered(); err != nil {
		return StatusFailed, appendMessage(dst, err.Error())
	}
	list, err := DecodeTensorListHeld(input)
	if err != nil {
		return StatusFailed, appendMessage(dst, "sdk: malformed input list: "+err.Error())
	}
	in, err := bindInputs(stage.Inputs, list)
	if err != nil {
		return StatusInvalid, appendMessage(dst, err.Error())
	}
	res, err := stage.Run(in)
	if err != nil {
		if IsInvalid(err) {
			return StatusInvalid, appendMessage(dst, err.Error())
		}
		return StatusFailed, appendMessage(dst, err.Error())
	}
	if err := checkOutputs(stage.Outputs, res); err != nil {
		return StatusFailed, appendMessage(dst, err.Error())
	}
	out, err = AppendTensorList(dst, res)
	if err != nil {
		return StatusFailed, appendMessage(dst, "sdk: cannot encode outputs: "+err.Error())
	}
	return StatusOK, out
}

// appendMessage keeps status-1/2 outputs valid, non-empty UTF-8, as the ABI
// requires of them.
func appendMessage(dst []byte, msg string) []byte {
	if msg == "" {
		msg = "module failed without a message"
	}
	return append(dst, strings.ToValidUTF8(msg, "\uFFFD")...)
}

// bindInputs orders list by the declared inputs and checks each against its
// Spec. The host checks too; doing it here as well costs little and gives
// every module the same messages.
func bindInputs(specs []Spec, list []Tensor) ([]Tensor, error) {
	in := make([]Tensor, len(specs))
	for _, t := range list {
		i := specIndex(specs, t.Name)
		if i < 0 {
			return nil, fmt.Errorf("unknown input %q (this module takes %s)", t.Name, specNames(specs))
		}
		if err := checkTensor(specs[i], t); err != nil {
			return nil, fmt.Errorf("input %q: %w", t.Name, err)
		}
		in[i] = t
	}
	for i, s := range specs {
		if !s.Optional && !in[i].Present() {
			return nil, fmt.Errorf("missing input %q", s.Name)
		}
	}
	return in, nil
}

func checkOutputs(specs []Spec, res []Tensor) error {
	if len(res) != len(specs) {
		return fmt.Errorf("stage returned %d outputs, but declares %d (%s)", len(res), len(specs), specNames(specs))
	}
	for i := range res {
		if res[i].Name == "" {
			res[i].Name = specs[i].Name
		}
		if res[i].Name != specs[i].Name {
			return fmt.Errorf("output %d is named %q, but declared as %q", i, res[i].Name, specs[i].Name)
		}
		if err := checkTensor(specs[i], res[i]); err != nil {
			return fmt.Errorf("output %q: %w", res[i].Name, err)
		}
	}
	return nil
}

func checkTensor(s Spec, t Tensor) error {
	if t.DType != s.DType {
		return fmt.Errorf("datatype is %v, want %v", t.DType, s.DType)
	}
	ok := len(t.Shape) == len(s.Shape)
	for i := 0; ok && i < len(s.Shape); i++ {
		ok = s.Shape[i] == -1 || s.Shape[i] == t.Shape[i]
	}
	if !ok {
		return fmt.Errorf("shape is %v, want %v", t.Shape, s.Shape)
	}
	return nil
}

func specIndex(specs []Spec, name string) int {
	for i, s := range specs {
		if s.Name == name {
			return i
		}
	}
	return -1
}

func specNames(specs []Spec) string {
	if len(specs) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, s := range specs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(s.Name))
	}
	return b.String()
}

// InvalidError marks an error as the caller's fault (status 1).
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Invalid formats an error (as fmt.Errorf, so %w wraps) that Call reports
// as status 1, with its message going back to the caller.
func Invalid(format string, a ...any) error {
	return &InvalidError{Err: fmt.Errorf(format, a...)}
}

// IsInvalid reports whether err, or an error it wraps, came from Invalid.
func IsInvalid(err error) bool {
	var e *InvalidError
	return errors.As(err, &e)
}
