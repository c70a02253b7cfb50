/*
 * wasinn_mnist: a wasi-nn program as a wasmgate stage. It classifies an
 * MNIST digit through the witx wasi-nn API (import module
 * "wasi_ephemeral_nn"), declared below from wasi-nn.witx and its core-module
 * lowering, as any wasi-nn guest would: it knows nothing of how the host
 * implements it.
 *
 *   - input "pixels" (FP32 [1,1,28,28]): raw pixel values, inline or
 *     host-held;
 *   - output "label" (INT64 [1]): the argmax of the model's output.
 *
 * Each call: load_by_name(model) once per instance (the graph and its
 * execution context are kept for later calls), set_input, compute,
 * get_output into a buffer, argmax. The module's config (wasmgate's config
 * host function) may set, in a flat JSON object:
 *
 *   "model"        the model to load_by_name, default "mnist";
 *   "input_index"  the input the pixels are set as, default 0;
 *   "output_index" the output read, default 0 (scores, logits or
 *                  probabilities: at most 64 FP32 values);
 *   "check_errors" true: before classifying, run every error path of the
 *                  API and check the errno each returns; if any differs the
 *                  call fails (status 2) naming each check that failed,
 *                  otherwise it logs how many passed and classifies.
 *
 * A compute that reports invalid_argument (the model refused the pixels)
 * is status 1; every other failure is status 2.
 */
#include <stddef.h>
#include <string.h>

#include "wasmgate.h"

/* ---- wasi-nn, witx ABI (wasi-nn.witx, module wasi_ephemeral_nn) ----
 *
 * Core lowering: every function returns its nn_errno as an i32; a result
 * (expected<T, nn_errno>) is a trailing out-pointer; a list is (ptr, len);
 * a record parameter (tensor) is passed by pointer; enums are i32. */

typedef uint32_t nn_graph;
typedef uint32_t nn_graph_execution_context;
typedef uint32_t nn_buffer_size;

/* nn_errno (u16). */
enum {
	NN_SUCCESS = 0,
	NN_INVALID_ARGUMENT = 1,
	NN_INVALID_ENCODING = 2,
	NN_MISSING_MEMORY = 3,
	NN_BUSY = 4,
	NN_RUNTIME_ERROR = 5,
	NN_UNSUPPORTED_OPERATION = 6,
	NN_TOO_LARGE = 7,
	NN_NOT_FOUND = 8,
};

/* tensor_type (u8), the numbering of the current witx. */
enum { NN_F16 = 0, NN_F32 = 1, NN_F64 = 2, NN_U8 = 3, NN_I32 = 4, NN_I64 = 5 };

/* graph_encoding (u8). */
enum { NN_OPENVINO = 0, NN_ONNX = 1, NN_TENSORFLOW = 2, NN_PYTORCH = 3, NN_TENSORFLOWLITE = 4, NN_AUTODETECT = 5 };

/* execution_target (u8). */
enum { NN_CPU = 0, NN_GPU = 1, NN_TPU = 2 };

/* list<u8>: a graph_builder, or tensor_data. */
typedef struct {
	const uint8_t *buf;
	uint32_t size;
} nn_bytes;

/* tensor_dimensions: list<u32>. */
typedef struct {
	const uint32_t *buf;
	uint32_t size;
} nn_dims;

/* tensor: {dimensions, type, data}; type is a u8 tag padded to 4. */
typedef struct {
	nn_dims dimensions;
	uint8_t type;
	nn_bytes data;
} nn_tensor;

_Static_assert(sizeof(nn_tensor) == 20, "tensor is 20 bytes");
_Static_assert(offsetof(nn_tensor, type) == 8 && offsetof(nn_tensor, data) == 12, "tensor layout");
_Static_assert(sizeof(nn_bytes) == 8, "a graph_builder is {ptr, len}");

#define NN_IMPORT(name) __attribute__((import_module("wasi_ephemeral_nn"), import_name(name)))

