// Package web is the students' page: plain HTML, CSS and JS embedded in the
// binary. Assets are served under names that carry their content hash,
// computed once at start, so a release changes the names of exactly the
// files that changed and browsers may cache them for a year; index.html and
// 404.html are never cached without revalidation.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
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
		return nil, fmt.Errorf("web: reading assets: %w", err)
	}
	for _, e := range assets {
		b, err := fs.ReadFile(fsys, "static/assets/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		name := "assets/" + HashedName(e.Name(), b)
		s.add(name, b, CacheImmutable)
		refs = append(refs, "{{assets/"+e.Name()+"}}", "/"+name)
	}
	repl := strings.NewReplacer(refs...)
	for _, page := range []string{"index.html", "404.html"} {
		b, err := fs.ReadFile(fsys, "static/"+page)
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		out := repl.Replace(string(b))
		if i := strings.Index(out, "{{"); i >= 0 {
			return nil, fmt.Errorf("web: %s refers to an unknown asset near %q", page, out[i:min(len(out), i+40)])
		}
		s.add(page, []byte(out), CacheNoCache)
	}
	sort.Strings(s.names)
	return s, nil
}

func (s *Site) add(name string, body []byte, cache string) {
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
	f := &File{Name: name, Body: body, ContentType: ct, CacheControl: cache,
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

// Handler serves the page: index.html at "/", hashed assets under
// /assets/. Any other GET from a browser (Accept: text/html) outside /api/
// gets the friendly 404 page; everything else, /api/ included, goes to
// fallback untouched.
func (s *Site) Handler(fallback http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/api/") || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			fallback.ServeHTTP(w, r)
			return
		}
		name := strings.TrimPrefix(p, "/")
		if name == "" {
			name = "index.html"
		}
		if f, ok := s.files[name]; ok && name != "404.html" {
			s.serve(w, r, f, http.StatusOK)
			return
		}
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			s.serve(w, r, s.files["404.html"], http.StatusNotFound)
			return
		}
		fallback.ServeHTTP(w, r)
	})
}

func (s *Site) serve(w http.ResponseWriter, r *http.Request, f *File, status int) {
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Cache-Control", f.CacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasSuffix(f.Name, ".html") {
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("Referrer-Policy", "same-origin")
	}
	body := f.Body
	if f.Gzip != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			body = f.Gzip
		}
	}
	if status == http.StatusOK {
		etag := f.ETag
		if h.Get("Content-Encoding") == "gzip" {
			etag = strings.TrimSuffix(etag, `"`) + `-gz"`
		}
		h.Set("ETag", etag)
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip (q > 0).
func acceptsGzip(v string) bool {
	for part := range strings.SplitSeq(v, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(enc) != "*" {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		if q, ok := strings.CutPrefix(params, "q="); ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// embedded is the site of the embedded files, loaded once: they are fixed at
// build time, so it is immutable after the first call.
var embedded = sync.OnceValues(Load)

// Handler is Load().Handler(fallback) for the embedded files. It panics if
// they are inconsistent (an HTML page naming a missing asset), which the
// package's tests rule out for every build.
func Handler(fallback http.Handler) http.Handler {
	s, err := embedded()
	if err != nil {
		panic(err)
	}
	return s.Handler(fallback)
}
