// ortrunner drives onnxruntime through its C API for bench/peers, so the Go
// benchmark needs no cgo. The bench compiles it with the system C compiler
// against onnxruntime's C API header and loads libonnxruntime with dlopen.
//
// Usage: ortrunner LIB MODEL THREADS OUTDIR [NAME=FILE ...]
//
// It creates one session (graph optimisation ALL, intra-op threads THREADS,
// inter-op threads 1, sequential execution; with ORTRUNNER_NO_SPIN=1 in
// the environment, the intra-op threads do not spin while idle; with
// ORTRUNNER_PROFILE=PREFIX, onnxruntime's session profiling is on and writes
// to PREFIX_DATE.json), binds each input NAME to the
// tensor in FILE, prints "ready VERSION NOUTPUTS API" and then serves commands
// on standard input, one per line (VERSION is the library's, API the C API
// version of the header it was compiled with):
//
//   run N   runs the session N times and prints the N durations of the Run
//           call in nanoseconds on one line
//   dump    runs once and writes output i to OUTDIR/output_i.bin, then
//           prints "dumped"
//   profile ends the session's profiling and prints "profiled PATH", the
//           JSON file it wrote (a trace event per node and run)
//   quit    exits
//
// A tensor file is "WGT1", uint32 element type (ONNX's code), uint32 rank,
// int64 dimensions, then the elements, all little-endian.
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onnxruntime_c_api.h"

static const OrtApi *ort;

static void die(const char *what, const char *detail) {
  fprintf(stderr, "ortrunner: %s: %s\n", what, detail ? detail : "");
  exit(1);
}

static void check(OrtStatus *st, const char *what) {
  if (st != NULL) {
    die(what, ort->GetErrorMessage(st));
  }
}

static size_t elem_size(int type) {
  switch (type) {
  case 1: case 6: case 12: return 4;  // float, int32, uint32
  case 2: case 3: case 9: return 1;   // uint8, int8, bool
  case 4: case 5: case 10: case 16: return 2;
  case 7: case 11: case 13: return 8; // int64, double, uint64
  }
  return 0;
}

typedef struct {
  char *name;
  void *data;
  int64_t dims[16];
  uint32_t rank;
  uint32_t type;
  size_t bytes;
  OrtValue *value;
} input;

static void read_tensor(const char *path, input *in) {
  FILE *f = fopen(path, "rb");
  if (!f) die("open", path);
  char magic[4];
  if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "WGT1", 4) != 0) die("not a WGT1 file", path);
  if (fread(&in->type, 4, 1, f) != 1 || fread(&in->rank, 4, 1, f) != 1 || in->rank > 16) die("bad header", path);
  if (fread(in->dims, 8, in->rank, f) != in->rank) die("bad dims", path);
  size_t n = 1;
  for (uint32_t i = 0; i < in->rank; i++) n *= (size_t)in->dims[i];
  size_t es = elem_size((int)in->type);
  if (es == 0) die("unsupported element type", path);
  in->bytes = n * es;
  in->data = aligned_alloc(64, (in->bytes + 127) / 64 * 64);
  if (!in->data) die("out of memory", path);
  if (fread(in->data, 1, in->bytes, f) != in->bytes) die("short data", path);
  fclose(f);
}

