package ops

// elementwiseFamily defines the elementwise maths, comparison and logic operators (unary and broadcasting binary/variadic).
func elementwiseFamily() map[string][]Schema {
	// One parameter list serves every variadic operator; schemas never
	// modify their parameters.
	variadic := ewVariadic("data_0", "T")
	return map[string][]Schema{
		// Broadcasting binary operators.
		"Sub":            ewArithSchemas("Sub", ewSub),
		"Mul":            ewArithSchemas("Mul", ewMul),
		"Div":            ewArithSchemas("Div", ewDiv),
		"Pow":            ewPowSchemas(),
		"Mod":            ewModSchemas(),
		"BitShift":       ewBitShiftSchemas(),
		"BitwiseAnd":     ewBitwiseSchemas("BitwiseAnd", ewBitAnd),
		"BitwiseOr":      ewBitwiseSchemas("BitwiseOr", ewBitOr),
		"BitwiseXor":     ewBitwiseSchemas("BitwiseXor", ewBitXor),
		"And":            ewLogicSchemas("And", ewAnd),
		"Or":             ewLogicSchemas("Or", ewOr),
		"Xor":            ewLogicSchemas("Xor", ewXor),
		"Equal":          ewEqualSchemas(),
		"Less":           ewOrderSchemas("Less", ewLess),
		"Greater":        ewOrderSchemas("Greater", ewGreater),
		"LessOrEqual":    ewOrderEqSchemas("LessOrEqual", ewLessEq),
		"GreaterOrEqual": ewOrderEqSchemas("GreaterOrEqual", ewGreaterEq),
		"PRelu":          ewPReluSchemas(),
		"Where":          ewWhereSchemas(),

		// Variadic operators.
		"Max":  ewMaxMinSchemas("Max", "max", ewMax, variadic),
		"Min":  ewMaxMinSchemas("Min", "min", ewMin, variadic),
		"Sum":  ewSumMeanSchemas("Sum", "sum", variadic),
		"Mean": ewSumMeanSchemas("Mean", "mean", variadic),

		// Unary maths.
		"Abs":        ewAbsSchemas(),
		"Neg":        ewNegSchemas(),
		"Sqrt":       ewMathSchemas("Sqrt", ewUSqrt),
		"Reciprocal": ewMathSchemas("Reciprocal", ewUReciprocal),
		"Exp":        ewMathSchemas("Exp", ewUExp),
		"Log":        ewMathSchemas("Log", ewULog),
		"Floor":      ewMathSchemas("Floor", ewUFloor),
		"Ceil":       ewMathSchemas("Ceil", ewUCeil),
		"Sigmoid":    ewMathSchemas("Sigmoid", ewUSigmoid),
		"Tanh":       ewMathSchemas("Tanh", ewUTanh),
		"Round":      ewRoundSchemas(),
		"Sign":       ewSignSchemas(),
		"Erf":        ewErfSchemas(),
		"Softplus":   ewSoftSchemas("Softplus", ewUSoftplus),
		"Softsign":   ewSoftSchemas("Softsign", ewUSoftsign),
		"Sin":        ewTrigSchemas("Sin", ewUSin, 7),
		"Cos":        ewTrigSchemas("Cos", ewUCos, 7),
		"Tan":        ewTrigSchemas("Tan", ewUTan, 7),
		"Asin":       ewTrigSchemas("Asin", ewUAsin, 7),
		"Acos":       ewTrigSchemas("Acos", ewUAcos, 7),
		"Atan":       ewTrigSchemas("Atan", ewUAtan, 7),
		"Sinh":       ewTrigSchemas("Sinh", ewUSinh, 9),
		"Cosh":       ewTrigSchemas("Cosh", ewUCosh, 9),
		"Asinh":      ewTrigSchemas("Asinh", ewUAsinh, 9),
		"Acosh":      ewTrigSchemas("Acosh", ewUAcosh, 9),
		"Atanh":      ewTrigSchemas("Atanh", ewUAtanh, 9),
		"IsNaN":      ewIsNaNSchemas(),
		"IsInf":      ewIsInfSchemas(),
		"Not":        ewNotSchemas(),
		"BitwiseNot": ewBitwiseNotSchemas(),

		// Activations.
		"LeakyRelu":       ewLeakyReluSchemas(),
		"Elu":             ewEluSchemas(),
		"Selu":            ewSeluSchemas(),
		"Celu":            ewCeluSchemas(),
		"HardSigmoid":     ewHardSigmoidSchemas(),
		"HardSwish":       ewHardSwishSchemas(),
		"ThresholdedRelu": ewThresholdedReluSchemas(),
		"Shrink":          ewShrinkSchemas(),
		"Gelu":            ewGeluSchemas(),
		"Mish":            ewMishSchemas(),
		"Swish":           ewSwishSchemas(),
		"Clip":            ewClipSchemas(),
	}
}
