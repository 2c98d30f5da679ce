package labtest

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"strings"
)

// machineCAs is the bundle of CA certificates this machine trusts.
const machineCAs = "/etc/ssl/certs/ca-certificates.crt"

// CAFile is the context file TrustMachineCAs adds.
const CAFile = "layerlab-test-ca.pem"

var fromNode = regexp.MustCompile(`(?i)^FROM\s+node:`)

// TrustMachineCAs returns the files with npm, in each node stage that runs
// npm ci, trusting the CA certificates this machine trusts. On layerlab's
// machines, TLS to the package registries passes through a proxy that signs
// with a CA of its own; the node image, which knows only the public CAs,
// refuses it with SELF_SIGNED_CERT_IN_CHAIN. The host's own bundle carries
// that CA, so it goes into the context as CAFile and NODE_EXTRA_CA_CERTS
// points at it. Elsewhere the bundle holds the public CAs and changes
// nothing. The cost is two steps per such stage, and the CA file in a
// single-stage image.
func TrustMachineCAs(files map[string]string, dockerfile string) (map[string]string, error) {
	bundle, err := os.ReadFile(machineCAs)
	if err != nil {
		return nil, fmt.Errorf("read the machine's CA bundle (Debian's ca-certificates): %w", err)
	}
	trust := "COPY " + CAFile + " /etc/ssl/certs/" + CAFile + "\n" +
		"ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/" + CAFile

	var stages [][]string
	for _, line := range strings.SplitAfter(files[dockerfile], "\n") {
		if fromNode.MatchString(line) || len(stages) == 0 {
			stages = append(stages, nil)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	var out strings.Builder
	for _, lines := range stages {
		stage := strings.Join(lines, "")
		if fromNode.MatchString(lines[0]) && strings.Contains(stage, "npm ci") {
			stage = lines[0] + trust + "\n" + strings.Join(lines[1:], "")
		}
		out.WriteString(stage)
	}

	adapted := maps.Clone(files)
	adapted[CAFile] = string(bundle)
	adapted[dockerfile] = out.String()
	return adapted, nil
}
