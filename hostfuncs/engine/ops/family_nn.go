package ops

// nnFamily defines the matrix and network operators: Gemm, Einsum, Attention, losses and the like.
func nnFamily() map[string][]Schema {
	return map[string][]Schema{
		"Attention":                 attentionSchemas(),
		"ConvInteger":               convIntegerSchemas(),
		"DequantizeLinear":          dequantizeLinearSchemas(),
		"Dropout":                   dropoutSchemas(),
		"DynamicQuantizeLinear":     dynamicQuantizeLinearSchemas(),
		"Einsum":                    einsumSchemas(),
		"Gemm":                      gemmSchemas(),
		"MatMulInteger":             matMulIntegerSchemas(),
		"NegativeLogLikelihoodLoss": nllLossSchemas(),
		"QLinearConv":               qlinearConvSchemas(),
		"QLinearMatMul":             qlinearMatMulSchemas(),
		"QuantizeLinear":            quantizeLinearSchemas(),
		"RotaryEmbedding":           rotaryEmbeddingSchemas(),
		"SoftmaxCrossEntropyLoss":   sceLossSchemas(),
	}
}
