package sizes

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestRunsAsRoot(t *testing.T) {
	tests := []struct {
		user string
		root bool
	}{
		{"", true},
		{"root", true},
		{"0", true},
		{"0:0", true},
		{"root:staff", true},
		{"000", true},
		{"1000", false},
		{"1000:0", false},
		{"node", false},
		{"app:app", false},
		{"10", false},
	}
	for _, tt := range tests {
		t.Run("user "+tt.user, func(t *testing.T) {
			if got := runsAsRoot(tt.user); got != tt.root {
				t.Errorf("runsAsRoot(%q) = %v, want %v", tt.user, got, tt.root)
			}
		})
	}
}

func TestCard(t *testing.T) {
	tests := []struct {
		name        string
		cfg         v1.ConfigFile
		annotations map[string]string
		want        Card
	}{
		{
			name: "bare image",
			cfg:  v1.ConfigFile{OS: "linux", Architecture: "amd64"},
			want: Card{
				RunsAsRoot:   true,
				ExposedPorts: []string{},
				EnvNames:     []string{},
				Platform:     "linux/amd64",
			},
		},
		{
			name: "web app",
			cfg: v1.ConfigFile{
				OS: "linux", Architecture: "arm64", Variant: "v8",
				Config: v1.Config{
					User:         "node",
					ExposedPorts: map[string]struct{}{"8080/tcp": {}, "443/tcp": {}},
					Healthcheck: &v1.HealthConfig{
						Test:     []string{"CMD", "node", "healthcheck.js"},
						Interval: 30 * time.Second,
						Timeout:  3 * time.Second,
						Retries:  3,
					},
					Entrypoint: []string{"node"},
					Cmd:        []string{"server.js"},
					WorkingDir: "/app",
					Env: []string{
						"PATH=/usr/local/bin:/usr/bin", "NODE_ENV=production",
						"API_TOKEN=s3cr3t", "PATH=/bin",
					},
					Labels: map[string]string{
						"org.opencontainers.image.base.name":   "docker.io/library/node:22-slim",
						"org.opencontainers.image.base.digest": "sha256:abc",
					},
				},
			},
			want: Card{
				User:         "node",
				ExposedPorts: []string{"443/tcp", "8080/tcp"},
				Healthcheck: &Healthcheck{
					Test:     []string{"CMD", "node", "healthcheck.js"},
					Interval: "30s",
					Timeout:  "3s",
					Retries:  3,
				},
				Entrypoint: []string{"node"},
				Cmd:        []string{"server.js"},
				WorkingDir: "/app",
				EnvNames:   []string{"PATH", "NODE_ENV", "API_TOKEN"},
				BaseImage:  "docker.io/library/node:22-slim",
				BaseDigest: "sha256:abc",
				Platform:   "linux/arm64/v8",
			},
		},
		{
			name: "base image from the manifest",
			cfg:  v1.ConfigFile{Config: v1.Config{User: "65532"}},
			annotations: map[string]string{
				"org.opencontainers.image.base.name":   "cgr.dev/chainguard/static:latest",
				"org.opencontainers.image.base.digest": "sha256:def",
			},
			want: Card{
				User:         "65532",
				ExposedPorts: []string{},
				EnvNames:     []string{},
				BaseImage:    "cgr.dev/chainguard/static:latest",
				BaseDigest:   "sha256:def",
			},
		},
		{
			name: "health check turned off",
			cfg: v1.ConfigFile{Config: v1.Config{
				User:        "0:0",
				Healthcheck: &v1.HealthConfig{Test: []string{"NONE"}},
			}},
			want: Card{
				User:         "0:0",
				RunsAsRoot:   true,
				ExposedPorts: []string{},
				EnvNames:     []string{},
				Healthcheck:  &Healthcheck{Test: []string{"NONE"}, Disabled: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := card(&tt.cfg, tt.annotations)
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(tt.want)
			if string(a) != string(b) {
				t.Errorf("card =\n%s\nwant\n%s", a, b)
			}
			for _, kv := range tt.cfg.Config.Env {
				_, value, _ := strings.Cut(kv, "=")
				if strings.Contains(string(a), value) {
					t.Errorf("card leaks the value of %s: %s", kv, a)
				}
			}
			if !slices.IsSorted(got.ExposedPorts) {
				t.Errorf("ports not sorted: %v", got.ExposedPorts)
			}
		})
	}
}
