package mirror

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// hostPackage returns the installed version of a Debian package of this
// machine, or an error that names the package to install.
func hostPackage(ctx context.Context, pkg string) (string, error) {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${db:Status-Status} ${Version}",
		pkg).Output()
	status, version, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if err != nil || status != "installed" || version == "" {
		return "", fmt.Errorf("Debian's %s package is not installed on this machine "+
			"(apt-get install %s)", pkg, pkg)
	}
	return version, nil
}

// upstreamVersion strips a Debian version down to the upstream one:
// "1:1.35.0-4+deb12u1+b1" becomes "1.35.0".
func upstreamVersion(v string) string {
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	if i := strings.LastIndex(v, "-"); i > 0 {
		v = v[:i]
	}
	return v
}

// run runs a command, sending its output to the log at debug level, and on
// failure returns an error carrying the output's last lines.
func run(ctx context.Context, env *Env, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive",
		"PATH="+defaultPath)
	err := cmd.Run()
	env.Log.Debug("command finished", "command", name, "args", strings.Join(args, " "),
		"output", out.String())
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, lastLines(out.String(), 5))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// aptSource is one "deb" source of this machine's apt configuration.
type aptSource struct {
	uri        string
	suites     []string
	components []string
}

// debianMirror returns the URI this machine's apt uses for suite's main
// component, read from /etc/apt/sources.list and sources.list.d, in both
// the one-line and the deb822 format. Seeding uses the same mirror as apt
// does, so it works wherever apt-get works.
func debianMirror(suite string) (string, error) {
	return debianMirrorIn("/etc/apt", suite)
}

func debianMirrorIn(aptDir, suite string) (string, error) {
	var sources []aptSource
	files := []string{filepath.Join(aptDir, "sources.list")}
	more, _ := filepath.Glob(filepath.Join(aptDir, "sources.list.d", "*"))
	slices.Sort(more)
	files = append(files, more...)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(f, ".list"):
			sources = append(sources, parseOneLineSources(raw)...)
		case strings.HasSuffix(f, ".sources"):
			sources = append(sources, parseDeb822Sources(raw)...)
		}
	}
	for _, s := range sources {
		if slices.Contains(s.suites, suite) && slices.Contains(s.components, "main") {
			return strings.TrimSuffix(s.uri, "/"), nil
		}
	}
	return "", fmt.Errorf("no apt source for Debian %s main in %s/sources.list or %s/sources.list.d",
		suite, aptDir, aptDir)
}

func parseOneLineSources(raw []byte) []aptSource {
	var out []aptSource
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // options such as [arch=amd64 signed-by=...]
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, aptSource{uri: f[0], suites: []string{f[1]}, components: f[2:]})
	}
	return out
}

func parseDeb822Sources(raw []byte) []aptSource {
	var out []aptSource
	for _, stanza := range strings.Split(string(raw), "\n\n") {
		fields := map[string]string{}
		var last string
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			if line[0] == ' ' || line[0] == '\t' { // continuation of the last field
				fields[last] += " " + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
		if !slices.Contains(strings.Fields(fields["types"]), "deb") || fields["enabled"] == "no" {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			out = append(out, aptSource{
				uri:        uri,
				suites:     strings.Fields(fields["suites"]),
				components: strings.Fields(fields["components"]),
			})
		}
	}
	return out
}
