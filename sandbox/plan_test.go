package sandbox

import (
	"testing"

	"github.com/layerlab/layerlab/domain"
)

func TestReadPlanLines(t *testing.T) {
	dockerfile := `ARG BASE=busybox
FROM $BASE AS build
WORKDIR /src
ENV A=1
COPY a.txt \
     b.txt ./
RUN make
FROM build AS test
RUN test
FROM scratch
COPY --from=build /src/out /out
`
	p, err := readPlan([]byte(dockerfile), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stage      string
		index      int
		start, end int
	}{
		{"build", 1, 2, 2},
		{"build", 2, 3, 3},
		{"build", 3, 5, 6},
		{"build", 4, 7, 7},
		{"test", 1, 9, 9}, // FROM of a stage is no step of its own
		{"stage-2", 1, 11, 11},
	}
	for _, tt := range tests {
		got := p.line(tt.stage, tt.index)
		if got == nil || got.Start != tt.start || got.End != tt.end {
			t.Errorf("[%s %d] line %v, want %d-%d", tt.stage, tt.index, got, tt.start, tt.end)
		}
	}
	want := []domain.Stage{
		{Name: "build", Index: 0, Base: "busybox", Line: domain.LineRange{Start: 2, End: 2}},
		{Name: "test", Index: 1, Base: "build", Line: domain.LineRange{Start: 8, End: 8}, Skipped: true},
		{Name: "stage-2", Index: 2, Base: "scratch", Line: domain.LineRange{Start: 10, End: 10}},
	}
	for i, w := range want {
		g := p.stages[i]
		if g.Name != w.Name || g.Base != w.Base || g.Line != w.Line || g.Skipped != w.Skipped {
			t.Errorf("stage %d = %+v, want %+v", i, g, w)
		}
	}
	if got := p.public.Stages[0].Instructions[2].Sources; len(got) != 2 || got[0] != "a.txt" {
		t.Errorf("COPY sources %v, want a.txt and b.txt", got)
	}
}

func TestReadPlanTargets(t *testing.T) {
	dockerfile := "FROM busybox AS Base\nRUN a\nFROM base AS lint\nRUN b\nFROM busybox AS final\n" +
		"RUN --mount=from=base,target=/b true\n"
	tests := []struct {
		target  string
		skipped []bool
		err     bool
	}{
		{"", []bool{false, true, false}, false},
		{"lint", []bool{false, false, true}, false},
		{"BASE", []bool{false, true, true}, false},
		{"nope", nil, true},
	}
	for _, tt := range tests {
		p, err := readPlan([]byte(dockerfile), tt.target, nil)
		if tt.err {
			if err == nil {
				t.Errorf("target %q: no error", tt.target)
			}
			continue
		}
		if err != nil {
			t.Fatalf("target %q: %v", tt.target, err)
		}
		for i, want := range tt.skipped {
			if p.stages[i].Skipped != want {
				t.Errorf("target %q: stage %s skipped %v, want %v", tt.target, p.stages[i].Name, p.stages[i].Skipped, want)
			}
		}
	}
}

// A single unnamed stage: BuildKit leaves the stage out of step names.
func TestReadPlanSingleStage(t *testing.T) {
	p, err := readPlan([]byte("FROM busybox\nRUN a\n"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := p.line("", 2); l == nil || l.Start != 2 {
		t.Errorf("[2/2] line %v, want 2", l)
	}
}
