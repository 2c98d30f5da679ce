package static_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"testing/fstest"

	"github.com/layerlab/layerlab/static"
)

func TestURL(t *testing.T) {
	a, err := static.Load(fstest.MapFS{
		"app.css":       {Data: []byte("body{}")},
		"icons/one.svg": {Data: []byte("<svg/>")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string
	}{
		{"app.css", `^/static/app\.[0-9a-f]{10}\.css$`},
		{"icons/one.svg", `^/static/icons/one\.[0-9a-f]{10}\.svg$`},
	}
	for _, tt := range tests {
		if got := a.URL(tt.name); !regexp.MustCompile(tt.want).MatchString(got) {
			t.Errorf("URL(%q) = %q, want a match of %s", tt.name, got, tt.want)
		}
	}

	b, _ := static.Load(fstest.MapFS{"app.css": {Data: []byte("body{color:red}")}})
	if a.URL("app.css") == b.URL("app.css") {
		t.Error("two contents got the same URL")
	}
}

func TestServe(t *testing.T) {
	a := static.Builtin()
	hashed := a.URL("lab.js")
	tests := []struct {
		name, path, ifNoneMatch string
		status                  int
		contentType, cache      string
	}{
		{"hashed script", hashed, "", http.StatusOK,
			"text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"hashed stylesheet", a.URL("app.css"), "", http.StatusOK,
			"text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"hashed icon", a.URL("icons/favicon.svg"), "", http.StatusOK,
			"image/svg+xml", "public, max-age=31536000, immutable"},
		{"plain name", "/static/lab.js", "", http.StatusOK,
			"text/javascript; charset=utf-8", "no-cache"},
		{"revalidation", hashed, `"` + hashed[len(static.Prefix):] + `"`,
			http.StatusNotModified, "", ""},
		{"stale hash", "/static/lab.0000000000.js", "", http.StatusNotFound, "", ""},
		{"unknown", "/static/nope.js", "", http.StatusNotFound, "", ""},
		{"folder", "/static/icons", "", http.StatusNotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", tt.ifNoneMatch)
			}
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != http.StatusOK {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if rec.Body.Len() == 0 {
				t.Error("empty body")
			}
		})
	}
}

func TestURLPanicsOnUnknownName(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("URL of an unknown asset did not panic")
		}
	}()
	static.URL("missing.css")
}
