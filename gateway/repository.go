package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wasmgate/wasmgate/gateway/auth"
	"github.com/wasmgate/wasmgate/guest"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/modules"
	"github.com/wasmgate/wasmgate/modules/store"
)

// Record keys of the store (tenant names are checked when keys are parsed,
// module and model names when they arrive).
func moduleRecord(tenant, name string) []string { return []string{"tenants", tenant, "modules", name} }
func modelsDir(tenant, name string) []string    { return []string{"tenants", tenant, "models", name} }
func modelRecord(tenant, name, version string) []string {
	return append(modelsDir(tenant, name), "v"+version)
}

// savedModule is a module upload as recorded.
type savedModule struct {
	Name     string           `json:"name"`
	Digest   string           `json:"sha256"`
	Size     int64            `json:"size"`
	Uploaded time.Time        `json:"uploaded"`
	Inputs   []abi.TensorSpec `json:"inputs"`
	Outputs  []abi.TensorSpec `json:"outputs"`
}

// registerStored makes every saved model's latest version known.
func (s *Server) registerStored() error {
	if s.store == nil {
		return nil
	}
	tenants, err := s.store.List([]string{"tenants"})
	if err != nil {
		return err
	}
	for _, t := range tenants {
		names, err := s.store.List([]string{"tenants", t, "models"})
		if err != nil {
			return err
		}
		for _, n := range names {
			v, err := s.latestVersion(t, n)
			if err != nil {
				return err
			}
			if v > 0 {
				s.reg.Add(modelKey(t, n), strconv.Itoa(v))
			}
		}
	}
	return nil
}

// latestVersion is the highest saved version of a model, 0 if none.
func (s *Server) latestVersion(tenant, name string) (int, error) {
	vs, err := s.store.List(modelsDir(tenant, name))
	if err != nil {
		return 0, err
	}
	latest := 0
	for _, v := range vs {
		if n, err := strconv.Atoi(strings.TrimPrefix(v, "v")); err == nil && n > latest {
			latest = n
		}
	}
	return latest, nil
}

// resolve is the registry key a tenant's name for a model means: its own
// model, else a built-in one.
func (s *Server) resolve(tenant, name string) string {
	if tenant != "" {
		if _, err := s.reg.Status(modelKey(tenant, name), ""); err == nil {
			return modelKey(tenant, name)
		}
	}
	return name
}

// visible reports whether a registry key is a tenant's or public, and the
// name the tenant knows it by.
func visible(tenant, key string) (string, bool) {
	t, name := splitKey(key)
	return name, t == "" || t == tenant
}

const principalKey = "wasmgate.principal"

// require admits requests whose API key has scope. Without any keys the
// server has no tenants: inference is open and upload and admin routes are
// disabled, not open.
func (s *Server) require(scope auth.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !s.keys.Enabled() {
				if scope != auth.Infer {
					return fault.Errorf(fault.Forbidden, "%s routes are disabled: no API keys are configured (set WASMGATE_API_KEYS or WASMGATE_API_KEYS_FILE, see docs/AUTH.md)", scope)
				}
				c.Set(principalKey, auth.Principal{})
				return next(c)
			}
			p, err := s.keys.Authenticate(c.Request().Header.Get(echo.HeaderAuthorization), scope)
			if err != nil {
				return err
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

func principal(c echo.Context) auth.Principal {
	p, _ := c.Get(principalKey).(auth.Principal)
	return p
}

// validName checks a module or model name from a URL.
func validName(kind, name string) error {
	if !store.ValidName(name) {
		return fault.Errorf(fault.Invalid, "%q is not a valid %s name (letters, digits, '_', '-', '.'; at most 128, not starting with '-' or '.')", name, kind)
	}
	return nil
}

// readLimited reads a request body of at most max bytes.
func (s *Server) readLimited(c echo.Context, max int64, what string) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > max {
		return nil, fault.Errorf(fault.TooLarge, "%s of %d bytes exceeds the limit of %d bytes", what, r.ContentLength, max)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, max+1))
	if n > max {
		return nil, fault.Errorf(fault.TooLarge, "%s exceeds the limit of %d bytes", what, max)
	}
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "reading the request body: %w", err)
	}
	return buf.Bytes(), nil
}

