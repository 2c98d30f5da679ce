package domain

import (
	"math"
	"slices"
	"strconv"
)

// Phase names a build of a scenario run.
type Phase string

// The two builds of every variant, in order.
const (
	PhaseCold    Phase = "cold"
	PhaseRebuild Phase = "rebuild"
)

// RunRef tags an event of a run's stream with the build it came from.
type RunRef struct {
	Variant string `json:"variant"`
	Phase   Phase  `json:"phase"`
	Build   string `json:"build"`
}

// VariantResult is what one variant's builds came to.
type VariantResult struct {
	Name   string         `json:"name"`
	Builds []BuildSummary `json:"builds"`
}

// BuildSummary is one build of a run: its outcome, its steps (with reasons
// on a rebuild) and its final image.
type BuildSummary struct {
	Phase      Phase        `json:"phase"`
	ID         string       `json:"id"`
	Status     Status       `json:"status"`
	DurationMs int64        `json:"durationMs"`
	Steps      []Step       `json:"steps"`
	Image      *ImageReport `json:"image"`
	Error      *BuildError  `json:"error"`
	// StepsRun and StepsTotal count the Dockerfile steps (internal ones
	// left out) that ran and that there were.
	StepsRun   int `json:"stepsRun"`
	StepsTotal int `json:"stepsTotal"`
}

func summarize(phase Phase, s BuildState) BuildSummary {
	sum := BuildSummary{Phase: phase, ID: s.ID, Status: s.Status, DurationMs: s.DurationMs,
		Image: s.Image, Error: s.Error, Steps: []Step{}}
	for _, st := range s.Steps {
		if st.Internal {
			continue
		}
		sum.Steps = append(sum.Steps, st)
		sum.StepsTotal++
		if !st.Cached {
			sum.StepsRun++
		}
	}
	return sum
}

// Comparison lines the variants of a run up.
type Comparison struct {
	Columns []Column     `json:"columns"`
	Rows    []CompareRow `json:"rows"`
}

// Column is one variant's figures. Complete says both its builds succeeded
// and its rebuilt image was measured; the figures of an incomplete column
// are what there is (zeros for what never happened). Deltas are against the
// first column, and only between complete columns.
type Column struct {
	Variant         string  `json:"variant"`
	Complete        bool    `json:"complete"`
	SizeBytes       int64   `json:"sizeBytes"`
	CompressedBytes int64   `json:"compressedBytes"`
	ColdMs          int64   `json:"coldMs"`
	RebuildMs       int64   `json:"rebuildMs"`
	StepsRerun      int     `json:"stepsRerun"`
	StepsTotal      int     `json:"stepsTotal"`
	HitRatio        float64 `json:"hitRatio"`
	Delta           *Delta  `json:"delta,omitempty"`
}

// Delta is a column's difference from the first column.
type Delta struct {
	SizeBytes       int64   `json:"sizeBytes"`
	CompressedBytes int64   `json:"compressedBytes"`
	ColdMs          int64   `json:"coldMs"`
	RebuildMs       int64   `json:"rebuildMs"`
	StepsRerun      int     `json:"stepsRerun"`
	HitRatio        float64 `json:"hitRatio"`
}

// CompareRow is one instruction across the variants' rebuilds; Cells has a
// cell per column, nil where that variant has no such instruction.
type CompareRow struct {
	Instruction string  `json:"instruction"`
	Cells       []*Cell `json:"cells"`
}

// Cell is how one variant's rebuild did on an instruction.
type Cell struct {
	Stage      string     `json:"stage"`
	Line       *LineRange `json:"line,omitempty"`
	Cached     bool       `json:"cached"`
	DurationMs int64      `json:"durationMs"`
	SizeBytes  *int64     `json:"sizeBytes,omitempty"`
	Reason     *Reason    `json:"reason,omitempty"`
	FirstMiss  bool       `json:"firstMiss,omitempty"`
}

