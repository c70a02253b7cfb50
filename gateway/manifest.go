package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// Manifest is what a client PUTs to /v2/repository/models/{name}: the
// stages of a model and its limits (docs/MANIFEST.md).
type Manifest struct {
	Pre  *StageRef `json:"pre,omitempty"`
	Core CoreRef   `json:"core"`
	Post *StageRef `json:"post,omitempty"`
	// Calls lists the models the model's modules may run with model_run.
	Calls  []string       `json:"calls,omitempty"`
	Limits ManifestLimits `json:"limits,omitzero"`
	// Inputs and Outputs, if given, must be what the stages declare; they
	// let a client pin the interface it was written against.
	Inputs  []abi.TensorSpec `json:"inputs,omitempty"`
	Outputs []abi.TensorSpec `json:"outputs,omitempty"`
}

// StageRef names a module and the configuration it reads with the config
// host function.
type StageRef struct {
	Module string          `json:"module"`
	Config json.RawMessage `json:"config,omitempty"`
}

// CoreRef is the model itself: an ONNX graph (base64 in JSON), or an
// adapter module that drives the engine through host functions.
type CoreRef struct {
	ONNX   []byte          `json:"onnx,omitempty"`
	Module string          `json:"module,omitempty"`
	Config json.RawMessage `json:"config,omitempty"`
}

// ManifestLimits are a model's own limits; zero fields take the server's.
type ManifestLimits struct {
	Memory      ByteSize `json:"memory,omitzero"`       // linear memory per instance
	Timeout     Duration `json:"timeout,omitzero"`      // per request, within the server's
	HostMemory  ByteSize `json:"host_memory,omitzero"`  // per guest call, through host functions
	MaxOutput   ByteSize `json:"max_output,omitzero"`   // per guest call
	PoolSize    int      `json:"pool_size,omitzero"`    // instances per module (and tenant)
	InitTimeout Duration `json:"init_timeout,omitzero"` // instantiation, _initialize included
}

// check keeps a model's limits within what the server allows.
func (l ManifestLimits) check(cfg Config) error {
	var errs []string
	if l.Memory != 0 && (l.Memory < 4<<20 || l.Memory > 4<<30) {
		errs = append(errs, fmt.Sprintf("memory %v is not from 4MiB to 4GiB", l.Memory))
	}
	if l.Timeout < 0 || time.Duration(l.Timeout) > cfg.RequestTimeout {
		errs = append(errs, fmt.Sprintf("timeout %v is not within the server's request timeout of %v", time.Duration(l.Timeout), cfg.RequestTimeout))
	}
	if l.HostMemory < 0 || l.HostMemory > 4<<30 {
		errs = append(errs, fmt.Sprintf("host_memory %v is over 4GiB", l.HostMemory))
	}
	if l.MaxOutput < 0 || l.MaxOutput > 1<<30 {
		errs = append(errs, fmt.Sprintf("max_output %v is over 1GiB", l.MaxOutput))
	}
	if l.PoolSize < 0 || l.PoolSize > 64 {
		errs = append(errs, fmt.Sprintf("pool_size %d is not from 1 to 64", l.PoolSize))
	}
	if l.InitTimeout < 0 || time.Duration(l.InitTimeout) > time.Minute {
		errs = append(errs, fmt.Sprintf("init_timeout %v is over 1m", time.Duration(l.InitTimeout)))
	}
	if len(errs) > 0 {
		return fault.Errorf(fault.Invalid, "limits: %s", strings.Join(errs, "; "))
	}
	return nil
}

// decodeManifest parses a manifest strictly: an unknown member is more
// likely a typo than something to ignore.
func decodeManifest(b []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fault.Errorf(fault.Invalid, "manifest: %w", err)
	}
	if dec.More() {
		return m, fault.Errorf(fault.Invalid, "manifest: trailing data after the JSON object")
	}
	switch {
	case len(m.Core.ONNX) > 0 && m.Core.Module != "":
		return m, fault.Errorf(fault.Invalid, "manifest: core has both onnx and module; give one")
	case len(m.Core.ONNX) == 0 && m.Core.Module == "":
		return m, fault.Errorf(fault.Invalid, "manifest: core needs onnx (the model file, base64) or module (an adapter)")
	case len(m.Core.ONNX) > 0 && m.Core.Config != nil:
		return m, fault.Errorf(fault.Invalid, "manifest: core.config is for adapter modules")
	}
	for _, st := range []*StageRef{m.Pre, m.Post} {
		if st != nil && st.Module == "" {
			return m, fault.Errorf(fault.Invalid, "manifest: a pre or post stage needs a module name")
		}
	}
	for _, raw := range []json.RawMessage{stageConfig(m.Pre), m.Core.Config, stageConfig(m.Post)} {
		if raw != nil && (len(raw) == 0 || raw[0] != '{') {
			return m, fault.Errorf(fault.Invalid, "manifest: a stage's config must be a JSON object")
		}
	}
	for _, c := range m.Calls {
		if c == "" {
			return m, fault.Errorf(fault.Invalid, "manifest: calls holds an empty name")
		}
	}
	return m, nil
}

func stageConfig(s *StageRef) json.RawMessage {
	if s == nil {
		return nil
	}
	return s.Config
}

// savedModel is a model version as stored: every module resolved to the
// sha256 of its bytes when the manifest was saved, so replacing a module
// later changes no saved model.
type savedModel struct {
	Version int            `json:"version"`
	Saved   time.Time      `json:"saved"`
	Pre     *savedStage    `json:"pre,omitempty"`
	Core    savedStage     `json:"core"`
	Post    *savedStage    `json:"post,omitempty"`
	Calls   []string       `json:"calls,omitempty"`
	Limits  ManifestLimits `json:"limits,omitzero"`
}

// savedStage is a module stage (Module, Digest) or an ONNX core (ONNX).
type savedStage struct {
	Module string          `json:"module,omitempty"`
	Digest string          `json:"sha256,omitempty"`
	ONNX   string          `json:"onnx_sha256,omitempty"`
	Config json.RawMessage `json:"config,omitempty"`
}

// specsEqual reports whether declared tensors are the same.
func specsEqual(a, b []abi.TensorSpec) bool {
	return slices.EqualFunc(a, b, func(x, y abi.TensorSpec) bool {
		return x.Name == y.Name && x.DType == y.DType && slices.Equal(x.Shape, y.Shape) && x.Optional == y.Optional
	})
}
