package testtools

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumNames are the programs tried for Chromium, in order; the
// RTMFPD_CHROMIUM environment variable names another.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// Chromium starts a headless Chromium (Debian's chromium package) with a
// fresh profile, driven through the DevTools protocol, and returns the
// context of its first tab; the browser ends with the test. It runs with
// the flags of a closed machine: no sandbox (root), no GPU, no QUIC, no
// background networking, component updates or sync.
func Chromium(t testing.TB) context.Context {
	t.Helper()
	path := os.Getenv("RTMFPD_CHROMIUM")
	if path == "" {
		for _, n := range chromiumNames {
			if p, err := exec.LookPath(n); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Fatalf("chromium is not installed: %s (or name it in RTMFPD_CHROMIUM)", installHint)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}
