package handlers

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/layerlab/layerlab/domain"
)

func TestReadTar(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range map[string]string{"Dockerfile": "FROM busybox\n", "src/a.txt": "hello"} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(content))
	}
	_ = tw.Close()
	whole := buf.Bytes()
	limits := domain.DefaultLimits

	tests := []struct {
		name string
		body []byte
		err  string
	}{
		{"whole", whole, ""},
		{"no end blocks", whole[:len(whole)-1024], "cut short"},
		{"cut in padding", whole[:len(whole)-1024-100], "cut short"},
		{"cut in a file", whole[:512+3], "cut short"},
		{"not a tar", []byte(strings.Repeat("x", 600)), "cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := readTar(bytes.NewReader(tt.body), limits)
			if tt.err == "" {
				if err != nil || string(files["src/a.txt"]) != "hello" || len(files) != 2 {
					t.Fatalf("readTar = %v, %v", files, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("readTar error %v, want one with %q", err, tt.err)
			}
		})
	}
}

func TestReadTarCompressed(t *testing.T) {
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	_ = tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: 13, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("FROM busybox\n"))
	_ = tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(plain.Bytes())
	_ = zw.Close()

	tests := []struct {
		name, format string
		body         []byte
	}{
		{"gzip", "gzip", gz.Bytes()},
		{"zstd", "zstd", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, plain.Bytes()...)},
		{"bzip2", "bzip2", append([]byte("BZh91AY&SY"), plain.Bytes()...)},
		{"xz", "xz", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, plain.Bytes()...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readTar(bytes.NewReader(tt.body), domain.DefaultLimits)
			if err == nil || !strings.Contains(err.Error(), tt.format+"-compressed") ||
				!strings.Contains(err.Error(), "plain tar") {
				t.Fatalf("readTar error %v, want one naming %s and asking for a plain tar", err, tt.format)
			}
		})
	}

	// A plain archive whose first name happens to start like bzip2 is read.
	var odd bytes.Buffer
	tw = tar.NewWriter(&odd)
	_ = tw.WriteHeader(&tar.Header{Name: "BZh91AY&SY", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("hi"))
	_ = tw.Close()
	files, err := readTar(bytes.NewReader(odd.Bytes()), domain.DefaultLimits)
	if err != nil || string(files["BZh91AY&SY"]) != "hi" {
		t.Fatalf("readTar = %v, %v", files, err)
	}
}

func TestDuplicateKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, ""},
		{`[]`, ""},
		{`"a"`, ""},
		{`{"a": "a", "b": "a", "c": ["a", "a"]}`, ""},
		{`{"a": {"x": 1}, "b": {"x": 1}, "c": [{"x": 1}, {"x": 2}]}`, ""},
		{`{"a": {}, "b": [], "a": 1}`, `"a"`},
		{`{"a": [1, {"b": [{}, {"c": 1, "c": 2}]}]}`, `a[1].b[1]."c"`},
		{`{"a": 1} {"a": 1, "a": 2}`, ""},
		{strings.Repeat("[", 100000) + strings.Repeat("]", 100000), ""},
	}
	for _, tt := range tests {
		got, err := duplicateKey([]byte(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("duplicateKey(%.40s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDecodeJSONRefusesTrailingValues(t *testing.T) {
	var v struct{ A int }
	for in, want := range map[string]string{
		`{"A": 1}`:          "",
		"{\"A\": 1}\n  ":    "",
		`{"A": 1} {"A": 2}`: "more than one JSON value",
		`{"A": 1} trailing`: "more than one JSON value",
		`{"A": 1, "A": 2}`:  "twice",
	} {
		err := decodeJSON(strings.NewReader(in), &v, "build")
		if (want == "" && err != nil) || (want != "" && (err == nil || !strings.Contains(err.Error(), want))) {
			t.Errorf("decodeJSON(%q) = %v, want %q", in, err, want)
		}
	}
}
