/*
 * wasmgate.c: the parts of the wasmgate guest ABI every C module shares
 * (see wasmgate.h): three of the exports, the tensor-list codec and the
 * output buffer.
 */
#include "wasmgate.h"

#include <stdlib.h>
#include <string.h>

/* ---- Exports ---- */

int32_t wasmgate_abi_version(void) { return WG_ABI_VERSION; }

/* Buffers larger than this are not kept for a smaller call: linear memory
 * never shrinks, so one large request must not pin its size. */
#define KEEP_BYTES (1u << 20)

static uint8_t *in_buf;
static uint32_t in_cap;

void *wasmgate_input(uint32_t size) {
	if (size > (1u << 30)) {
		return 0;
	}
	uint32_t want = size < 8 ? 8 : (size + 7) & ~7u;
	if (in_cap < want || (in_cap > KEEP_BYTES && 4 * (uint64_t)want < in_cap)) {
		free(in_buf);
		in_buf = aligned_alloc(8, want);
		in_cap = in_buf ? want : 0;
	}
	return in_buf;
}

wg_buf wg_out;

int wg_input_ok(const uint8_t *ptr, uint32_t len) {
	if (in_buf && ptr >= in_buf && (uint64_t)(ptr - in_buf) + len <= in_cap) {
		return 1;
	}
	wg_buf_reset(&wg_out);
	wg_buf_str(&wg_out, "wasmgate_run(");
	wg_buf_int(&wg_out, (int64_t)(uintptr_t)ptr);
	wg_buf_str(&wg_out, ", ");
	wg_buf_int(&wg_out, len);
	wg_buf_str(&wg_out, ") is not within the buffer wasmgate_input returned");
	return 0;
}

static const uint8_t *out_ptr;
static uint32_t out_len;

uint64_t wasmgate_output(void) {
	if (out_len == 0) {
		return 0;
	}
	return (uint64_t)(uintptr_t)out_ptr << 32 | out_len;
}

/* ---- Output buffer ---- */

void wg_buf_reset(wg_buf *b) {
	if (b->cap > KEEP_BYTES) {
		free(b->buf);
		b->buf = 0;
		b->cap = 0;
	}
	b->len = 0;
	b->ok = 1;
}

void wg_buf_append(wg_buf *b, const void *p, uint32_t n) {
	if (!b->ok || n == 0) {
		return;
	}
	if (n > UINT32_MAX - b->len) {
		b->ok = 0;
		return;
	}
	if (b->len + n > b->cap) {
		uint64_t c = b->cap ? (uint64_t)b->cap * 2 : 256;
		while (c < (uint64_t)b->len + n) {
			c *= 2;
		}
		if (c > UINT32_MAX) {
			c = UINT32_MAX;
		}
		uint8_t *nb = realloc(b->buf, (size_t)c);
		if (!nb) {
			b->ok = 0;
			return;
		}
		b->buf = nb;
		b->cap = (uint32_t)c;
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void wg_buf_str(wg_buf *b, const char *s) { wg_buf_append(b, s, (uint32_t)strlen(s)); }

void wg_buf_int(wg_buf *b, int64_t v) {
	char tmp[24];
	int i = sizeof tmp;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0) {
		tmp[--i] = '-';
	}
	wg_buf_append(b, tmp + i, (uint32_t)(sizeof tmp - i));
}

static void put_u32(wg_buf *b, uint32_t v) {
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	wg_buf_append(b, x, 4);
}

static void put_u64(wg_buf *b, uint64_t v) {
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void pad(wg_buf *b, uint32_t start) {
	static const uint8_t zero[8];
	wg_buf_append(b, zero, (8 - (b->len - start) % 8) % 8);
}

/* ---- UTF-8 (as Go's utf8.Valid: no overlongs, surrogates or > U+10FFFF) ---- */

/* utf8_len returns the length of the valid sequence at s[0..n), or 0. */
static uint32_t utf8_len(const uint8_t *s, uint32_t n) {
	uint8_t c = s[0];
	if (c < 0x80) {
		return 1;
	}
	uint32_t k;
	uint8_t lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		k = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		k = 3;
		if (c == 0xE0) {
			lo = 0xA0;
		} else if (c == 0xED) {
			hi = 0x9F;
		}
	} else if (c >= 0xF0 && c <= 0xF4) {
		k = 4;
		if (c == 0xF0) {
			lo = 0x90;
		} else if (c == 0xF4) {
			hi = 0x8F;
		}
	} else {
		return 0;
	}
	if (n < k || s[1] < lo || s[1] > hi) {
		return 0;
	}
	for (uint32_t i = 2; i < k; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF) {
			return 0;
		}
	}
	return k;
}

