// Command configref regenerates README.md's configuration reference from
// the components' Specs and the stack's per-environment defaults
// (`go generate ./stacks`).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/surge-dev/surge/stacks"
)

func main() {
	readme := flag.String("readme", "README.md", "the README whose table is rewritten")
	flag.Parse()
	if err := stacks.UpdateREADME(*readme, filepath.Dir(*readme)); err != nil {
		fmt.Fprintln(os.Stderr, "configref:", err)
		os.Exit(1)
	}
}
