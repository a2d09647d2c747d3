package stacks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/site"
	"github.com/surge-dev/surge/components/cdn"
	"github.com/surge-dev/surge/components/storage"
	"github.com/surge-dev/surge/internal/pulumitest"
)

// TestStackUploadsThePage: every embedded file is one object of the static
// bucket, keyed by its served path, with its Content-Type and
// Cache-Control; the distribution serves index.html at / and the 404 page
// for unknown paths of the default behaviour only.
func TestStackUploadsThePage(t *testing.T) {
	s, err := site.Load()
	require.NoError(t, err)
	physical := map[string]string{} // function physical name -> stack
	for _, stack := range []string{"dev", "prod"} {
		t.Run(stack, func(t *testing.T) {
			m, _ := runStack(t, stack, stackConfig(t, stack))
			name := "surge-" + stack
			static := storage.BucketName(name, storage.KindStatic, pulumitest.Account, pulumitest.Region)
			objects := map[string]pulumitest.Resource{}
			for _, o := range m.ByType("aws:s3/bucketObjectv2:BucketObjectv2") {
				if o.Str("bucket") == static {
					objects[o.Str("key")] = o
				}
			}
			require.Len(t, objects, len(s.Files())+1, "one object per embedded file, and the 404 page's hashed copy")
			nf, ok := s.File(cdn.NotFoundPage)
			require.True(t, ok)
			copyKey := "assets/" + site.HashedName(cdn.NotFoundPage, nf.Body)
			c, ok := objects[copyKey]
			require.True(t, ok, "the hashed copy %s", copyKey)
			assert.Equal(t, storage.SiteObjectName(name, "assets/404.html"), c.Name)
			assert.Equal(t, string(nf.Body), c.Str("content"))
			assert.Equal(t, site.CacheImmutable, c.Str("cacheControl"))
			assert.Equal(t, cdn.NotFoundMetadataValue, c.Str("metadata."+cdn.NotFoundMetadataKey))
			for _, f := range s.Files() {
				o, ok := objects[f.Name]
				require.True(t, ok, "object %s", f.Name)
				assert.Equal(t, storage.SiteObjectName(name, f.Source), o.Name, "logical name from the source path")
				assert.Equal(t, f.ContentType, o.Str("contentType"), f.Name)
				assert.Equal(t, string(f.Body), o.Str("content"), f.Name)
				assert.True(t, strings.HasSuffix(o.Parent, "surge:storage:Buckets::"+name), "%s is a child of the storage component", f.Name)
				switch {
				case strings.HasPrefix(f.Name, "assets/"):
					assert.Equal(t, "public, max-age=31536000, immutable", o.Str("cacheControl"), f.Name)
				default:
					assert.Equal(t, "no-cache", o.Str("cacheControl"), f.Name)
				}
				assert.Equal(t, f.Name == cdn.NotFoundPage, o.Str("metadata."+cdn.NotFoundMetadataKey) == cdn.NotFoundMetadataValue,
					"only the 404 page carries the 404 marker (%s)", f.Name)
			}
			for _, want := range []string{"index.html", "404.html"} {
				assert.Contains(t, objects, want)
			}

			d := one(t, m, tDistribution)
			assert.Equal(t, "index.html", d.Str("defaultRootObject"))
			for i := 0; i < d.Len("customErrorResponses"); i++ {
				e := fmt.Sprintf("customErrorResponses[%d]", i)
				assert.Empty(t, d.Str(e+".responsePagePath"), "API errors must not be rewritten into HTML (%s)", e)
				assert.Zero(t, d.Num(e+".responseCode"), "API errors keep their status (%s)", e)
			}
			assert.Equal(t, 2, d.Len("defaultCacheBehavior.functionAssociations"))
			for i := 0; i < d.Len("orderedCacheBehaviors"); i++ {
				p := "orderedCacheBehaviors[" + string(rune('0'+i)) + "]"
				switch path := d.Str(p + ".pathPattern"); path {
				case cdn.APIPath, cdn.MediaPath:
					assert.Zero(t, d.Len(p+".functionAssociations"), "%s keeps its responses", path)
				case cdn.AssetsPath:
					assert.Equal(t, 2, d.Len(p+".functionAssociations"), "unknown assets get the hashed 404 copy")
				}
			}
			var code string
			for _, fn := range m.ByType("aws:cloudfront/function:Function") {
				switch {
				case strings.HasSuffix(fn.Name, "-site-request"):
					code = fn.Str("code")
				case strings.HasSuffix(fn.Name, "-assets-request"):
					assert.Contains(t, fn.Str("code"), `request.uri = "/`+copyKey+`"`)
				}
				prev, dup := physical[fn.Str("name")]
				assert.False(t, dup, "function name %s used by %s too", fn.Str("name"), prev)
				physical[fn.Str("name")] = stack
			}
			for _, f := range s.Files() {
				if f.Name != cdn.NotFoundPage {
					assert.Contains(t, code, `"/`+f.Name+`"`, "the 404 function knows %s", f.Name)
				}
			}
		})
	}
}
