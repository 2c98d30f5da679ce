package sizes

// Report is what an image weighs and what it is set up to do. It is plain
// data so the sandbox can hand it to the domain layer and the page as JSON.
type Report struct {
	// Layers has one row per build step in the image's history, in order.
	// Steps that changed only metadata (ENV, EXPOSE, USER, ...) made no
	// layer; their rows carry EmptyLayer, Index -1 and zero sizes, so the
	// page can line steps and sizes up without a second list.
	Layers []Layer `json:"layers"`

	// LayerCount counts filesystem layers only, not metadata-only rows.
	LayerCount int `json:"layerCount"`
	// Size is the sum of the layers' Size: what an image store reports.
	Size int64 `json:"size"`
	// CompressedSize is the sum of the layers' CompressedSize: roughly what
	// a pull downloads.
	CompressedSize int64 `json:"compressedSize"`
	// CompressedEstimated is set when at least one layer was stored
	// uncompressed and its compressed size was measured by compressing it.
	CompressedEstimated bool `json:"compressedEstimated,omitempty"`
	// Files counts the non-directory entries of all layers.
	Files int `json:"files"`

	// WastedSize is the bytes of file content that the image ships but no
	// container can see: files that a later layer deleted (a whiteout or an
	// opaque directory) or replaced with another entry at the same path.
	WastedSize int64 `json:"wastedSize"`
	// WastedFiles lists the paths with the most wasted bytes, largest
	// first, at most MaxWastedFiles of them.
	WastedFiles []WastedFile `json:"wastedFiles"`
	// EfficiencyPercent is dive's image efficiency score as a percentage:
	// for every path that layers touch, the smallest size any layer gave
	// it, summed, over the sum of all sizes layers gave it. An image whose
	// layers never touch a path twice scores 100.
	EfficiencyPercent float64 `json:"efficiencyPercent"`
	// InefficientSize is dive's "inefficient bytes": the sizes of every copy
	// of each path that more than one layer touches, added up, the copy that
	// survives included. It is kept so our figures can be checked against
	// dive's; WastedSize is the figure to show people.
	InefficientSize int64 `json:"inefficientSize"`

	// Config is the report card read from the image config.
	Config Card `json:"config"`
}

// Layer is one row of the report: a filesystem layer and the history entry
// of the step that made it, or a history entry that made no layer.
type Layer struct {
	// Index is the layer's position in the image's rootfs, from 0, or -1 on
	// a row for a step that made no layer.
	Index int `json:"index"`
	// Digest names the layer's blob as the source stores it: the compressed
	// blob, or for a layer stored as a plain tar, the tar itself (then it
	// equals DiffID).
	Digest string `json:"digest,omitempty"`
	// DiffID is the digest of the uncompressed layer tar.
	DiffID    string `json:"diffId,omitempty"`
	MediaType string `json:"mediaType,omitempty"`

	// Size is the sum of the sizes of the regular files in the layer tar,
	// the figure dive and image stores show for a layer. Tar headers,
	// padding and directory entries are not counted.
	Size int64 `json:"size"`
	// CompressedSize is the size of the layer's gzip (or zstd) blob as a
	// registry stores it. When the source stores the layer uncompressed it
	// is measured by gzip-compressing the tar at level 6, compress/gzip's
	// default, with which BuildKit pushes layers, and CompressedEstimated
	// is set. The estimate comes from klauspost/compress, ten times faster
	// than compress/gzip, whose output is 0.5 to 3% smaller.
	CompressedSize      int64 `json:"compressedSize"`
	CompressedEstimated bool  `json:"compressedEstimated,omitempty"`
	// Files counts the layer's entries that are not directories or
	// whiteout markers: regular files, links, devices.
	Files int `json:"files"`
	// WastedSize is the part of Size that later layers delete or replace.
	WastedSize int64 `json:"wastedSize"`

	// CreatedBy is the history entry's command; empty when the image has no
	// history entry for this layer.
	CreatedBy string `json:"createdBy"`
	// EmptyLayer marks a step that changed only the image's metadata.
	EmptyLayer bool `json:"emptyLayer"`
}

// WastedFile is a path whose bytes the image carries in vain.
type WastedFile struct {
	Path string `json:"path"`
	// WastedSize is the bytes of this path's copies that later layers
	// deleted or replaced.
	WastedSize int64 `json:"wastedSize"`
	// TotalSize is the bytes of every copy of the path in the image, the
	// visible one included.
	TotalSize int64 `json:"totalSize"`
	// Layers counts the layers that wrote or deleted the path; deleting a
	// directory counts for every file under it.
	Layers int `json:"layers"`
}

// MaxWastedFiles bounds Report.WastedFiles: a page shows the worst offenders,
// and an image that deletes a package cache can hide tens of thousands.
const MaxWastedFiles = 50

// Card is the part of the image config that says how the image will run,
// with the checks that the lessons care about.
type Card struct {
	// User is the configured user, as written ("" when unset).
	User string `json:"user"`
	// RunsAsRoot is set when User is empty, 0 or root (with any group).
	RunsAsRoot bool `json:"runsAsRoot"`
	// ExposedPorts is sorted, each as "port/proto".
	ExposedPorts []string     `json:"exposedPorts"`
	Healthcheck  *Healthcheck `json:"healthcheck,omitempty"`
	Entrypoint   []string     `json:"entrypoint,omitempty"`
	Cmd          []string     `json:"cmd,omitempty"`
	WorkingDir   string       `json:"workingDir,omitempty"`
	// EnvNames lists the environment variables by name only, in config
	// order: values often hold secrets that a shared permalink must not
	// leak.
	EnvNames []string `json:"envNames"`
	// BaseImage and BaseDigest come from the OCI base-image labels or
	// manifest annotations when the builder set them. BuildKit sets
	// neither, so for its images they are empty and the Dockerfile's FROM
	// line is the better source.
	BaseImage  string `json:"baseImage,omitempty"`
	BaseDigest string `json:"baseDigest,omitempty"`
	// Platform is "os/architecture[/variant]".
	Platform string `json:"platform,omitempty"`
}

// Healthcheck is the image's HEALTHCHECK, durations in Go notation ("30s").
type Healthcheck struct {
	// Test is the check as configured, e.g. ["CMD-SHELL", "curl -f ..."].
	Test []string `json:"test"`
	// Disabled is set for HEALTHCHECK NONE, which turns off a base image's
	// check.
	Disabled    bool   `json:"disabled,omitempty"`
	Interval    string `json:"interval,omitempty"`
	Timeout     string `json:"timeout,omitempty"`
	StartPeriod string `json:"startPeriod,omitempty"`
	Retries     int    `json:"retries,omitempty"`
}
