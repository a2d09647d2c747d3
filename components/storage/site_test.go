package storage

import (
	"encoding/base64"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

const tObject = "aws:s3/bucketObjectv2:BucketObjectv2"

func siteFiles() []SiteFile {
	return []SiteFile{
		{Key: "404.html", Source: "404.html", Body: []byte("<p>nothing here</p>"), ContentType: "text/html; charset=utf-8", CacheControl: "no-cache", Metadata: map[string]string{"status": "404"}},
		{Key: "assets/app.0123456789ab.js", Source: "assets/app.js", Body: []byte("let x = 1"), ContentType: "text/javascript; charset=utf-8", CacheControl: "public, max-age=31536000, immutable"},
		{Key: "assets/logo.ba9876543210.png", Source: "assets/logo.png", Body: []byte{0x89, 'P', 'N', 'G', 0xff, 0xfe}, ContentType: "image/png", CacheControl: "public, max-age=31536000, immutable"},
		{Key: "index.html", Source: "index.html", Body: []byte("<h1>Courses</h1>"), ContentType: "text/html; charset=utf-8", CacheControl: "no-cache"},
	}
}

func TestSiteObjects(t *testing.T) {
	a := validArgs()
	a.SiteFiles = siteFiles()
	m := run(t, a, "surge-dev", "surge-prod")
	m.AssertUniqueNames(t)
	static := map[string]string{
		"surge-dev":  BucketName("surge-dev", KindStatic, pulumitest.Account, pulumitest.Region),
		"surge-prod": BucketName("surge-prod", KindStatic, pulumitest.Account, pulumitest.Region),
	}
	require.Len(t, m.ByType(tObject), 2*len(a.SiteFiles), "one object per file and stack")
	for stack, bucket := range static {
		for _, f := range a.SiteFiles {
			o, ok := m.Named(tObject, SiteObjectName(stack, f.Source))
			require.True(t, ok, "%s: object for %s", stack, f.Source)
			assert.Equal(t, bucket, o.Str("bucket"), "%s goes to the static bucket", f.Key)
			assert.Equal(t, f.Key, o.Str("key"))
			assert.Equal(t, f.ContentType, o.Str("contentType"), f.Key)
			assert.Equal(t, f.CacheControl, o.Str("cacheControl"), f.Key)
			assert.Equal(t, stack, o.Parent[len(o.Parent)-len(stack):], "%s is a child of the component", f.Key)
			if f.Source == "assets/logo.png" {
				assert.False(t, o.Has("content"), "binary goes in as base64")
				assert.Equal(t, base64.StdEncoding.EncodeToString(f.Body), o.Str("contentBase64"))
			} else {
				assert.Equal(t, string(f.Body), o.Str("content"), f.Key)
			}
			assert.Equal(t, f.Metadata["status"], o.Str("metadata.status"), f.Key)
		}
	}
}

// TestSiteObjectNamesFollowTheSource: a release that changes app.js renames
// its key (new hash) under the same logical name, so the plan is one
// replace of that object and nothing else.
func TestSiteObjectNamesFollowTheSource(t *testing.T) {
	names := func(files []SiteFile) map[string]string {
		a := validArgs()
		a.SiteFiles = files
		m := run(t, a, "surge-dev")
		out := map[string]string{}
		for _, o := range m.ByType(tObject) {
			out[o.Name] = o.Str("key") + "|" + o.Str("content") + o.Str("contentBase64")
		}
		return out
	}
	before := siteFiles()
	after := siteFiles()
	after[1].Key, after[1].Body = "assets/app.fedcba987654.js", []byte("let x = 2")
	b, c := names(before), names(after)
	require.Len(t, c, len(b), "same objects")
	var changed []string
	for n, v := range b {
		if c[n] != v {
			changed = append(changed, n)
		}
	}
	assert.Equal(t, []string{SiteObjectName("surge-dev", "assets/app.js")}, changed)
}

func TestSiteFilesValidation(t *testing.T) {
	a := validArgs()
	a.SiteFiles = []SiteFile{
		{Key: "/index.html", Source: "index.html", ContentType: "text/html", CacheControl: "no-cache"},
		{Key: "a.js", Source: "index.html"},
		{Key: "a.js", Source: "b::c", ContentType: "x", CacheControl: "y"},
	}
	err := a.validate()
	require.Error(t, err)
	for _, w := range []string{"leading slash", "appears twice", "ContentType is required", "CacheControl is required", "no \"::\""} {
		assert.Contains(t, err.Error(), w)
	}
	m := pulumitest.New()
	err = m.Run(t, "dev", nil, func(ctx *pulumi.Context) error {
		_, err := NewBuckets(ctx, "surge-dev", a)
		return err
	})
	require.Error(t, err)
	assert.Empty(t, m.Resources(), "nothing declared")
}
