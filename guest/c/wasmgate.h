/*
 * wasmgate.h: the wasmgate guest ABI, version 1 (docs/ABI.md), for C.
 *
 * A module is a wasm32 reactor that defines the five exports below and
 * exports them, with its memory, when it is linked:
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -I guest/c \
 *     -Wl,--export=wasmgate_abi_version -Wl,--export=wasmgate_input \
 *     -Wl,--export=wasmgate_describe -Wl,--export=wasmgate_run \
 *     -Wl,--export=wasmgate_output -Wl,--strip-all \
 *     -o mod.wasm mod.c guest/c/wasmgate.c
 *
 * wasmgate.c implements wasmgate_abi_version, wasmgate_input and
 * wasmgate_output and the helpers declared here; a module implements
 * wasmgate_describe and wasmgate_run and sets its output with wg_output,
 * wg_fail or wg_finish. go run ./guest/c/build (go tool task guests:c) builds the modules
 * under guest/c this way.
 *
 * All integers are little-endian; pointers are offsets into the module's
 * memory, which is what a C pointer is on wasm32.
 */
#ifndef WASMGATE_H
#define WASMGATE_H

#include <stddef.h>
#include <stdint.h>

#define WG_ABI_VERSION 1

/* Status codes of wasmgate_describe and wasmgate_run (§4). */
#define WG_STATUS_OK 0      /* the output is a tensor list, or the description */
#define WG_STATUS_INVALID 1 /* the caller's input is invalid: the output is a message for them */
#define WG_STATUS_FAILED 2  /* the module failed: the output is a message */

/* Error codes of the host functions (§5.1). */
#define WG_EINVAL (-1)       /* a malformed argument */
#define WG_ENOTFOUND (-2)    /* no such handle, model or operator */
#define WG_EQUOTA (-3)       /* the call's host memory quota would be exceeded */
#define WG_EUNSUPPORTED (-4) /* valid but not implemented */
#define WG_EFAILED (-5)      /* the operation ran and failed */
#define WG_EDENIED (-6)      /* the module may not do this */
#define WG_ETIMEOUT (-7)     /* the request's deadline passed */

/* Data types (§2): ONNX TensorProto.DataType codes. */
enum wg_dtype {
	WG_FP32 = 1,
	WG_UINT8 = 2,
	WG_INT8 = 3,
	WG_UINT16 = 4,
	WG_INT16 = 5,
	WG_INT32 = 6,
	WG_INT64 = 7,
	WG_BYTES = 8,
	WG_BOOL = 9,
	WG_FP16 = 10,
	WG_FP64 = 11,
	WG_UINT32 = 12,
	WG_UINT64 = 13,
	WG_BF16 = 16,
};

/* Bit 31 of an encoded dtype: the tensor is host-held and its data is a u32
 * handle (§2). */
#define WG_HELD 0x80000000u

/* Limits of the tensor-list encoding (§2). */
#define WG_MAX_TENSORS 256
#define WG_MAX_NAME 1024
#define WG_MAX_RANK 16

/* Log levels of wg_log. */
#define WG_LOG_DEBUG 0
#define WG_LOG_INFO 1
#define WG_LOG_WARN 2
#define WG_LOG_ERROR 3

/* Filters of wg_image_resize and layouts of wg_image_normalize. */
#define WG_FILTER_NEAREST 0
#define WG_FILTER_BILINEAR 1
#define WG_FILTER_AREA 2
#define WG_LAYOUT_HWC 0
#define WG_LAYOUT_CHW 1

/* ---- Exports (§1): every module defines all five. ---- */

/* Returns WG_ABI_VERSION. (wasmgate.c) */
int32_t wasmgate_abi_version(void);
/* Returns an 8-aligned buffer of at least size bytes, or 0. (wasmgate.c) */
void *wasmgate_input(uint32_t size);
/* Sets the output to the description JSON (§3); returns a status. */
int32_t wasmgate_describe(void);
/* Reads the tensor list of len bytes at ptr, sets the output; returns a status. */
int32_t wasmgate_run(const uint8_t *ptr, uint32_t len);
/* The output of the last describe or run: ptr << 32 | len. (wasmgate.c) */
uint64_t wasmgate_output(void);

/* ---- Imports (§5.3), from the import module "wasmgate". ---- */

#define WG_IMPORT(name) __attribute__((import_module("wasmgate"), import_name(name)))

WG_IMPORT("log") void wg_log(int32_t level, const void *ptr, int32_t len);
WG_IMPORT("config") int32_t wg_config(void *ptr, int32_t cap);
WG_IMPORT("last_error") int32_t wg_last_error(void *ptr, int32_t cap);
WG_IMPORT("tensor_put") int32_t wg_tensor_put(const void *list, int32_t len);
WG_IMPORT("tensor_info") int32_t wg_tensor_info(uint32_t handle, void *ptr, int32_t cap);
WG_IMPORT("tensor_read") int64_t wg_tensor_read(uint32_t handle, int64_t offset, void *ptr, int32_t len);
WG_IMPORT("tensor_free") int32_t wg_tensor_free(uint32_t handle);
WG_IMPORT("op")
int32_t wg_op(const char *name, int32_t name_len, const char *attrs, int32_t attrs_len,
              const uint32_t *in, int32_t n_in, uint32_t *out, int32_t n_out);
