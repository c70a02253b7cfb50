package ops

// reduceFamily defines the reductions, arg-reductions, softmax-like and normalisation operators.
func reduceFamily() map[string][]Schema {
	return map[string][]Schema{
		"ReduceSum":       reduceSchemas(redSum),
		"ReduceMean":      reduceSchemas(redMean),
		"ReduceMax":       reduceSchemas(redMax),
		"ReduceMin":       reduceSchemas(redMin),
		"ReduceProd":      reduceSchemas(redProd),
		"ReduceSumSquare": reduceSchemas(redSumSquare),
		"ReduceL1":        reduceSchemas(redL1),
		"ReduceL2":        reduceSchemas(redL2),
		"ReduceLogSum":    reduceSchemas(redLogSum),
		"ReduceLogSumExp": reduceSchemas(redLogSumExp),

		"ArgMax": argSchemas(true),
		"ArgMin": argSchemas(false),

		"Softmax":    softmaxSchemas(softMax),
		"LogSoftmax": softmaxSchemas(softLogMax),
		"Hardmax":    softmaxSchemas(softHardMax),

		"CumSum":  cumSchemas(false),
		"CumProd": cumSchemas(true),
		"TopK":    topkSchemas(),

		"LayerNormalization":        layerNormSchemas(),
		"RMSNormalization":          rmsNormSchemas(),
		"BatchNormalization":        batchNormSchemas(),
		"InstanceNormalization":     instanceNormSchemas(),
		"GroupNormalization":        groupNormSchemas(),
		"LpNormalization":           lpNormSchemas(),
		"MeanVarianceNormalization": mvnSchemas(),
	}
}
