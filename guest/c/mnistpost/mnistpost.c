/*
 * mnistpost: the MNIST post-processing module in C, with the description
 * and behaviour of the Go module guest/modules/mnistpost.
 *
 * Input "logits" (FP32 [1,10]); outputs "label" (INT64 [1]), the argmax
 * (the first of equal maxima), and "probabilities" (FP32 [1,10]), a
 * numerically stable softmax summed in double precision. A non-finite logit
 * is the model's fault: status 2.
 */
#include <math.h>
#include <string.h>

#include "wasmgate.h"

static const char description[] =
	"{\"abi\":1,\"name\":\"mnist-post\","
	"\"inputs\":[{\"name\":\"logits\",\"datatype\":\"FP32\",\"shape\":[1,10]}],"
	"\"outputs\":[{\"name\":\"label\",\"datatype\":\"INT64\",\"shape\":[1]},"
	"{\"name\":\"probabilities\",\"datatype\":\"FP32\",\"shape\":[1,10]}]}";

#define CLASSES 10

static const wg_spec inputs[] = {
	{.name = "logits", .dtype = WG_FP32, .rank = 2, .dims = {1, CLASSES}},
};

int32_t wasmgate_describe(void) { return wg_output(WG_STATUS_OK, description, sizeof description - 1); }

static wg_tensor list[WG_MAX_TENSORS];

/* The %v of a non-finite float32 in Go, so messages match the Go module. */
static const char *nonfinite(float v) {
	if (isnan(v)) {
		return "NaN";
	}
	return v > 0 ? "+Inf" : "-Inf";
}

int32_t wasmgate_run(const uint8_t *ptr, uint32_t len) {
	if (!wg_input_ok(ptr, len)) {
		return wg_finish(WG_STATUS_FAILED);
	}
	uint32_t n;
	const char *err;
	if (wg_list_decode(ptr, len, list, WG_MAX_TENSORS, &n, &err) != 0) {
		return wg_fail(WG_STATUS_FAILED, "malformed input list: ", err, 0, 0);
	}
	const wg_tensor *in[1];
	int32_t st = wg_bind(inputs, 1, list, n, in);
	if (st != WG_STATUS_OK) {
		return st;
	}
	float logits[CLASSES];
	if (in[0]->handle) {
		if (wg_tensor_read(in[0]->handle, 0, logits, sizeof logits) != (int64_t)sizeof logits) {
			return wg_fail(WG_STATUS_FAILED, "logits: ", wg_last_error_message(), 0, 0);
		}
	} else {
		memcpy(logits, in[0]->data, sizeof logits);
	}

	int best = 0;
	for (int i = 0; i < CLASSES; i++) {
		if (!isfinite(logits[i])) {
			wg_buf_reset(&wg_out);
			wg_buf_str(&wg_out, "logit ");
			wg_buf_int(&wg_out, i);
			wg_buf_str(&wg_out, " is ");
			wg_buf_str(&wg_out, nonfinite(logits[i]));
			wg_buf_str(&wg_out, ": the model produced a non-finite value");
			return wg_finish(WG_STATUS_FAILED);
		}
		if (logits[i] > logits[best]) {
			best = i;
		}
	}
	double peak = logits[best], exps[CLASSES], sum = 0;
	for (int i = 0; i < CLASSES; i++) {
		exps[i] = exp((double)logits[i] - peak);
		sum += exps[i];
	}
	float probs[CLASSES];
	for (int i = 0; i < CLASSES; i++) {
		probs[i] = (float)(exps[i] / sum);
	}
	int64_t label = best;

	static const int64_t label_dims[] = {1}, probs_dims[] = {1, CLASSES};
	wg_buf_reset(&wg_out);
	wg_list_begin(&wg_out, 2);
	wg_list_tensor(&wg_out, "label", WG_INT64, 1, label_dims, &label, sizeof label);
	wg_list_tensor(&wg_out, "probabilities", WG_FP32, 2, probs_dims, probs, sizeof probs);
	return wg_finish(WG_STATUS_OK);
}
