package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/wasmgate/wasmgate/gateway/auth"
	"github.com/wasmgate/wasmgate/gateway/registry"
	"github.com/wasmgate/wasmgate/gateway/v2json"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/modules"
)

// extensions are the protocol extensions this server implements, as listed
// in the server metadata.
var extensions = []string{"model_repository", "wasmgate_modules"}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true}))

	e.GET("/v2", s.serverMetadata)
	e.GET("/v2/health/live", s.live)
	e.GET("/v2/health/ready", s.ready)
	e.GET("/metrics", s.metrics)

	infer := s.require(auth.Infer)
	for _, prefix := range []string{"/v2/models/:model", "/v2/models/:model/versions/:version"} {
		e.GET(prefix, s.modelMetadata, infer)
		e.GET(prefix+"/ready", s.modelReady, infer)
		e.POST(prefix+"/infer", s.infer, infer)
	}

	admin := s.require(auth.Admin)
	e.POST("/v2/repository/index", s.repositoryIndex, admin)
	e.POST("/v2/repository/models/:model/load", s.repositoryLoad, admin)
	e.POST("/v2/repository/models/:model/unload", s.repositoryUnload, admin)

	upload := s.require(auth.Upload)
	e.PUT("/v2/repository/modules/:module", s.putModule, upload)
	e.GET("/v2/repository/modules", s.listModules, upload)
	e.GET("/v2/repository/modules/:module", s.getModule, upload)
	e.DELETE("/v2/repository/modules/:module", s.deleteModule, upload)
	e.PUT("/v2/repository/models/:model", s.putModel, upload)
	e.GET("/v2/repository/models/:model", s.getModel, upload)
	e.DELETE("/v2/repository/models/:model", s.deleteModel, upload)
	return e
}

func (s *Server) serverMetadata(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"name": "wasmgate", "version": s.version, "extensions": extensions})
}

// live is true while the process serves HTTP, draining included: a liveness
// probe must not restart a server that is shutting down cleanly.
func (s *Server) live(c echo.Context) error { return c.NoContent(http.StatusOK) }

// ready is true once the startup loads are done, until shutdown begins, while
// every model that should serve can (a model evicted by the memory budget
// counts: the next request loads it again).
func (s *Server) ready(c echo.Context) error {
	if !s.started.Load() || s.draining.Load() {
		return c.NoContent(http.StatusServiceUnavailable)
	}
	for _, e := range s.reg.Index() {
		if e.Wanted && !e.Servable() {
			return c.NoContent(http.StatusServiceUnavailable)
		}
	}
	return c.NoContent(http.StatusOK)
}

