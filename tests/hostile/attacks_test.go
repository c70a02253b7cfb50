package hostile

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/tests/wasmgen"
)

var loop = [][]byte{wasmgen.Loop, wasmgen.Br(0), wasmgen.End, wasmgen.I32Const(0)}

// failWith makes a Run end with status 2 and a message, for guests whose
// host call came back instead of trapping.
func failWith(msg string) ([][]byte, string) {
	return [][]byte{
		wasmgen.I32Const(0), wasmgen.I32Const(wasmgen.MessageAddr), wasmgen.I32Store(0),
		wasmgen.I32Const(0), wasmgen.I32Const(int32(len(msg))), wasmgen.I32Store(4),
		wasmgen.I32Const(2),
	}, msg
}

// badCall is a guest that calls host function fn once with every pointer,
// length and handle set to 0xFFFFFF00, so each pointer/length pair both
// lies outside memory and overflows 32 bits.
func badCall(fn string) wasmgen.Guest {
	sig := hostfuncs.Signatures()[fn]
	var params, results []wasmgen.ValType
	for _, p := range sig[0] {
		params = append(params, wasmgen.ValType(p))
	}
	for _, r := range sig[1] {
		results = append(results, wasmgen.ValType(r))
	}
	var body [][]byte
	for _, p := range params {
		switch p {
		case wasmgen.I64:
			body = append(body, wasmgen.I64Const(-256))
		case wasmgen.F32:
			body = append(body, wasmgen.F32Const(1))
		default:
			body = append(body, wasmgen.I32Const(-256))
		}
	}
	body = append(body, wasmgen.Call(0))
	for range results {
		body = append(body, wasmgen.Drop)
	}
	fail, msg := failWith("the host call returned")
	return wasmgen.Guest{
		Imports: []wasmgen.Import{{Module: "wasmgate", Name: fn, Params: params, Results: results}},
		Run:     append(body, fail...),
		Message: msg,
	}
}

// attack is one hostile guest and what the server must answer.
type attack struct {
	name       string
	guest      wasmgen.Guest
	wasm       []byte // instead of guest
	uploadCode int    // 0: 201 expected
	uploadMsg  string
	manifest   string // {"core":{"module":"M"}} unless set; M is replaced
	requests   int    // concurrent attack requests (default 2)
	body       []byte
	codes      []int                                         // statuses the attack requests may get
	msg        string                                        // what every error message must mention
	check      func(t *testing.T, s *server, logStart int64) // logStart: the log's size when the round began
}

