package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/matryer/is"
)

func TestHealthAndServerMetadata(t *testing.T) {
	is := is.New(t)
	status, body := get(t, srv.URL, "/v2/health/live")
	is.Equal(status, http.StatusOK)
	is.Equal(len(body), 0)
	status, _ = get(t, srv.URL, "/v2/health/ready")
	is.Equal(status, http.StatusOK)

	status, body = get(t, srv.URL, "/v2")
	is.Equal(status, http.StatusOK)
	var md struct {
		Name       string   `json:"name"`
		Version    string   `json:"version"`
		Extensions []string `json:"extensions"`
	}
	is.NoErr(json.Unmarshal(body, &md))
	is.Equal(md.Name, "wasmgate")
	is.True(md.Version != "")
	is.Equal(md.Extensions, []string{"model_repository", "wasmgate_modules"})
}

// The metadata describes what a client sends and receives, not the graph's
// internal names.
func TestModelMetadata(t *testing.T) {
	type tensorMD struct {
		Name       string         `json:"name"`
		DataType   string         `json:"datatype"`
		Shape      []int64        `json:"shape"`
		Parameters map[string]any `json:"parameters"`
	}
	var md struct {
		Name     string     `json:"name"`
		Versions []string   `json:"versions"`
		Platform string     `json:"platform"`
		Inputs   []tensorMD `json:"inputs"`
		Outputs  []tensorMD `json:"outputs"`
	}
	for _, path := range []string{"/v2/models/mnist", "/v2/models/mnist/versions/1"} {
		is := is.New(t)
		status, body := get(t, srv.URL, path)
		is.Equal(status, http.StatusOK)
		is.NoErr(json.Unmarshal(body, &md))
		is.Equal(md.Name, "mnist")
		is.Equal(md.Versions, []string{"1"})
		is.Equal(len(md.Inputs), 2)
		is.Equal(md.Inputs[0].Name, "image")
		is.Equal(md.Inputs[0].DataType, "BYTES")
		is.Equal(md.Inputs[0].Shape, []int64{1})
		is.Equal(md.Inputs[0].Parameters["optional"], true)
		is.Equal(md.Inputs[1].Name, "pixels")
		is.Equal(md.Inputs[1].DataType, "FP32")
		is.Equal(md.Inputs[1].Shape, []int64{1, 1, 28, 28})
		is.Equal(len(md.Outputs), 2)
		is.Equal(md.Outputs[0].Name, "label")
		is.Equal(md.Outputs[0].DataType, "INT64")
		is.Equal(md.Outputs[1].Name, "probabilities")
		is.Equal(md.Outputs[1].DataType, "FP32")
		is.Equal(md.Outputs[1].Shape, []int64{1, 10})
	}
	is := is.New(t)
	status, body := get(t, srv.URL, "/v2/models/nosuchmodel")
	is.Equal(status, http.StatusNotFound)
	is.True(len(body) > 0)
	status, _ = get(t, srv.URL, "/v2/models/mnist/ready")
	is.Equal(status, http.StatusOK)
	status, _ = get(t, srv.URL, "/v2/models/nosuchmodel/ready")
	is.Equal(status, http.StatusNotFound)
}
