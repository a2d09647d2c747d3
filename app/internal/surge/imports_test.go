package surge_test

import (
	"os/exec"
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
