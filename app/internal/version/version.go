// Package version holds what the build stamps into the binary.
package version

// Source is the SHA-256 of the source tree the binary was built from. The
// stack's artifact build sets it with
// -ldflags "-X github.com/surge-dev/surge/app/internal/version.Source=<digest>";
// a plain `go build` leaves "dev".
var Source = "dev"
