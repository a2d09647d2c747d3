// Command surge-plan is the offline plan: the real program under the
// recording mock monitor, for one stack (-stack) or to regenerate the
// committed diagram and cost estimates (-update); -digest prints the app
// artifact's SHA-256 as `pulumi up` would roll it out (make release). Run it from the
// repository root (make plan, make plan-update).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/surge-dev/surge/internal/plan"
	"github.com/surge-dev/surge/stacks"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "surge-plan:", err)
		os.Exit(1)
	}
}

func run() error {
	stack := flag.String("stack", "dev", "stack to plan: dev or prod (Pulumi.<stack>.yaml)")
	out := flag.String("out", "", "also write the report to this file")
	update := flag.Bool("update", false, "regenerate "+plan.ArchitectureDoc+" (diagram) and "+plan.CostsDoc)
	digest := flag.Bool("digest", false, "only build the app artifact as the stack does and print its sha256 (make release)")
	flag.Parse()

	// The program's own builder: the plan reports the digest `up` would roll out.
	build := plan.Once(stacks.GoBuilder(".", "./app/cmd/surge", ".surge-build"))
	if *digest {
		art, err := build(context.Background())
		if err != nil {
			return err
		}
		fmt.Println(art.SHA256)
		return nil
	}
	runStack := func(name string) (*plan.Plan, error) {
		cfg, err := plan.StackConfig(filepath.Join(".", "Pulumi."+name+".yaml"))
		if err != nil {
			return nil, err
		}
		return plan.Run(name, cfg, build)
	}
	if *update {
		dev, err := runStack("dev")
		if err != nil {
			return err
		}
		prod, err := runStack("prod")
		if err != nil {
			return err
		}
		return plan.UpdateDocs(".", dev, prod)
	}

	other := map[string]string{"dev": "prod", "prod": "dev"}[*stack]
	p, err := runStack(*stack)
	if err != nil {
		return err
	}
	var o *plan.Plan
	if other != "" {
		if o, err = runStack(other); err != nil {
			return err
		}
	}
	report, err := plan.Report(p, o)
	if err != nil {
		return err
	}
	fmt.Print(report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", *out, err)
		}
	}
	return nil
}
