// Package docscheck holds the repository's documentation checks: every
// reference in a tracked file is one a reader can open (a public URL or a
// file in this repository), and every relative link in the Markdown docs
// resolves to a file that exists. The checks are its tests.
package docscheck
