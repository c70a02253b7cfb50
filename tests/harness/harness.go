package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles the wasmgate main package into dir and returns the binary's
// path. It must run from inside the module (any package directory is).
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "wasmgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/wasmgate/wasmgate")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// Server is a running wasmgate process.
type Server struct {
	// Addr is host:port it listens on; URL is "http://" + Addr.
	Addr, URL string

	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
	err    error // exit status, valid after exited is closed
}

// Start runs bin serve on a free loopback port with the given extra
// environment (KEY=VALUE) and waits until the server is ready or the
// timeout passes.
func Start(ctx context.Context, bin string, env []string, timeout time.Duration) (*Server, error) {
	return StartIn(ctx, bin, "", env, timeout)
}

// StartIn is Start with the process's working directory set to dir ("" for
// the caller's).
func StartIn(ctx context.Context, bin, dir string, env []string, timeout time.Duration) (*Server, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "WASMGATE_LOG_FORMAT=json"), env...)
	logs := &syncBuffer{}
	pr, pw := io.Pipe()
	cmd.Stdout = logs
	cmd.Stderr = io.MultiWriter(logs, pw)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{cmd: cmd, logs: logs, exited: make(chan struct{})}
	go func() { // ends when the process does
		s.err = cmd.Wait()
		pw.Close()
		close(s.exited)
	}()
	addr := make(chan string, 1)
	go func() { // ends when the pipe closes at process exit
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "wasmgate listening" {
				addr <- line.Addr
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case a := <-addr:
		s.Addr, s.URL = a, "http://"+a
	case <-s.exited:
		return nil, fmt.Errorf("wasmgate exited before listening: %v\n%s", s.err, logs.String())
	case <-deadline.C:
		_ = s.Stop()
		return nil, fmt.Errorf("wasmgate did not listen within %v\n%s", timeout, logs.String())
	case <-ctx.Done():
		_ = s.Stop()
		return nil, ctx.Err()
	}
	if err := s.waitReady(ctx, deadline.C); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, deadline <-chan time.Time) error {
	for {
		resp, err := http.Get(s.URL + "/v2/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("wasmgate exited before it was ready: %v\n%s", s.err, s.logs.String())
		case <-deadline:
			return fmt.Errorf("wasmgate was not ready in time\n%s", s.logs.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM and waits for the process to exit (killing it after
// 30 s). It returns the process's exit error, nil for a clean exit.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
		return s.err
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("wasmgate did not stop within 30 s of SIGTERM; killed")
	}
	return s.err
}

// Kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and waits for it.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Logs is everything the process has written so far.
func (s *Server) Logs() string { return s.logs.String() }

// Pid is the process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Metric reads one unlabeled series from the server's /metrics.
func (s *Server) Metric(name string) (float64, error) {
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			return f, err
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}
