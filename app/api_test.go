package app_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/layerlab/layerlab/app"
	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/internal/labtest"
)

// Requests the server refuses before building: each answer names the cause.
func TestBuildRefusesBadInput(t *testing.T) {
	c := labtest.NewClient(t)
	ok := "FROM busybox\n"
	tests := []struct {
		name string
		req  labtest.Request
		want string
	}{
		{"empty dockerfile", labtest.Request{Files: map[string]string{"Dockerfile": "  \n"}}, "is empty"},
		{"no dockerfile", labtest.Request{Files: map[string]string{"a.txt": "x"}}, `no file "Dockerfile"`},
		{"parent path", labtest.Request{Files: map[string]string{"Dockerfile": ok, "../x": "x"}}, "has a .. segment"},
		{"nested parent path", labtest.Request{Files: map[string]string{"Dockerfile": ok, "a/../../x": "x"}}, "has a .. segment"},
		{"absolute path", labtest.Request{Files: map[string]string{"Dockerfile": ok, "/etc/passwd": "x"}}, "is absolute"},
		{"NUL in name", labtest.Request{Files: map[string]string{"Dockerfile": ok, "a\x00b": "x"}}, "NUL"},
		{"dockerfile outside", labtest.Request{Files: map[string]string{"Dockerfile": ok}, Dockerfile: "../Dockerfile"}, "has a .. segment"},
		{"file too big", labtest.Request{Files: map[string]string{"Dockerfile": ok, "big": strings.Repeat("x", 129<<10)}}, `file "big" is 132096 bytes; the limit is 128 KiB a file`},
		{"context too big", labtest.Request{Files: manyFiles(ok, 5, 120<<10)}, "the context is over the limit of 512 KiB"},
		{"too many files", labtest.Request{Files: manyFiles(ok, 21, 1)}, "the limit is 20"},
		{"file and folder", labtest.Request{Files: map[string]string{"Dockerfile": ok, "a": "x", "a/b": "y"}}, `"a" is a file`},
		{"bad build arg", labtest.Request{Files: map[string]string{"Dockerfile": ok}, BuildArgs: map[string]string{"A=B": "x"}}, "build arg name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Post(tt.req)
			var apiErr *labtest.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("post: %v; want a 400", err)
			}
			if apiErr.Status != http.StatusBadRequest || !strings.Contains(apiErr.Message, tt.want) {
				t.Errorf("got %d %q, want 400 containing %q", apiErr.Status, apiErr.Message, tt.want)
			}
		})
	}

	t.Run("not JSON", func(t *testing.T) {
		_, err := c.PostRaw("application/json", "", []byte("{"))
		var apiErr *labtest.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
			t.Fatalf("got %v, want a 400", err)
		}
	})
}

func manyFiles(dockerfile string, n, size int) map[string]string {
	files := map[string]string{"Dockerfile": dockerfile}
	for i := range n {
		files[string(rune('a'+i))+".txt"] = strings.Repeat("x", size)
	}
	return files
}

