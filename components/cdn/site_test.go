package cdn

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

const tFunction = "aws:cloudfront/function:Function"

const testAssetsNotFound = "assets/404.c0ffee123456.html"

var testSitePaths = []string{"404.html", testAssetsNotFound, "assets/app.0123456789ab.js", "assets/app.ba9876543210.css", "index.html"}

// functionArn is the mock ARN of a function declared by the component.
func functionArn(name string) string { return pulumitest.FakeARN(tFunction, name) }

func TestRootAndNotFound(t *testing.T) {
	m := run(t, setup{}, "surge-dev")
	d := dist(t, m)
	assert.Equal(t, "index.html", d.Str("defaultRootObject"), "index.html at /")
	// Custom error responses are distribution-wide: they only stop error
	// caching, never rewrite the API's JSON errors into a page.
	require.Equal(t, len(UncachedErrorCodes), d.Len("customErrorResponses"))
	for i, code := range UncachedErrorCodes {
		e := "customErrorResponses[" + itoa(i) + "]"
		assert.Equal(t, float64(code), d.Num(e+".errorCode"))
		ttl, ok := d.Get(e + ".errorCachingMinTtl")
		if assert.True(t, ok && ttl.IsNumber(), "%d: set, since unset is CloudFront's 10 s", code) {
			assert.Equal(t, 0.0, ttl.NumberValue(), "%d: not cached", code)
		}
		assert.Empty(t, d.Str(e+".responsePagePath"), "%d: the origin's body reaches the viewer", code)
		assert.Zero(t, d.Num(e+".responseCode"), "%d: the origin's status reaches the viewer", code)
	}

	fns := m.ByType(tFunction)
	require.Len(t, fns, 3)
	for _, f := range fns {
		assert.Equal(t, FunctionRuntime, f.Str("runtime"))
		assert.True(t, f.Bool("publish"), "%s: the distribution runs the LIVE stage", f.Name)
		assert.LessOrEqual(t, len(f.Str("code")), maxFunctionCode)
		assert.LessOrEqual(t, len(f.Str("name")), 64)
		assert.Contains(t, f.Str("name"), pulumitest.Account, "function names are account-wide")
	}
	require.Equal(t, 2, d.Len("defaultCacheBehavior.functionAssociations"))
	got := map[string]string{}
	for i := range 2 {
		p := "defaultCacheBehavior.functionAssociations[" + itoa(i) + "]"
		got[d.Str(p+".eventType")] = d.Str(p + ".functionArn")
	}
	assert.Equal(t, map[string]string{
		"viewer-request":  functionArn("surge-dev-cdn-site-request"),
		"viewer-response": functionArn("surge-dev-cdn-site-response"),
	}, got)

	assets := behavior(t, d, AssetsPath)
	require.Equal(t, 2, d.Len(assets+".functionAssociations"))
	got = map[string]string{}
	for i := range 2 {
		p := assets + ".functionAssociations[" + itoa(i) + "]"
		got[d.Str(p+".eventType")] = d.Str(p + ".functionArn")
	}
	assert.Equal(t, map[string]string{
		"viewer-request":  functionArn("surge-dev-cdn-assets-request"),
		"viewer-response": functionArn("surge-dev-cdn-site-response"),
	}, got)
	ar, ok := m.Named(tFunction, "surge-dev-cdn-assets-request")
	require.True(t, ok)
	assert.Contains(t, ar.Str("code"), `request.uri = "/`+testAssetsNotFound+`"`, "the hashed copy: /assets/* caches for a year")

	// The API and the media are left as they are.
	for _, path := range []string{APIPath, MediaPath} {
		b := behavior(t, d, path)
		assert.Zero(t, d.Len(b+".functionAssociations"), "%s has no function", path)
		assert.Zero(t, d.Len(b+".lambdaFunctionAssociations"), "%s has no Lambda@Edge", path)
	}
	req, ok := m.Named(tFunction, "surge-dev-cdn-site-request")
	require.True(t, ok)
	for _, p := range []string{"/index.html", "/assets/app.0123456789ab.js"} {
		assert.Contains(t, req.Str("code"), `"`+p+`"`, "known path %s", p)
	}
}

func TestNoSitePathsNoFunctions(t *testing.T) {
	m := pulumitest.New()
	require.NoError(t, m.Run(t, "dev", nil, program([]string{"surge-dev"}, setup{}, func(a *DistributionArgs) { a.SitePaths, a.AssetsNotFoundPage = nil, "" })))
	assert.Empty(t, m.ByType(tFunction))
	assert.Zero(t, dist(t, m).Len("defaultCacheBehavior.functionAssociations"))
}

