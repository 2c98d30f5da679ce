package handlers_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/handlers"
)

// okWorker succeeds at once without emitting anything.
type okWorker struct{}

func (okWorker) Build(context.Context, string, domain.Spec, func(domain.Event)) error { return nil }

// apiServer serves the API on a loopback test server with the given worker
// and limits.
func apiServer(t *testing.T, worker domain.Worker, limits domain.Limits) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := domain.NewRunner(worker, domain.RunnerConfig{Limits: limits}, log)
	e, srv := handlers.New(handlers.Deps{
		Runner: runner,
		Runs:   domain.NewRuns(runner, nil, log),
		Health: func(context.Context) domain.WorkerHealth { return domain.WorkerHealth{} },
		Log:    log,
	})
	ts := httptest.NewServer(e)
	t.Cleanup(func() {
		ts.Close()
		srv.CloseStreams()
		runner.Close()
	})
	return ts
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
	ID    string `json:"id"`
}

// readError decodes an error answer and checks that it carries an id.
func readError(t *testing.T, res *http.Response) apiError {
	t.Helper()
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if e.Error == "" || e.ID == "" {
		t.Fatalf("error body %q lacks a message or an id", body)
	}
	return e
}

func do(t *testing.T, method, url, contentType string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// submit starts a build of a one-line Dockerfile and returns its id.
func submit(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	res := do(t, http.MethodPost, ts.URL+"/api/builds", "application/json",
		strings.NewReader(`{"files": {"Dockerfile": "FROM busybox\n"}}`))
	defer res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/builds: status %d", res.StatusCode)
	}
	var created struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&created); err != nil {
		t.Fatal(err)
	}
	return created.ID
}

// submitRun starts a run of one variant and returns its id.
func submitRun(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	res := do(t, http.MethodPost, ts.URL+"/api/runs", "application/json",
		strings.NewReader(`{"variants": [{"files": {"Dockerfile": "FROM busybox\n"}}]}`))
	defer res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/runs: status %d", res.StatusCode)
	}
	var created struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&created); err != nil {
		t.Fatal(err)
	}
	return created.ID
}

// waitStatus polls GET url until the status is final.
func waitStatus(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		res := do(t, http.MethodGet, url, "", nil)
		var state struct{ Status string }
		err := json.NewDecoder(res.Body).Decode(&state)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if state.Status == "succeeded" || state.Status == "failed" {
			return state.Status
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not finish", url)
	return ""
}

func wsURL(ts *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(ts.URL, "http") + path
}

func TestEventsOrigin(t *testing.T) {
	ts := apiServer(t, noWorker{}, domain.Limits{})
	build := submit(t, ts)
	run := submitRun(t, ts)
	host := strings.TrimPrefix(ts.URL, "http://")

	for _, path := range []string{"/api/builds/" + build + "/events", "/api/runs/" + run + "/events"} {
		tests := []struct {
			name, origin string
			ok           bool
		}{
			{"no origin", "", true},
			{"same origin", "http://" + host, true},
			{"same origin upper case", "http://" + strings.ToUpper(host), true},
			{"other site", "http://evil.example", false},
			{"other port", "http://127.0.0.1:1", false},
			{"null origin", "null", false},
		}
		for _, tt := range tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				h := http.Header{}
				if tt.origin != "" {
					h.Set("Origin", tt.origin)
				}
				conn, res, err := websocket.DefaultDialer.Dial(wsURL(ts, path), h)
				if tt.ok {
					if err != nil {
						t.Fatalf("dial: %v", err)
					}
					defer conn.Close()
					var e struct{ Seq int64 }
					if err := conn.ReadJSON(&e); err != nil || e.Seq != 1 {
						t.Fatalf("first event seq %d, %v", e.Seq, err)
					}
					return
				}
				if err == nil {
					conn.Close()
					t.Fatal("the upgrade was accepted")
				}
				if res == nil || res.StatusCode != http.StatusForbidden {
					t.Fatalf("dial: %v, response %v; want 403", err, res)
				}
				readError(t, res)
			})
		}
	}
}

