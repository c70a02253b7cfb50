package wasmgen

// Guest is a wasmgate ABI v1 guest (docs/ABI.md) of hand-written code, by
// default an "echo" stage: it returns its input list unchanged. Tests change
// one part to make it misbehave.
//
// Memory layout: the output location (ptr, len) at bytes 0..8, the
// description at DescAddr, Message at MessageAddr, the input buffer at
// InputAddr (InputCap bytes).
type Guest struct {
	// Description is the JSON wasmgate_describe outputs.
	Description string
	// Version is what wasmgate_abi_version returns; 0 means 1.
	Version int32
	// Run replaces the body of wasmgate_run(ptr, len) -> status. The default
	// sets the output to the input and returns 0.
	Run [][]byte
	// Input replaces the body of wasmgate_input(size) -> ptr.
	Input [][]byte
	// Omit leaves out the export of this name.
	Omit string
	// MemoryPages is the initial memory size; 0 means 2 pages.
	MemoryPages uint32
	// ImportLog imports wasmgate.log as function 0.
	ImportLog bool
	// Message is placed at MessageAddr, for a Run that returns an error.
	Message string
	// Initialize, if set, is the body of an exported _initialize.
	Initialize [][]byte
	// Imports are imported as functions 0, 1, ... (after log, if ImportLog).
	Imports []Import
	// Funcs are extra functions, numbered after the imports; Run may call
	// them. The ABI exports follow.
	Funcs []Func
	// MemoryMax, if set, is the memory's declared maximum.
	MemoryMax uint32
}

// Import is a function a guest imports.
type Import struct {
	Module, Name    string
	Params, Results []ValType
}

// Func is a function a guest defines.
type Func struct {
	Params, Results, Locals []ValType
	Body                    [][]byte
}

const (
	DescAddr    = 16
	MessageAddr = 32768
	InputAddr   = 65536
	InputCap    = 65536
)

// EchoDescription declares one FP32 input and one output, both "x" of any
// shape [-1], which is what an echo returns.
const EchoDescription = `{"abi":1,"name":"echo","inputs":[{"name":"x","datatype":"FP32","shape":[-1]}],"outputs":[{"name":"x","datatype":"FP32","shape":[-1]}]}`

// SetOutput is code that records (ptr, len), both i32 locals, as the output.
func SetOutput(ptrLocal, lenLocal uint32) [][]byte {
	return [][]byte{
		I32Const(0), LocalGet(ptrLocal), I32Store(0),
		I32Const(0), LocalGet(lenLocal), I32Store(4),
	}
}

// Bytes assembles the guest.
func (g Guest) Bytes() []byte {
	var m Module
	if g.ImportLog {
		m.ImportFunc("wasmgate", "log", []ValType{I32, I32, I32}, nil)
	}
	for _, im := range g.Imports {
		m.ImportFunc(im.Module, im.Name, im.Params, im.Results)
	}
	for _, f := range g.Funcs {
		m.Func(f.Params, f.Results, f.Locals, f.Body...)
	}
	pages := g.MemoryPages
	if pages == 0 {
		pages = 2
	}
	m.Memory(pages, g.MemoryMax)
	desc := g.Description
	if desc == "" {
		desc = EchoDescription
	}
	m.Data(DescAddr, []byte(desc))
	if g.Message != "" {
		m.Data(MessageAddr, []byte(g.Message))
	}
	version := g.Version
	if version == 0 {
		version = 1
	}
	exp := func(name string, idx uint32) {
		if name != g.Omit {
			m.Export(name, idx)
		}
	}
	exp("wasmgate_abi_version", m.Func(nil, []ValType{I32}, nil, I32Const(version)))
	if g.Initialize != nil {
		exp("_initialize", m.Func(nil, nil, nil, g.Initialize...))
	}

	input := g.Input
	if input == nil {
		// size <= InputCap ? InputAddr : 0
		input = [][]byte{
			Block, LocalGet(0), I32Const(InputCap), []byte{0x4b} /* i32.gt_u */, BrIf(0),
			I32Const(InputAddr), []byte{0x0f} /* return */, End,
			I32Const(0),
		}
	}
	exp("wasmgate_input", m.Func([]ValType{I32}, []ValType{I32}, nil, input...))

	describe := append([][]byte{
		I32Const(0), I32Const(DescAddr), I32Store(0),
		I32Const(0), I32Const(int32(len(desc))), I32Store(4),
	}, I32Const(0))
	exp("wasmgate_describe", m.Func(nil, []ValType{I32}, nil, describe...))

	run := g.Run
	if run == nil {
		run = append(SetOutput(0, 1), I32Const(0))
	}
	exp("wasmgate_run", m.Func([]ValType{I32, I32}, []ValType{I32}, nil, run...))

	// output() = load(0) << 32 | load(4)
	exp("wasmgate_output", m.Func(nil, []ValType{I64}, nil,
		I32Const(0), I32Load(0), I64ExtendU, I64Const(32), I64Shl,
		I32Const(0), I32Load(4), I64ExtendU, I64Or))
	return m.Bytes()
}

// Counter is a guest that counts its calls in a global kept in its own
// memory and returns the count as its output, an INT32 [1] tensor "n". It
// takes any FP32 input "x". Two callers that share an instance see each
// other's calls in the count; callers with instances of their own never do.
func Counter() Guest {
	// The output list: "n", INT32, rank 1, dim 1, data_len 4, padding, the
	// count (4 bytes), padding. Its data starts 8 bytes before its end.
	list := []byte("WGTL\x01\x00\x00\x00" +
		"\x01\x00\x00\x00n" + "\x06\x00\x00\x00" + "\x01\x00\x00\x00" +
		"\x01\x00\x00\x00\x00\x00\x00\x00" + "\x04\x00\x00\x00\x00\x00\x00\x00" + "\x00\x00\x00" +
		"\x00\x00\x00\x00" + "\x00\x00\x00\x00")
	count := int32(MessageAddr + len(list) - 8)
	return Guest{
		Description: `{"abi":1,"name":"counter","inputs":[{"name":"x","datatype":"FP32","shape":[-1]}],"outputs":[{"name":"n","datatype":"INT32","shape":[1]}]}`,
		Message:     string(list),
		Run: [][]byte{
			I32Const(count), I32Const(count), I32Load(0),
			I32Const(1), I32Add, I32Store(0),
			I32Const(0), I32Const(MessageAddr), I32Store(0),
			I32Const(0), I32Const(int32(len(list))), I32Store(4),
			I32Const(0),
		},
	}
}