type moduleInfo struct {
	Name     string           `json:"name"`
	Digest   string           `json:"sha256"`
	Size     int64            `json:"size"`
	Uploaded *time.Time       `json:"uploaded,omitempty"`
	Builtin  bool             `json:"builtin,omitempty"`
	Inputs   []abi.TensorSpec `json:"inputs,omitempty"`
	Outputs  []abi.TensorSpec `json:"outputs,omitempty"`
}

// putModule stores a module after it compiled and passed every check. It
// is compiled from memory first, so nothing invalid is ever stored, and
// written to the store atomically, so a crash mid-upload leaves no partial
// module behind.
func (s *Server) putModule(c echo.Context) error {
	p, name := principal(c), c.Param("module")
	if err := validName("module", name); err != nil {
		return err
	}
	wasm, err := s.readLimited(c, int64(s.cfg.MaxModuleBytes), "module")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	m, err := s.rt.Compile(ctx, name, wasm, 0, modules.Untrusted())
	if err != nil {
		return err
	}
	defer m.Close(context.WithoutCancel(ctx))
	digest, size, err := s.store.PutBlob(bytes.NewReader(wasm), int64(len(wasm)))
	if err != nil {
		return err
	}
	rec := savedModule{Name: name, Digest: digest, Size: size, Uploaded: time.Now().UTC(),
		Inputs: m.Description().Inputs, Outputs: m.Description().Outputs}
	status := http.StatusCreated
	var prev savedModule
	if s.store.Record(moduleRecord(p.Tenant, name), &prev) == nil {
		status = http.StatusOK
	}
	if err := s.store.PutRecord(moduleRecord(p.Tenant, name), rec); err != nil {
		return err
	}
	s.log.Info("module uploaded", "tenant", p.Tenant, "module", name, "sha256", digest, "bytes", size)
	return c.JSON(status, moduleInfo{Name: name, Digest: digest, Size: size, Uploaded: &rec.Uploaded, Inputs: rec.Inputs, Outputs: rec.Outputs})
}