func TestEventsWithoutUpgrade(t *testing.T) {
	ts := apiServer(t, noWorker{}, domain.Limits{})
	build := submit(t, ts)
	run := submitRun(t, ts)
	for _, path := range []string{"/api/builds/" + build + "/events", "/api/runs/" + run + "/events"} {
		res := do(t, http.MethodGet, ts.URL+path, "", nil)
		if res.StatusCode != http.StatusUpgradeRequired {
			t.Errorf("GET %s: status %d, want 426", path, res.StatusCode)
		}
		if got := res.Header.Get("Upgrade"); got != "websocket" {
			t.Errorf("GET %s: Upgrade header %q", path, got)
		}
		e := readError(t, res)
		if strings.Contains(e.Error, "websocket:") || !strings.Contains(e.Error, "WebSocket") {
			t.Errorf("GET %s: message %q", path, e.Error)
		}
	}

	// An upgrade the upgrader refuses (no key, no version) is answered the
	// same way, without the library's prefix.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/builds/"+build+"/events", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("upgrade without a key: status %d, want 400", res.StatusCode)
	}
	if e := readError(t, res); strings.Contains(e.Error, "websocket:") {
		t.Errorf("upgrade without a key: message %q", e.Error)
	}
}

func TestCancelFinishedBuild(t *testing.T) {
	tests := []struct {
		name   string
		worker domain.Worker
		status string
	}{
		{"succeeded", okWorker{}, "succeeded"},
		{"failed", noWorker{}, "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := apiServer(t, tt.worker, domain.Limits{})
			id := submit(t, ts)
			if got := waitStatus(t, ts.URL+"/api/builds/"+id); got != tt.status {
				t.Fatalf("build ended %s, want %s", got, tt.status)
			}
			res := do(t, http.MethodDelete, ts.URL+"/api/builds/"+id, "", nil)
			defer res.Body.Close()
			var body map[string]string
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusOK || body["status"] != tt.status || body["id"] != id {
				t.Fatalf("DELETE: status %d, body %v; want 200 and status %s", res.StatusCode, body, tt.status)
			}
			if got := waitStatus(t, ts.URL+"/api/builds/"+id); got != tt.status {
				t.Fatalf("after DELETE the build is %s, want %s", got, tt.status)
			}
		})
	}

	// A build still running is cancelled as before.
	block := make(chan struct{})
	defer close(block)
	ts := apiServer(t, blockingWorker{block}, domain.Limits{})
	id := submit(t, ts)
	res := do(t, http.MethodDelete, ts.URL+"/api/builds/"+id, "", nil)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE of a running build: status %d, want 202", res.StatusCode)
	}
	if got := waitStatus(t, ts.URL+"/api/builds/"+id); got != "failed" {
		t.Fatalf("cancelled build ended %s", got)
	}
	res = do(t, http.MethodDelete, ts.URL+"/api/builds/nope", "", nil)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("DELETE of an unknown build: status %d", res.StatusCode)
	}
	readError(t, res)
}

// blockingWorker runs until its build is cancelled or block closes.
type blockingWorker struct{ block chan struct{} }

func (w blockingWorker) Build(ctx context.Context, _ string, _ domain.Spec, _ func(domain.Event)) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-w.block:
		return nil
	}
}

// tarOf packs files into a plain tar archive.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)),
			Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBodyOverLimit(t *testing.T) {
	// A 1 KiB context: builds may send 2 KiB + 1 MiB, runs 8 KiB + 1 MiB.
	limits := domain.Limits{MaxContextBytes: 1 << 10, MaxFileBytes: 4 << 20}
	ts := apiServer(t, noWorker{}, limits)
	big := strings.Repeat("x", 1<<20+10<<10)

	tests := []struct {
		name, path, contentType string
		body                    []byte
		limit                   string
	}{
		{"json build", "/api/builds", "application/json",
			[]byte(`{"files": {"Dockerfile": "` + big + `"}}`), "1 MiB"},
		{"tar build", "/api/builds", "application/x-tar",
			tarOf(t, map[string]string{"Dockerfile": big}), "1 MiB"},
		{"run", "/api/runs", "application/json",
			[]byte(`{"variants": [{"files": {"Dockerfile": "` + big + `"}}]}`), "1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, http.MethodPost, ts.URL+tt.path, tt.contentType, bytes.NewReader(tt.body))
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, want 413", res.StatusCode)
			}
			if e := readError(t, res); !strings.Contains(e.Error, tt.limit) {
				t.Errorf("message %q does not name the limit", e.Error)
			}
		})
	}

	// A context over its own limit, in a body within the body limit, is
	// still a 400.
	res := do(t, http.MethodPost, ts.URL+"/api/builds", "application/json",
		strings.NewReader(`{"files": {"Dockerfile": "`+strings.Repeat("x", 2<<10)+`"}}`))
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("context over its limit: status %d, want 400", res.StatusCode)
	}
	readError(t, res)
}