NN_IMPORT("load")
int32_t nn_load(const nn_bytes *builders, uint32_t n_builders, int32_t encoding, int32_t target, nn_graph *graph);
NN_IMPORT("load_by_name") int32_t nn_load_by_name(const char *name, uint32_t name_len, nn_graph *graph);
/* WasmEdge's extensions. */
NN_IMPORT("load_by_name_with_config")
int32_t nn_load_by_name_with_config(const char *name, uint32_t name_len, const char *config, uint32_t config_len,
                                    nn_graph *graph);
NN_IMPORT("unload") int32_t nn_unload(nn_graph graph);
NN_IMPORT("init_execution_context") int32_t nn_init_execution_context(nn_graph graph, nn_graph_execution_context *ctx);
NN_IMPORT("set_input") int32_t nn_set_input(nn_graph_execution_context ctx, uint32_t index, const nn_tensor *tensor);
NN_IMPORT("compute") int32_t nn_compute(nn_graph_execution_context ctx);
NN_IMPORT("get_output")
int32_t nn_get_output(nn_graph_execution_context ctx, uint32_t index, uint8_t *out, nn_buffer_size out_max,
                      nn_buffer_size *bytes_written);

static const char *errno_name(int32_t e) {
	static const char *names[] = {"success",       "invalid_argument",      "invalid_encoding",
	                              "missing_memory", "busy",                  "runtime_error",
	                              "unsupported_operation", "too_large",      "not_found"};
	return e >= 0 && e <= 8 ? names[e] : "unknown errno";
}

/* ---- the stage ---- */

static const char description[] =
	"{\"abi\":1,\"name\":\"wasinn-mnist\","
	"\"inputs\":[{\"name\":\"pixels\",\"datatype\":\"FP32\",\"shape\":[1,1,28,28]}],"
	"\"outputs\":[{\"name\":\"label\",\"datatype\":\"INT64\",\"shape\":[1]}]}";

static const wg_spec inputs[] = {
	{.name = "pixels", .dtype = WG_FP32, .rank = 4, .dims = {1, 1, 28, 28}},
};

int32_t wasmgate_describe(void) { return wg_output(WG_STATUS_OK, description, sizeof description - 1); }

#define PIXELS 784
#define MAX_SCORES 64
#define MAX_MODEL 256

/* ---- config: a flat JSON object, read leniently ---- */

static struct {
	char model[MAX_MODEL + 1];
	uint32_t input_index, output_index;
	int check_errors;
} cfg;

static char cfg_buf[4096];

/* cfg_value finds "key" followed by ':' in the config and returns where
 * its value starts, or NULL. */
static const char *cfg_value(const char *key) {
	size_t k = strlen(key);
	for (const char *p = cfg_buf; (p = strchr(p, '"')) != NULL; p++) {
		if (strncmp(p + 1, key, k) == 0 && p[1 + k] == '"') {
			const char *v = p + 2 + k;
			while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
				v++;
			}
			if (*v != ':') {
				continue;
			}
			v++;
			while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
				v++;
			}
			return v;
		}
	}
	return NULL;
}

static uint32_t cfg_uint(const char *key, uint32_t def) {
	const char *v = cfg_value(key);
	if (!v || *v < '0' || *v > '9') {
		return def;
	}
	uint32_t n = 0;
	for (; *v >= '0' && *v <= '9' && n < 100000000; v++) {
		n = n * 10 + (uint32_t)(*v - '0');
	}
	return n;
}

