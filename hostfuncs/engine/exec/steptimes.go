package exec

import (
	"context"
	"time"
)

// StepTimes is a profile of a plan's runs: how long each step (one node
// of the plan, fused or not) took in each run it was passed to, as
// onnxruntime's session profiling reports per node. Runs given one with
// WithStepTimes read the clock twice per step; other runs do not read it.
// A StepTimes records one plan, and must not be given to runs in flight
// at the same time.
type StepTimes struct {
	Steps []string          // each step's node, as graph.Node.String names it, in run order
	Times [][]time.Duration // Times[i]: step i's time in each run, in run order
	plan  *Plan             // the plan Steps and Times are of
}

type stepTimesKey struct{}

// WithStepTimes returns a context under which Plan.Run records each step's
// time in st.
func WithStepTimes(ctx context.Context, st *StepTimes) context.Context {
	return context.WithValue(ctx, stepTimesKey{}, st)
}

func stepTimesFrom(ctx context.Context) *StepTimes {
	st, _ := ctx.Value(stepTimesKey{}).(*StepTimes)
	return st
}

// begin prepares st for a run of p: a StepTimes that recorded another
// plan (or none) starts over with p's steps.
func (st *StepTimes) begin(p *Plan) {
	if st.plan == p {
		return
	}
	st.plan = p
	st.Steps = make([]string, len(p.steps))
	st.Times = make([][]time.Duration, len(p.steps))
	for i := range p.steps {
		st.Steps[i] = p.steps[i].node.String()
	}
}
