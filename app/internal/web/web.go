// Package web serves the students' page (package site) from the binary.
package web

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/surge-dev/surge/app/site"
)

// Cache-Control values, as in package site.
const (
	CacheImmutable = site.CacheImmutable
	CacheNoCache   = site.CacheNoCache
)

// Site is the embedded page, with its HTTP handler.
type Site struct {
	*site.Site
	// connect are origins besides the page's own that it may fetch from
	// (Content-Security-Policy connect-src): the uploads bucket.
	connect []string
}

// Load reads the embedded files (site.Load).
func Load() (*Site, error) {
	s, err := site.Load()
	if err != nil {
		return nil, err
	}
	return &Site{Site: s}, nil
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
		if f, ok := s.File(name); ok && name != "404.html" {
			s.serve(w, r, f, http.StatusOK)
			return
		}
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			nf, _ := s.File("404.html")
			s.serve(w, r, nf, http.StatusNotFound)
			return
		}
		fallback.ServeHTTP(w, r)
	})
}

func (s *Site) serve(w http.ResponseWriter, r *http.Request, f *site.File, status int) {
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Cache-Control", f.CacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasSuffix(f.Name, ".html") {
		csp := "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
		if len(s.connect) > 0 {
			csp += "; connect-src 'self' " + strings.Join(s.connect, " ")
		}
		h.Set("Content-Security-Policy", csp)
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
		// body is one of the page's own files, embedded at build time and
		// served with its own Content-Type: no request data reaches it.
		_, _ = w.Write(body) //nolint:gosec // G705: embedded static file, not request input
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

// HandlerConnecting is Handler for a page that may also fetch from the
// given origins (the uploads bucket the page posts course materials to).
func HandlerConnecting(fallback http.Handler, origins ...string) http.Handler {
	s, err := embedded()
	if err != nil {
		panic(err)
	}
	return (&Site{Site: s.Site, connect: origins}).Handler(fallback)
}
