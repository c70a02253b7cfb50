package ops

// shapeFamily defines the operators that move, select, reshape or convert data without arithmetic on it.
func shapeFamily() map[string][]Schema {
	return map[string][]Schema{
		"Cast":            shapeCastSchemas(),
		"CastLike":        shapeCastLikeSchemas(),
		"CenterCropPad":   shapeCenterCropPadSchemas(),
		"Compress":        shapeCompressSchemas(),
		"Concat":          shapeConcatSchemas(),
		"ConstantOfShape": shapeConstantOfShapeSchemas(),
		"DepthToSpace":    shapeDepthToSpaceSchemas(),
		"Expand":          shapeExpandSchemas(),
		"EyeLike":         shapeEyeLikeSchemas(),
		"Flatten":         shapeFlattenSchemas(),
		"Gather":          shapeGatherSchemas(),
		"GatherElements":  shapeGatherElementsSchemas(),
		"GatherND":        shapeGatherNDSchemas(),
		"NonZero":         shapeNonZeroSchemas(),
		"OneHot":          shapeOneHotSchemas(),
		"Pad":             shapePadSchemas(),
		"Range":           shapeRangeSchemas(),
		"ReverseSequence": shapeReverseSequenceSchemas(),
		"Scatter":         shapeScatterSchemas(),
		"ScatterElements": shapeScatterElementsSchemas(),
		"ScatterND":       shapeScatterNDSchemas(),
		"Shape":           shapeShapeSchemas(),
		"Size":            shapeSizeSchemas(),
		"Slice":           shapeSliceSchemas(),
		"SpaceToDepth":    shapeSpaceToDepthSchemas(),
		"Split":           shapeSplitSchemas(),
		"Squeeze":         shapeSqueezeSchemas(),
		"Tile":            shapeTileSchemas(),
		"Transpose":       shapeTransposeSchemas(),
		"Trilu":           shapeTriluSchemas(),
		"Unsqueeze":       shapeUnsqueezeSchemas(),
	}
}
