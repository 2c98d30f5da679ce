package domain

// Plan is a Dockerfile as layerlab reads it before building: its stages and
// their instructions, with what each one depends on. Explaining a rebuild
// needs it.
type Plan struct {
	Stages []PlanStage `json:"stages"`
}

// PlanStage is one FROM block.
type PlanStage struct {
	Name string `json:"name"`
	// Base is the FROM argument with global ARGs expanded.
	Base string `json:"base"`
	// Parent is the index of the stage Base names, or -1 for an image.
	Parent       int           `json:"parent"`
	Line         LineRange     `json:"line"`
	Skipped      bool          `json:"skipped"`
	Instructions []Instruction `json:"instructions"`
}

// Instruction is one instruction after FROM.
type Instruction struct {
	Keyword string    `json:"keyword"`
	Text    string    `json:"text"`
	Line    LineRange `json:"line"`
	// Sources are the context paths a COPY or ADD takes; empty for other
	// instructions and for COPY --from.
	Sources []string `json:"sources,omitempty"`
	// From is the stage or image a COPY --from or RUN --mount=from reads.
	From string `json:"from,omitempty"`
	// Args are the names an ARG declares, with their defaults.
	Args map[string]*string `json:"args,omitempty"`
}