func attacks(t *testing.T) []attack {
	recurse := wasmgen.Func{Body: [][]byte{wasmgen.Call(0)}}
	growForever := [][]byte{
		wasmgen.Loop,
		wasmgen.I32Const(16), wasmgen.MemoryGrow, wasmgen.I32Const(-1), wasmgen.I32Ne, wasmgen.BrIf(0),
		wasmgen.End,
		wasmgen.Unreachable, // past the cap: give up the only way a guest can
	}
	trapMidway := [][]byte{
		wasmgen.I32Const(0), wasmgen.I32Const(wasmgen.InputAddr), wasmgen.I32Store(0),
		wasmgen.Unreachable,
	}
	hugeOutput := [][]byte{
		wasmgen.I32Const(0), wasmgen.I32Const(0), wasmgen.I32Store(0),
		wasmgen.I32Const(0), wasmgen.I32Const(0x7fffffff), wasmgen.I32Store(4),
		wasmgen.I32Const(0),
	}
	// tensor_put of a 1 MiB list from guest memory, over and over: the
	// call's host-memory quota must stop it.
	list, err := abi.AppendTensorList(nil, []tensor.Named{{Name: "t", Tensor: tensor.MustNew(tensor.Uint8, tensor.Shape{1<<20 - 40})}})
	if err != nil {
		t.Fatal(err)
	}
	putBomb := [][]byte{
		wasmgen.Loop,
		wasmgen.I32Const(wasmgen.MessageAddr), wasmgen.I32Const(int32(len(list))), wasmgen.Call(0), wasmgen.Drop,
		wasmgen.Br(0),
		wasmgen.End,
		wasmgen.I32Const(0),
	}
	// log 4 KiB, 2,000 times, then answer as an echo.
	flood := wasmgen.Func{Locals: []wasmgen.ValType{wasmgen.I32}, Body: [][]byte{
		wasmgen.I32Const(2000), wasmgen.LocalSet(0),
		wasmgen.Loop,
		wasmgen.I32Const(1), wasmgen.I32Const(wasmgen.InputAddr), wasmgen.I32Const(4096), wasmgen.Call(0),
		wasmgen.LocalGet(0), wasmgen.I32Const(1), wasmgen.I32Sub, wasmgen.LocalSet(0),
		wasmgen.LocalGet(0), wasmgen.BrIf(0),
		wasmgen.End,
	}}
	logFlood := append([][]byte{wasmgen.Call(1)}, append(wasmgen.SetOutput(0, 1), wasmgen.I32Const(0))...)
	var socket, filesystem wasmgen.Module
	socket.ImportFunc("wasi_snapshot_preview1", "sock_accept", []wasmgen.ValType{wasmgen.I32, wasmgen.I32, wasmgen.I32}, []wasmgen.ValType{wasmgen.I32})
	socket.Memory(1, 0)
	filesystem.ImportFunc("wasi_snapshot_preview1", "path_open", []wasmgen.ValType{wasmgen.I32, wasmgen.I32, wasmgen.I32, wasmgen.I32, wasmgen.I32, wasmgen.I64, wasmgen.I64, wasmgen.I32, wasmgen.I32}, []wasmgen.ValType{wasmgen.I32})
	filesystem.Memory(1, 0)

	as := []attack{
		{name: "infinite loop", guest: wasmgen.Guest{Run: loop}, codes: []int{504, 503}, msg: "deadline",
			check: gcWhileLooping},
		{name: "deep recursion", guest: wasmgen.Guest{Funcs: []wasmgen.Func{recurse}, Run: [][]byte{wasmgen.Call(0), wasmgen.I32Const(0)}},
			codes: []int{500}, msg: "stack overflow"},
		{name: "memory.grow to the cap and beyond", guest: wasmgen.Guest{Run: growForever}, codes: []int{500}, msg: "unreachable"},
		{name: "huge declared memory", guest: wasmgen.Guest{MemoryPages: 60000}, uploadCode: 400, uploadMsg: "starts with 60000 pages"},
		{name: "start function never returns", guest: wasmgen.Guest{Initialize: loop[:3]}, uploadCode: 400, uploadMsg: "did not finish within 1s"},
		{name: "slow to compile", wasm: slowToCompile(20000), uploadCode: 400, uploadMsg: "did not compile within 6s"},
		{name: "host allocation bomb", guest: wasmgen.Guest{
			Imports: []wasmgen.Import{{Module: "wasmgate", Name: "tensor_put", Params: []wasmgen.ValType{wasmgen.I32, wasmgen.I32}, Results: []wasmgen.ValType{wasmgen.I32}}},
			Run:     putBomb, MemoryPages: 20, Message: string(list),
		}, codes: []int{504, 503}, msg: "deadline"},
		{name: "trap mid-call", guest: wasmgen.Guest{Run: trapMidway}, codes: []int{500}, msg: "unreachable"},
		{name: "huge output", guest: wasmgen.Guest{Run: hugeOutput}, codes: []int{500}, msg: "exceeds the limit"},
		{name: "log flood", guest: wasmgen.Guest{ImportLog: true, Funcs: []wasmgen.Func{flood}, Run: logFlood}, codes: []int{200}, requests: 4, check: logBounded},
		{name: "16 MiB tensor", guest: wasmgen.Guest{}, codes: []int{200},
			body: []byte(`{"inputs":[{"name":"x","datatype":"FP32","shape":[4194304],"data":[` + strings.TrimSuffix(strings.Repeat("0,", 4<<20), ",") + `]}]}`)},
		{name: "WASI socket import", wasm: socket.Bytes(), uploadCode: 400, uploadMsg: "sock_accept"},
		{name: "WASI filesystem import", wasm: filesystem.Bytes(), uploadCode: 400, uploadMsg: "path_open"},
		{name: "panicking Go guest", wasm: goGuest(t, "panicker"), codes: []int{500}, msg: "assignment to entry in nil map"},
		{name: "operator allocation bomb", wasm: goGuest(t, "opbomb"), codes: []int{500}, msg: "left of the host memory quota"},
		{name: "guest flooding its pool", guest: wasmgen.Guest{Run: loop}, requests: 40, codes: []int{504, 503}},
	}
	for _, fn := range hostfuncs.Names() {
		// Functions that take a handle first find no tensor and return an
		// error; the others must trap on the pointer.
		as = append(as, attack{name: "bad pointers to " + fn, guest: badCall(fn), codes: []int{500}})
	}
	return as
}