WG_IMPORT("model_run")
int32_t wg_model_run(const char *name, int32_t name_len, const uint32_t *in, int32_t n_in,
                     uint32_t *out, int32_t n_out);
WG_IMPORT("image_decode") int32_t wg_image_decode(const void *ptr, int32_t len, int32_t channels);
WG_IMPORT("image_resize") int32_t wg_image_resize(uint32_t handle, int32_t height, int32_t width, int32_t filter);
WG_IMPORT("image_normalize")
int32_t wg_image_normalize(uint32_t handle, int32_t layout, float scale, const float *mean, const float *std);

/* ---- Tensors and lists (§2). wasmgate.c ---- */

/* One tensor of a list. Decoded tensors point into the list; dims are
 * copied (they are not 8-aligned in the encoding). */
typedef struct {
	const char *name;
	uint32_t name_len;
	uint32_t dtype;  /* a wg_dtype, without WG_HELD */
	uint32_t handle; /* not 0: host-held, and data is NULL */
	uint32_t rank;
	int64_t dims[WG_MAX_RANK];
	const void *data; /* 8-aligned; for BYTES the len:u32 bytes elements */
	uint64_t data_len;
} wg_tensor;

/* Reports whether (ptr, len) lies within the buffer wasmgate_input last
 * returned; a module checks this first in wasmgate_run. (The status-2
 * message is set when it does not.) */
int wg_input_ok(const uint8_t *ptr, uint32_t len);

/* Element size of dtype in bytes; 0 for BYTES and for an invalid dtype. */
uint32_t wg_dtype_size(uint32_t dtype);
/* The KServe V2 name of dtype ("FP32"), or NULL for an invalid dtype. */
const char *wg_dtype_name(uint32_t dtype);

/* Decodes the list of len bytes at buf, enforcing every rule of §2, into
 * ts[0..*count); host-held tensors are allowed. Returns 0, or -1 with
 * *err set to a static message. */
int wg_list_decode(const uint8_t *buf, uint32_t len, wg_tensor *ts, uint32_t max, uint32_t *count,
                   const char **err);

/* Finds the tensor named name in ts[0..n), or NULL. */
const wg_tensor *wg_list_find(const wg_tensor *ts, uint32_t n, const char *name);

/* A growing buffer for the output. Errors (out of memory) stick: check ok
 * at the end. */
typedef struct {
	uint8_t *buf;
	uint32_t len, cap;
	uint32_t list; /* where the list being written starts: padding counts from it */
	int ok;
} wg_buf;

void wg_buf_reset(wg_buf *b);
void wg_buf_append(wg_buf *b, const void *p, uint32_t n);
void wg_buf_str(wg_buf *b, const char *s);
void wg_buf_int(wg_buf *b, int64_t v);

/* A tensor-list writer over a wg_buf: begin with the count, then one
 * wg_list_tensor or wg_list_held per tensor. */
void wg_list_begin(wg_buf *b, uint32_t count);
void wg_list_tensor(wg_buf *b, const char *name, uint32_t dtype, uint32_t rank, const int64_t *dims,
                    const void *data, uint64_t data_len);
void wg_list_held(wg_buf *b, const char *name, uint32_t dtype, uint32_t rank, const int64_t *dims,
                  uint32_t handle);

/* The module's output: build it in wg_out (wg_buf_reset first) and return
 * wg_finish(status), or use wg_output or wg_fail. */
extern wg_buf wg_out;

/* Makes wg_out the output and returns status: WG_STATUS_FAILED with an
 * out-of-memory message if building it failed; a message (status not OK)
 * is made valid, non-empty UTF-8. */
int32_t wg_finish(int32_t status);
/* Sets the output to the n bytes at p (copied), and returns wg_finish(status). */
int32_t wg_output(int32_t status, const void *p, uint32_t n);
/* Sets the output to a message made of up to four strings (NULLs are
 * skipped), and returns wg_finish(status). */
int32_t wg_fail(int32_t status, const char *a, const char *b, const char *c, const char *d);

/* A declared input or output, as the description gives it; a dim of -1
 * matches any size. */
typedef struct {
	const char *name;
	uint32_t dtype;
	uint32_t rank;
	int64_t dims[WG_MAX_RANK];
	int optional;
} wg_spec;

/* Checks t's dtype and shape against s. On a mismatch it sets the message
 * (<kind> "<name>": datatype is X, want Y / shape is [..], want [..]) and
 * returns status; otherwise WG_STATUS_OK. */
int32_t wg_check(const wg_spec *s, const wg_tensor *t, const char *kind, int32_t status);

/* Binds the decoded inputs ts[0..n) to the declared specs[0..n_specs) by
 * name, as the Go SDK does: bound[i] is the tensor of specs[i], or NULL for
 * an absent optional input. An unknown, missing or mismatched input sets
 * the message and returns WG_STATUS_INVALID. */
int32_t wg_bind(const wg_spec *specs, uint32_t n_specs, const wg_tensor *ts, uint32_t n,
                const wg_tensor **bound);

/* Copies t into the host (tensor_put) or, if it is host-held, returns its
 * handle; a negative value is an error code. */
int32_t wg_put(const wg_tensor *t);
/* Fills t (name left NULL) with the dtype and shape handle holds; returns 0
 * or an error code. */
int32_t wg_info(uint32_t handle, wg_tensor *t);
/* The message of the last failed host call, NUL-terminated, in a static
 * buffer (cut to fit). */
const char *wg_last_error_message(void);

#endif
