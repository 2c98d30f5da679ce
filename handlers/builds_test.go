package handlers

import (
	"archive/tar"
	"bytes"
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
