// Package browsertest opens HTML reports in headless Chromium for
// tierflow's tests and benchmarks, through chromedp: it starts the
// browser Debian's chromium package installs (never downloads one), with
// a fresh profile, loads a page from a file, waits for the report's
// charts-ready mark, and collects what went wrong on the way: console
// errors, uncaught exceptions and any request for something outside the
// file.
//
// Only tests import it.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// DefaultChromium is where Debian's chromium package puts the browser;
// TIERFLOW_CHROMIUM names another.
const DefaultChromium = "/usr/bin/chromium"

// Packages are the Debian packages the browser tests need: the browser,
// and fonts with Chinese, Japanese and Korean glyphs.
const Packages = "chromium fonts-noto-cjk"

// Browser is one headless Chromium with one tab.
type Browser struct {
	tb     testing.TB
	ctx    context.Context
	dlDir  string
	mu     sync.Mutex
	issues []string
	// origin is the scheme and host of the page opened last, which may
	// be requested; file, blob and data URLs always may.
	origin string
}

// Start starts Chromium for tb, and stops it when tb ends. Without the
// browser, it fails tb when the environment variable CI is set, and skips
// it otherwise.
func Start(tb testing.TB) *Browser {
	tb.Helper()
	path := os.Getenv("TIERFLOW_CHROMIUM")
	if path == "" {
		path = DefaultChromium
	}
	if _, err := exec.LookPath(path); err != nil {
		msg := fmt.Sprintf("no Chromium at %s (%v): install the Debian packages %s, or name the browser in TIERFLOW_CHROMIUM", path, err, Packages)
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() { cancel(); cancelAlloc() })
	b := &Browser{tb: tb, ctx: ctx, dlDir: tb.TempDir()}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		tb.Fatalf("start %s: %v", path, err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.dlDir, EventsEnabled: ptr(true)}); err != nil {
		tb.Fatalf("allow downloads: %v", err)
	}
	b.watch()
	return b
}

func ptr[T any](v T) *T { return &v }

// watch records console errors, exceptions and requests for anything but
// the page's own file, blobs and data.
func (b *Browser) watch() {
	messages := chromedp.Console(b.ctx)
	requests := chromedp.Events(b.ctx, network.RequestWillBeSent)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.issue(fmt.Sprintf("console %s: %s (%s:%d)", m.Type, m, m.URL, m.Line+1))
			}
		}
	}()
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			if u := ev.Request.URL; !b.local(u) {
				b.issue("request for " + u)
			}
		}
	}()
}

// local reports whether u is the page or its own data.
func (b *Browser) local(u string) bool {
	b.mu.Lock()
	origin := b.origin
	b.mu.Unlock()
	for _, p := range []string{"file:", "blob:", "data:"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return origin != "" && strings.HasPrefix(u, origin+"/")
}

func (b *Browser) issue(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.issues = append(b.issues, s)
}

// Issues are the console errors, exceptions and outside requests seen so
// far.
func (b *Browser) Issues() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.issues...)
}

// Open loads the HTML file at path and waits for its charts-ready mark;
// it returns performance.now() at the mark: the milliseconds from the
// start of the navigation until every chart had rendered.
func (b *Browser) Open(path string) float64 {
	b.tb.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		b.tb.Fatal(err)
	}
	return b.OpenURL((&url.URL{Scheme: "file", Path: abs}).String())
}

// OpenURL is Open for a page at an http:// address, whose origin the page
// may then request.
func (b *Browser) OpenURL(u string) float64 {
	b.tb.Helper()
	if p, err := url.Parse(u); err == nil && p.Scheme != "file" {
		b.mu.Lock()
		b.origin = p.Scheme + "://" + p.Host
		b.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		b.tb.Fatalf("open %s: %v", u, err)
	}
	ms, err := chromedp.Run(ctx, chromedp.Poll[float64](`window.tierflow && window.tierflow.ready && window.tierflow.readyMs`,
		chromedp.WithPollingTimeout(50*time.Second)))
	if err != nil {
		b.tb.Fatalf("%s never marked charts-ready: %v; issues: %q", u, err, b.Issues())
	}
	return ms
}

// Eval evaluates a JavaScript expression in the page and decodes its
// value, which must be JSON, into T.
func Eval[T any](b *Browser, expression string) T {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression, chromedp.EvalAwaitPromise))
	if err != nil {
		b.tb.Fatalf("evaluate %.80s: %v", expression, err)
	}
	return v
}

// Screenshot writes a PNG of the page: the whole of it, or its first
// height pixels (scrolled to the top) when height > 0.
func (b *Browser) Screenshot(path string, height int64) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	var err error
	var png []byte
	if height > 0 {
		err = chromedp.Do(ctx, chromedp.EmulateViewport(1280, height), chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
		}
		if rerr := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err == nil {
			err = rerr
		}
	} else {
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	}
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		b.tb.Fatalf("screenshot %s: %v", path, err)
	}
}

// Download clicks the element the CSS selector finds and returns the file
// the click downloads, with the name the page gave it.
func (b *Browser) Download(selector string) (name string, content []byte) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	begin := chromedp.BrowserEvents(ctx, browser.DownloadWillBegin)
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx, chromedp.ScrollIntoView(chromedp.CSS(selector)), chromedp.Click(chromedp.CSS(selector))); err != nil {
		b.tb.Fatalf("click %s: %v", selector, err)
	}
	var guid string
	for ev, err := range begin {
		if err != nil {
			b.tb.Fatalf("click %s: no download began: %v", selector, err)
		}
		guid, name = ev.GUID, ev.SuggestedFilename
		break
	}
	for ev, err := range progress {
		if err != nil {
			b.tb.Fatalf("download %s: %v", name, err)
		}
		if ev.GUID != guid {
			continue
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			b.tb.Fatalf("download %s was cancelled", name)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			break
		}
	}
	content, err := os.ReadFile(filepath.Join(b.dlDir, guid))
	if errors.Is(err, os.ErrNotExist) {
		b.tb.Fatalf("download %s completed but %s is not there", name, filepath.Join(b.dlDir, guid))
	}
	if err != nil {
		b.tb.Fatal(err)
	}
	return name, content
}

// ArtifactDir is where a test keeps what it leaves for people to look at,
// such as screenshots: $TIERFLOW_ARTIFACTS/NAME, or a temporary directory.
func ArtifactDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if root := os.Getenv("TIERFLOW_ARTIFACTS"); root != "" {
		dir = filepath.Join(root, strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}
