package mirror

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Ref names one image of the mirror: a docker.io repository and a tag. The
// mirror stands in for docker.io only, so other registries have no place in it.
type Ref struct {
	Repository string // as docker.io spells it, with library/ for official images
	Tag        string
}

// ParseRef reads a name as `docker pull` would ("busybox", "debian:bookworm-slim",
// "docker.io/library/node:22"); a missing tag means latest.
func ParseRef(s string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("empty image name")
	}
	if strings.Contains(s, "@") {
		return Ref{}, fmt.Errorf("image name %q: the mirror stores tags, not digests", s)
	}
	t, err := name.NewTag(s)
	if err != nil {
		return Ref{}, fmt.Errorf("image name %q: %w", s, err)
	}
	if reg := t.RegistryStr(); reg != name.DefaultRegistry && reg != "docker.io" {
		return Ref{}, fmt.Errorf("image name %q: the mirror serves docker.io names only, not %s",
			s, reg)
	}
	return Ref{Repository: t.RepositoryStr(), Tag: t.TagStr()}, nil
}

// String is the short name people type: "busybox:1.35.0", "someone/app:1".
func (r Ref) String() string {
	if r.Repository == "" {
		return ""
	}
	return r.Name() + ":" + r.Tag
}

// Name is the repository without docker.io's library/ prefix.
func (r Ref) Name() string { return strings.TrimPrefix(r.Repository, "library/") }

// Full is the reference with registry, as containerd records image names.
func (r Ref) Full() string { return "docker.io/" + r.Repository + ":" + r.Tag }
