package sandbox

import (
	"fmt"

	"github.com/distribution/reference"
	spb "github.com/moby/buildkit/sourcepolicy/pb"

	"github.com/layerlab/layerlab/domain"
)

// saltPolicy returns a source policy that swaps every base image of the
// Dockerfile for a salted copy, or nil when the build has no salt. A base
// that cannot be salted is left as it is, and a warning says that this
// build may reuse results other builds left on the worker.
func (w *Worker) saltPolicy(p *plan, spec domain.Spec, emit func(domain.Event)) *spb.Policy {
	if spec.Options.CacheSalt == "" || p == nil {
		return nil
	}
	policy := &spb.Policy{}
	seen := map[string]bool{}
	for i, st := range p.stages {
		if p.parent[i] >= 0 || st.Base == "scratch" || st.Skipped || seen[st.Base] {
			continue
		}
		seen[st.Base] = true
		salted, err := w.saltBase(st.Base, spec.Options.CacheSalt)
		if err != nil {
			emit(domain.Event{Type: domain.EventWarning, Warning: &domain.Warning{
				Rule: "layerlab",
				Message: fmt.Sprintf("%s cannot get a base image of its own (%v), so this measured "+
					"build may reuse results that other builds left on the worker", st.Base, err),
				Line: &p.stages[i].Line,
			}})
			continue
		}
		from, _ := normalize(st.Base)
		policy.Rules = append(policy.Rules, &spb.Rule{
			Action:   spb.PolicyAction_CONVERT,
			Selector: &spb.Selector{Identifier: "docker-image://" + from},
			Updates:  &spb.Update{Identifier: "docker-image://" + salted},
		})
	}
	if len(policy.Rules) == 0 {
		return nil
	}
	return policy
}

func (w *Worker) saltBase(base, salt string) (string, error) {
	if w.salter == nil {
		return "", fmt.Errorf("no image mirror")
	}
	ref, err := normalize(base)
	if err != nil {
		return "", err
	}
	return w.salter.SaltBase(ref, salt)
}

// normalize spells an image reference the way BuildKit does:
// docker.io/library/busybox:latest.
func normalize(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	return reference.TagNameOnly(named).String(), nil
}