static int utf8_valid(const uint8_t *s, uint32_t n) {
	for (uint32_t i = 0; i < n;) {
		uint32_t k = utf8_len(s + i, n - i);
		if (!k) {
			return 0;
		}
		i += k;
	}
	return 1;
}

/* ---- Status output ---- */

int32_t wg_finish(int32_t status) {
	static const char oom[] = "out of memory while building the output";
	if (!wg_out.ok) {
		out_ptr = (const uint8_t *)oom;
		out_len = sizeof oom - 1;
		return WG_STATUS_FAILED;
	}
	if (status != WG_STATUS_OK) {
		if (wg_out.len == 0) {
			wg_buf_str(&wg_out, "module failed without a message");
		}
		/* Messages must be valid UTF-8: replace what is not. */
		for (uint32_t i = 0; i < wg_out.len;) {
			uint32_t k = utf8_len(wg_out.buf + i, wg_out.len - i);
			if (!k) {
				wg_out.buf[i] = '?';
				k = 1;
			}
			i += k;
		}
		if (!wg_out.ok) {
			return wg_finish(status);
		}
	}
	out_ptr = wg_out.buf;
	out_len = wg_out.len;
	return status;
}

int32_t wg_output(int32_t status, const void *p, uint32_t n) {
	wg_buf_reset(&wg_out);
	wg_buf_append(&wg_out, p, n);
	return wg_finish(status);
}

int32_t wg_fail(int32_t status, const char *a, const char *b, const char *c, const char *d) {
	wg_buf_reset(&wg_out);
	const char *parts[4] = {a, b, c, d};
	for (int i = 0; i < 4; i++) {
		if (parts[i]) {
			wg_buf_str(&wg_out, parts[i]);
		}
	}
	return wg_finish(status);
}

/* ---- Data types ---- */

static const struct {
	const char *name;
	uint32_t size;
} dtypes[17] = {
	[WG_FP32] = {"FP32", 4},   [WG_UINT8] = {"UINT8", 1},   [WG_INT8] = {"INT8", 1},
	[WG_UINT16] = {"UINT16", 2}, [WG_INT16] = {"INT16", 2}, [WG_INT32] = {"INT32", 4},
	[WG_INT64] = {"INT64", 8}, [WG_BYTES] = {"BYTES", 0},   [WG_BOOL] = {"BOOL", 1},
	[WG_FP16] = {"FP16", 2},   [WG_FP64] = {"FP64", 8},     [WG_UINT32] = {"UINT32", 4},
	[WG_UINT64] = {"UINT64", 8}, [WG_BF16] = {"BF16", 2},
};

const char *wg_dtype_name(uint32_t dtype) { return dtype < 17 ? dtypes[dtype].name : 0; }

uint32_t wg_dtype_size(uint32_t dtype) { return dtype < 17 ? dtypes[dtype].size : 0; }

/* ---- List decoding ---- */