type tensorMetadata struct {
	Name       string         `json:"name"`
	DataType   string         `json:"datatype"`
	Shape      []int64        `json:"shape"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

func metadataOf(specs []abi.TensorSpec) []tensorMetadata {
	out := make([]tensorMetadata, len(specs))
	for i, sp := range specs {
		shape := sp.Shape
		if shape == nil {
			shape = []int64{}
		}
		out[i] = tensorMetadata{Name: sp.Name, DataType: sp.DType.String(), Shape: shape}
		if sp.Optional {
			out[i].Parameters = map[string]any{"optional": true}
		}
	}
	return out
}

// modelFor is the registry key of the model a request names, as its tenant
// sees it.
func (s *Server) modelFor(c echo.Context) string {
	return s.resolve(principal(c).Tenant, c.Param("model"))
}

func (s *Server) modelMetadata(c echo.Context) error {
	m, en, err := s.reg.Peek(s.modelFor(c), c.Param("version"))
	if err != nil {
		return err
	}
	if m == nil {
		return fault.Errorf(fault.Unavailable, "model %s is not loaded (%s: %s)", c.Param("model"), en.State, en.Reason)
	}
	return c.JSON(http.StatusOK, map[string]any{
		"name":     c.Param("model"),
		"versions": []string{m.version},
		"platform": m.platform,
		"inputs":   metadataOf(m.Inputs()),
		"outputs":  metadataOf(m.Outputs()),
	})
}

func (s *Server) modelReady(c echo.Context) error {
	en, err := s.reg.Status(s.modelFor(c), c.Param("version"))
	if err != nil {
		return err
	}
	if !en.Servable() || s.draining.Load() {
		return c.NoContent(http.StatusServiceUnavailable)
	}
	return c.NoContent(http.StatusOK)
}

// readBody reads a request body of at most MaxBodyBytes into buf.
func (s *Server) readBody(c echo.Context, buf *bytes.Buffer) error {
	r := c.Request()
	max := int64(s.cfg.MaxBodyBytes)
	if r.ContentLength > max {
		return fault.Errorf(fault.TooLarge, "request body of %d bytes exceeds the limit of %d bytes (WASMGATE_MAX_BODY_BYTES)", r.ContentLength, max)
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
	if err != nil {
		return fault.Errorf(fault.Invalid, "reading the request body: %w", err)
	}
	if n > max {
		return fault.Errorf(fault.TooLarge, "request body exceeds the limit of %d bytes (WASMGATE_MAX_BODY_BYTES)", max)
	}
	return nil
}

// bulkyBodyBytes is the request size above which an inference takes a
// turn on Server.bulky: about 100,000 numbers of JSON, a few milliseconds
// of decoding.
const bulkyBodyBytes = 1 << 20

func (s *Server) infer(c echo.Context) error {
	start := time.Now()
	name, version := c.Param("model"), c.Param("version")
	buf := s.bodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bodies.Put(buf)
	if err := s.readBody(c, buf); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
	defer cancel()
	turn := false // holding a turn on s.bulky
	defer func() {
		if turn {
			<-s.bulky
		}
	}()
	if buf.Len() > bulkyBodyBytes {
		select {
		case s.bulky <- struct{}{}:
			turn = true
		case <-ctx.Done():
			return fault.Errorf(fault.Overloaded, "waiting for a turn to process a %d-byte request: %w", buf.Len(), ctx.Err())
		}
	}
	req, err := v2json.DecodeInferRequest(buf.Bytes(), v2json.Limits{})
	if err != nil {
		return err
	}
	tenant := principal(c).Tenant
	ctx = modules.WithTenant(ctx, tenant)
	lease, err := s.reg.Acquire(ctx, s.resolve(tenant, name), version)
	if err != nil {
		return err
	}
	defer lease.Release()
	inputs := make([]tensor.Named, len(req.Inputs))
	for i, in := range req.Inputs {
		inputs[i] = in.Named
	}
	outs, err := lease.Model().run(ctx, inputs)
	if err == nil {
		outs, err = selectOutputs(outs, req.Outputs)
	}
	if err != nil {
		s.stats.record(name, lease.Version(), 0, false)
		return err
	}
	resp := v2json.InferResponse{ModelName: name, ModelVersion: lease.Version(), ID: req.ID, Outputs: outs}
	out := s.responses.Get().(*[]byte)
	defer s.responses.Put(out)
	*out, err = v2json.AppendInferResponse((*out)[:0], &resp)
	if err != nil {
		s.stats.record(name, lease.Version(), 0, false)
		return fault.Errorf(fault.Internal, "encoding the response: %w", err)
	}
	s.stats.record(name, lease.Version(), time.Since(start), true)
	if turn { // writing waits on the client, which must not hold up others' turns
		<-s.bulky
		turn = false
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, *out)
}

// selectOutputs keeps the outputs a request asked for, in the order it
// asked; no list means all of them.
func selectOutputs(outs []tensor.Named, want []v2json.RequestedOutput) ([]tensor.Named, error) {
	if want == nil {
		return outs, nil
	}
	sel := make([]tensor.Named, 0, len(want))
	for _, w := range want {
		found := false
		for _, o := range outs {
			if o.Name == w.Name {
				sel = append(sel, o)
				found = true
				break
			}
		}
		if !found {
			names := make([]string, len(outs))
			for i, o := range outs {
				names[i] = o.Name
			}
			return nil, fault.Errorf(fault.Invalid, "requested output %q does not exist; the model returns %v", w.Name, names)
		}
	}
	return sel, nil
}

// decodeOptionalJSON decodes a small, optional JSON body (repository
// requests). An empty body leaves v as it is.
func (s *Server) decodeOptionalJSON(c echo.Context, v any) error {
	buf := s.bodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bodies.Put(buf)
	if err := s.readBody(c, buf); err != nil {
		return err
	}
	if len(bytes.TrimSpace(buf.Bytes())) == 0 {
		return nil
	}
	if err := json.Unmarshal(buf.Bytes(), v); err != nil {
		return fault.Errorf(fault.Invalid, "malformed JSON body: %w", err)
	}
	return nil
}

type indexEntry struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	State   string `json:"state"`
	Reason  string `json:"reason"`
}

func (s *Server) repositoryIndex(c echo.Context) error {
	var req struct {
		Ready bool `json:"ready"`
	}
	if err := s.decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	out := []indexEntry{}
	tenant := principal(c).Tenant
	for _, e := range s.reg.Index() {
		name, ok := visible(tenant, e.Name)
		if !ok || (req.Ready && e.State != registry.Ready) {
			continue
		}
		out = append(out, indexEntry{Name: name, Version: e.Version, State: string(e.State), Reason: e.Reason})
	}
	return c.JSON(http.StatusOK, out)
}

type repositoryRequest struct {
	Parameters map[string]any `json:"parameters"`
}

func (s *Server) repositoryLoad(c echo.Context) error {
	var req repositoryRequest
	if err := s.decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	for k := range req.Parameters {
		// Triton's "config" and "file:" overrides replace a model's files;
		// this server has no such files yet, and ignoring them would load
		// something other than what the caller sent.
		return fault.Errorf(fault.Unsupported, "load parameter %q is not supported", k)
	}
	if err := s.reg.Load(c.Request().Context(), s.modelFor(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

func (s *Server) repositoryUnload(c echo.Context) error {
	var req repositoryRequest
	if err := s.decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	for k, v := range req.Parameters {
		if k == "unload_dependents" {
			continue // no model depends on another yet, so there is nothing more to unload
		}
		return fault.Errorf(fault.Unsupported, "unload parameter %q (%v) is not supported", k, v)
	}
	if err := s.reg.Unload(c.Request().Context(), s.modelFor(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

func (s *Server) metrics(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	c.Response().WriteHeader(http.StatusOK)
	s.stats.writePrometheus(c.Response(), s.reg.ResidentBytes())
	return nil
}