static void write_tensor(const char *path, OrtValue *v) {
  OrtTensorTypeAndShapeInfo *info;
  check(ort->GetTensorTypeAndShape(v, &info), "GetTensorTypeAndShape");
  ONNXTensorElementDataType type;
  size_t rank, count;
  int64_t dims[16];
  check(ort->GetTensorElementType(info, &type), "GetTensorElementType");
  check(ort->GetDimensionsCount(info, &rank), "GetDimensionsCount");
  if (rank > 16) die("output rank too high", path);
  check(ort->GetDimensions(info, dims, rank), "GetDimensions");
  check(ort->GetTensorShapeElementCount(info, &count), "GetTensorShapeElementCount");
  ort->ReleaseTensorTypeAndShapeInfo(info);
  size_t es = elem_size((int)type);
  if (es == 0) die("unsupported output element type", path);
  void *data;
  check(ort->GetTensorMutableData(v, &data), "GetTensorMutableData");
  FILE *f = fopen(path, "wb");
  if (!f) die("create", path);
  uint32_t t32 = (uint32_t)type, r32 = (uint32_t)rank;
  fwrite("WGT1", 1, 4, f);
  fwrite(&t32, 4, 1, f);
  fwrite(&r32, 4, 1, f);
  fwrite(dims, 8, rank, f);
  fwrite(data, es, count, f);
  if (fclose(f) != 0) die("write", path);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 5) die("usage", "ortrunner LIB MODEL THREADS OUTDIR [NAME=FILE ...]");
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) die("dlopen", dlerror());
  const OrtApiBase *(*get_base)(void) = (const OrtApiBase *(*)(void))dlsym(lib, "OrtGetApiBase");
  if (!get_base) die("dlsym OrtGetApiBase", dlerror());
  const OrtApiBase *base = get_base();
  ort = base->GetApi(ORT_API_VERSION);
  if (!ort) die("GetApi", "the library does not offer this header's API version");
  int threads = atoi(argv[3]);
  const char *outdir = argv[4];

  OrtEnv *env;
  check(ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "wasmgate-bench", &env), "CreateEnv");
  OrtSessionOptions *so;
  check(ort->CreateSessionOptions(&so), "CreateSessionOptions");
  check(ort->SetIntraOpNumThreads(so, threads), "SetIntraOpNumThreads");
  check(ort->SetInterOpNumThreads(so, 1), "SetInterOpNumThreads");
  check(ort->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL), "SetSessionGraphOptimizationLevel");
  check(ort->SetSessionExecutionMode(so, ORT_SEQUENTIAL), "SetSessionExecutionMode");
  const char *nospin = getenv("ORTRUNNER_NO_SPIN");
  if (nospin != NULL && strcmp(nospin, "1") == 0) {
    check(ort->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "0"), "AddSessionConfigEntry");
  }
  const char *profile = getenv("ORTRUNNER_PROFILE");
  if (profile != NULL && profile[0] != '\0') {
    check(ort->EnableProfiling(so, profile), "EnableProfiling");
  }
  OrtSession *sess;
  check(ort->CreateSession(env, argv[2], so, &sess), "CreateSession");

  OrtMemoryInfo *mem;
  check(ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &mem), "CreateCpuMemoryInfo");
  int nin = argc - 5;
  input *ins = calloc((size_t)nin + 1, sizeof(input));
  const char **in_names = calloc((size_t)nin + 1, sizeof(char *));
  const OrtValue **in_vals = calloc((size_t)nin + 1, sizeof(OrtValue *));
  for (int i = 0; i < nin; i++) {
    char *arg = argv[5 + i];
    char *eq = strchr(arg, '=');
    if (!eq) die("input argument is not NAME=FILE", arg);
    *eq = 0;
    ins[i].name = arg;
    read_tensor(eq + 1, &ins[i]);
    check(ort->CreateTensorWithDataAsOrtValue(mem, ins[i].data, ins[i].bytes, ins[i].dims, ins[i].rank,
                                              (ONNXTensorElementDataType)ins[i].type, &ins[i].value),
          "CreateTensorWithDataAsOrtValue");
    in_names[i] = ins[i].name;
    in_vals[i] = ins[i].value;
  }

  OrtAllocator *alloc;
  check(ort->GetAllocatorWithDefaultOptions(&alloc), "GetAllocatorWithDefaultOptions");
  size_t nout;
  check(ort->SessionGetOutputCount(sess, &nout), "SessionGetOutputCount");
  char **out_names = calloc(nout + 1, sizeof(char *));
  OrtValue **outs = calloc(nout + 1, sizeof(OrtValue *));
  for (size_t i = 0; i < nout; i++) {
    check(ort->SessionGetOutputName(sess, i, alloc, &out_names[i]), "SessionGetOutputName");
  }
  printf("ready %s %zu %d\n", base->GetVersionString(), nout, ORT_API_VERSION);
  fflush(stdout);

  char line[256];
  int64_t *times = NULL;
  while (fgets(line, sizeof line, stdin)) {
    long n = 0;
    if (sscanf(line, "run %ld", &n) == 1 && n > 0) {
      times = realloc(times, (size_t)n * sizeof(int64_t));
      for (long r = 0; r < n; r++) {
        memset(outs, 0, nout * sizeof(OrtValue *));
        int64_t t0 = now_ns();
        check(ort->Run(sess, NULL, in_names, in_vals, (size_t)nin, (const char *const *)out_names, nout, outs), "Run");
        times[r] = now_ns() - t0;
        for (size_t i = 0; i < nout; i++) ort->ReleaseValue(outs[i]);
      }
      for (long r = 0; r < n; r++) printf(r ? " %lld" : "%lld", (long long)times[r]);
      printf("\n");
    } else if (strncmp(line, "dump", 4) == 0) {
      memset(outs, 0, nout * sizeof(OrtValue *));
      check(ort->Run(sess, NULL, in_names, in_vals, (size_t)nin, (const char *const *)out_names, nout, outs), "Run");
      for (size_t i = 0; i < nout; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/output_%zu.bin", outdir, i);
        write_tensor(path, outs[i]);
        ort->ReleaseValue(outs[i]);
      }
      printf("dumped\n");
    } else if (strncmp(line, "profile", 7) == 0) {
      OrtAllocator *alloc;
      char *path;
      check(ort->GetAllocatorWithDefaultOptions(&alloc), "GetAllocatorWithDefaultOptions");
      check(ort->SessionEndProfiling(sess, alloc, &path), "SessionEndProfiling");
      printf("profiled %s\n", path);
      check(ort->AllocatorFree(alloc, path), "AllocatorFree");
    } else if (strncmp(line, "quit", 4) == 0) {
      break;
    } else {
      die("unknown command", line);
    }
    fflush(stdout);
  }
  return 0;
}
