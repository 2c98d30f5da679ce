package app_test

import (
	"testing"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/internal/labtest"
)

// A salted build shares cache keys only with builds of the same salt, and
// NoCache reruns every step.
func TestCacheSalt(t *testing.T) {
	runner := labtest.App(t).Runner()
	files := map[string][]byte{"Dockerfile": []byte("FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt\n"), "a.txt": []byte("salt\n")}
	build := func(salt string, noCache bool) domain.BuildState {
		t.Helper()
		b, err := runner.Submit(domain.Spec{Files: files, Options: domain.BuildOptions{CacheSalt: salt, NoCache: noCache}})
		if err != nil {
			t.Fatal(err)
		}
		for {
			_, done, changed := b.Events.After(0)
			if done {
				break
			}
			<-changed
		}
		s := b.State()
		if s.Status != domain.StatusSucceeded {
			t.Fatalf("build with salt %q: %s %+v", salt, s.Status, s.Error)
		}
		return s
	}
	cachedRun := func(s domain.BuildState) bool {
		for _, st := range s.Steps {
			if st.Instruction == "RUN cat /a.txt" {
				return st.Cached
			}
		}
		t.Fatalf("no RUN step in %+v", s.Steps)
		return false
	}

	build("", false)
	tests := []struct {
		name    string
		salt    string
		noCache bool
		cached  bool
	}{
		{"new salt starts cold", "one", false, false},
		{"same salt reuses", "one", false, true},
		{"no-cache reruns", "one", true, false},
		{"another salt starts cold", "two", false, false},
		{"unsalted still reuses its own", "", false, true},
	}
	for _, tt := range tests {
		if got := cachedRun(build(tt.salt, tt.noCache)); got != tt.cached {
			t.Errorf("%s: RUN cached = %v, want %v", tt.name, got, tt.cached)
		}
	}
}
