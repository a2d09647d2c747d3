package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// firstLoadBudget is the most the first load may weigh, compressed: the
// page must come up at once on a phone at the rush.
const firstLoadBudget = 50 * 1024

func TestAssetNamesCarryTheirContentHash(t *testing.T) {
	s, err := Load()
	require.NoError(t, err)
	re := regexp.MustCompile(`^assets/[a-z0-9-]+\.([0-9a-f]{12})\.(js|css)$`)
	var assets int
	for _, f := range s.Files() {
		if !strings.HasPrefix(f.Name, "assets/") {
			assert.Contains(t, []string{"index.html", "404.html"}, f.Name)
			assert.Equal(t, CacheNoCache, f.CacheControl, f.Name)
			continue
		}
		assets++
		m := re.FindStringSubmatch(f.Name)
		require.NotNil(t, m, "asset name %q", f.Name)
		sum := sha256.Sum256(f.Body)
		assert.Equal(t, hex.EncodeToString(sum[:])[:12], m[1], "%s: the name must match the content", f.Name)
		assert.Equal(t, CacheImmutable, f.CacheControl, f.Name)
	}
	assert.Equal(t, 2, assets, "app.js and app.css")
}

func TestPagesReferToHashedAssets(t *testing.T) {
	s, err := Load()
	require.NoError(t, err)
	index, ok := s.File("index.html")
	require.True(t, ok)
	refs := regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(index.Body), -1)
	require.Len(t, refs, 2, "the stylesheet and the script")
	for _, r := range refs {
		_, ok := s.File(strings.TrimPrefix(r[1], "/"))
		assert.True(t, ok, "index.html refers to %s, which is served", r[1])
	}
	assert.NotContains(t, string(index.Body), "{{")
}

// TestFirstLoadBudget measures what a first visit downloads, gzip-compressed
// as served: index.html, the stylesheet and the script.
func TestFirstLoadBudget(t *testing.T) {
	s, err := Load()
	require.NoError(t, err)
	total := 0
	for _, f := range s.Files() {
		if f.Name == "404.html" {
			continue
		}
		n := len(f.Body)
		if f.Gzip != nil {
			n = len(f.Gzip)
		}
		total += n
	}
	t.Logf("first load: %d bytes compressed", total)
	assert.Less(t, total, firstLoadBudget)
}

func TestHandler(t *testing.T) {
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, `{"fallback":true}`)
	})
	s, err := Load()
	require.NoError(t, err)
	h := s.Handler(fallback)
	var js, css string
	for _, f := range s.Files() {
		switch {
		case strings.HasSuffix(f.Name, ".js"):
			js = "/" + f.Name
		case strings.HasSuffix(f.Name, ".css"):
			css = "/" + f.Name
		}
	}
	html := "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
	cases := []struct {
		name, method, path, accept string
		status                     int
		ctype, cache               string
	}{
		{"root is index.html", "GET", "/", html, 200, "text/html; charset=utf-8", CacheNoCache},
		{"index.html by name", "GET", "/index.html", "", 200, "text/html; charset=utf-8", CacheNoCache},
		{"HEAD of the root", "HEAD", "/", "", 200, "text/html; charset=utf-8", CacheNoCache},
		{"hashed script", "GET", js, "*/*", 200, "text/javascript; charset=utf-8", CacheImmutable},
		{"hashed stylesheet", "GET", css, "text/css", 200, "text/css; charset=utf-8", CacheImmutable},
		{"unknown page from a browser", "GET", "/courses/42", html, 404, "text/html; charset=utf-8", CacheNoCache},
		{"stale asset name from a browser", "GET", "/assets/app.000000000000.js", html, 404, "text/html; charset=utf-8", CacheNoCache},
		{"404 page is not served as a page", "GET", "/404.html", html, 404, "text/html; charset=utf-8", CacheNoCache},
		{"unknown path from an API client", "GET", "/nope", "application/json", 418, "application/json", ""},
		{"API untouched even for browsers", "GET", "/api/courses", html, 418, "application/json", ""},
		{"API POST untouched", "POST", "/api/login", "", 418, "application/json", ""},
		{"POST to the root goes to the API", "POST", "/", html, 418, "application/json", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.ctype, rec.Header().Get("Content-Type"))
			assert.Equal(t, tc.cache, rec.Header().Get("Cache-Control"))
			if tc.status == 404 {
				assert.Contains(t, rec.Body.String(), "Page not found")
				assert.Contains(t, rec.Body.String(), `href="/"`)
			}
			if tc.method == "HEAD" {
				assert.Zero(t, rec.Body.Len())
			}
		})
	}
}

func TestGzipAndRevalidation(t *testing.T) {
	s, err := Load()
	require.NoError(t, err)
	h := s.Handler(http.NotFoundHandler())
	idx, _ := s.File("index.html")

	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept-Encoding", "br, gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
	assert.Contains(t, rec.Header().Values("Vary"), "Accept-Encoding")
	zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, idx.Body, plain)

	req = httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept-Encoding", "gzip;q=0")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Empty(t, rec.Header().Get("Content-Encoding"), "q=0 refuses gzip")
	assert.Equal(t, idx.Body, rec.Body.Bytes())

	etag := rec.Header().Get("ETag")
	require.NotEmpty(t, etag)
	req = httptest.NewRequest("GET", "/", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusNotModified, rec.Code, "no-cache revalidates cheaply")
	assert.Zero(t, rec.Body.Len())
}
