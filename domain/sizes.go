package domain

// StageSize is what the image of one stage weighs. Sizes are bytes:
// uncompressed is the sum of the regular files in each layer, as an image
// store reports it; compressed is the sum of the gzip layer blobs a registry
// would store.
type StageSize struct {
	Name            string `json:"name"`
	Skipped         bool   `json:"skipped"`
	SizeBytes       int64  `json:"sizeBytes"`
	CompressedBytes int64  `json:"compressedBytes"`
	Layers          int    `json:"layers"`
	WastedBytes     int64  `json:"wastedBytes"`
	// Digest is the image manifest's digest.
	Digest string `json:"digest"`
	// Rows splits the size by where it came from: the base first (the
	// image or stage named in FROM), then one row per instruction of the
	// stage, metadata-only ones with 0 bytes.
	Rows []SizeRow `json:"rows"`
}

// SizeRow is the part of a stage's image that one instruction added, or the
// base's share.
type SizeRow struct {
	// Base marks the row of the FROM image or stage, all its layers in one.
	Base            bool       `json:"base,omitempty"`
	Instruction     string     `json:"instruction"`
	Line            *LineRange `json:"line,omitempty"`
	SizeBytes       int64      `json:"sizeBytes"`
	CompressedBytes int64      `json:"compressedBytes"`
	Layers          int        `json:"layers"`
	WastedBytes     int64      `json:"wastedBytes"`
}

// ImageReport is the final image's report card.
type ImageReport struct {
	Stage string `json:"stage"`
	// Digest is the final image manifest's digest: the same for a rebuild
	// that reused every step.
	Digest          string `json:"digest"`
	SizeBytes       int64  `json:"sizeBytes"`
	CompressedBytes int64  `json:"compressedBytes"`
	Layers          int    `json:"layers"`
	// WastedBytes is content the image carries that no container sees:
	// files a later layer deleted or overwrote.
	WastedBytes       int64        `json:"wastedBytes"`
	EfficiencyPercent float64      `json:"efficiencyPercent"`
	WastedFiles       []WastedFile `json:"wastedFiles"`
	Base              string       `json:"base"`
	User              string       `json:"user"`
	RunsAsRoot        bool         `json:"runsAsRoot"`
	ExposedPorts      []string     `json:"exposedPorts"`
	Healthcheck       []string     `json:"healthcheck,omitempty"`
	Entrypoint        []string     `json:"entrypoint,omitempty"`
	Cmd               []string     `json:"cmd,omitempty"`
	WorkingDir        string       `json:"workingDir,omitempty"`
	EnvNames          []string     `json:"envNames"`
	// KeptOut lists the stages the build needed but did not ship, with
	// their sizes; SavedBytes is the biggest stage's size less the final
	// image's, 0 when the final image is the biggest.
	KeptOut    []StageSize `json:"keptOut"`
	SavedBytes int64       `json:"savedBytes"`
	// MeasureMs is how long exporting and weighing the stages took.
	MeasureMs int64 `json:"measureMs"`
}

// WastedFile is a path whose bytes the image carries in vain.
type WastedFile struct {
	Path        string `json:"path"`
	WastedBytes int64  `json:"wastedBytes"`
	Layers      int    `json:"layers"`
}
