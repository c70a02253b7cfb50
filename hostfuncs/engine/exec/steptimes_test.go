package exec_test

import (
	"context"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TestStepTimes profiles MNIST's runs: every step is named and timed once
// per run given the profile, runs without it record nothing, and a
// profile given another plan's run starts over with that plan's steps.
func TestStepTimes(t *testing.T) {
	is := is.New(t)
	mnist, err := exec.Compile(modelgen.MNIST(1, 1))
	is.NoErr(err)
	in := []tensor.Named{modelgen.RandomMNISTInput(1, 2)}
	var st exec.StepTimes
	ctx := exec.WithStepTimes(context.Background(), &st)
	for range 3 {
		_, err := mnist.Run(ctx, in)
		is.NoErr(err)
	}
	_, err = mnist.Run(context.Background(), in)
	is.NoErr(err)
	is.True(len(st.Steps) >= 4) // convolutions, pools, the classifier
	is.Equal(len(st.Times), len(st.Steps))
	var convs int
	for i, name := range st.Steps {
		is.Equal(len(st.Times[i]), 3) // one per profiled run
		for _, d := range st.Times[i] {
			is.True(d > 0)
		}
		if strings.Contains(name, "Conv") {
			convs++
		}
	}
	is.Equal(convs, 2) // MNIST's two convolutions (fused with their Relu)

	bert := modelgen.SmallBERT()
	m, err := modelgen.BERTEncoder(bert)
	is.NoErr(err)
	enc, err := exec.Compile(m)
	is.NoErr(err)
	_, err = enc.Run(ctx, modelgen.RandomBERTInputs(bert, 1, 3))
	is.NoErr(err)
	is.True(len(st.Steps) > 10)
	for i := range st.Steps {
		is.Equal(len(st.Times[i]), 1)
	}

	// Another plan of as many steps starts over too.
	mnist2, err := exec.Compile(modelgen.MNIST(1, 1))
	is.NoErr(err)
	for _, p := range []*exec.Plan{mnist, mnist2} {
		_, err = p.Run(ctx, in)
		is.NoErr(err)
	}
	for i := range st.Steps {
		is.Equal(len(st.Times[i]), 1) // mnist2's run alone
	}
}