/* read_config fills cfg; it returns 0, or -1 with the output set. */
static int read_config(void) {
	int32_t n = wg_config(cfg_buf, (int32_t)sizeof cfg_buf - 1);
	if (n < 0 || n > (int32_t)sizeof cfg_buf - 1) {
		wg_fail(WG_STATUS_FAILED, "the module's config is larger than 4 KiB", 0, 0, 0);
		return -1;
	}
	cfg_buf[n] = 0;
	strcpy(cfg.model, "mnist");
	const char *v = cfg_value("model");
	if (v && *v == '"') {
		const char *end = strchr(v + 1, '"');
		if (end && end - (v + 1) > 0 && end - (v + 1) <= MAX_MODEL) {
			memcpy(cfg.model, v + 1, (size_t)(end - (v + 1)));
			cfg.model[end - (v + 1)] = 0;
		}
	}
	cfg.input_index = cfg_uint("input_index", 0);
	cfg.output_index = cfg_uint("output_index", 0);
	v = cfg_value("check_errors");
	cfg.check_errors = v && strncmp(v, "true", 4) == 0;
	return 0;
}

/* ---- the error paths ---- */

/* An ONNX ModelProto (ir_version 8, opset 17): one Identity node, input
 * "x" FLOAT [1], output "y" FLOAT [1]. */
static const uint8_t identity_onnx[] = {
	0x08, 0x08, 0x42, 0x02, 0x10, 0x11, 0x3a, 0x3a, 0x0a, 0x10, 0x0a, 0x01, 0x78, 0x12, 0x01, 0x79,
	0x22, 0x08, 0x49, 0x64, 0x65, 0x6e, 0x74, 0x69, 0x74, 0x79, 0x12, 0x04, 0x74, 0x65, 0x73, 0x74,
	0x5a, 0x0f, 0x0a, 0x01, 0x78, 0x12, 0x0a, 0x0a, 0x08, 0x08, 0x01, 0x12, 0x04, 0x0a, 0x02, 0x08,
	0x01, 0x62, 0x0f, 0x0a, 0x01, 0x79, 0x12, 0x0a, 0x0a, 0x08, 0x08, 0x01, 0x12, 0x04, 0x0a, 0x02,
	0x08, 0x01,
};

static const char garbage[] = "this is not a model";

/* A guest address past the end of any wasm32 memory the host allows. */
#define FAR ((uintptr_t)0xfffffff0u)

static wg_buf failures;
static uint32_t n_checks, n_failed;

static void check(const char *what, int32_t got, int32_t want) {
	n_checks++;
	if (got == want) {
		return;
	}
	n_failed++;
	if (failures.len) {
		wg_buf_str(&failures, "; ");
	}
	wg_buf_str(&failures, what);
	wg_buf_str(&failures, ": got ");
	wg_buf_int(&failures, got);
	wg_buf_str(&failures, " (");
	wg_buf_str(&failures, errno_name(got));
	wg_buf_str(&failures, "), want ");
	wg_buf_int(&failures, want);
	wg_buf_str(&failures, " (");
	wg_buf_str(&failures, errno_name(want));
	wg_buf_str(&failures, ")");
}

static nn_tensor f32_tensor(const uint32_t *dims, uint32_t rank, const void *data, uint32_t size) {
	nn_tensor t;
	memset(&t, 0, sizeof t);
	t.dimensions.buf = dims;
	t.dimensions.size = rank;
	t.type = NN_F32;
	t.data.buf = data;
	t.data.size = size;
	return t;
}

/* check_errors runs every error path it can reach and records each errno
 * that differs from the spec's. */
