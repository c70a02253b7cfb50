/*
 * mnistadapter: an example adapter in C, the twin of the Go module
 * guest/modules/mnistadapter. It declares the inputs and outputs of the
 * built-in mnist model and implements them by running that model with
 * model_run:
 *
 *   - inputs "image" (BYTES [1]) and "pixels" (FP32 [1,1,28,28]), both
 *     optional. Inline inputs are copied to the host with tensor_put,
 *     host-held ones pass on by handle; they bind to mnist's inputs by
 *     position, an absent one as handle 0 (absent ones at the end are left
 *     out).
 *   - outputs "label" (INT64 [1]) and "probabilities" (FP32 [1,10]): mnist's
 *     outputs, returned host-held, never copied through guest memory.
 *
 * When mnist refuses the inputs (EFAILED) the adapter answers status 1 with
 * mnist's message; any other failure is status 2.
 */
#include <string.h>

#include "wasmgate.h"

static const char description[] =
	"{\"abi\":1,\"name\":\"mnist-adapter\","
	"\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],\"optional\":true},"
	"{\"name\":\"pixels\",\"datatype\":\"FP32\",\"shape\":[1,1,28,28],\"optional\":true}],"
	"\"outputs\":[{\"name\":\"label\",\"datatype\":\"INT64\",\"shape\":[1]},"
	"{\"name\":\"probabilities\",\"datatype\":\"FP32\",\"shape\":[1,10]}]}";

static const char model[] = "mnist";

static const wg_spec inputs[] = {
	{.name = "image", .dtype = WG_BYTES, .rank = 1, .dims = {1}, .optional = 1},
	{.name = "pixels", .dtype = WG_FP32, .rank = 4, .dims = {1, 1, 28, 28}, .optional = 1},
};

static const wg_spec outputs[] = {
	{.name = "label", .dtype = WG_INT64, .rank = 1, .dims = {1}},
	{.name = "probabilities", .dtype = WG_FP32, .rank = 2, .dims = {1, 10}},
};

#define N_IN (sizeof inputs / sizeof inputs[0])
#define N_OUT (sizeof outputs / sizeof outputs[0])

int32_t wasmgate_describe(void) { return wg_output(WG_STATUS_OK, description, sizeof description - 1); }

static wg_tensor list[WG_MAX_TENSORS];

static const char *code_name(int32_t code) {
	static const char *names[] = {"EINVAL", "ENOTFOUND", "EQUOTA", "EUNSUPPORTED", "EFAILED", "EDENIED", "ETIMEOUT"};
	return code <= -1 && code >= -7 ? names[-code - 1] : "error";
}

/* host_failure reports a failed host call: its message and code. */
static int32_t host_failure(int32_t code) {
	wg_buf_reset(&wg_out);
	wg_buf_str(&wg_out, wg_last_error_message());
	wg_buf_str(&wg_out, " (");
	wg_buf_str(&wg_out, code_name(code));
	wg_buf_str(&wg_out, ")");
	return wg_finish(WG_STATUS_FAILED);
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
	const wg_tensor *in[N_IN];
	int32_t st = wg_bind(inputs, N_IN, list, n, in);
	if (st != WG_STATUS_OK) {
		return st;
	}
	/* One handle per input of the model, by position. */
	uint32_t args[N_IN];
	int32_t n_args = 0;
	for (uint32_t i = 0; i < N_IN; i++) {
		args[i] = 0;
		if (in[i]) {
			int32_t h = wg_put(in[i]);
			if (h <= 0) {
				return host_failure(h);
			}
			args[i] = (uint32_t)h;
			n_args = (int32_t)i + 1;
		}
	}
	uint32_t outs[WG_MAX_TENSORS];
	int32_t k = wg_model_run(model, (int32_t)strlen(model), args, n_args, outs, WG_MAX_TENSORS);
	if (k == WG_EFAILED) {
		/* The model refused the inputs: the caller's to fix. */
		const char *msg = wg_last_error_message();
		if (strncmp(msg, "model_run: ", 11) == 0) {
			msg += 11;
		}
		return wg_fail(WG_STATUS_INVALID, model, ": ", msg, 0);
	}
	if (k < 0) {
		return host_failure(k);
	}
	if (k != (int32_t)N_OUT) {
		wg_buf_reset(&wg_out);
		wg_buf_str(&wg_out, model);
		wg_buf_str(&wg_out, " returned ");
		wg_buf_int(&wg_out, k);
		wg_buf_str(&wg_out, " outputs, want ");
		wg_buf_int(&wg_out, N_OUT);
		return wg_finish(WG_STATUS_FAILED);
	}
	wg_tensor res[N_OUT];
	for (uint32_t i = 0; i < N_OUT; i++) {
		int32_t e = wg_info(outs[i], &res[i]);
		if (e < 0) {
			return host_failure(e);
		}
		st = wg_check(&outputs[i], &res[i], "output", WG_STATUS_FAILED);
		if (st != WG_STATUS_OK) {
			return st;
		}
	}
	wg_buf_reset(&wg_out);
	wg_list_begin(&wg_out, N_OUT);
	for (uint32_t i = 0; i < N_OUT; i++) {
		wg_list_held(&wg_out, outputs[i].name, res[i].dtype, res[i].rank, res[i].dims, res[i].handle);
	}
	return wg_finish(WG_STATUS_OK);
}
