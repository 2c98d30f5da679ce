package handlers

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/layerlab/layerlab/domain"
)

// buildRequest is the JSON form of POST /api/builds.
type buildRequest struct {
	Files      map[string]string `json:"files"`
	Dockerfile string            `json:"dockerfile"`
	Target     string            `json:"target"`
	BuildArgs  map[string]string `json:"buildArgs"`
}

func (req buildRequest) spec() domain.Spec {
	files := make(map[string][]byte, len(req.Files))
	for name, text := range req.Files {
		files[name] = []byte(text)
	}
	return domain.Spec{Files: files, Dockerfile: req.Dockerfile, Target: req.Target, BuildArgs: req.BuildArgs}
}

type buildCreated struct {
	ID     string `json:"id"`
	Events string `json:"events"`
	URL    string `json:"url"`
}

func (s *Server) buildCreate(c echo.Context) error {
	spec, err := s.readSpec(c.Request())
	if err != nil {
		return err
	}

	b, err := s.Runner.Submit(spec)
	if err != nil {
		return err
	}

	url := "/api/builds/" + b.ID
	return c.JSON(http.StatusAccepted, buildCreated{ID: b.ID, Events: url + "/events", URL: url})
}

func (s *Server) buildGet(c echo.Context) error {
	b, ok := s.Runner.Get(c.Param("id"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no build with that id")
	}
	return c.JSON(http.StatusOK, b.State())
}

// buildCancel stops a waiting or running build. A build that has ended is
// left as it is and its final status is the answer.
func (s *Server) buildCancel(c echo.Context) error {
	b, ok := s.Runner.Get(c.Param("id"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no build with that id")
	}
	if st := b.State().Status; st == domain.StatusSucceeded || st == domain.StatusFailed {
		return c.JSON(http.StatusOK, map[string]string{"id": b.ID, "status": string(st)})
	}
	if !s.Runner.Cancel(b.ID) {
		return echo.NewHTTPError(http.StatusNotFound, "no build with that id")
	}
	return c.JSON(http.StatusAccepted, map[string]string{"id": b.ID, "status": "cancelling"})
}

// readSpec decodes either request form of POST /api/builds, reading no more
// than the context limit allows.
func (s *Server) readSpec(r *http.Request) (domain.Spec, error) {
	limits := s.Runner.Limits()
	// Room for JSON escaping and tar headers on top of the content limit.
	body := http.MaxBytesReader(nil, r.Body, 2*limits.MaxContextBytes+1<<20)

	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "application/json", "":
		var req buildRequest
		if err := decodeJSON(body, &req, "a build request"); err != nil {
			return domain.Spec{}, err
		}
		return req.spec(), nil

	case "application/x-tar":
		spec, err := tarQuery(r.URL.RawQuery)
		if err != nil {
			return domain.Spec{}, err
		}
		if spec.Files, err = readTar(body, limits); err != nil {
			return domain.Spec{}, err
		}
		return spec, nil
	}
	return domain.Spec{}, echo.NewHTTPError(http.StatusUnsupportedMediaType,
		"send application/json or application/x-tar")
}

// bodyError describes a request body that could not be read as what.
func bodyError(err error, what string) error {
	if tooBig := tooLarge(err); tooBig != nil {
		return tooBig
	}
	return &domain.InputError{Message: fmt.Sprintf("the request body cannot be read as %s: %v", what, err)}
}

// tooLarge turns a body over its limit into a 413 naming the limit, and
// returns nil for any other error.
func tooLarge(err error) error {
	var tooBig *http.MaxBytesError
	if !errors.As(err, &tooBig) {
		return nil
	}
	return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf(
		"the request body is over the %s limit for this request", domain.FormatBytes(tooBig.Limit))).
		SetInternal(err)
}

