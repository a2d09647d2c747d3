package surge_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestAppNeverImportsPulumi: the service binary shares the module with the
// Pulumi program but must not link any of it.
func TestAppNeverImportsPulumi(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/surge-dev/surge/app/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list returned too little: %q", out)
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/pulumi/") {
			t.Errorf("the app depends on %s", d)
		}
	}
}

// TestPortsImportNoAdapter: the HTTP API and the admitter speak the domain's
// types only; the adapters (PostgreSQL, the Redis waiting room, sessions,
// the course cache) and their drivers are wired in by cli, so either side
// can change without the other. The domain package depends on no adapter
// either.
func TestPortsImportNoAdapter(t *testing.T) {
	const app = "github.com/surge-dev/surge/app/internal/"
	adapters := []string{
		app + "postgres", app + "waitroom", app + "sessions", app + "cache",
		"github.com/jackc/pgx", "github.com/redis/go-redis",
	}
	for _, pkg := range []string{"httpapi", "admitter", "surge"} {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", app+pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			deps := strings.Fields(string(out))
			if !slices.Contains(deps, app+pkg) {
				t.Fatalf("go list did not list %s itself: %q", pkg, out)
			}
			for _, d := range deps {
				for _, a := range adapters {
					if d == a || strings.HasPrefix(d, a+"/") {
						t.Errorf("%s depends on %s", pkg, d)
					}
				}
			}
		})
	}
}