// Compare computes the columns and the aligned rows of a run.
func Compare(variants []VariantResult) Comparison {
	cmp := Comparison{Columns: []Column{}, Rows: []CompareRow{}}
	table := rowTable{columns: len(variants)}
	for vi, v := range variants {
		col := Column{Variant: v.Name}
		succeeded := 0
		for _, b := range v.Builds {
			if b.Status == StatusSucceeded {
				succeeded++
			}
			switch b.Phase {
			case PhaseCold:
				col.ColdMs = b.DurationMs
			case PhaseRebuild:
				col.RebuildMs = b.DurationMs
				col.StepsRerun, col.StepsTotal = b.StepsRun, b.StepsTotal
				if b.StepsTotal > 0 {
					col.HitRatio = ratio(float64(b.StepsTotal-b.StepsRun) / float64(b.StepsTotal))
				}
				if b.Image != nil {
					col.SizeBytes, col.CompressedBytes = b.Image.SizeBytes, b.Image.CompressedBytes
				}
				table.add(vi, b.Steps)
			}
		}
		col.Complete = succeeded == 2 && len(v.Builds) == 2 && col.SizeBytes > 0
		if vi > 0 && col.Complete && cmp.Columns[0].Complete {
			first := cmp.Columns[0]
			col.Delta = &Delta{
				SizeBytes:       col.SizeBytes - first.SizeBytes,
				CompressedBytes: col.CompressedBytes - first.CompressedBytes,
				ColdMs:          col.ColdMs - first.ColdMs,
				RebuildMs:       col.RebuildMs - first.RebuildMs,
				StepsRerun:      col.StepsRerun - first.StepsRerun,
				HitRatio:        ratio(col.HitRatio - first.HitRatio),
			}
		}
		cmp.Columns = append(cmp.Columns, col)
	}
	for _, r := range table.rows {
		cmp.Rows = append(cmp.Rows, r.CompareRow)
	}
	return cmp
}

// ratio rounds a ratio to four places, so that 0.8 - 0.5 reads 0.3.
func ratio(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// rowTable lines the variants' steps up, one row per instruction.
type rowTable struct {
	columns int
	rows    []*tableRow
}

type tableRow struct {
	// key is the stage, text and occurrence of the step that made the row.
	key string
	CompareRow
}

// add puts a variant's steps into the rows, always below the row of the
// variant's previous step, so that every variant's steps read in order. A
// step goes into the first such row of the same instruction in the same
// stage (an instruction seen twice in a stage has a row per occurrence).
// Failing that it goes into the first such row of the same instruction, so
// that the steps of a single-stage build line up with the same steps of a
// multi-stage one whose stages have other names. Failing that it gets a new
// row, right below the variant's previous step. Variants that order their
// steps differently (COPY . . before or after the install) thus get a row
// each for the step they place differently.
func (t *rowTable) add(vi int, steps []Step) {
	seen := map[string]int{}
	prev := -1
	for _, st := range steps {
		key := st.Stage + "\x00" + st.Instruction
		seen[key]++
		key += "\x00" + strconv.Itoa(seen[key])
		i := t.find(vi, key, st.Instruction, prev)
		if i < 0 {
			i = prev + 1
			row := CompareRow{Instruction: st.Instruction, Cells: make([]*Cell, t.columns)}
			t.rows = slices.Insert(t.rows, i, &tableRow{key: key, CompareRow: row})
		}
		t.rows[i].Cells[vi] = &Cell{Stage: st.Stage, Line: st.Line, Cached: st.Cached,
			DurationMs: st.DurationMs, SizeBytes: st.SizeBytes, Reason: st.Reason,
			FirstMiss: st.FirstMiss}
		prev = i
	}
}

// find returns the row a step of variant vi goes into, or -1 for a new one.
func (t *rowTable) find(vi int, key, instruction string, prev int) int {
	// Only rows below the variant's previous step: a row above it would
	// show this variant's steps out of order.
	for i := prev + 1; i < len(t.rows); i++ {
		if r := t.rows[i]; r.key == key && r.Cells[vi] == nil {
			return i
		}
	}
	for i := prev + 1; i < len(t.rows); i++ {
		if r := t.rows[i]; r.Instruction == instruction && r.Cells[vi] == nil {
			return i
		}
	}
	return -1
}
