// Package sizes measures what an image's layers weigh, which bytes it
// carries in vain and how its config sets it up to run. It reads images
// through go-containerregistry, so it works on whatever the sandbox exports
// (an OCI layout, a docker archive) without BuildKit or a Docker engine.
//
// Each layer is read once as a stream: tar headers are kept, file contents
// are skipped, nothing is extracted to disk. Layers are read in parallel,
// then replayed in order onto a model of the container's filesystem to find
// the bytes that later layers delete or replace.
package sizes
