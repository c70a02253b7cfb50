package modules

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// EngineStage runs an ONNX graph natively through the engine's plan.
type EngineStage struct {
	name         string
	plan         *exec.Plan
	inputs       []abi.TensorSpec
	outputs      []abi.TensorSpec
	warmStates   int
	weightsBytes int64
	workingBytes int64
}

// NewEngineStage wraps a compiled plan as a pipeline stage and warms warm
// run states, so the working memory the stage holds is known up front.
func NewEngineStage(ctx context.Context, name string, plan *exec.Plan, warm int) (*EngineStage, error) {
	ins, err := specsOf(name, "input", plan.InputInfo())
	if err != nil {
		return nil, err
	}
	outs, err := specsOf(name, "output", plan.OutputInfo())
	if err != nil {
		return nil, err
	}
	if err := plan.Warm(ctx, warm); err != nil {
		return nil, fault.Errorf(fault.KindOf(err), "graph %s: warm-up run failed: %w", name, err)
	}
	return &EngineStage{
		name: name, plan: plan, inputs: ins, outputs: outs,
		// The plan keeps at most its own cap of idle states, which may be
		// fewer than were asked for.
		warmStates:   plan.IdleStates(),
		weightsBytes: plan.WeightsBytes(), workingBytes: plan.WorkingBytes(),
	}, nil
}

func specsOf(stage, what string, vis []graph.ValueInfo) ([]abi.TensorSpec, error) {
	specs := make([]abi.TensorSpec, len(vis))
	for i, v := range vis {
		if v.UnknownRank {
			return nil, fault.Errorf(fault.Unsupported, "graph %s: %s %q declares no shape; a served graph must declare at least its rank", stage, what, v.Name)
		}
		shape := make([]int64, len(v.Dims))
		for j, d := range v.Dims {
			shape[j] = d.Size // -1 when not fixed
		}
		specs[i] = abi.TensorSpec{Name: v.Name, DType: v.DType, Shape: shape}
	}
	return specs, nil
}

func (s *EngineStage) Name() string              { return s.name }
func (s *EngineStage) Inputs() []abi.TensorSpec  { return s.inputs }
func (s *EngineStage) Outputs() []abi.TensorSpec { return s.outputs }
func (s *EngineStage) Close(context.Context)     {}

// MemoryBytes counts the weights and the warmed run states. A graph with
// symbolic input dimensions cannot be warmed up front; it is charged one
// run state of the memory plan at its reference dimensions (batch 1) until
// runs have measured more.
func (s *EngineStage) MemoryBytes() int64 {
	working := max(s.workingBytes, s.plan.WorkingBytes())
	states := int64(s.warmStates)
	if states == 0 {
		states = 1
		working = max(working, s.plan.Report().PlannedBytes)
	}
	return s.weightsBytes + states*working
}

// WeightsBytes and WorkingBytes are the plan's own figures.
func (s *EngineStage) WeightsBytes() int64 { return s.weightsBytes }
func (s *EngineStage) WorkingBytes() int64 { return s.workingBytes }

// PlanReport describes the compiled plan: fusions applied, the memory plan
// and what runs have measured so far.
func (s *EngineStage) PlanReport() exec.Report { return s.plan.Report() }

func (s *EngineStage) Run(ctx context.Context, in []tensor.Named) ([]tensor.Named, error) {
	return s.plan.Run(ctx, in)
}
