package sdk

// Tests in package sdk_test register stages with useStage.

// UseStageForTest registers s in place of any registered stage and returns
// a function that restores the previous registration.
func UseStageForTest(s Stage) (restore func()) {
	prevStage, prevErr := stage, stageErr
	stage, stageErr = nil, nil
	Register(s)
	return func() { stage, stageErr = prevStage, prevErr }
}