// gcWhileLooping checks, while a guest spins, that a garbage collection of
// the server's process still completes.
func gcWhileLooping(t *testing.T, s *server, _ int64) {
	start := time.Now()
	runtime.GC()
	took := time.Since(start)
	t.Logf("runtime.GC took %v while guests looped", took)
	if took > time.Second {
		t.Errorf("a garbage collection took %v while a guest looped", took)
	}
}

// logBounded checks the log flood landed in the log at most at the
// per-call cap: what the log gained since the round began, which a round
// of 4 requests keeps within twice their cap (the rest being the server's
// own lines). The log's total grows with every round, and a slow machine
// needs more rounds for the victim's requests to add up.
func logBounded(t *testing.T, s *server, logStart int64) {
	n := s.logs.n.Load() - logStart
	t.Logf("server log grew by %d bytes during the flood", n)
	if n > 8*(hostfuncs.MaxLogBytesPerCall+8<<10) { // 4 requests, twice
		t.Errorf("a log flood wrote %d bytes to the server log", n)
	}
}

// goGuest builds the Go guest in testdata/name.
func goGuest(t *testing.T, name string) []byte {
	t.Helper()
	out := t.TempDir() + "/" + name + ".wasm"
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./testdata/"+name)
	cmd.Env = append(cmd.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the %s guest: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// slowToCompile is a small module that takes wazero tens of seconds to
// compile: a loop of thousands of branches over hundreds of live locals.
func slowToCompile(branches int) []byte {
	locals := make([]wasmgen.ValType, 500)
	for i := range locals {
		locals[i] = wasmgen.I32
	}
	body := [][]byte{wasmgen.Loop}
	for i := range branches {
		body = append(body, wasmgen.LocalGet(uint32(i%500)), wasmgen.BrIf(0),
			wasmgen.LocalGet(uint32((i+1)%500)), wasmgen.LocalSet(uint32((i*13)%500)))
	}
	body = append(body, wasmgen.End)
	return wasmgen.Guest{Funcs: []wasmgen.Func{{Locals: locals, Body: body}}}.Bytes()
}

// runAttack uploads the guest, serves it as the attacker's model, and
// fires the attack requests; it checks every answer.
func runAttack(t *testing.T, s *server, n int, a attack) {
	is := is.New(t)
	ctx := context.Background()
	name := fmt.Sprintf("m%d", n)
	wasm := a.wasm
	if wasm == nil {
		wasm = a.guest.Bytes()
	}
	status, body, err := call(ctx, "PUT", s.url+"/v2/repository/modules/"+name, keyAttacker, wasm)
	is.NoErr(err)
	want := a.uploadCode
	if want == 0 {
		want = http.StatusCreated
	}
	if status != want {
		t.Fatalf("upload: status %d, want %d: %s", status, want, errorOf(body))
	}
	if a.uploadCode != 0 {
		if !strings.Contains(errorOf(body), a.uploadMsg) {
			t.Errorf("upload refused with %q, which does not mention %q", errorOf(body), a.uploadMsg)
		}
		return
	}
	defer call(ctx, "DELETE", s.url+"/v2/repository/modules/"+name, keyAttacker, nil)
	manifest := `{"core":{"module":"` + name + `"},"limits":{"pool_size":1}}`
	status, body, err = call(ctx, "PUT", s.url+"/v2/repository/models/"+name, keyAttacker, []byte(manifest))
	is.NoErr(err)
	if status != http.StatusCreated {
		t.Fatalf("manifest: status %d: %s", status, errorOf(body))
	}
	defer call(ctx, "DELETE", s.url+"/v2/repository/models/"+name, keyAttacker, nil)

	req := a.body
	if req == nil {
		req = []byte(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}`)
	}
	n2 := a.requests
	if n2 == 0 {
		n2 = 2
	}
	logStart := s.logs.n.Load()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for range n2 {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			status, body, err := call(rctx, "POST", s.url+"/v2/models/"+name+"/infer", keyAttacker, req)
			mu.Lock()
			defer mu.Unlock()
			got[status]++
			switch {
			case err != nil:
				t.Errorf("attack request: %v", err)
			case !slices.Contains(a.codes, status):
				t.Errorf("attack request: status %d, want one of %v: %s", status, a.codes, errorOf(body))
			case status >= 400 && errorOf(body) == "":
				t.Errorf("status %d without an error message", status)
			case status >= 400 && a.msg != "" && status != 503 && !strings.Contains(errorOf(body), a.msg):
				t.Errorf("error %q does not mention %q", errorOf(body), a.msg)
			}
		})
	}
	if a.check != nil {
		time.Sleep(300 * time.Millisecond) // let the attack get going
		a.check(t, s, logStart)
	}
	wg.Wait()
	t.Logf("attack answers: %v", got)
}
