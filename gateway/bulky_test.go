package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// A request whose body is over bulkyBodyBytes waits for a turn on the
// server's bulky lane; when every turn is taken past its deadline it gets
// 503 Overloaded with a message, while small requests are served as usual.
func TestBulkyRequestsTakeTurns(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	s, err := New(ctx, testConfig(t, "WASMGATE_REQUEST_TIMEOUT=200ms"), "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	is.NoErr(err)
	defer s.Close(ctx)
	is.NoErr(s.reg.Load(ctx, "mnist"))

	pixels := strings.TrimSuffix(strings.Repeat("0,", 784), ",")
	small := `{"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,1,28,28],"data":[` + pixels + `]}]}`
	// The same request padded past the threshold with spaces, which JSON
	// ignores: bulky, and still valid.
	bulky := small[:len(small)-1] + strings.Repeat(" ", bulkyBodyBytes) + "}"
	post := func(body string) (int, string) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v2/models/mnist/infer", strings.NewReader(body)))
		var e struct{ Error string }
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return rec.Code, e.Error
	}
	cases := []struct {
		name     string
		body     string
		lanesSet bool // every turn taken by others
		code     int
		msg      string
	}{
		{"small", small, false, http.StatusOK, ""},
		{"bulky with a turn free", bulky, false, http.StatusOK, ""},
		{"small with every turn taken", small, true, http.StatusOK, ""},
		{"bulky with every turn taken", bulky, true, http.StatusServiceUnavailable, "waiting for a turn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			if c.lanesSet {
				for range cap(s.bulky) {
					s.bulky <- struct{}{}
				}
				defer func() {
					for range cap(s.bulky) {
						<-s.bulky
					}
				}()
			}
			start := time.Now()
			code, msg := post(c.body)
			is.Equal(code, c.code)
			is.True(strings.Contains(msg, c.msg))
			if c.code == http.StatusServiceUnavailable {
				is.True(time.Since(start) >= 200*time.Millisecond) // it waited for its deadline
			}
			is.Equal(len(s.bulky), map[bool]int{false: 0, true: cap(s.bulky)}[c.lanesSet]) // turns given back
		})
	}
}