static void check_errors(void) {
	static const uint32_t dims1[] = {1}, dims2[] = {2};
	static const float one[] = {42.5f}, two[] = {1.0f, 2.0f};
	static const int32_t i32[] = {7};
	nn_graph g = 0, g2 = 0;
	nn_graph_execution_context c = 0;
	nn_bytes b[2] = {{identity_onnx, sizeof identity_onnx}, {identity_onnx, sizeof identity_onnx}};
	nn_bytes junk = {(const uint8_t *)garbage, sizeof garbage - 1};
	nn_bytes far = {(const uint8_t *)FAR, 64};

	/* load */
	check("load openvino", nn_load(b, 1, NN_OPENVINO, NN_CPU, &g), NN_INVALID_ENCODING);
	check("load tensorflowlite", nn_load(b, 1, NN_TENSORFLOWLITE, NN_CPU, &g), NN_INVALID_ENCODING);
	check("load encoding 200", nn_load(b, 1, 200, NN_CPU, &g), NN_INVALID_ENCODING);
	check("load gpu", nn_load(b, 1, NN_ONNX, NN_GPU, &g), NN_UNSUPPORTED_OPERATION);
	check("load tpu", nn_load(b, 1, NN_ONNX, NN_TPU, &g), NN_UNSUPPORTED_OPERATION);
	check("load not onnx", nn_load(&junk, 1, NN_ONNX, NN_CPU, &g), NN_INVALID_ARGUMENT);
	check("load no builders", nn_load(b, 0, NN_ONNX, NN_CPU, &g), NN_INVALID_ARGUMENT);
	check("load two builders", nn_load(b, 2, NN_ONNX, NN_CPU, &g), NN_INVALID_ARGUMENT);
	check("load builder outside memory", nn_load(&far, 1, NN_ONNX, NN_CPU, &g), NN_INVALID_ARGUMENT);
	check("load graph pointer outside memory", nn_load(b, 1, NN_ONNX, NN_CPU, (nn_graph *)FAR), NN_INVALID_ARGUMENT);

	/* load_by_name, load_by_name_with_config, unload */
	static const char missing[] = "no-such-model";
	check("load_by_name missing model", nn_load_by_name(missing, sizeof missing - 1, &g2), NN_NOT_FOUND);
	check("load_by_name empty name", nn_load_by_name(missing, 0, &g2), NN_INVALID_ARGUMENT);
	static const char bad_json[] = "{\"ctx-size\": ", ok_json[] = "{\"ctx-size\": 512, \"n-gpu-layers\": 0}";
	uint32_t ml = (uint32_t)strlen(cfg.model);
	check("load_by_name_with_config bad JSON",
	      nn_load_by_name_with_config(cfg.model, ml, bad_json, sizeof bad_json - 1, &g2), NN_INVALID_ARGUMENT);
	int32_t e = nn_load_by_name_with_config(cfg.model, ml, ok_json, sizeof ok_json - 1, &g2);
	check("load_by_name_with_config", e, NN_SUCCESS);
	if (e == NN_SUCCESS) {
		check("unload", nn_unload(g2), NN_SUCCESS);
		check("unload twice", nn_unload(g2), NN_INVALID_ARGUMENT);
		check("init_execution_context after unload", nn_init_execution_context(g2, &c), NN_INVALID_ARGUMENT);
	}
	check("unload bad graph", nn_unload(0xffffff), NN_INVALID_ARGUMENT);
	check("init_execution_context bad graph", nn_init_execution_context(0xffffff, &c), NN_INVALID_ARGUMENT);

	/* A graph loaded from ONNX bytes, and every misuse of its context. */
	e = nn_load(b, 1, NN_ONNX, NN_CPU, &g);
	check("load onnx", e, NN_SUCCESS);
	if (e != NN_SUCCESS) {
		return;
	}
	check("init_execution_context pointer outside memory",
	      nn_init_execution_context(g, (nn_graph_execution_context *)FAR), NN_INVALID_ARGUMENT);
	e = nn_init_execution_context(g, &c);
	check("init_execution_context", e, NN_SUCCESS);
	if (e != NN_SUCCESS) {
		nn_unload(g);
		return;
	}
	nn_tensor t = f32_tensor(dims1, 1, one, sizeof one);
	uint8_t out[8];
	nn_buffer_size written = 0;
	check("compute before set_input", nn_compute(c), NN_INVALID_ARGUMENT);
	check("get_output before compute", nn_get_output(c, 0, out, sizeof out, &written), NN_INVALID_ARGUMENT);
	check("set_input bad context", nn_set_input(0xffffff, 0, &t), NN_INVALID_ARGUMENT);
	check("set_input index out of range", nn_set_input(c, 1000, &t), NN_INVALID_ARGUMENT);
	check("set_input tensor outside memory", nn_set_input(c, 0, (const nn_tensor *)FAR), NN_INVALID_ARGUMENT);
	nn_tensor bad = f32_tensor(dims2, 1, two, sizeof two);
	check("set_input wrong shape", nn_set_input(c, 0, &bad), NN_INVALID_ARGUMENT);
	bad = f32_tensor(dims1, 1, two, sizeof two);
	check("set_input data length", nn_set_input(c, 0, &bad), NN_INVALID_ARGUMENT);
	bad = f32_tensor(dims1, 1, i32, sizeof i32);
	bad.type = NN_I32;
	check("set_input wrong type", nn_set_input(c, 0, &bad), NN_INVALID_ARGUMENT);
	bad.type = 99;
	check("set_input unknown type", nn_set_input(c, 0, &bad), NN_INVALID_ARGUMENT);
	bad = f32_tensor(dims1, 1, (const void *)FAR, 4);
	check("set_input data outside memory", nn_set_input(c, 0, &bad), NN_INVALID_ARGUMENT);
	check("set_input", nn_set_input(c, 0, &t), NN_SUCCESS);
	check("compute bad context", nn_compute(0xffffff), NN_INVALID_ARGUMENT);
	check("compute", nn_compute(c), NN_SUCCESS);
	check("get_output buffer too small", nn_get_output(c, 0, out, 2, &written), NN_TOO_LARGE);
	check("get_output index out of range", nn_get_output(c, 5, out, sizeof out, &written), NN_INVALID_ARGUMENT);
	check("get_output buffer outside memory", nn_get_output(c, 0, (uint8_t *)FAR, 8, &written), NN_INVALID_ARGUMENT);
	check("get_output bytes_written outside memory",
	      nn_get_output(c, 0, out, sizeof out, (nn_buffer_size *)FAR), NN_INVALID_ARGUMENT);
	written = 0;
	check("get_output", nn_get_output(c, 0, out, sizeof out, &written), NN_SUCCESS);
	float y;
	memcpy(&y, out, sizeof y);
	check("get_output writes 4 bytes", (int32_t)written, 4);
	check("get_output is the identity", y == one[0] ? NN_SUCCESS : NN_RUNTIME_ERROR, NN_SUCCESS);
	check("unload onnx graph", nn_unload(g), NN_SUCCESS);
	check("compute after unload", nn_compute(c), NN_INVALID_ARGUMENT);
}

