package storage

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SiteFile is one file of the students' page, uploaded to the static bucket.
type SiteFile struct {
	// Key is the object key and URL path without the leading slash, e.g.
	// "index.html" or "assets/app.3f2a9c1b0d4e.js".
	Key string
	// Source names the file independently of its content (e.g.
	// "assets/app.js"). The object's logical name comes from it, so a
	// release that changes an asset replaces that one object (its key
	// changes with its hash) and leaves every unchanged file without a diff.
	Source       string
	Body         []byte
	ContentType  string
	CacheControl string
	// Metadata is user metadata (x-amz-meta-*), e.g. the 404 page's status
	// marker read by the CDN. Default none.
	Metadata map[string]string
}

func validateSiteFiles(files []SiteFile) []error {
	var errs []error
	keys, sources := map[string]bool{}, map[string]bool{}
	for i, f := range files {
		where := fmt.Sprintf("SiteFiles[%d] (%s)", i, f.Key)
		switch {
		case f.Key == "" || strings.HasPrefix(f.Key, "/") || strings.Contains(f.Key, "//"):
			errs = append(errs, fmt.Errorf("%s: Key wants a path without a leading slash", where))
		case keys[f.Key]:
			errs = append(errs, fmt.Errorf("%s: Key appears twice", where))
		}
		keys[f.Key] = true
		if f.Source == "" || strings.Contains(f.Source, "::") {
			errs = append(errs, fmt.Errorf("%s: Source is required (no \"::\")", where))
		} else if sources[f.Source] {
			errs = append(errs, fmt.Errorf("%s: Source %q appears twice", where, f.Source))
		}
		sources[f.Source] = true
		if f.ContentType == "" {
			errs = append(errs, fmt.Errorf("%s: ContentType is required", where))
		}
		if f.CacheControl == "" {
			errs = append(errs, fmt.Errorf("%s: CacheControl is required", where))
		}
	}
	return errs
}

// declareSiteObjects uploads one object per file. Text goes in as Content,
// so a changed page shows as a text diff of that object; anything else as
// ContentBase64.
func declareSiteObjects(ctx *pulumi.Context, name string, bucket pulumi.StringInput, files []SiteFile, opts ...pulumi.ResourceOption) error {
	for _, f := range files {
		args := &s3.BucketObjectv2Args{
			Bucket:       bucket,
			Key:          pulumi.String(f.Key),
			ContentType:  pulumi.String(f.ContentType),
			CacheControl: pulumi.String(f.CacheControl),
		}
		if utf8.Valid(f.Body) {
			args.Content = pulumi.String(string(f.Body))
		} else {
			args.ContentBase64 = pulumi.String(base64.StdEncoding.EncodeToString(f.Body))
		}
		if len(f.Metadata) > 0 {
			args.Metadata = pulumi.ToStringMap(f.Metadata)
		}
		if _, err := s3.NewBucketObjectv2(ctx, SiteObjectName(name, f.Source), args, opts...); err != nil {
			return fmt.Errorf("uploading %s: %w", f.Key, err)
		}
	}
	return nil
}

// SiteObjectName is the logical name of a site file's object.
func SiteObjectName(component, source string) string {
	return component + "-site-" + source
}
