// Package site is the students' page: plain HTML, CSS and JS embedded in the
// binary. Assets are served under names that carry their content hash,
// computed once at start, so a release changes the names of exactly the
// files that changed and browsers may cache them for a year; index.html and
// 404.html are never cached without revalidation.
//
// It lives outside app/internal so that both the service (which serves the
// files at /) and the Pulumi program (which uploads the same files to the
// static bucket) build from one list of names, bodies and headers. It
// imports neither Pulumi nor the app.
package site

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"
)

//go:embed static
var static embed.FS

// Cache-Control values.
const (
	CacheImmutable = "public, max-age=31536000, immutable"
	CacheNoCache   = "no-cache"
)

// File is one servable file.
type File struct {
	Name         string // URL path without the leading slash: "index.html", "assets/app.3f2a9c1b0d4e.js"
	Source       string // embedded file it comes from, stable across content changes: "assets/app.js"
	Body         []byte
	Gzip         []byte // nil when compression does not pay
	ContentType  string
	CacheControl string
	ETag         string
}

// Site is the page's files, hashed and ready to serve.
type Site struct {
	files map[string]*File
	names []string
}

// hashLen is the number of hex digits of SHA-256 in asset names.
const hashLen = 12

// HashedName inserts the first hex digits of body's SHA-256 before name's
// extension: app.js -> app.<hash>.js.
func HashedName(name string, body []byte) string {
	sum := sha256.Sum256(body)
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:])[:hashLen] + ext
}

// Load reads the embedded files. Assets (static/assets/*) get hashed names;
// every "{{assets/NAME}}" in an HTML page is replaced by the hashed path.
func Load() (*Site, error) { return load(static) }

func load(fsys fs.FS) (*Site, error) {
	s := &Site{files: map[string]*File{}}
	var refs []string // "{{assets/x}}", "/assets/x.<hash>.y" pairs
	assets, err := fs.ReadDir(fsys, "static/assets")
	if err != nil {
		return nil, fmt.Errorf("site: reading assets: %w", err)
	}
	for _, e := range assets {
		b, err := fs.ReadFile(fsys, "static/assets/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("site: %w", err)
		}
		name := "assets/" + HashedName(e.Name(), b)
		s.add(name, "assets/"+e.Name(), b, CacheImmutable)
		refs = append(refs, "{{assets/"+e.Name()+"}}", "/"+name)
	}
	repl := strings.NewReplacer(refs...)
	for _, page := range []string{"index.html", "404.html"} {
		b, err := fs.ReadFile(fsys, "static/"+page)
		if err != nil {
			return nil, fmt.Errorf("site: %w", err)
		}
		out := repl.Replace(string(b))
		if i := strings.Index(out, "{{"); i >= 0 {
			return nil, fmt.Errorf("site: %s refers to an unknown asset near %q", page, out[i:min(len(out), i+40)])
		}
		s.add(page, page, []byte(out), CacheNoCache)
	}
	sort.Strings(s.names)
	return s, nil
}

func (s *Site) add(name, source string, body []byte, cache string) {
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) { // not left to the machine's mime.types
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	sum := sha256.Sum256(body)
	f := &File{Name: name, Source: source, Body: body, ContentType: ct, CacheControl: cache,
		ETag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(body)
	_ = zw.Close()
	if buf.Len() < len(body)*9/10 {
		f.Gzip = buf.Bytes()
	}
	s.files[name] = f
	s.names = append(s.names, name)
}

// Files lists the files by name (for an uploader: one object per file).
func (s *Site) Files() []*File {
	out := make([]*File, len(s.names))
	for i, n := range s.names {
		out[i] = s.files[n]
	}
	return out
}

// File returns one file by name.
func (s *Site) File(name string) (*File, bool) {
	f, ok := s.files[name]
	return f, ok
}