// Dockerfiles that start building and fail: each ends with a message that
// names the cause and the line.
func TestBuildReportsFailures(t *testing.T) {
	c := labtest.NewClient(t)
	tests := []struct {
		name       string
		dockerfile string
		target     string
		kind       string
		line       int
		want       string
	}{
		{"unknown instruction", "FROM busybox\nRUNN echo hi\n", "", "dockerfile", 2, "unknown instruction"},
		{"COPY of a missing file", "FROM busybox\nCOPY missing.txt /\n", "", "step", 2, "missing.txt"},
		{"RUN exits non-zero", "FROM busybox\nRUN echo ok\nRUN exit 3\n", "", "step", 3, "exit code: 3"},
		{"unknown target", "FROM busybox AS a\nRUN true\n", "nope", "dockerfile", 0, `"nope"`},
		{"missing image", "FROM layerlab-no-such-image:1\n", "", "image", 1, "layerlab-no-such-image"},
		{"COPY --from of no stage", "FROM busybox AS build\nRUN true\nFROM busybox\nCOPY --from=biuld /x /x\n", "",
			"dockerfile", 4, "COPY --from=biuld names no stage of this Dockerfile (its stages: build, stage-1)"},
		{"FROM a later stage", "FROM b AS a\nRUN true\nFROM busybox AS b\n", "a",
			"dockerfile", 1, "FROM b names stage b, which comes later"},
		{"COPY --from of a stage index past the end", "FROM busybox\nCOPY --from=5 /x /x\n", "",
			"dockerfile", 2, "invalid stage index 5"},
		{"RUN on the host's network", "FROM busybox\nRUN --network=host true\n", "",
			"dockerfile", 2, "--network=host"},
		{"RUN with insecure security", "FROM busybox\nRUN --security=insecure true\n", "",
			"dockerfile", 2, "--security=insecure is not allowed"},
		{"RUN over two lines fails", "FROM busybox\nRUN echo two && \\\n  exit 7\n", "", "step", 2, "exit code: 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := c.Build(t, labtest.Request{Files: map[string]string{"Dockerfile": tt.dockerfile}, Target: tt.target})
			requireStatus(t, f, domain.StatusFailed)
			requireError(t, f, tt.kind, tt.line, tt.want)
			// A failed step's error covers all of its lines, as the step does.
			if s := f.State.Error; s.StepID != "" {
				for _, st := range f.State.Steps {
					if st.ID == s.StepID && (st.Line == nil || s.Line == nil || *st.Line != *s.Line) {
						t.Errorf("error lines %v, step lines %v", s.Line, st.Line)
					}
				}
			}
		})
	}
}

// Every step appears with its stage, place, line, state and duration.
func TestBuildStepsAndEvents(t *testing.T) {
	c := labtest.NewClient(t)
	dockerfile := "FROM busybox AS build\nWORKDIR /src\nCOPY a.txt .\nRUN cat a.txt && \\\n  sleep 1\n" +
		"FROM busybox\nCOPY --from=build /src/a.txt /a.txt\n"
	f := c.Build(t, labtest.Request{Files: map[string]string{"Dockerfile": dockerfile, "a.txt": "steps test\n"}})
	requireStatus(t, f, domain.StatusSucceeded)

	run := f.Step(t, "build", "RUN cat a.txt")
	if run.Index != 4 || run.Total != 4 || run.Line == nil || *run.Line != (domain.LineRange{Start: 4, End: 5}) {
		t.Errorf("RUN step: index %d/%d, line %v; want 4/4 on lines 4-5", run.Index, run.Total, run.Line)
	}
	if run.State != domain.StepDone || run.DurationMs < 1000 {
		t.Errorf("RUN step: state %s, %d ms; want done after at least 1000 ms", run.State, run.DurationMs)
	}
	cp := f.Step(t, "stage-1", "COPY --from=build")
	if cp.Index != 2 || cp.Line == nil || cp.Line.Start != 7 {
		t.Errorf("COPY --from step: index %d, line %v; want 2 on line 7", cp.Index, cp.Line)
	}
	if !strings.Contains(f.Log(), "steps test") {
		t.Errorf("log %q lacks the RUN's output", f.Log())
	}
	// Both stages start from busybox; BuildKit pulls it once, yet each
	// stage shows its FROM on its own line, with the base's size. (See
	// TestSharedBaseSpelledDifferently for other spellings.)
	for stage, line := range map[string]int{"build": 1, "stage-1": 6} {
		from := f.Step(t, stage, "FROM busybox")
		if from.Index != 1 || from.Line == nil || from.Line.Start != line || from.SizeBytes == nil ||
			*from.SizeBytes == 0 || (from.State != domain.StepDone && from.State != domain.StepCached) {
			t.Errorf("%s's FROM step %+v: want index 1 on line %d, finished, with the base's size", stage, from, line)
		}
	}

	for i, e := range f.Events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d; want seq without gaps", i, e.Seq)
		}
	}
	if f.Events[0].Type != domain.EventStatus || f.Events[0].Status != domain.StatusQueued {
		t.Errorf("first event %+v, want status queued", f.Events[0])
	}
	p := f.State.Progress
	if p.Total == 0 || p.Done != p.Total {
		t.Errorf("progress %d/%d, want all steps done", p.Done, p.Total)
	}
}

