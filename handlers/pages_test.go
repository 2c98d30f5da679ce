package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/handlers"
	"github.com/layerlab/layerlab/static"
)

// noWorker fails every build; the page tests never start one.
type noWorker struct{}

func (noWorker) Build(context.Context, string, domain.Spec, func(domain.Event)) error {
	return &domain.BuildError{Kind: "internal", Message: "no worker in page tests"}
}

func pageServer(t *testing.T) http.Handler {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := domain.NewRunner(noWorker{}, domain.RunnerConfig{}, log)
	t.Cleanup(runner.Close)
	e, _ := handlers.New(handlers.Deps{
		Runner: runner,
		Health: func(context.Context) domain.WorkerHealth { return domain.WorkerHealth{} },
		Log:    log,
	})
	return e
}

func TestPages(t *testing.T) {
	srv := pageServer(t)
	tests := []struct {
		name   string
		path   string
		status int
		// testid is an element the page must have, text its text.
		testid, text string
	}{
		{"home", "/", http.StatusOK, "example-title", "One stage or two"},
		{"lab starter", "/lab", http.StatusOK, "lab-title", "One stage or two"},
		{"lab example", "/lab?example=copy-order", http.StatusOK,
			"lab-title", "COPY order and the cache"},
		{"lab variant", "/lab?example=copy-order&variant=deps-first", http.StatusOK,
			"editor-path", "Dockerfile"},
		{"unknown example", "/lab?example=nope", http.StatusNotFound,
			"not-found-message", `There is no example "nope".`},
		{"unknown variant", "/lab?example=copy-order&variant=nope", http.StatusNotFound,
			"not-found-message", `The example "copy-order" has no variant "nope".`},
		{"compare starter", "/compare", http.StatusOK, "compare-title", "One stage or two"},
		{"compare example", "/compare?example=build-arg", http.StatusOK,
			"compare-title", "Where to declare a build arg"},
		{"compare unknown example", "/compare?example=nope", http.StatusNotFound,
			"not-found-message", `There is no example "nope".`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			h := rec.Header()
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q", ct)
			}
			csp := h.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			doc, err := goquery.NewDocumentFromReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			sel := doc.Find(`[data-testid="` + tt.testid + `"]`).First()
			if got := strings.TrimSpace(sel.Text()); got != tt.text {
				t.Errorf("%s: %q, want %q", tt.testid, got, tt.text)
			}
		})
	}
}

func TestStaticRoutes(t *testing.T) {
	srv := pageServer(t)
	tests := []struct {
		name, method, path string
		status             int
		header, value      string
	}{
		{"hashed asset", http.MethodGet, static.URL("app.css"), http.StatusOK,
			"Cache-Control", "public, max-age=31536000, immutable"},
		{"head of asset", http.MethodHead, static.URL("lab.js"), http.StatusOK,
			"Content-Type", "text/javascript; charset=utf-8"},
		{"unknown asset", http.MethodGet, "/static/nope.css", http.StatusNotFound, "", ""},
		{"favicon", http.MethodGet, "/favicon.ico", http.StatusMovedPermanently,
			"Location", static.URL("icons/favicon.svg")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.header != "" && rec.Header().Get(tt.header) != tt.value {
				t.Errorf("%s %q, want %q", tt.header, rec.Header().Get(tt.header), tt.value)
			}
		})
	}
}
