package sandbox

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/distribution/reference"

	spb "github.com/moby/buildkit/sourcepolicy/pb"

	"github.com/layerlab/layerlab/domain"
)

// The worker fetches sources itself, from the server's own network: ADD of
// a URL or a git repository, and base images from their registries. RUN
// steps run in a network of their own; these fetches do not, so a
// Dockerfile could aim them at the server's loopback or its neighbours.
// guardRules refuse the fetches that need no name lookup to get there: URLs
// and git repositories (a RUN step can fetch them instead), and images from
// a registry named by localhost or an IP address.
var guardRules = []*spb.Rule{
	{
		Action:   spb.PolicyAction_DENY,
		Selector: &spb.Selector{Identifier: `^(https?|git)://`, MatchType: spb.MatchType_REGEX},
	},
	{
		Action: spb.PolicyAction_DENY,
		Selector: &spb.Selector{
			Identifier: `(?i)^docker-image://(localhost([:/]|$)|\[|[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+([:/]|$))`,
			MatchType:  spb.MatchType_REGEX,
		},
	},
}

// withGuard returns a policy holding the guard rules and then the given
// policy's rules, if any.
func withGuard(p *spb.Policy) *spb.Policy {
	out := &spb.Policy{Rules: append([]*spb.Rule{}, guardRules...)}
	if p != nil {
		out.Rules = append(out.Rules, p.Rules...)
	}
	return out
}

var deniedSource = regexp.MustCompile(`source "([^"]+)" denied by policy`)

// describeDenied explains a source the guard refused, on the line that names
// it, or returns nil if the message is not about one.
func describeDenied(msg string, p *plan) *domain.BuildError {
	m := deniedSource.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	kind, source, _ := strings.Cut(m[1], "://")
	be := &domain.BuildError{Kind: "dockerfile"}
	switch kind {
	case "docker-image":
		be.Message = fmt.Sprintf("layerlab does not pull %s: its registry is named by localhost or an IP "+
			"address, which the worker would reach from the server's own network; use an image from "+
			"the local mirror (`layerlab images ls`) or a registry named by host name", source)
		if be.Line = p.lineOfBase(source); be.Line == nil {
			// Named by COPY --from or RUN --mount from=, maybe without its tag.
			be.Line = p.lineNaming(strings.TrimSuffix(source, ":latest"))
		}
	default:
		be.Message = fmt.Sprintf("layerlab does not fetch %s: the worker would fetch it from the server's "+
			"own network; download it in a RUN step instead, which has a network of its own", m[1])
		if be.Line = p.lineNaming(m[1]); be.Line == nil {
			// A git source is named otherwise in the Dockerfile.
			be.Line = p.lineNaming("ADD ")
		}
	}
	return be
}

// lookupHost resolves a registry's host name; a variable so that tests can
// answer without a resolver.
var lookupHost = func(ctx context.Context, host string) ([]net.IPAddr, error) {
	return net.DefaultResolver.LookupIPAddr(ctx, host)
}

// checkRegistries refuses a base image whose registry's name resolves to
// an address on the server's own network (loopback, private, link-local),
// which the policy, matching names only, lets through. docker.io is the
// local mirror's. A name that does not resolve is left to the worker,
// whose pull then fails saying so. The worker resolves the name again when
// it pulls; this narrows what a Dockerfile can reach, it does not close a
// name that changes its answer in between.
func checkRegistries(ctx context.Context, p *plan) *domain.BuildError {
	if p == nil {
		return nil
	}
	for i, st := range p.stages {
		if st.Skipped || p.parent[i] >= 0 || st.Base == "scratch" {
			continue
		}
		named, err := reference.ParseNormalizedNamed(st.Base)
		if err != nil {
			continue // the frontend reports a malformed reference
		}
		host := reference.Domain(named)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "docker.io" || net.ParseIP(strings.Trim(host, "[]")) != nil {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		addrs, err := lookupHost(lctx, host)
		cancel()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ip := a.IP; ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() {
				line := st.Line
				return &domain.BuildError{Kind: "dockerfile", Line: &line, Message: fmt.Sprintf(
					"layerlab does not pull %s: its registry's name %s points at %s, on the server's own "+
						"network; use an image from the local mirror (`layerlab images ls`)", st.Base, host, ip)}
			}
		}
	}
	return nil
}
