package gateway

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wasmgate/wasmgate/gateway/v2json"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// statusOf is the one mapping from error kinds to HTTP statuses.
func statusOf(k fault.Kind) int {
	switch k {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Unavailable, fault.Overloaded:
		return http.StatusServiceUnavailable
	case fault.Timeout:
		return http.StatusGatewayTimeout
	case fault.Canceled:
		return 499 // client closed the request; nobody reads it, logs do
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.Unsupported:
		return http.StatusNotImplemented
	case fault.Conflict:
		return http.StatusConflict
	case fault.Unauthenticated:
		return http.StatusUnauthorized
	case fault.Forbidden:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError // Internal, ModuleFault
}

// errorHandler writes every error as {"error": "..."} with the status of its
// kind. Echo's own errors (no route, wrong method) keep their status.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, err.Error()
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(status)
		}
		if status == http.StatusNotFound && msg == http.StatusText(http.StatusNotFound) {
			msg = "no such endpoint: " + c.Request().Method + " " + c.Request().URL.Path
		}
	} else {
		kind := fault.KindOf(err)
		status = statusOf(kind)
		switch kind {
		case fault.Overloaded:
			c.Response().Header().Set("Retry-After", "1")
		case fault.Unauthenticated:
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="wasmgate"`)
		}
	}
	if status >= 500 {
		s.log.Warn("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "err", err)
	} else {
		s.log.Debug("request rejected", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.Blob(status, echo.MIMEApplicationJSON, v2json.AppendError(nil, msg))
}
