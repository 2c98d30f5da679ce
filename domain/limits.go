package domain

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode/utf8"
)

// Limits bound what one build may bring. Zero fields mean the defaults.
type Limits struct {
	MaxFileBytes       int64
	MaxContextBytes    int64
	MaxFiles           int
	MaxDockerfileBytes int64
}

// DefaultLimits are sane for a shared playground: room for real example apps,
// no room for a disk-filling upload.
var DefaultLimits = Limits{
	MaxFileBytes:       1 << 20,
	MaxContextBytes:    16 << 20,
	MaxFiles:           500,
	MaxDockerfileBytes: 64 << 10,
}

// OrDefaults fills zero fields from DefaultLimits.
func (l Limits) OrDefaults() Limits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultLimits.MaxFileBytes
	}
	if l.MaxContextBytes <= 0 {
		l.MaxContextBytes = DefaultLimits.MaxContextBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	if l.MaxDockerfileBytes <= 0 {
		l.MaxDockerfileBytes = DefaultLimits.MaxDockerfileBytes
	}
	return l
}

// InputError is a request the playground refuses before building: the message
// says what to fix.
type InputError struct {
	Message string
}

func (e *InputError) Error() string { return e.Message }

func inputErrorf(format string, args ...any) error {
	return &InputError{Message: fmt.Sprintf(format, args...)}
}

// CleanPath checks one context path and returns it in canonical form
// (slash-separated, relative, no dot segments). Paths that would leave the
// context, absolute paths and names with NUL or control bytes are refused.
func CleanPath(p string) (string, error) {
	switch {
	case p == "":
		return "", inputErrorf("a file has an empty name")
	case !utf8.ValidString(p):
		return "", inputErrorf("file name %q is not valid UTF-8", p)
	case strings.ContainsRune(p, 0):
		return "", inputErrorf("file name %q contains a NUL byte", p)
	case strings.ContainsAny(p, "\\"):
		return "", inputErrorf("file name %q contains a backslash; use / between folders", p)
	case strings.HasSuffix(p, "/"):
		return "", inputErrorf("file name %q ends with /; it names a folder, not a file", p)
	case strings.HasPrefix(p, "/"):
		return "", inputErrorf("file name %q is absolute; context paths are relative", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", inputErrorf("file name %q contains a control character", p)
		}
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", inputErrorf("file name %q has a .. segment; context paths stay inside the "+
				"build context and name no parent folder", p)
		}
	}
	clean := path.Clean(p)
	if clean == "." {
		return "", inputErrorf("file name %q names the context itself, not a file", p)
	}
	if len(clean) > 255 {
		return "", inputErrorf("file name %q is longer than 255 bytes", clean[:40]+"...")
	}
	return clean, nil
}

// Validate checks a spec against the limits and returns it with clean paths.
// The returned error is an *InputError that names the offending file.
func (l Limits) Validate(spec Spec) (Spec, error) {
	l = l.OrDefaults()
	if spec.Dockerfile == "" {
		spec.Dockerfile = "Dockerfile"
	}
	dockerfile, err := CleanPath(spec.Dockerfile)
	if err != nil {
		return Spec{}, err
	}
	if len(spec.Files) > l.MaxFiles {
		return Spec{}, inputErrorf("the context has %d files; the limit is %d", len(spec.Files), l.MaxFiles)
	}

	files := make(map[string][]byte, len(spec.Files))
	var total int64
	for _, name := range sortedKeys(spec.Files) {
		data := spec.Files[name]
		clean, err := CleanPath(name)
		if err != nil {
			return Spec{}, err
		}
		if _, dup := files[clean]; dup {
			return Spec{}, inputErrorf("file %q is given twice", clean)
		}
		if int64(len(data)) > l.MaxFileBytes {
			return Spec{}, inputErrorf("file %q is %d bytes; the limit is %s a file",
				clean, len(data), FormatBytes(l.MaxFileBytes))
		}
		total += int64(len(data))
		if total > l.MaxContextBytes {
			return Spec{}, inputErrorf("the context is over the limit of %s",
				FormatBytes(l.MaxContextBytes))
		}
		files[clean] = data
	}
	for _, name := range append(sortedKeys(files), dockerfile) {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if _, ok := files[dir]; ok {
				return Spec{}, inputErrorf("%q is a file, so %q cannot be inside it", dir, name)
			}
		}
	}

	df, ok := files[dockerfile]
	switch {
	case !ok:
		return Spec{}, inputErrorf("the context has no file %q to use as the Dockerfile", dockerfile)
	case int64(len(df)) > l.MaxDockerfileBytes:
		return Spec{}, inputErrorf("the Dockerfile is %d bytes; the limit is %s",
			len(df), FormatBytes(l.MaxDockerfileBytes))
	case strings.TrimSpace(string(df)) == "":
		return Spec{}, inputErrorf("the Dockerfile %q is empty", dockerfile)
	}
	for k := range spec.BuildArgs {
		if k == "" || strings.ContainsAny(k, "= \t\n\x00") {
			return Spec{}, inputErrorf("build arg name %q is not valid", k)
		}
	}
	spec.Files = files
	spec.Dockerfile = dockerfile
	return spec, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FormatBytes writes a byte count the way people read it: 1.5 MiB, 512 B.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + string("KMGTPE"[exp]) + "iB"
}
