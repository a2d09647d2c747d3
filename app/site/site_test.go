package site

import (
	"path"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHashedNameChangesWithContent(t *testing.T) {
	a := HashedName("app.js", []byte("one"))
	b := HashedName("app.js", []byte("two"))
	assert.NotEqual(t, a, b)
	assert.Regexp(t, `^app\.[0-9a-f]{12}\.js$`, a)
	assert.Equal(t, a, HashedName("app.js", []byte("one")))
}

func TestUnknownAssetReferenceFailsTheLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"static/assets/app.js": {Data: []byte("x")},
		"static/index.html":    {Data: []byte(`<script src="{{assets/missing.js}}"></script>`)},
		"static/404.html":      {Data: []byte(`<p>404</p>`)},
	}
	_, err := load(fsys)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.js")
}

func TestFilesAreSortedAndComplete(t *testing.T) {
	s, err := Load()
	require.NoError(t, err)
	var names []string
	for _, f := range s.Files() {
		names = append(names, f.Name)
		assert.NotEmpty(t, f.ContentType, f.Name)
		assert.NotEmpty(t, f.Body, f.Name)
		assert.Equal(t, f.Name, HashedSourceName(f), "%s comes from %s", f.Name, f.Source)
	}
	assert.IsIncreasing(t, names)
	assert.Contains(t, names, "index.html")
	assert.Contains(t, names, "404.html")
}

// HashedSourceName is what a file's name must be, given its source.
func HashedSourceName(f *File) string {
	if f.CacheControl == CacheNoCache {
		return f.Source
	}
	dir, base := path.Split(f.Source)
	return dir + HashedName(base, f.Body)
}
