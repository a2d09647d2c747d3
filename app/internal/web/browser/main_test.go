package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/surge-dev/surge/app/internal/testenv"
	"github.com/surge-dev/surge/internal/localenv"
)

var (
	env *testenv.Env
	// browser is the one Chromium of the package; each test opens its own
	// browser context (fresh cookies and storage) in it.
	browser context.Context
)

// chromiumPaths: Debian's chromium package first; GitHub's Ubuntu runners
// carry Google Chrome (same DevTools protocol).
var chromiumPaths = []string{"/usr/bin/chromium", "chromium", "google-chrome"}

// chromiumEnv names a browser binary to use instead of looking for one.
const chromiumEnv = "SURGE_CHROMIUM"

func findChromium() string {
	if p := os.Getenv(chromiumEnv); p != "" {
		path, _ := exec.LookPath(p)
		return path
	}
	for _, p := range chromiumPaths {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	bin := findChromium()
	if bin == "" {
		msg := "browser: chromium not installed: browser tests skipped; run `make deps` (apt-get install chromium) or set " + chromiumEnv + " to a Chrome binary"
		if localenv.DepsRequired() {
			fmt.Fprintln(os.Stderr, msg+" ("+localenv.RequireDepsEnv+"=1)")
			return 1
		}
		fmt.Println(msg + " (" + localenv.RequireDepsEnv + "=1 makes this a failure)")
		return 0
	}
	dir, err := os.MkdirTemp("", "surge-chromium-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("lang", "en-GB"),
	)
	defer cancelAlloc()
	b, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(b); err != nil { // starts the browser; lives until cancelBrowser
		fmt.Fprintln(os.Stderr, "browser: starting chromium:", err)
		return 1
	}
	browser = b
	return testenv.Main(m, &env)
}
