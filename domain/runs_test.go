package domain

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// dockerfileWorker builds instantly: a Dockerfile holding "fail" fails its
// step, one holding "block" waits until the build is cancelled.
type dockerfileWorker struct{}

func (dockerfileWorker) Build(ctx context.Context, _ string, spec Spec, _ func(Event)) error {
	df := string(spec.Files[spec.Dockerfile])
	switch {
	case strings.Contains(df, "fail"):
		return &BuildError{Kind: "step", Message: "RUN fail (line 2) failed: exit code: 1"}
	case strings.Contains(df, "block"):
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (dockerfileWorker) Plan(Spec) (*Plan, error) { return &Plan{}, nil }

func newTestRuns(t *testing.T, cfg RunnerConfig) (*Runner, *Runs) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := NewRunner(dockerfileWorker{}, cfg, log)
	t.Cleanup(runner.Close)
	return runner, NewRuns(runner, dockerfileWorker{}, log)
}

func variant(name, dockerfile string) VariantSpec {
	return VariantSpec{Name: name, Spec: Spec{Dockerfile: "Dockerfile", Files: map[string][]byte{
		"Dockerfile": []byte(dockerfile), "a.txt": []byte("a")}}}
}

func waitRun(t *testing.T, r *Run) RunState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s := r.State(); s.Status.Done() {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("run %s did not end", r.ID)
	return RunState{}
}

func TestRunsRefuseBadScenarios(t *testing.T) {
	_, runs := newTestRuns(t, RunnerConfig{})
	text := "b"
	edit := Change{Path: "a.txt", Content: &text}
	cases := []struct {
		name     string
		variants []VariantSpec
		changes  []Change
		want     string
	}{
		{"empty change", []VariantSpec{variant("a", "FROM x")}, []Change{{}}, "change 1: it changes nothing"},
		{"two things at once", []VariantSpec{variant("a", "FROM x")},
			[]Change{edit, {Path: "a.txt", Content: &text, Delete: "a.txt"}}, "change 2: it does more than one thing"},
		{"path without content", []VariantSpec{variant("a", "FROM x")}, []Change{{Path: "new.txt"}}, "without content"},
		{"delete of a missing file", []VariantSpec{variant("a", "FROM x")}, []Change{{Delete: "nosuch.txt"}},
			"deletes nosuch.txt, which variant a does not have"},
		{"delete twice", []VariantSpec{variant("a", "FROM x")}, []Change{{Delete: "a.txt"}, {Delete: "a.txt"}},
			"change 2 deletes a.txt"},
		{"control character in a name", []VariantSpec{variant("a\nb", "FROM x")}, []Change{edit}, "control"},
		{"long name", []VariantSpec{variant(strings.Repeat("n", 65), "FROM x")}, []Change{edit}, "at most 64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runs.Submit(RunSpec{Variants: tc.variants, Changes: tc.changes})
			var in *InputError
			if !errors.As(err, &in) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want an input error saying %q", err, tc.want)
			}
		})
	}
}

// A variant whose Dockerfile fails does not keep the others from running;
// the run ends failed with that variant's error.
func TestRunGoesOnAfterAFailedVariant(t *testing.T) {
	_, runs := newTestRuns(t, RunnerConfig{})
	text := "b"
	r, err := runs.Submit(RunSpec{
		Variants: []VariantSpec{variant("broken", "FROM x\nRUN fail"), variant("fine", "FROM x\nRUN ok")},
		Changes:  []Change{{Path: "a.txt", Content: &text}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := waitRun(t, r)
	if s.Status != StatusFailed || s.Error == nil || !strings.HasPrefix(s.Error.Message, "broken, cold build: ") {
		t.Errorf("run ended %s with %+v, want failed with the broken variant's error", s.Status, s.Error)
	}
	if len(s.Variants) != 2 || len(s.Variants[0].Builds) != 1 || len(s.Variants[1].Builds) != 2 {
		t.Fatalf("variants %+v: want the broken one's cold build and both of the fine one's", s.Variants)
	}
	if s.Variants[1].Builds[1].Status != StatusSucceeded {
		t.Errorf("the fine variant's rebuild ended %s", s.Variants[1].Builds[1].Status)
	}
}

// A run is refused up front when the queue is full, as a build would be.
func TestRunRefusedWhenQueueFull(t *testing.T) {
	runner, runs := newTestRuns(t, RunnerConfig{Concurrency: 1, MaxQueued: 1})
	for range 2 { // one runs, one waits
		if _, err := runner.Submit(Spec{Dockerfile: "Dockerfile",
			Files: map[string][]byte{"Dockerfile": []byte("FROM x\nRUN block")}}); err != nil {
			t.Fatal(err)
		}
	}
	text := "b"
	_, err := runs.Submit(RunSpec{Variants: []VariantSpec{variant("a", "FROM x")},
		Changes: []Change{{Path: "a.txt", Content: &text}}})
	if !errors.Is(err, ErrQueueFull) {
		t.Errorf("err = %v, want %v", err, ErrQueueFull)
	}
}
