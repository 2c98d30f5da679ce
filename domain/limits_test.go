package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "a.txt", want: "a.txt"},
		{in: "./src//main.go", want: "src/main.go"},
		{in: "src/", err: "names a folder"},
		{in: "", err: "empty name"},
		{in: "../x", err: "has a .. segment"},
		{in: "a/../../x", err: "has a .. segment"},
		{in: "a/..", err: "has a .. segment"},
		{in: "/etc/passwd", err: "is absolute"},
		{in: "a\x00b", err: "NUL"},
		{in: "a\nb", err: "control character"},
		{in: `a\b`, err: "backslash"},
		{in: ".", err: "names the context itself"},
		{in: "\xff", err: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CleanPath(tt.in)
			if tt.err != "" {
				var ie *InputError
				if !errors.As(err, &ie) || !strings.Contains(ie.Message, tt.err) {
					t.Fatalf("CleanPath(%q) = %q, %v; want an input error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CleanPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	limits := Limits{MaxFileBytes: 10, MaxContextBytes: 25, MaxFiles: 3, MaxDockerfileBytes: 8}
	df := []byte("FROM a\n")
	tests := []struct {
		name string
		spec Spec
		err  string
	}{
		{"fine", Spec{Files: map[string][]byte{"Dockerfile": df, "./x": []byte("1")}}, ""},
		{"dockerfile elsewhere", Spec{Files: map[string][]byte{"d/Dockerfile": df}, Dockerfile: "d/Dockerfile"}, ""},
		{"missing dockerfile", Spec{Files: map[string][]byte{"x": df}}, `no file "Dockerfile"`},
		{"empty dockerfile", Spec{Files: map[string][]byte{"Dockerfile": []byte(" \n")}}, "is empty"},
		{"big dockerfile", Spec{Files: map[string][]byte{"Dockerfile": []byte("FROM abc\n")}}, "the Dockerfile is 9 bytes"},
		{"big file", Spec{Files: map[string][]byte{"Dockerfile": df, "b": make([]byte, 11)}}, `file "b" is 11 bytes; the limit is 10 B`},
		{"big context", Spec{Files: map[string][]byte{"Dockerfile": df, "b": make([]byte, 10), "c": make([]byte, 10)}}, "over the limit of 25 B"},
		{"many files", Spec{Files: map[string][]byte{"Dockerfile": df, "a": nil, "b": nil, "c": nil}}, "has 4 files"},
		{"same file twice", Spec{Files: map[string][]byte{"Dockerfile": df, "a": nil, "./a": nil}}, "given twice"},
		{"file as folder", Spec{Files: map[string][]byte{"d": nil, "d/Dockerfile": df}, Dockerfile: "d/Dockerfile"}, "cannot be inside it"},
		{"file and folder", Spec{Files: map[string][]byte{"Dockerfile": df, "a": nil, "a/b/c": nil}}, `"a" is a file, so "a/b/c"`},
		{"bad arg", Spec{Files: map[string][]byte{"Dockerfile": df}, BuildArgs: map[string]string{"A B": ""}}, "build arg name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := limits.Validate(tt.spec)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, ok := got.Files[got.Dockerfile]; !ok {
					t.Fatalf("validated spec lost its Dockerfile %q", got.Dockerfile)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Validate error %v, want one with %q", err, tt.err)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 16 << 20: "16 MiB"} {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}
