package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// Every error reaches the client as {"error": "..."} with its kind's
// status; an overloaded server also says when to come back.
func TestErrorHandler(t *testing.T) {
	cases := []struct {
		err        error
		status     int
		msg        string
		retryAfter string
	}{
		{fault.Errorf(fault.Overloaded, "all busy"), 503, "all busy", "1"},
		{fault.Errorf(fault.Invalid, `bad "quote"`), 400, `bad "quote"`, ""},
		{errors.New("boom"), 500, "boom", ""},
		{echo.ErrNotFound, 404, "no such endpoint: GET /x", ""},
		{echo.ErrMethodNotAllowed, 405, "Method Not Allowed", ""},
	}
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e := echo.New()
	for _, c := range cases {
		is := is.New(t)
		rec := httptest.NewRecorder()
		s.errorHandler(c.err, e.NewContext(httptest.NewRequest(http.MethodGet, "/x", nil), rec))
		is.Equal(rec.Code, c.status)
		is.Equal(rec.Header().Get("Retry-After"), c.retryAfter)
		is.Equal(rec.Header().Get("Content-Type"), "application/json")
		var body struct{ Error string }
		is.NoErr(json.Unmarshal(rec.Body.Bytes(), &body))
		is.Equal(body.Error, c.msg)
	}
}
