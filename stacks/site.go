package stacks

import (
	"fmt"

	"github.com/surge-dev/surge/app/site"
	"github.com/surge-dev/surge/components/cdn"
	"github.com/surge-dev/surge/components/storage"
)

// siteFiles is the students' page as the binary embeds it (package
// app/site): the same names, bodies and headers `surge serve` uses, as
// static-bucket objects, plus their keys for the CDN's 404 handling. One
// object more than the binary serves: a content-hashed copy of the 404 page
// under assets/ (its key is assetsNotFound), for unknown /assets/* paths,
// which CloudFront caches for a year.
func siteFiles() (files []storage.SiteFile, keys []string, assetsNotFound string, err error) {
	s, err := site.Load()
	if err != nil {
		return nil, nil, "", fmt.Errorf("loading the site: %w", err)
	}
	for _, f := range s.Files() {
		sf := storage.SiteFile{
			Key:          f.Name,
			Source:       f.Source,
			Body:         f.Body,
			ContentType:  f.ContentType,
			CacheControl: f.CacheControl,
		}
		if f.Name == cdn.NotFoundPage {
			sf.Metadata = cdn.NotFoundMetadata()
			copied := sf
			copied.Key = "assets/" + site.HashedName(cdn.NotFoundPage, f.Body)
			copied.Source = "assets/" + cdn.NotFoundPage
			copied.CacheControl = site.CacheImmutable
			assetsNotFound = copied.Key
			files = append(files, copied)
			keys = append(keys, copied.Key)
		}
		files = append(files, sf)
		keys = append(keys, f.Name)
	}
	if assetsNotFound == "" {
		return nil, nil, "", fmt.Errorf("the site has no %s", cdn.NotFoundPage)
	}
	return files, keys, assetsNotFound, nil
}
