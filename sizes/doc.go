// Package sizes measures what an image's layers weigh, which bytes it
// carries in vain and how its config sets it up to run. It reads images
// through go-containerregistry, so it works on whatever the sandbox exports
// (an OCI layout, a docker archive) without BuildKit or a Docker engine.
//
// Each layer is read once as a stream: tar headers are kept, file contents
// are skipped, nothing is extracted to disk. Layers are read in parallel,
// then replayed in order onto a model of the container's filesystem to find
// the bytes that later layers delete or replace.
//
// Sizes are defined as dive defines them, and the tests compare our figures
// with those of the real dive on the same archives. dive is pinned in
// internal/divetool, a module of its own so that dive and its dependencies
// stay out of the product's go.mod and builds; internal/divecheck builds it
// into bin/dive (or takes $LAYERLAB_DIVE) and reads its JSON export. A
// missing dive fails the tests. cmd/sizebench times both on one archive.
package sizes