// Several viewers each get the whole stream; a viewer that reconnects with
// ?after=N gets the rest with no gap and no duplicate, during and after the
// build.
func TestEventStreamViewersAndReconnect(t *testing.T) {
	c := labtest.NewClient(t)
	id, err := c.Post(labtest.Request{Files: map[string]string{
		"Dockerfile": "FROM busybox\nRUN for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done\n"}})
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	streams := make([][]domain.Event, 3)
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 2 {
				streams[i] = reconnecting(t, c, id)
				return
			}
			streams[i], _ = c.Events(id, 0)
		}()
	}
	wg.Wait()

	want := streams[0]
	if len(want) == 0 || want[len(want)-1].Type != domain.EventImage {
		t.Fatalf("first viewer's stream does not end with the image report: %d events", len(want))
	}
	for i, got := range streams[1:] {
		if !sameSeqs(got, want) {
			t.Errorf("viewer %d got seqs %v, want %v", i+2, seqs(got), seqs(want))
		}
	}

	late, err := c.Events(id, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSeqs(late, want[3:]) {
		t.Errorf("after=3 once finished: seqs %v, want %v", seqs(late), seqs(want[3:]))
	}
}

// reconnecting reads the stream in pieces, hanging up after every log event.
func reconnecting(t *testing.T, c *labtest.Client, id string) []domain.Event {
	var all []domain.Event
	for range 50 {
		after := int64(0)
		if len(all) > 0 {
			after = all[len(all)-1].Seq
		}
		part, err := c.EventsUntil(id, after, func(e domain.Event) bool { return e.Type == domain.EventLogChunk })
		if err != nil {
			t.Errorf("reconnect after %d: %v", after, err)
			return all
		}
		all = append(all, part...)
		if len(all) > 0 && all[len(all)-1].Type == domain.EventImage {
			return all
		}
	}
	return all
}

func seqs(events []domain.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

func sameSeqs(a, b []domain.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || a[i].Type != b[i].Type {
			return false
		}
	}
	return true
}