// tarQuery reads the query parameters of a tar upload, refusing what it does
// not know as the JSON form refuses unknown fields.
func tarQuery(raw string) (domain.Spec, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return domain.Spec{}, &domain.InputError{Message: "the query string cannot be read: " + err.Error()}
	}
	spec := domain.Spec{BuildArgs: map[string]string{}}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		values := q[name]
		switch name {
		case "dockerfile", "target":
			if len(values) > 1 {
				return domain.Spec{}, &domain.InputError{Message: fmt.Sprintf(
					"query parameter %q is given %d times", name, len(values))}
			}
			if name == "dockerfile" {
				spec.Dockerfile = values[0]
			} else {
				spec.Target = values[0]
			}
		case "build-arg":
			for _, kv := range values {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return domain.Spec{}, &domain.InputError{Message: fmt.Sprintf(
						"query parameter build-arg %q is not NAME=VALUE", kv)}
				}
				if _, dup := spec.BuildArgs[k]; dup {
					return domain.Spec{}, &domain.InputError{Message: fmt.Sprintf(
						"query parameter build-arg %q sets %s a second time", kv, k)}
				}
				spec.BuildArgs[k] = v
			}
		default:
			return domain.Spec{}, &domain.InputError{Message: fmt.Sprintf(
				"unknown query parameter %q; a tar upload takes dockerfile, target and build-arg", name)}
		}
	}
	return spec, nil
}

// readTar reads a context archive: regular files only, each within the
// limits. Directories are implied by file paths; anything else is refused.
func readTar(r io.Reader, limits domain.Limits) (map[string][]byte, error) {
	files := map[string][]byte{}
	br := bufio.NewReader(r)
	// A read error here comes back to the tar reader below.
	head, _ := br.Peek(512)
	if format := compression(head); format != "" {
		return nil, &domain.InputError{Message: fmt.Sprintf("the context archive is %s-compressed; "+
			"compressed archives are not accepted: send a plain tar (tar -cf, without z, --zstd, J or j)", format)}
	}
	cr := &countingReader{r: br}
	tr := tar.NewReader(cr)
	var entryEnd int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// A whole archive ends with two zero blocks; Go's reader also
			// stops quietly at an archive cut off between two entries.
			if cr.n-entryEnd < 1024 && len(files) > 0 {
				return nil, &domain.InputError{Message: "the context archive is cut short: it lacks the end-of-archive blocks"}
			}
			break
		}
		if err != nil {
			if tooBig := tooLarge(err); tooBig != nil {
				return nil, tooBig
			}
			return nil, &domain.InputError{Message: "the context archive cannot be read: " + err.Error()}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return nil, &domain.InputError{Message: fmt.Sprintf(
				"%q in the context archive is not a regular file; only files and folders are taken", hdr.Name)}
		}
		name, err := domain.CleanPath(strings.TrimPrefix(hdr.Name, "./"))
		if err != nil {
			return nil, err
		}
		if hdr.Size > limits.MaxFileBytes {
			return nil, &domain.InputError{Message: fmt.Sprintf("file %q is %d bytes; the limit is %s a file",
				name, hdr.Size, domain.FormatBytes(limits.MaxFileBytes))}
		}
		if len(files) >= limits.MaxFiles {
			return nil, &domain.InputError{Message: fmt.Sprintf("the context has more than %d files", limits.MaxFiles)}
		}
		if _, dup := files[name]; dup {
			return nil, &domain.InputError{Message: fmt.Sprintf("file %q is in the context archive twice", name)}
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			if tooBig := tooLarge(err); tooBig != nil {
				return nil, tooBig
			}
			return nil, &domain.InputError{Message: fmt.Sprintf("file %q in the context archive is cut short: %v", name, err)}
		}
		files[name] = data
		entryEnd = cr.n + (512-int64(len(data))%512)%512
	}
	return files, nil
}

// compressedFormats are the magic numbers of the compressors people wrap
// tar archives in.
var compressedFormats = []struct {
	name  string
	magic []byte
}{
	{"gzip", []byte{0x1f, 0x8b}},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{"bzip2", []byte("BZh")}, // then the block size, '1' to '9'
}

// compression names the compressor whose magic number head starts with, or
// returns "" when there is none or head is a tar header (a file name may
// start with anything bzip2's magic is made of).
func compression(head []byte) string {
	if len(head) >= 262 && string(head[257:262]) == "ustar" {
		return ""
	}
	for _, f := range compressedFormats {
		if !bytes.HasPrefix(head, f.magic) {
			continue
		}
		if f.name == "bzip2" && (len(head) < 4 || head[3] < '1' || head[3] > '9') {
			continue
		}
		return f.name
	}
	return ""
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
