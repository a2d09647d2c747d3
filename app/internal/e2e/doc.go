// Package e2e holds the multi-instance tests of the service: several app
// instances (server + admitter each) in one process on one PostgreSQL and one
// Redis, driven over HTTP. It has no non-test code.
package e2e
