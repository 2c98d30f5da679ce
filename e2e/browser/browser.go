// Package browser runs Debian's Chromium, headless, for layerlab's browser
// tests. A missing browser fails the test that asked for one: the tests are
// the only check that the pages work, so they never skip.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// DefaultPath is where Debian's chromium package puts the browser.
const DefaultPath = "/usr/bin/chromium"

// Browser is one headless Chromium with one tab, and what the tab's pages
// reported as going wrong.
type Browser struct {
	// Ctx runs actions in the tab: chromedp.Run(b.Ctx, ...).
	Ctx context.Context

	mu       sync.Mutex
	problems []string
}

// Start launches Chromium for t and closes it when t ends. The path comes
// from LAYERLAB_CHROMIUM, else DefaultPath.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := os.Getenv("LAYERLAB_CHROMIUM")
	if path == "" {
		path = DefaultPath
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("no Chromium at %s (%v): install Debian's chromium package "+
			"(scripts/install-deps.sh does) or set LAYERLAB_CHROMIUM", path, err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	}
	for _, flag := range []string{
		"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
		"disable-background-networking", "disable-component-update", "disable-sync",
	} {
		opts = append(opts, chromedp.Flag(flag, true))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})

	b := &Browser{Ctx: ctx}
	// The first action starts the browser, on a context without a deadline.
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("start Chromium at %s: %v", path, err)
	}
	return b
}

// record keeps script exceptions and console or security errors. Failed
// HTTP requests are left out: tests provoke some on purpose.
func (b *Browser) record(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		problem = "exception: " + d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			problem += " " + d.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			problem = "console.error"
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
			problem = fmt.Sprintf("%s: %s", ev.Entry.Source, ev.Entry.Text)
		}
	}
	if problem != "" {
		b.mu.Lock()
		b.problems = append(b.problems, problem)
		b.mu.Unlock()
	}
}

// CheckNoErrors fails t if a page threw an exception or logged an error,
// such as a script error or a blocked resource.
func (b *Browser) CheckNoErrors(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(b.problems, "\n"))
	}
}

// Do runs actions in the tab, failing t on the first error. Each call gets
// at most timeout.
func (b *Browser) Do(t testing.TB, timeout time.Duration,
	actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Eval evaluates a script expression in the page and decodes its value.
func Eval[T any](t testing.TB, b *Browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// WaitFor polls a script expression until it is true, failing t with the
// description after timeout.
func (b *Browser) WaitFor(t testing.TB, timeout time.Duration, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, timeout)
	defer cancel()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			b.Screenshot(t, "timeout-"+strings.ReplaceAll(t.Name(), "/", "-"))
			t.Fatalf("waited %s for %s (%s): last error %v", timeout, what, expr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Screenshot saves a PNG of the whole page as NAME.png in the folder that
// LAYERLAB_SCREENSHOTS names, and does nothing when it names none.
func (b *Browser) Screenshot(t testing.TB, name string) {
	t.Helper()
	dir := os.Getenv("LAYERLAB_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
}

// Resize sets the width and height of the tab's viewport, as a window or a
// phone of that size would have, and waits for the page to lay itself out.
func (b *Browser) Resize(t testing.TB, width, height int64) {
	t.Helper()
	b.Do(t, 10*time.Second,
		chromedp.EmulateViewport(width, height),
		chromedp.Sleep(100*time.Millisecond),
	)
}

// ByTestID is a CSS selector for the element with a data-testid.
func ByTestID(id string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`[data-testid=%q]`, id))
}