func TestTarQuery(t *testing.T) {
	ts := apiServer(t, noWorker{}, domain.Limits{})
	body := tarOf(t, map[string]string{"Dockerfile": "FROM busybox\nARG A\n", "other.Dockerfile": "FROM busybox\n"})

	tests := []struct {
		name, query string
		// want is a piece of the 400's message; "" means accepted.
		want string
	}{
		{"none", "", ""},
		{"all known", "?dockerfile=other.Dockerfile&target=&build-arg=A=1&build-arg=B=x%3Dy&build-arg=C=", ""},
		{"unknown", "?dockerfile=Dockerfile&tag=x", `"tag"`},
		{"misspelt build arg", "?build_arg=A=1", `"build_arg"`},
		{"build arg without =", "?build-arg=NOEQUALS", `build-arg "NOEQUALS"`},
		{"build arg without name", "?build-arg==1", `build-arg "=1"`},
		{"build arg twice", "?build-arg=A=1&build-arg=A=2", `build-arg "A=2"`},
		{"dockerfile twice", "?dockerfile=Dockerfile&dockerfile=other.Dockerfile", `"dockerfile"`},
		{"target twice", "?target=a&target=b", `"target"`},
		{"bad escape", "?target=%zz", "query string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, http.MethodPost, ts.URL+"/api/builds"+tt.query, "application/x-tar", bytes.NewReader(body))
			if tt.want == "" {
				res.Body.Close()
				if res.StatusCode != http.StatusAccepted {
					t.Fatalf("status %d, want 202", res.StatusCode)
				}
				return
			}
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", res.StatusCode)
			}
			if e := readError(t, res); !strings.Contains(e.Error, tt.want) {
				t.Errorf("message %q does not name %s", e.Error, tt.want)
			}
		})
	}
}

func TestDuplicateJSONKeys(t *testing.T) {
	ts := apiServer(t, noWorker{}, domain.Limits{})
	tests := []struct {
		name, path, body string
		// want is a piece of the 400's message; "" means accepted.
		want string
	}{
		{"build", "/api/builds",
			`{"files": {"Dockerfile": "FROM busybox\n", "a": "1"}, "target": "", "buildArgs": {"target": "x"}}`, ""},
		{"top-level key twice", "/api/builds",
			`{"files": {"Dockerfile": "FROM busybox\n"}, "files": {"Dockerfile": "FROM alpine\n"}}`, `"files"`},
		{"file twice", "/api/builds",
			`{"files": {"Dockerfile": "FROM busybox\n", "Dockerfile": "FROM alpine\n"}}`, `files."Dockerfile"`},
		{"build arg twice", "/api/builds",
			`{"files": {"Dockerfile": "FROM busybox\n"}, "buildArgs": {"A": "1", "A": "2"}}`, `buildArgs."A"`},
		{"run", "/api/runs",
			`{"variants": [{"name": "a", "files": {"Dockerfile": "FROM busybox\n"}},
			               {"name": "b", "files": {"Dockerfile": "FROM busybox\n"}}],
			  "scenario": {"changes": [{"path": "x", "content": "1"}, {"path": "x", "content": "2"}]}}`, ""},
		{"variant file twice", "/api/runs",
			`{"variants": [{"files": {"Dockerfile": "FROM busybox\n"}},
			               {"files": {"Dockerfile": "FROM busybox\n", "Dockerfile": "x"}}]}`,
			`variants[1].files."Dockerfile"`},
		{"change key twice", "/api/runs",
			`{"variants": [{"files": {"Dockerfile": "FROM busybox\n"}}],
			  "scenario": {"changes": [{"path": "x", "content": "1", "content": "2"}]}}`,
			`scenario.changes[0]."content"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, http.MethodPost, ts.URL+tt.path, "application/json", strings.NewReader(tt.body))
			if tt.want == "" {
				res.Body.Close()
				if res.StatusCode != http.StatusAccepted {
					t.Fatalf("status %d, want 202", res.StatusCode)
				}
				return
			}
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", res.StatusCode)
			}
			if e := readError(t, res); !strings.Contains(e.Error, tt.want) {
				t.Errorf("message %q does not name %s", e.Error, tt.want)
			}
		})
	}
}
