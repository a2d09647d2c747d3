// Command bootstrap is the one-off Pulumi program that prepares an AWS
// account for surge's GitHub Actions (README: Deploying from GitHub). Run it
// once per account with administrator credentials:
//
//	cd deploy/bootstrap && pulumi stack init ci && pulumi config set aws:region eu-west-1 &&
//	pulumi config set githubRepository owner/name && pulumi up
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() { pulumi.Run(run) }
