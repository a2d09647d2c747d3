package stacks

import (
	"fmt"

	"github.com/surge-dev/surge/app/site"
	"github.com/surge-dev/surge/components/cdn"
	"github.com/surge-dev/surge/components/storage"
)

// siteFiles is the students' page as the binary embeds it (package
// app/site): the same names, bodies and headers `surge serve` uses, as
// static-bucket objects, plus their keys for the CDN's 404 handling.
func siteFiles() ([]storage.SiteFile, []string, error) {
	s, err := site.Load()
	if err != nil {
		return nil, nil, fmt.Errorf("loading the site: %w", err)
	}
	var files []storage.SiteFile
	var keys []string
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
		}
		files = append(files, sf)
		keys = append(keys, f.Name)
	}
	return files, keys, nil
}
