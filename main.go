// Command surge is the Pulumi program: `pulumi up` on a stack declares the
// whole spike-proof web tier. All the work is in stacks/ and components/.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/surge-dev/surge/stacks"
)

func main() { pulumi.Run(stacks.Run) }