// A file rewritten with the same size and mtime still reaches the build.
func TestChangedFileAlwaysReachesBuild(t *testing.T) {
	c := labtest.NewClient(t)
	mtime := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	dockerfile := "FROM busybox\nCOPY app.txt /app.txt\nRUN cat /app.txt\n"
	for _, content := range []string{"version AAAA\n", "version BBBB\n"} {
		body := contextTar(t, mtime, map[string]string{"Dockerfile": dockerfile, "app.txt": content})
		id, err := c.PostRaw("application/x-tar", "", body)
		if err != nil {
			t.Fatal(err)
		}
		events, err := c.Events(id, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := labtest.Finished{ID: id, Events: events}
		if !strings.Contains(f.Log(), content) {
			t.Errorf("build of %q printed %q", content, f.Log())
		}
	}
}

// The tar form takes the Dockerfile path, target and build args as query
// parameters, and refuses links.
func TestBuildFromTar(t *testing.T) {
	c := labtest.NewClient(t)
	body := contextTar(t, time.Now(), map[string]string{
		"docker/Dockerfile.dev": "FROM busybox AS one\nARG WHO\nRUN echo hello $WHO\nFROM busybox AS two\nRUN false\n",
	})
	id, err := c.PostRaw("application/x-tar", "dockerfile=docker/Dockerfile.dev&target=one&build-arg=WHO=tar", body)
	if err != nil {
		t.Fatal(err)
	}
	events, err := c.Events(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f := (labtest.Finished{Events: events}); !strings.Contains(f.Log(), "hello tar") {
		t.Errorf("log %q lacks the build arg's value", f.Log())
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "Dockerfile", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})
	_ = tw.Close()
	_, err = c.PostRaw("application/x-tar", "", buf.Bytes())
	var apiErr *labtest.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(apiErr.Message, "not a regular file") {
		t.Errorf("symlink in tar: got %v, want 400 naming it", err)
	}
}

func contextTar(t *testing.T, mtime time.Time, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: mtime, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
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

func TestHealth(t *testing.T) {
	resp, err := http.Get(labtest.App(t).URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Worker domain.WorkerHealth
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !body.Worker.Ready || !body.Worker.Managed || !strings.HasPrefix(body.Worker.Version, "v0.") {
		t.Errorf("healthz: %d %+v", resp.StatusCode, body)
	}
}

// When the worker dies mid-build, the build ends with a clear error instead
// of hanging, the worker comes back, and the next build succeeds.
func TestWorkerRestart(t *testing.T) {
	c := labtest.NewClient(t)
	id, err := c.Post(labtest.Request{Files: map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo started && sleep 60\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EventsUntil(id, 0, func(e domain.Event) bool {
		return e.Type == domain.EventLogChunk && strings.Contains(e.Log.Data, "started")
	}); err != nil {
		t.Fatal(err)
	}

	killWorker(t)
	events, err := c.Events(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := labtest.Finished{ID: id, Events: events}
	f.State, _ = c.State(id)
	requireStatus(t, f, domain.StatusFailed)
	requireError(t, f, "worker", 0, "stopped during the build")

	after := c.Build(t, labtest.Request{Files: map[string]string{"Dockerfile": "FROM busybox\nRUN echo back\n"}})
	requireStatus(t, after, domain.StatusSucceeded)
}

// killWorker SIGKILLs the managed buildkitd of the shared server.
func killWorker(t *testing.T) {
	t.Helper()
	killWorkerOf(t, labtest.App(t).DataDir())
}

// killWorkerOf SIGKILLs the managed buildkitd of the server on dataDir and
// returns its pid.
func killWorkerOf(t *testing.T, dataDir string) int {
	t.Helper()
	pidFile := filepath.Join(dataDir, "buildkit", "buildkitd.pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("read worker pid: %v", err)
	}
	var pid int
	if err := json.Unmarshal(bytes.TrimSpace(data), &pid); err != nil {
		t.Fatalf("parse worker pid %q: %v", data, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill worker %d: %v", pid, err)
	}
	return pid
}

// RUN steps have a network namespace of their own: the server's loopback
// port is not reachable from a build.
func TestRunCannotReachServerLoopback(t *testing.T) {
	c := labtest.NewClient(t)
	port := labtest.App(t).Addr().(*net.TCPAddr).Port
	f := c.Build(t, labtest.Request{
		Files: map[string]string{"Dockerfile": "FROM busybox\nARG PORT\n" +
			"RUN if wget -q -T 3 -O - http://127.0.0.1:$PORT/healthz; then echo REACHED; else echo BLOCKED; fi\n"},
		BuildArgs: map[string]string{"PORT": strconv.Itoa(port)},
	})
	requireStatus(t, f, domain.StatusSucceeded)
	if log := f.Log(); !strings.Contains(log, "BLOCKED") || strings.Contains(log, "REACHED") {
		t.Errorf("a RUN step reached the server on 127.0.0.1:%d: %q", port, log)
	}
}

// --buildkit-addr: a second server builds on the first one's worker without
// managing it.
func TestExistingWorker(t *testing.T) {
	data := t.TempDir()
	a := startOnSharedWorker(t, app.Config{Data: data})

	resp, err := http.Get(a.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Worker domain.WorkerHealth }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if !body.Worker.Ready || body.Worker.Managed {
		t.Errorf("healthz worker %+v, want ready and not managed", body.Worker)
	}
	if _, err := os.Stat(filepath.Join(data, "buildkit")); !os.IsNotExist(err) {
		t.Errorf("a server with an existing worker made a buildkit dir: %v", err)
	}

	c := &labtest.Client{Base: a.URL()}
	f := c.Build(t, labtest.Request{Files: map[string]string{
		"Dockerfile": "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": "remote\n"}})
	requireStatus(t, f, domain.StatusSucceeded)
}

// Builds past the worker's slots wait in order with their position, and any
// build can be cancelled, waiting or running.
func TestQueueAndCancel(t *testing.T) {
	c := labtest.NewClient(t)
	sleeper := func(n int) labtest.Request {
		return labtest.Request{Files: map[string]string{
			"Dockerfile": fmt.Sprintf("FROM busybox\nRUN echo sleeper %d && sleep 60\n", n)}}
	}
	var ids []string
	for n := range 3 {
		id, err := c.Post(sleeper(n))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	state, err := c.State(ids[2])
	if err != nil {
		t.Fatal(err)
	}
	if state.Status != domain.StatusQueued || state.QueuePosition != 1 {
		t.Fatalf("third build: %s at position %d, want queued at 1", state.Status, state.QueuePosition)
	}
	for _, id := range ids {
		if _, err := c.EventsUntil(id, 0, func(e domain.Event) bool { return e.Type == domain.EventStatus }); err != nil {
			t.Fatal(err)
		}
	}

	for _, id := range []string{ids[2], ids[0], ids[1]} {
		req, _ := http.NewRequest(http.MethodDelete, c.Base+"/api/builds/"+id, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("cancel %s: %d", id, resp.StatusCode)
		}
		events, err := c.Events(id, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := labtest.Finished{ID: id, Events: events}
		f.State, _ = c.State(id)
		requireStatus(t, f, domain.StatusFailed)
		requireError(t, f, "cancelled", 0, "cancelled")
	}
}

// The worker itself fetches ADD URLs, git repositories and base images, from
// the server's own network; those aimed where no name lookup is needed
// (loopback, IP addresses) are refused, on their line, and the server's own
// address is never fetched.
func TestWorkerFetchesStayOffTheServersNetwork(t *testing.T) {
	c := labtest.NewClient(t)
	addr := labtest.App(t).Addr().String()
	cases := []struct {
		name, dockerfile string
		line             int
		text             string
	}{
		{"ADD of a URL", "FROM busybox\nADD http://" + addr + "/healthz /h\nRUN cat /h\n", 2, "does not fetch http://" + addr},
		{"ADD of a git repository", "FROM busybox\nADD git@" + addr + ":repo.git /src\n", 2, "does not fetch git://"},
		{"registry by IP address", "FROM busybox AS a\nFROM " + addr + "/tools:1\nCOPY --from=a /bin/sh /sh\n", 2, "does not pull " + addr + "/tools:1"},
		{"registry on localhost", "FROM localhost:5000/tools\n", 1, "does not pull localhost:5000/tools"},
		{"registry on LOCALHOST", "FROM LOCALHOST:5000/tools\n", 1, "does not pull"},
		{"image mounted by IP address", "FROM busybox\nRUN --mount=type=bind,from=" + addr + "/tools,target=/m true\n",
			2, "does not pull " + addr + "/tools:latest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := c.Build(t, labtest.Request{Files: map[string]string{"Dockerfile": tc.dockerfile}})
			requireStatus(t, f, domain.StatusFailed)
			requireError(t, f, "dockerfile", tc.line, tc.text)
			if strings.Contains(f.Log(), `"status"`) {
				t.Errorf("the build read the server's health: %q", f.Log())
			}
		})
	}
}

// A build past its time limit fails with kind limit, naming the steps it cut.
func TestBuildTimeLimitNamesRunningSteps(t *testing.T) {
	a := startOnSharedWorker(t, app.Config{Data: t.TempDir(), BuildTimeout: 3 * time.Second})
	c := &labtest.Client{Base: a.URL()}
	f := c.Build(t, labtest.Request{Files: map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo " + strconv.FormatInt(time.Now().UnixNano(), 10) + " && sleep 30\n"}})
	requireStatus(t, f, domain.StatusFailed)
	requireError(t, f, "limit", 0, "the build ran longer than the 3s limit; still running: RUN echo")
}

// startOnSharedWorker starts a second server, configured by cfg, on the
// shared test server's worker, and stops it when the test ends.
func startOnSharedWorker(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	ctx := context.Background()
	cfg.Addr = "127.0.0.1:0"
	cfg.BuildkitAddr = "unix://" + filepath.Join(labtest.App(t).DataDir(), "buildkit", "buildkitd.sock")
	a, err := app.Start(ctx, cfg, labtest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(ctx) })
	if err := a.WaitReady(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return a
}

// Stages naming the same image in different spellings each show their FROM.
func TestSharedBaseSpelledDifferently(t *testing.T) {
	c := labtest.NewClient(t)
	f := c.Build(t, labtest.Request{Files: map[string]string{"Dockerfile": "FROM busybox AS a\nRUN echo a > /a\n" +
		"FROM busybox:latest AS b\nCOPY --from=a /a /a\nFROM docker.io/library/busybox AS c\nCOPY --from=b /a /b\n"}})
	requireStatus(t, f, domain.StatusSucceeded)
	for stage, line := range map[string]int{"a": 1, "b": 3, "c": 5} {
		if from := f.Step(t, stage, "FROM "); from.Index != 1 || from.Line == nil || from.Line.Start != line {
			t.Errorf("%s's FROM step %+v: want index 1 on line %d", stage, from, line)
		}
	}
}
