package sandbox

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"

	"github.com/layerlab/layerlab/domain"
)

func TestTranslator(t *testing.T) {
	p, err := readPlan([]byte("FROM busybox AS b\nRUN a\nRUN b\n"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var events []domain.Event
	tr := newTranslator(p, func(e domain.Event) { events = append(events, e) })
	t0 := time.Now()
	t1 := t0.Add(1500 * time.Millisecond)
	v := func(name string, started, completed *time.Time, cached bool, errMsg string) *client.Vertex {
		return &client.Vertex{Digest: digest.FromString(name), Name: name, Started: started,
			Completed: completed, Cached: cached, Error: errMsg}
	}
	tr.apply(&client.SolveStatus{Vertexes: []*client.Vertex{
		v("[internal] load build definition from Dockerfile", &t0, &t0, false, ""),
		v("[1/3] FROM docker.io/library/busybox:latest", nil, nil, false, ""),
		v("[2/3] RUN a", nil, nil, false, ""),
		v("[3/3] RUN b", nil, nil, false, ""),
	}})
	tr.apply(&client.SolveStatus{Vertexes: []*client.Vertex{
		v("[1/3] FROM docker.io/library/busybox:latest", &t0, &t0, true, ""),
		v("[2/3] RUN a", &t0, nil, false, ""),
	}})
	tr.apply(&client.SolveStatus{
		Vertexes: []*client.Vertex{
			v("[2/3] RUN a", &t0, &t1, false, ""),
			v("[2/3] RUN a", &t0, &t1, false, ""), // repeated: reported once
			v("[3/3] RUN b", &t1, &t1, false, "exit code: 1"),
		},
		Logs: []*client.VertexLog{{Vertex: digest.FromString("[2/3] RUN a"), Stream: 2, Data: []byte("oops \xff\n")}},
		Warnings: []*client.VertexWarning{{Short: []byte("StageNameCasing: Stage name 'B' should be lowercase (line 1)"),
			Range: []*pb.Range{{Start: &pb.Position{Line: 1}, End: &pb.Position{Line: 1}}}}},
	})

	var types []string
	for _, e := range events {
		types = append(types, string(e.Type))
	}
	want := "step.completed progress step.cached step.started progress step.completed step.failed progress log warning"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	run := events[5].Step
	if run.Stage != "b" || run.Index != 2 || run.Total != 3 || run.Line.Start != 2 || run.DurationMs != 1500 {
		t.Errorf("RUN a step %+v", run)
	}
	if p := events[7].Progress; p.Done != 3 || p.Total != 3 {
		t.Errorf("progress %+v, want 3/3", p)
	}
	if l := events[8].Log; l.Stream != "stderr" || l.Data != "oops \uFFFD\n" {
		t.Errorf("log %+v", l)
	}
	if w := events[9].Warning; w.Rule != "StageNameCasing" || w.Message != "Stage name 'B' should be lowercase" || w.Line.Start != 1 {
		t.Errorf("warning %+v", w)
	}
	if from := events[2].Step; from.Instruction != "FROM busybox AS b" {
		t.Errorf("FROM step reads %q, want the line as written", from.Instruction)
	}
	if f := tr.failedStep("process \"/bin/sh -c b\" failed: exit code: 1"); f == nil || f.Instruction != "RUN b" {
		t.Errorf("failed step %+v", f)
	}
}

func TestTranslatorLogCap(t *testing.T) {
	var events []domain.Event
	tr := newTranslator(nil, func(e domain.Event) { events = append(events, e) })
	now := time.Now()
	tr.apply(&client.SolveStatus{Vertexes: []*client.Vertex{{Digest: "d", Name: "[1/1] RUN x", Started: &now}}})
	chunk := []byte(strings.Repeat("x", 100<<10))
	for range 4 {
		tr.apply(&client.SolveStatus{Logs: []*client.VertexLog{{Vertex: "d", Data: chunk}}})
	}
	total := 0
	for _, e := range events {
		if e.Type == domain.EventLogChunk {
			total += len(e.Log.Data)
		}
	}
	last := events[len(events)-1]
	if total > maxStepLog+200 || !strings.Contains(last.Log.Data, "the rest is not kept") {
		t.Errorf("kept %d bytes of log, last chunk ends %q", total, last.Log.Data[len(last.Log.Data)-60:])
	}
}

// Two stages that start from the same image share BuildKit's one FROM step;
// the stage it is not named after gets a copy that follows it.
func TestTranslatorSharedFrom(t *testing.T) {
	df := "FROM busybox AS a\nRUN x\nFROM busybox AS b\nCOPY --from=a /x /x\n" +
		"FROM --platform=linux/arm64 busybox AS other\nRUN z\n"
	p, err := readPlan([]byte(df), "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	var events []domain.Event
	tr := newTranslator(p, func(e domain.Event) { events = append(events, e) })
	t0 := time.Now()
	from := &client.Vertex{Digest: digest.FromString("from"), Name: "[a 1/2] FROM docker.io/library/busybox:latest"}
	tr.apply(&client.SolveStatus{Vertexes: []*client.Vertex{from}})
	done := *from
	done.Started, done.Completed, done.Cached = &t0, &t0, true
	tr.apply(&client.SolveStatus{Vertexes: []*client.Vertex{&done}})

	var steps []domain.Step
	for _, e := range events {
		if e.Type == domain.EventStepCached {
			steps = append(steps, *e.Step)
		}
		if e.Type == domain.EventProgress && e.Progress.Total != 1 {
			t.Errorf("progress %+v: the copy must not count", e.Progress)
		}
	}
	if len(steps) != 2 {
		t.Fatalf("cached steps %+v, want a's FROM and b's copy (the arm64 stage is not needed)", steps)
	}
	b := steps[1]
	if b.Stage != "b" || b.Index != 1 || b.Total != 2 || b.Line == nil || b.Line.Start != 3 ||
		b.Instruction != "FROM busybox AS b" || !b.Cached || b.ID == steps[0].ID {
		t.Errorf("b's FROM %+v", b)
	}
}
