// Command layerlab-bench measures what layerlab adds to a build: the same
// Dockerfile built through layerlab's API and through buildctl against the
// same buildkitd, cold and fully cached, alternating in one run. `make bench`
// runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/layerlab/layerlab/domain"
	"github.com/layerlab/layerlab/examples"
	"github.com/layerlab/layerlab/internal/labtest"
)

const dockerfile = `FROM busybox AS build
ARG NONCE
WORKDIR /src
COPY . .
RUN echo "$NONCE" > /nonce && for i in $(seq 1 300); do echo "$i" > "/tmp/f$i"; done && sleep 1
RUN sh main.sh > /out.txt
FROM busybox
COPY --from=build /out.txt /out.txt
`

func main() {
	rounds := flag.Int("rounds", 5, "cold and warm builds per side")
	only := flag.String("only", "", "run one part: builds, scenario or measure")
	flag.Parse()
	if err := run(context.Background(), *rounds, *only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type sample struct{ cold, warm, firstEvent []time.Duration }

func run(ctx context.Context, rounds int, only string) error {
	buildctl := os.Getenv("LAYERLAB_BUILDCTL")
	if buildctl == "" {
		buildctl = "bin/buildctl"
	}
	if _, err := exec.LookPath(buildctl); err != nil {
		return fmt.Errorf("find buildctl (make build): %w", err)
	}
	data, err := os.MkdirTemp("", "layerlab-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	a, err := labtest.Start(ctx, data, labtest.Options{Images: []string{"busybox"}})
	if err != nil {
		return err
	}
	defer a.Close(ctx)
	client := &labtest.Client{Base: a.URL()}
	files := map[string]string{"Dockerfile": dockerfile, "main.sh": "echo built\n"}
	dir := filepath.Join(data, "buildctl-context")
	if err := writeFiles(dir, files); err != nil {
		return err
	}
	addr := "unix://" + filepath.Join(data, "buildkit", "buildkitd.sock")

	if only == "scenario" {
		return benchScenario(ctx, client, buildctl, addr, dir, files, rounds)
	}
	if only == "measure" {
		return benchMeasure(ctx, data, rounds)
	}
	var lab, ctl sample
	for i := range rounds + 1 {
		for _, side := range []string{"layerlab", "buildctl"} {
			nonce := fmt.Sprintf("%s-%d-%d", side, i, time.Now().UnixNano())
			for _, warm := range []bool{false, true} {
				var d, first time.Duration
				var err error
				if side == "layerlab" {
					d, first, err = viaAPI(client, files, nonce)
				} else {
					d, err = viaBuildctl(ctx, buildctl, addr, dir, nonce, false)
				}
				if err != nil {
					return fmt.Errorf("%s build: %w", side, err)
				}
				if i == 0 {
					continue // the first round pulls the base image and warms both sides
				}
				s := &ctl
				if side == "layerlab" {
					s = &lab
					if !warm {
						lab.firstEvent = append(lab.firstEvent, first)
					}
				}
				if warm {
					s.warm = append(s.warm, d)
				} else {
					s.cold = append(s.cold, d)
				}
			}
		}
	}

	fmt.Printf("builds of the same Dockerfile on one buildkitd, %d rounds, alternating, medians:\n", rounds)
	fmt.Printf("  cold:  layerlab %8s  buildctl %8s  ratio %.3f  (target <= 1.05)\n",
		ms(median(lab.cold)), ms(median(ctl.cold)), float64(median(lab.cold))/float64(median(ctl.cold)))
	fmt.Printf("  warm:  layerlab %8s  buildctl %8s  delta %s  (target <= 100ms)\n",
		ms(median(lab.warm)), ms(median(ctl.warm)), ms(median(lab.warm)-median(ctl.warm)))
	fmt.Printf("  POST to first event: median %s, max %s\n", ms(median(lab.firstEvent)), ms(slices.Max(lab.firstEvent)))
	if only == "builds" {
		return nil
	}

	if err := benchScenario(ctx, client, buildctl, addr, dir, files, rounds); err != nil {
		return err
	}
	return benchMeasure(ctx, data, rounds)
}

// benchScenario times a scenario run (cold build, a changed file, rebuild)
// through the API against the same two builds through buildctl.
func benchScenario(ctx context.Context, c *labtest.Client, buildctl, addr, dir string,
	files map[string]string, rounds int) error {
	var lab, ctl []time.Duration
	for i := range rounds + 1 {
		v1, v2 := fmt.Sprintf("echo v1-%d-%d\n", i, time.Now().UnixNano()), fmt.Sprintf("echo v2-%d\n", i)
		start := time.Now()
		if err := runScenario(c, files, v1, v2); err != nil {
			return err
		}
		labTime := time.Since(start)

		start = time.Now()
		for _, content := range []string{v1, v2} {
			if err := os.WriteFile(filepath.Join(dir, "main.sh"), []byte(content), 0o644); err != nil {
				return err
			}
			noCache := content == v1
			if _, err := viaBuildctl(ctx, buildctl, addr, dir, "scenario", noCache); err != nil {
				return err
			}
		}
		if i > 0 {
			lab, ctl = append(lab, labTime), append(ctl, time.Since(start))
		}
	}
	fmt.Printf("scenario (cold, change main.sh, rebuild), %d rounds, medians:\n", rounds)
	fmt.Printf("  layerlab run %8s  buildctl %8s  overhead %.1f%%  (target <= 10%%)\n",
		ms(median(lab)), ms(median(ctl)), 100*(float64(median(lab))/float64(median(ctl))-1))
	return nil
}

func runScenario(c *labtest.Client, files map[string]string, v1, v2 string) error {
	req := labtest.RunRequest{
		Variants: []labtest.Variant{{Name: "bench", Request: labtest.Request{
			Files: withFile(files, "main.sh", v1), BuildArgs: map[string]string{"NONCE": "scenario"}}}},
		Scenario: labtest.Scenario{Changes: []domain.Change{{Path: "main.sh", Content: &v2}}},
	}
	state, err := c.RunAndWait(req)
	if err != nil {
		return err
	}
	if state.Status != domain.StatusSucceeded {
		return fmt.Errorf("scenario run %s ended %s: %+v", state.ID, state.Status, state.Error)
	}
	return nil
}

func withFile(files map[string]string, name, content string) map[string]string {
	out := map[string]string{name: content}
	for k, v := range files {
		if k != name {
			out[k] = v
		}
	}
	return out
}

// benchMeasure builds the catalog's Go example (its multi-stage variant)
// cold and reports what measuring its images added to the build. A comment
// with a nonce in main.go makes every step from COPY . . on run again, and
// the Go build cache lives in those layers, so each build compiles from
// nothing. The build's duration ends at its result; measuring follows it.
func benchMeasure(ctx context.Context, data string, rounds int) error {
	catalog, err := examples.Builtin()
	if err != nil {
		return err
	}
	example, ok := catalog.Get("go-service")
	if !ok {
		return fmt.Errorf("the catalog has no go-service example")
	}
	variant, ok := example.Variant("scratch")
	if !ok {
		return fmt.Errorf("the go-service example has no scratch variant")
	}
	if err := labtest.Seed(ctx, filepath.Join(data, "mirror"), []string{"golang"}, labtest.Logger()); err != nil {
		return err
	}
	a, err := labtest.Start(ctx, data+"-go", labtest.Options{Images: []string{"busybox", "golang"}})
	if err != nil {
		return err
	}
	defer a.Close(ctx)
	defer os.RemoveAll(data + "-go")
	c := &labtest.Client{Base: a.URL()}
	var shares []float64
	var builds, measures []time.Duration
	for i := range rounds + 1 {
		nonce := fmt.Sprintf("\n// bench %d %d\n", i, time.Now().UnixNano())
		files := withFile(variant.Files, "main.go", variant.Files["main.go"]+nonce)
		id, err := c.Post(labtest.Request{Files: files, Dockerfile: variant.Dockerfile, Target: variant.Target})
		if err != nil {
			return err
		}
		if _, err := c.Events(id, 0); err != nil {
			return err
		}
		state, err := c.State(id)
		if err != nil {
			return err
		}
		if state.Status != domain.StatusSucceeded || state.Image == nil {
			return fmt.Errorf("go build %s: %s %+v", id, state.Status, state.Error)
		}
		if i == 0 {
			continue // the first build unpacks the golang image
		}
		m := state.Image.MeasureMs
		shares = append(shares, float64(m)/float64(state.DurationMs))
		builds = append(builds, time.Duration(state.DurationMs)*time.Millisecond)
		measures = append(measures, time.Duration(m)*time.Millisecond)
	}
	slices.Sort(shares)
	fmt.Printf("measuring the images of the Go example's multi-stage variant, built cold, %d builds, medians:\n", rounds)
	fmt.Printf("  build %s, then measuring %s: adds %.1f%% (median), %.1f%% (max)  (target <= 20%%)\n",
		ms(median(builds)), ms(median(measures)), 100*shares[len(shares)/2], 100*shares[len(shares)-1])
	return nil
}

// viaAPI posts the build and follows its stream to the result.
func viaAPI(c *labtest.Client, files map[string]string, nonce string) (total, first time.Duration, err error) {
	start := time.Now()
	id, err := c.Post(labtest.Request{Files: files, BuildArgs: map[string]string{"NONCE": nonce}})
	if err != nil {
		return 0, 0, err
	}
	var status domain.Status
	events, err := c.EventsUntil(id, 0, func(e domain.Event) bool {
		if first == 0 {
			first = time.Since(start)
		}
		if e.Type == domain.EventResult {
			status = e.Result.Status
			return true
		}
		return false
	})
	total = time.Since(start)
	if err != nil {
		return 0, 0, err
	}
	// Measuring the images follows the result; let it finish before the
	// next build so it does not weigh on that one.
	if _, err := c.Events(id, int64(len(events))); err != nil {
		return 0, 0, err
	}
	if status != domain.StatusSucceeded {
		return 0, 0, fmt.Errorf("build %s ended %s after %d events", id, status, len(events))
	}
	return total, first, nil
}

func viaBuildctl(ctx context.Context, buildctl, addr, dir, nonce string, noCache bool) (time.Duration, error) {
	start := time.Now()
	args := []string{"--addr", addr, "build",
		"--frontend", "dockerfile.v0", "--local", "context=" + dir, "--local", "dockerfile=" + dir,
		"--opt", "build-arg:NONCE=" + nonce, "--progress", "quiet"}
	if noCache {
		args = append(args, "--no-cache")
	}
	cmd := exec.CommandContext(ctx, buildctl, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return time.Since(start), nil
}

func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
