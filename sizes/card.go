package sizes

import (
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The OCI annotation keys for the base image. Builders such as ko and crane
// set them on the manifest, some set them as labels; BuildKit sets neither.
const (
	annotationBaseName   = "org.opencontainers.image.base.name"
	annotationBaseDigest = "org.opencontainers.image.base.digest"
)

// card reads the report card from the image config, and the base image also
// from the manifest's annotations when the config has no such labels.
func card(cfg *v1.ConfigFile, annotations map[string]string) Card {
	c := cfg.Config
	base := func(key string) string {
		if v := c.Labels[key]; v != "" {
			return v
		}
		return annotations[key]
	}
	return Card{
		User:         c.User,
		RunsAsRoot:   runsAsRoot(c.User),
		ExposedPorts: sortedKeys(c.ExposedPorts),
		Healthcheck:  healthcheck(c.Healthcheck),
		Entrypoint:   c.Entrypoint,
		Cmd:          c.Cmd,
		WorkingDir:   c.WorkingDir,
		EnvNames:     envNames(c.Env),
		BaseImage:    base(annotationBaseName),
		BaseDigest:   base(annotationBaseDigest),
		Platform:     platform(cfg),
	}
}

// runsAsRoot reports whether a USER value leaves the process as root: unset,
// or uid 0 by number or name, whatever the group.
func runsAsRoot(user string) bool {
	u, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	if u == "" || u == "root" {
		return true
	}
	return strings.Trim(u, "0") == ""
}

func sortedKeys(m map[string]struct{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func healthcheck(h *v1.HealthConfig) *Healthcheck {
	if h == nil {
		return nil
	}
	out := &Healthcheck{
		Test:     h.Test,
		Disabled: len(h.Test) > 0 && h.Test[0] == "NONE",
		Retries:  h.Retries,
	}
	if h.Interval > 0 {
		out.Interval = h.Interval.String()
	}
	if h.Timeout > 0 {
		out.Timeout = h.Timeout.String()
	}
	if h.StartPeriod > 0 {
		out.StartPeriod = h.StartPeriod.String()
	}
	return out
}

// envNames keeps the names of KEY=value pairs, each once.
func envNames(env []string) []string {
	names := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

func platform(cfg *v1.ConfigFile) string {
	if cfg.OS == "" && cfg.Architecture == "" {
		return ""
	}
	p := cfg.OS + "/" + cfg.Architecture
	if cfg.Variant != "" {
		p += "/" + cfg.Variant
	}
	return p
}