func (s *Server) listModules(c echo.Context) error {
	p := principal(c)
	names, err := s.store.List([]string{"tenants", p.Tenant, "modules"})
	if err != nil {
		return err
	}
	out := []moduleInfo{}
	for _, n := range names {
		var rec savedModule
		if err := s.store.Record(moduleRecord(p.Tenant, n), &rec); err != nil {
			return err
		}
		out = append(out, moduleInfo{Name: rec.Name, Digest: rec.Digest, Size: rec.Size, Uploaded: &rec.Uploaded})
	}
	for _, n := range guest.Names() {
		if slices.Contains(names, n) {
			continue // the tenant's own shadows the built-in
		}
		wasm, _ := guest.Module(n)
		out = append(out, moduleInfo{Name: n, Digest: digestOf(wasm), Size: int64(len(wasm)), Builtin: true})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getModule(c echo.Context) error {
	p, name := principal(c), c.Param("module")
	if err := validName("module", name); err != nil {
		return err
	}
	var rec savedModule
	if err := s.store.Record(moduleRecord(p.Tenant, name), &rec); err == nil {
		return c.JSON(http.StatusOK, moduleInfo{Name: rec.Name, Digest: rec.Digest, Size: rec.Size, Uploaded: &rec.Uploaded, Inputs: rec.Inputs, Outputs: rec.Outputs})
	} else if fault.KindOf(err) != fault.NotFound {
		return err
	}
	if wasm, ok := guest.Module(name); ok {
		return c.JSON(http.StatusOK, moduleInfo{Name: name, Digest: digestOf(wasm), Size: int64(len(wasm)), Builtin: true})
	}
	return fault.Errorf(fault.NotFound, "no module named %q", name)
}

// deleteModule forgets a module's name. Saved models that use it keep
// working: they refer to its bytes by digest.
func (s *Server) deleteModule(c echo.Context) error {
	p, name := principal(c), c.Param("module")
	if err := validName("module", name); err != nil {
		return err
	}
	if err := s.store.DeleteRecord(moduleRecord(p.Tenant, name)); err != nil {
		if _, builtin := guest.Module(name); builtin && fault.KindOf(err) == fault.NotFound {
			return fault.Errorf(fault.Forbidden, "%s is a built-in module; it cannot be deleted", name)
		}
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// resolveModule finds the bytes a module name means for a tenant now.
func (s *Server) resolveModule(tenant, name string) (string, error) {
	var rec savedModule
	err := s.store.Record(moduleRecord(tenant, name), &rec)
	if err == nil {
		return rec.Digest, nil
	}
	if fault.KindOf(err) != fault.NotFound {
		return "", err
	}
	if wasm, ok := guest.Module(name); ok {
		return digestOf(wasm), nil
	}
	return "", fault.Errorf(fault.Invalid, "no module named %q: upload it first (PUT /v2/repository/modules/%s)", name, name)
}

type modelInfo struct {
	Name     string           `json:"name"`
	Version  string           `json:"version"`
	Platform string           `json:"platform"`
	Inputs   []abi.TensorSpec `json:"inputs"`
	Outputs  []abi.TensorSpec `json:"outputs"`
}

// putModel saves a manifest as the model's next version: modules resolved to
// their digests, the graph stored, the calls checked for cycles, and the
// whole model built, so a manifest that cannot serve is refused with the
// reason. The new version replaces the old one once it is ready.
func (s *Server) putModel(c echo.Context) error {
	p, name := principal(c), c.Param("model")
	if err := validName("model", name); err != nil {
		return err
	}
	if _, ok := s.loader.builtins[name]; ok {
		return fault.Errorf(fault.Conflict, "%s is the name of a built-in model; choose another", name)
	}
	body, err := s.readLimited(c, int64(s.cfg.MaxBodyBytes), "manifest")
	if err != nil {
		return err
	}
	man, err := decodeManifest(body)
	if err != nil {
		return err
	}
	if err := man.Limits.check(s.cfg); err != nil {
		return err
	}
	saved := savedModel{Saved: time.Now().UTC(), Calls: man.Calls, Limits: man.Limits}
	stage := func(where string, ref *StageRef) (*savedStage, error) {
		if ref == nil {
			return nil, nil
		}
		if err := validName("module", ref.Module); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		d, err := s.resolveModule(p.Tenant, ref.Module)
		if err != nil {
			return nil, fault.Errorf(fault.KindOf(err), "%s: %w", where, err)
		}
		return &savedStage{Module: ref.Module, Digest: d, Config: ref.Config}, nil
	}
	if saved.Pre, err = stage("pre", man.Pre); err != nil {
		return err
	}
	if saved.Post, err = stage("post", man.Post); err != nil {
		return err
	}
	if man.Core.Module != "" {
		core, err := stage("core", &StageRef{Module: man.Core.Module, Config: man.Core.Config})
		if err != nil {
			return err
		}
		saved.Core = *core
	} else {
		if saved.Core.ONNX, _, err = s.store.PutBlob(bytes.NewReader(man.Core.ONNX), int64(len(man.Core.ONNX))); err != nil {
			return err
		}
	}

	// One save at a time: the version number and the cycle check must see
	// the repository as it will be.
	s.uploads.Lock()
	defer s.uploads.Unlock()
	for _, callee := range man.Calls {
		if callee == name {
			continue // the cycle check below names it
		}
		if err := s.checkCallee(p.Tenant, callee); err != nil {
			return err
		}
	}
	if err := s.checkCycle(p.Tenant, name, man.Calls); err != nil {
		return err
	}
	latest, err := s.latestVersion(p.Tenant, name)
	if err != nil {
		return err
	}
	saved.Version = latest + 1
	version := strconv.Itoa(saved.Version)
	ctx := c.Request().Context()
	m, err := s.loader.build(ctx, modelDef{tenant: p.Tenant, name: name, saved: saved})
	if err != nil {
		return fault.Errorf(fault.KindOf(err), "model %s: %w", name, err)
	}
	if (man.Inputs != nil && !specsEqual(man.Inputs, m.Inputs())) || (man.Outputs != nil && !specsEqual(man.Outputs, m.Outputs())) {
		m.Close(ctx)
		return fault.Errorf(fault.Invalid, "model %s: the manifest's inputs/outputs differ from what its stages declare (inputs %s, outputs %s)",
			name, specsString(m.Inputs()), specsString(m.Outputs()))
	}
	if err := s.store.PutRecord(modelRecord(p.Tenant, name, version), saved); err != nil {
		m.Close(ctx)
		return err
	}
	key := modelKey(p.Tenant, name)
	s.reg.Add(key, version)
	if err := s.reg.Install(ctx, key, version, m); err != nil {
		return err
	}
	s.log.Info("model saved", "tenant", p.Tenant, "model", name, "version", version)
	return c.JSON(http.StatusCreated, modelInfo{Name: name, Version: version, Platform: m.platform, Inputs: m.Inputs(), Outputs: m.Outputs()})
}

func specsString(specs []abi.TensorSpec) string {
	parts := make([]string, len(specs))
	for i, sp := range specs {
		parts[i] = fmt.Sprintf("%s %v %v", sp.Name, sp.DType, sp.Shape)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// checkCallee requires a model listed in calls to exist.
func (s *Server) checkCallee(tenant, name string) error {
	if _, err := s.reg.Status(s.resolve(tenant, name), ""); err != nil {
		return fault.Errorf(fault.Invalid, "calls: no model named %q", name)
	}
	return nil
}

// checkCycle refuses calls that would let a model reach itself through the
// models it calls (A → B → A), which could exhaust pools and deadlock.
// Built-in models call nothing.
func (s *Server) checkCycle(tenant, name string, calls []string) error {
	edges := func(n string) ([]string, error) {
		if n == name {
			return calls, nil
		}
		if s.resolve(tenant, n) != modelKey(tenant, n) {
			return nil, nil // a built-in
		}
		v, err := s.latestVersion(tenant, n)
		if err != nil || v == 0 {
			return nil, err
		}
		var sm savedModel
		if err := s.store.Record(modelRecord(tenant, n, strconv.Itoa(v)), &sm); err != nil {
			return nil, err
		}
		return sm.Calls, nil
	}
	var path []string
	state := map[string]int{} // 1 on the path, 2 done
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			i := slices.Index(path, n)
			return fault.Errorf(fault.Invalid, "calls would form a cycle: %s", strings.Join(append(path[i:], n), " → "))
		case 2:
			return nil
		}
		state[n] = 1
		path = append(path, n)
		next, err := edges(n)
		if err != nil {
			return err
		}
		for _, m := range next {
			if err := visit(m); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[n] = 2
		return nil
	}
	return visit(name)
}

// getModel returns a model's latest saved manifest, modules resolved.
func (s *Server) getModel(c echo.Context) error {
	p, name := principal(c), c.Param("model")
	if err := validName("model", name); err != nil {
		return err
	}
	v, err := s.latestVersion(p.Tenant, name)
	if err != nil {
		return err
	}
	if v == 0 {
		return fault.Errorf(fault.NotFound, "no saved model named %q", name)
	}
	var sm savedModel
	if err := s.store.Record(modelRecord(p.Tenant, name, strconv.Itoa(v)), &sm); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sm)
}

// deleteModel unloads a model and removes all its saved versions.
func (s *Server) deleteModel(c echo.Context) error {
	p, name := principal(c), c.Param("model")
	if err := validName("model", name); err != nil {
		return err
	}
	s.uploads.Lock()
	defer s.uploads.Unlock()
	vs, err := s.store.List(modelsDir(p.Tenant, name))
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return fault.Errorf(fault.NotFound, "no saved model named %q", name)
	}
	if err := s.reg.Remove(c.Request().Context(), modelKey(p.Tenant, name)); err != nil && fault.KindOf(err) != fault.NotFound {
		return err
	}
	for _, v := range vs {
		if err := s.store.DeleteRecord(append(modelsDir(p.Tenant, name), v)); err != nil {
			return err
		}
	}
	return c.NoContent(http.StatusNoContent)
}