/* ---- classification ---- */

static struct {
	int loaded;
	char model[MAX_MODEL + 1];
	nn_graph graph;
	nn_graph_execution_context ctx;
} nn;

/* forget unloads the cached graph, so the next call loads it afresh. */
static void forget(void) {
	if (nn.loaded) {
		nn_unload(nn.graph);
		nn.loaded = 0;
	}
}

static int32_t nn_failure(const char *fn, int32_t e, int32_t status) {
	forget();
	wg_buf_reset(&wg_out);
	wg_buf_str(&wg_out, "wasi-nn ");
	wg_buf_str(&wg_out, fn);
	wg_buf_str(&wg_out, " (model ");
	wg_buf_str(&wg_out, cfg.model);
	wg_buf_str(&wg_out, "): ");
	wg_buf_str(&wg_out, errno_name(e));
	return wg_finish(status);
}

static wg_tensor list[WG_MAX_TENSORS];
static float pixels[PIXELS];
static float scores[MAX_SCORES];

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
	const void *px = in[0]->data;
	if (in[0]->handle) { /* host-held: fetch the pixels */
		int64_t got = wg_tensor_read(in[0]->handle, 0, pixels, (int32_t)sizeof pixels);
		if (got != (int64_t)sizeof pixels) {
			return wg_fail(WG_STATUS_FAILED, "tensor_read of pixels: ", wg_last_error_message(), 0, 0);
		}
		px = pixels;
	}
	if (read_config() != 0) {
		return WG_STATUS_FAILED;
	}
	if (nn.loaded && strcmp(nn.model, cfg.model) != 0) {
		forget();
	}

	if (cfg.check_errors) {
		wg_buf_reset(&failures);
		n_checks = n_failed = 0;
		check_errors();
		if (!failures.ok) {
			return wg_fail(WG_STATUS_FAILED, "out of memory recording the wasi-nn checks", 0, 0, 0);
		}
	}

	if (!nn.loaded) {
		int32_t e = nn_load_by_name(cfg.model, (uint32_t)strlen(cfg.model), &nn.graph);
		if (e != NN_SUCCESS) {
			return nn_failure("load_by_name", e, WG_STATUS_FAILED);
		}
		nn.loaded = 1;
		strcpy(nn.model, cfg.model);
		e = nn_init_execution_context(nn.graph, &nn.ctx);
		if (e != NN_SUCCESS) {
			return nn_failure("init_execution_context", e, WG_STATUS_FAILED);
		}
	}
	static const uint32_t dims[] = {1, 1, 28, 28};
	nn_tensor t = f32_tensor(dims, 4, px, sizeof pixels);
	int32_t e = nn_set_input(nn.ctx, cfg.input_index, &t);
	if (e != NN_SUCCESS) {
		return nn_failure("set_input", e, WG_STATUS_FAILED);
	}
	e = nn_compute(nn.ctx);
	if (e != NN_SUCCESS) {
		/* invalid_argument: the model refused the pixels, the caller's to fix. */
		return nn_failure("compute", e, e == NN_INVALID_ARGUMENT ? WG_STATUS_INVALID : WG_STATUS_FAILED);
	}
	nn_buffer_size written = 0;
	if (cfg.check_errors) {
		check("get_output of the model into 4 bytes",
		      nn_get_output(nn.ctx, cfg.output_index, (uint8_t *)scores, 4, &written), NN_TOO_LARGE);
	}
	e = nn_get_output(nn.ctx, cfg.output_index, (uint8_t *)scores, sizeof scores, &written);
	if (e != NN_SUCCESS) {
		return nn_failure("get_output", e, WG_STATUS_FAILED);
	}
	if (written < 4 || written % 4 != 0) {
		wg_buf_reset(&wg_out);
		wg_buf_str(&wg_out, "wasi-nn get_output wrote ");
		wg_buf_int(&wg_out, written);
		wg_buf_str(&wg_out, " bytes, not a list of FP32 scores");
		return wg_finish(WG_STATUS_FAILED);
	}
	if (cfg.check_errors) {
		if (n_failed) {
			wg_buf_reset(&wg_out);
			wg_buf_str(&wg_out, "wasi-nn checks failed (");
			wg_buf_int(&wg_out, n_failed);
			wg_buf_str(&wg_out, " of ");
			wg_buf_int(&wg_out, n_checks);
			wg_buf_str(&wg_out, "): ");
			wg_buf_append(&wg_out, failures.buf, failures.len);
			return wg_finish(WG_STATUS_FAILED);
		}
		wg_buf_reset(&failures);
		wg_buf_str(&failures, "wasi-nn checks: ");
		wg_buf_int(&failures, n_checks);
		wg_buf_str(&failures, " of ");
		wg_buf_int(&failures, n_checks);
		wg_buf_str(&failures, " passed");
		wg_log(WG_LOG_INFO, failures.buf, (int32_t)failures.len);
	}
	uint32_t k = written / 4;
	int64_t label = 0;
	for (uint32_t i = 0; i < k; i++) {
		if (scores[i] != scores[i]) {
			return wg_fail(WG_STATUS_FAILED, "the model's output holds NaN", 0, 0, 0);
		}
		if (scores[i] > scores[label]) {
			label = i;
		}
	}
	static const int64_t one[] = {1};
	wg_buf_reset(&wg_out);
	wg_list_begin(&wg_out, 1);
	wg_list_tensor(&wg_out, "label", WG_INT64, 1, one, &label, sizeof label);
	return wg_finish(WG_STATUS_OK);
}