static uint32_t get_u32(const uint8_t *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

#define MAX_ELEMENTS (1ull << 30)

/* A cursor over the list; offsets count from its start. */
typedef struct {
	const uint8_t *b;
	uint32_t len, off;
} cursor;

static const uint8_t *take(cursor *c, uint64_t n) {
	if (n > c->len - c->off) {
		return 0;
	}
	const uint8_t *p = c->b + c->off;
	c->off += (uint32_t)n;
	return p;
}

/* skip_pad consumes the zero padding up to the next multiple of 8. */
static int skip_pad(cursor *c) {
	uint32_t k = (8 - c->off % 8) % 8;
	const uint8_t *p = take(c, k);
	if (!p) {
		return 0;
	}
	for (uint32_t i = 0; i < k; i++) {
		if (p[i]) {
			return 0;
		}
	}
	return 1;
}

static const char *decode_tensor(cursor *c, wg_tensor *t) {
	const uint8_t *p = take(c, 4);
	if (!p) {
		return "name_len runs past the end";
	}
	uint32_t name_len = get_u32(p);
	if (name_len == 0 || name_len > WG_MAX_NAME) {
		return "name_len is not within 1..1024";
	}
	if (!(p = take(c, name_len))) {
		return "name runs past the end";
	}
	if (!utf8_valid(p, name_len)) {
		return "name is not valid UTF-8";
	}
	t->name = (const char *)p;
	t->name_len = name_len;
	if (!(p = take(c, 8))) {
		return "dtype and rank run past the end";
	}
	uint32_t code = get_u32(p), rank = get_u32(p + 4);
	int held = (code & WG_HELD) != 0;
	code &= ~WG_HELD;
	if (!wg_dtype_name(code)) {
		return "dtype is not supported";
	}
	t->dtype = code;
	if (rank > WG_MAX_RANK) {
		return "rank exceeds the maximum of 16";
	}
	t->rank = rank;
	if (!(p = take(c, 8ull * rank))) {
		return "dims run past the end";
	}
	uint64_t n = 1;
	for (uint32_t i = 0; i < rank; i++) {
		int64_t d = (int64_t)get_u64(p + 8 * i);
		if (d < 0) {
			return "a dim is negative";
		}
		t->dims[i] = d;
		if (d != 0 && n > MAX_ELEMENTS / (uint64_t)d) {
			return "the shape has more than 2^30 elements";
		}
		n *= (uint64_t)d;
	}
	if (!(p = take(c, 8))) {
		return "data_len runs past the end";
	}
	uint64_t data_len = get_u64(p);
	if (!skip_pad(c)) {
		return "padding before data runs past the end or is not zero";
	}
	t->handle = 0;
	t->data = 0;
	t->data_len = data_len;
	if (held) {
		if (data_len != 4) {
			return "a host-held tensor has data_len other than 4";
		}
		if (!(p = take(c, 4))) {
			return "handle runs past the end";
		}
		if (!(t->handle = get_u32(p))) {
			return "a host-held tensor with handle 0";
		}
		return skip_pad(c) ? 0 : "padding after data runs past the end or is not zero";
	}
	if (code != WG_BYTES) {
		if (data_len != n * wg_dtype_size(code)) {
			return "data_len does not match the dtype and shape";
		}
	} else if (data_len < 4 * n) {
		return "data_len is too short for the BYTES elements";
	}
	if (!(p = take(c, data_len))) {
		return "data runs past the end";
	}
	t->data = p;
	if (code == WG_BYTES) {
		uint64_t off = 0;
		for (uint64_t i = 0; i < n; i++) {
			if (data_len - off < 4) {
				return "a BYTES length prefix runs past data_len";
			}
			uint64_t l = get_u32(p + off);
			off += 4;
			if (l > data_len - off) {
				return "a BYTES element runs past data_len";
			}
			off += l;
		}
		if (off != data_len) {
			return "bytes after the last BYTES element within data_len";
		}
	} else if (code == WG_BOOL) {
		for (uint64_t i = 0; i < data_len; i++) {
			if (p[i] > 1) {
				return "a BOOL element is not 0 or 1";
			}
		}
	}
	return skip_pad(c) ? 0 : "padding after data runs past the end or is not zero";
}

int wg_list_decode(const uint8_t *buf, uint32_t len, wg_tensor *ts, uint32_t max, uint32_t *count,
                   const char **err) {
	*count = 0;
	if (len < 8) {
		*err = "the tensor list is shorter than its 8-byte header";
		return -1;
	}
	if (memcmp(buf, "WGTL", 4) != 0) {
		*err = "the tensor list does not start with the magic WGTL";
		return -1;
	}
	uint32_t n = get_u32(buf + 4);
	if (n > WG_MAX_TENSORS) {
		*err = "the tensor list count exceeds the maximum of 256";
		return -1;
	}
	if ((uint64_t)n * 24 > len - 8) {
		*err = "the tensor list count cannot fit in its length";
		return -1;
	}
	if (n > max) {
		*err = "the tensor list holds more tensors than this module reads";
		return -1;
	}
	cursor c = {buf, len, 8};
	for (uint32_t i = 0; i < n; i++) {
		const char *e = decode_tensor(&c, &ts[i]);
		if (e) {
			*err = e;
			return -1;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (ts[j].name_len == ts[i].name_len && memcmp(ts[j].name, ts[i].name, ts[i].name_len) == 0) {
				*err = "duplicate tensor name";
				return -1;
			}
		}
	}
	if (c.off != len) {
		*err = "trailing bytes after the last tensor";
		return -1;
	}
	*count = n;
	return 0;
}

const wg_tensor *wg_list_find(const wg_tensor *ts, uint32_t n, const char *name) {
	size_t l = strlen(name);
	for (uint32_t i = 0; i < n; i++) {
		if (ts[i].name_len == l && memcmp(ts[i].name, name, l) == 0) {
			return &ts[i];
		}
	}
	return 0;
}

/* ---- List writing ---- */

void wg_list_begin(wg_buf *b, uint32_t count) {
	b->list = b->len;
	wg_buf_append(b, "WGTL", 4);
	put_u32(b, count);
}

static void head(wg_buf *b, const char *name, uint32_t code, uint32_t rank, const int64_t *dims, uint64_t data_len) {
	uint32_t l = (uint32_t)strlen(name);
	put_u32(b, l);
	wg_buf_append(b, name, l);
	put_u32(b, code);
	put_u32(b, rank);
	for (uint32_t i = 0; i < rank; i++) {
		put_u64(b, (uint64_t)dims[i]);
	}
	put_u64(b, data_len);
	pad(b, b->list);
}

void wg_list_tensor(wg_buf *b, const char *name, uint32_t dtype, uint32_t rank, const int64_t *dims,
                    const void *data, uint64_t data_len) {
	if (data_len > UINT32_MAX) {
		b->ok = 0;
		return;
	}
	head(b, name, dtype, rank, dims, data_len);
	wg_buf_append(b, data, (uint32_t)data_len);
	pad(b, b->list);
}

void wg_list_held(wg_buf *b, const char *name, uint32_t dtype, uint32_t rank, const int64_t *dims,
                  uint32_t handle) {
	head(b, name, dtype | WG_HELD, rank, dims, 4);
	put_u32(b, handle);
	pad(b, b->list);
}

/* ---- Specs ---- */

static void buf_name(wg_buf *b, const char *kind, const char *name, uint32_t len) {
	wg_buf_str(b, kind);
	wg_buf_str(b, " \"");
	wg_buf_append(b, name, len);
	wg_buf_str(b, "\"");
}

static void buf_shape(wg_buf *b, uint32_t rank, const int64_t *dims) {
	wg_buf_str(b, "[");
	for (uint32_t i = 0; i < rank; i++) {
		if (i) {
			wg_buf_str(b, " ");
		}
		wg_buf_int(b, dims[i]);
	}
	wg_buf_str(b, "]");
}

int32_t wg_check(const wg_spec *s, const wg_tensor *t, const char *kind, int32_t status) {
	if (t->dtype != s->dtype) {
		wg_buf_reset(&wg_out);
		buf_name(&wg_out, kind, s->name, (uint32_t)strlen(s->name));
		wg_buf_str(&wg_out, ": datatype is ");
		wg_buf_str(&wg_out, wg_dtype_name(t->dtype));
		wg_buf_str(&wg_out, ", want ");
		wg_buf_str(&wg_out, wg_dtype_name(s->dtype));
		return wg_finish(status);
	}
	int ok = t->rank == s->rank;
	for (uint32_t i = 0; ok && i < s->rank; i++) {
		ok = s->dims[i] == -1 || s->dims[i] == t->dims[i];
	}
	if (!ok) {
		wg_buf_reset(&wg_out);
		buf_name(&wg_out, kind, s->name, (uint32_t)strlen(s->name));
		wg_buf_str(&wg_out, ": shape is ");
		buf_shape(&wg_out, t->rank, t->dims);
		wg_buf_str(&wg_out, ", want ");
		buf_shape(&wg_out, s->rank, s->dims);
		return wg_finish(status);
	}
	return WG_STATUS_OK;
}

static void spec_names(wg_buf *b, const wg_spec *specs, uint32_t n) {
	if (n == 0) {
		wg_buf_str(b, "none");
	}
	for (uint32_t i = 0; i < n; i++) {
		if (i) {
			wg_buf_str(b, ", ");
		}
		wg_buf_str(b, "\"");
		wg_buf_str(b, specs[i].name);
		wg_buf_str(b, "\"");
	}
}

int32_t wg_bind(const wg_spec *specs, uint32_t n_specs, const wg_tensor *ts, uint32_t n,
                const wg_tensor **bound) {
	for (uint32_t i = 0; i < n_specs; i++) {
		bound[i] = 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = 0;
		while (j < n_specs && !(strlen(specs[j].name) == ts[i].name_len &&
		                        memcmp(specs[j].name, ts[i].name, ts[i].name_len) == 0)) {
			j++;
		}
		if (j == n_specs) {
			wg_buf_reset(&wg_out);
			buf_name(&wg_out, "unknown input", ts[i].name, ts[i].name_len);
			wg_buf_str(&wg_out, " (this module takes ");
			spec_names(&wg_out, specs, n_specs);
			wg_buf_str(&wg_out, ")");
			return wg_finish(WG_STATUS_INVALID);
		}
		int32_t st = wg_check(&specs[j], &ts[i], "input", WG_STATUS_INVALID);
		if (st != WG_STATUS_OK) {
			return st;
		}
		bound[j] = &ts[i];
	}
	for (uint32_t i = 0; i < n_specs; i++) {
		if (!specs[i].optional && !bound[i]) {
			wg_buf_reset(&wg_out);
			buf_name(&wg_out, "missing input", specs[i].name, (uint32_t)strlen(specs[i].name));
			return wg_finish(WG_STATUS_INVALID);
		}
	}
	return WG_STATUS_OK;
}

/* ---- Host helpers ---- */

int32_t wg_put(const wg_tensor *t) {
	if (t->handle) {
		return (int32_t)t->handle;
	}
	wg_buf b = {0};
	b.ok = 1;
	wg_list_begin(&b, 1);
	wg_list_tensor(&b, "t", t->dtype, t->rank, t->dims, t->data, t->data_len);
	int32_t h = b.ok ? wg_tensor_put(b.buf, (int32_t)b.len) : WG_EQUOTA;
	free(b.buf);
	return h;
}

int32_t wg_info(uint32_t handle, wg_tensor *t) {
	uint8_t buf[8 + 8 * WG_MAX_RANK];
	int32_t n = wg_tensor_info(handle, buf, (int32_t)sizeof buf);
	if (n < 0) {
		return n;
	}
	uint32_t rank = get_u32(buf + 4);
	if (n < 8 || (uint32_t)n > sizeof buf || rank > WG_MAX_RANK || (uint32_t)n != 8 + 8 * rank) {
		return WG_EINVAL;
	}
	memset(t, 0, sizeof *t);
	t->dtype = get_u32(buf);
	t->rank = rank;
	for (uint32_t i = 0; i < rank; i++) {
		t->dims[i] = (int64_t)get_u64(buf + 8 + 8 * i);
	}
	t->handle = handle;
	return 0;
}

const char *wg_last_error_message(void) {
	static char msg[1024];
	int32_t n = wg_last_error(msg, (int32_t)sizeof msg - 1);
	if (n < 0) {
		n = 0;
	} else if ((uint32_t)n > sizeof msg - 1) {
		char *all = malloc((size_t)n);
		if (all && wg_last_error(all, n) == n) {
			memcpy(msg, all, sizeof msg - 1);
		}
		free(all);
		n = sizeof msg - 1;
	}
	msg[n] = 0;
	return msg;
}