func TestSitePathsValidation(t *testing.T) {
	for _, tt := range []struct {
		paths    []string
		notFound string
		want     string
	}{
		{[]string{"/index.html", "404.html"}, "", "leading slash"},
		{[]string{"index.html"}, "", "404.html"},
		{[]string{"404.html", "app.js"}, "", "index.html"},
		{testSitePaths, "assets/missing.html", "AssetsNotFoundPage"},
		{testSitePaths, "404.html", "AssetsNotFoundPage"},
	} {
		assert.ErrorContains(t, validSitePaths(tt.paths, tt.notFound), tt.want, "%v", tt.paths)
	}
	assert.NoError(t, validSitePaths(testSitePaths, testAssetsNotFound))
	assert.NoError(t, validSitePaths(nil, ""))
}

// TestSiteFunctionsRun executes both functions' code with node, on the
// event shapes of the CloudFront Functions event structure documentation.
func TestSiteFunctionsRun(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the function code is not executed")
	}
	reqCode, err := SiteRequestCode(testSitePaths)
	require.NoError(t, err)
	call := func(code string, event map[string]any) map[string]any {
		t.Helper()
		ev, err := json.Marshal(event)
		require.NoError(t, err)
		script := code + "\nprocess.stdout.write(JSON.stringify(handler(" + string(ev) + ")));\n"
		out, err := exec.Command(node, "-e", script).CombinedOutput()
		require.NoError(t, err, "%s", out)
		var res map[string]any
		require.NoError(t, json.Unmarshal(out, &res), "%s", out)
		return res
	}
	assetsCode, err := requestCode(testSitePaths, testAssetsNotFound)
	require.NoError(t, err)
	for _, tt := range []struct{ uri, want string }{
		{"/assets/app.0123456789ab.js", "/assets/app.0123456789ab.js"},
		{"/assets/app.000000000000.js", "/" + testAssetsNotFound},
		{"/" + testAssetsNotFound, "/" + testAssetsNotFound},
	} {
		res := call(assetsCode, map[string]any{"request": map[string]any{"method": "GET", "uri": tt.uri, "querystring": map[string]any{}, "headers": map[string]any{}}})
		assert.Equal(t, tt.want, res["uri"], "assets viewer-request %s", tt.uri)
	}
	for _, tt := range []struct{ uri, want string }{
		{"/", "/"},
		{"/index.html", "/index.html"},
		{"/assets/app.0123456789ab.js", "/assets/app.0123456789ab.js"},
		{"/nope", "/404.html"},
		{"/courses/42", "/404.html"},
		{"/404.html", "/404.html"},
		{"/constructor", "/404.html"},
		{"/index.html/", "/404.html"},
	} {
		res := call(reqCode, map[string]any{"request": map[string]any{"method": "GET", "uri": tt.uri, "querystring": map[string]any{}, "headers": map[string]any{}}})
		assert.Equal(t, tt.want, res["uri"], "viewer-request %s", tt.uri)
	}

	marker := "x-amz-meta-" + NotFoundMetadataKey
	for _, tt := range []struct {
		name       string
		status     int
		headers    map[string]any
		wantStatus float64
		wantMarker bool
	}{
		{"404 page", 200, map[string]any{marker: map[string]any{"value": "404"}, "content-type": map[string]any{"value": "text/html"}}, 404, false},
		{"other page", 200, map[string]any{"content-type": map[string]any{"value": "text/html"}}, 200, false},
		{"revalidated 404 page", 304, map[string]any{marker: map[string]any{"value": "404"}}, 304, false},
		{"S3 error", 403, map[string]any{}, 403, false},
	} {
		res := call(SiteResponseCode, map[string]any{
			"request":  map[string]any{"method": "GET", "uri": "/404.html", "headers": map[string]any{}},
			"response": map[string]any{"statusCode": tt.status, "headers": tt.headers},
		})
		assert.Equal(t, tt.wantStatus, res["statusCode"], tt.name)
		h, _ := res["headers"].(map[string]any)
		_, has := h[marker]
		assert.Equal(t, tt.wantMarker, has, "%s: marker header", tt.name)
	}
}

func TestSiteRequestCodeIsStable(t *testing.T) {
	a, err := SiteRequestCode(testSitePaths)
	require.NoError(t, err)
	rev := append([]string(nil), testSitePaths...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	b, err := SiteRequestCode(rev)
	require.NoError(t, err)
	assert.Equal(t, a, b, "order of files must not change the code (no spurious diff)")
	assert.False(t, strings.Contains(a, `"/404.html":`), "the 404 page is not a known path")
}
