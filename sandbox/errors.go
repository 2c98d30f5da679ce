package sandbox

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/util/grpcerrors"
	"google.golang.org/grpc/codes"

	"github.com/layerlab/layerlab/domain"
)

var errWorkerStopped = errors.New("the BuildKit worker stopped during the build; " +
	"layerlab is restarting it, so try the build again in a moment")

var (
	grpcPrefix    = regexp.MustCompile(`^rpc error: code = \w+ desc = `)
	checksumRef   = regexp.MustCompile(`failed to calculate checksum of ref [^ ]+: "([^"]+)": not found`)
	missingSource = regexp.MustCompile(`failed to resolve source metadata for ([^\s:]+(?::[^\s:@]+)?(?:@\S+)?):`)
)

// cleanError strips the wrappers BuildKit and gRPC put around a message.
func cleanError(msg string) string {
	msg = grpcPrefix.ReplaceAllString(msg, "")
	for _, p := range []string{"failed to solve: ", "failed to compute cache key: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	// BuildKit names a missing COPY source by its internal cache refs.
	msg = checksumRef.ReplaceAllString(msg, `"$1" is not in the build context`)
	if strings.Contains(msg, "security.insecure is not allowed") {
		msg = "RUN --security=insecure is not allowed: RUN steps run in the worker's sandbox"
	}
	if strings.Contains(msg, "network.host is not allowed") {
		msg = "RUN --network=host is not allowed: RUN steps get a network of their own, never the host's"
	}
	if msg == "file with no instructions" {
		msg = "the Dockerfile has no instructions, only blank lines or comments"
	}
	return msg
}

// describeFailure turns a failed solve into words for the person who wrote
// the Dockerfile, pointing at the line where BuildKit gives one.
func describeFailure(err error, tr *translator) error {
	if code := grpcerrors.Code(err); code == codes.Unavailable {
		return &domain.BuildError{Kind: "worker", Message: "the BuildKit worker cannot be reached: " + cleanError(err.Error())}
	}
	be := &domain.BuildError{Kind: "dockerfile", Message: cleanError(err.Error()), Line: sourceLine(err)}
	if denied := describeDenied(be.Message, tr.plan); denied != nil {
		if denied.Line == nil {
			denied.Line = be.Line
		}
		return denied
	}

	if m := missingSource.FindStringSubmatch(be.Message); m != nil {
		be.Kind = "image"
		cause := be.Message[strings.LastIndex(be.Message, ": ")+2:]
		be.Message = fmt.Sprintf("base image %s is not in layerlab's image mirror, and its registry did "+
			"not provide it (%s): the registry may be out of this server's reach, or the image may not "+
			"exist; add it with `layerlab images import`", m[1], cause)
		if hint := tr.plan.stageMeant(m[1]); hint != nil {
			be.Kind, be.Line = "dockerfile", hint.line
			be.Message = hint.text + ", so it was taken as an image: " + be.Message
		} else if be.Line == nil {
			be.Line = tr.plan.lineOfBase(m[1])
		}
		return be
	}
	if be.Line == nil {
		be.Line = lineOfRefusal(be.Message, tr.plan)
	}
	if step := tr.failedStep(be.Message); step != nil && !step.Internal {
		be.Kind = "step"
		be.StepID = step.ID
		// BuildKit's range may hold only the instruction's first line.
		if be.Line == nil || (step.Line != nil && step.Line.Start == be.Line.Start) {
			be.Line = step.Line
		}
		where := ""
		if be.Line != nil {
			where = fmt.Sprintf(" (line %d)", be.Line.Start)
		}
		be.Message = fmt.Sprintf("%s%s failed: %s", step.Instruction, where, be.Message)
	}
	return be
}

// sourceLine returns the Dockerfile lines an error points at, if any.
func sourceLine(err error) *domain.LineRange {
	for _, src := range errdefs.Sources(err) {
		for _, r := range src.Ranges {
			if r.Start.Line > 0 {
				return &domain.LineRange{Start: int(r.Start.Line), End: int(max(r.End.Line, r.Start.Line))}
			}
		}
	}
	return nil
}

// cleanErr is cleanError for an error value.
func cleanErr(err error) error { return errors.New(cleanError(err.Error())) }

var stageIndex = regexp.MustCompile(`invalid stage index (\d+)`)

// lineOfRefusal finds the line of an instruction the frontend refused
// without naming its line.
func lineOfRefusal(msg string, p *plan) *domain.LineRange {
	if m := stageIndex.FindStringSubmatch(msg); m != nil {
		return p.lineNaming("--from=" + m[1])
	}
	if strings.HasPrefix(msg, "RUN --network=host is not allowed") {
		return p.lineNaming("--network=host")
	}
	if strings.HasPrefix(msg, "RUN --security=insecure is not allowed") {
		return p.lineNaming("--security=insecure")
	}
	return nil
}
