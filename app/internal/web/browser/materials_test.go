package browser

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

// allowDownloads saves the tab's downloads in dir.
func allowDownloads(dir string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		c := chromedp.FromContext(ctx)
		_, err := cdp.Call(ctx, c.Browser, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: c.BrowserContextID, DownloadPath: dir})
		return chromedp.Void{}, err
	}
}

// TestStaffUploadStudentDownload: staff pick a PDF in the Materials
// section, the page posts it straight to the object store with the
// presigned form and the app records it; a student of the course sees it
// and downloads it through the CloudFront signed link. Desktop and phone.
func TestStaffUploadStudentDownload(t *testing.T) {
	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	file := filepath.Join(t.TempDir(), "syllabus.pdf")
	require.NoError(t, os.WriteFile(file, pdf, 0o600))
	for _, vp := range []viewport{desktop, phone} {
		t.Run(vp.name, func(t *testing.T) {
			media := testenv.NewMedia(t)
			s := newSite(t, testenv.AppOptions{NoAdmitter: true, Media: media})
			media.AllowOrigin(s.base) // the uploads bucket's CORS rule: the site's origin only
			cs := s.course("CS101", "Introduction to Programming", 120, time.Now().Add(-time.Minute))
			s.students("t9001", "s9001")
			r := s.admin.Admin("PUT", fmt.Sprintf("/api/admin/courses/%d/staff/t9001", cs), nil)
			require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))

			staff := openPage(t, s.base, vp)
			staff.signIn("t9001")
			assert.False(t, staff.js(`document.getElementById("materials").open`), "closed at first: signing in asks for no materials")
			staff.do(chromedp.Click(chromedp.CSS("#materials > summary")))
			staff.wait("the upload form", `!document.getElementById("mat-form").hidden`, 10*time.Second)
			assert.Equal(t, "Add a file (PDF, PNG, JPEG or WebP, up to 25 MB)", staff.eval(`document.querySelector('label[for="mat-file"]').textContent`))
			staff.do(chromedp.SetUploadFiles(chromedp.CSS("#mat-file"), []string{file}), chromedp.Click(chromedp.CSS("#mat-btn")))
			staff.wait("the upload confirmed", `document.getElementById("mat-status").textContent === "syllabus.pdf is uploaded."`, 15*time.Second)
			staff.wait("the file listed", `[...document.querySelectorAll("#mat-list a")].some(a => a.textContent === "syllabus.pdf")`, 5*time.Second)
			staff.noFailureShown()
			staff.noHorizontalScroll()

			student := openPage(t, s.base, vp)
			student.signIn("s9001")
			// Keyboard: the summary opens with Enter like any disclosure.
			student.do(chromedp.Focus(chromedp.CSS("#materials > summary")), chromedp.KeyEvent("\r"))
			student.wait("the material listed", `[...document.querySelectorAll("#mat-list a")].some(a => a.textContent === "syllabus.pdf")`, 10*time.Second)
			assert.True(t, student.js(`document.getElementById("mat-form").hidden`), "a student has no upload form")
			href := student.eval(`document.querySelector("#mat-list a").href`)
			assert.True(t, strings.HasPrefix(href, media.CDNURL+"/media/materials/"), "a CDN link: %s", href)
			assert.Contains(t, href, "Signature=")
			student.noHorizontalScroll()
			student.screenshot("materials")

			dir := t.TempDir()
			student.do(allowDownloads(dir), chromedp.Click(chromedp.CSS("#mat-list a")))
			var got []byte
			require.Eventually(t, func() bool {
				b, err := os.ReadFile(filepath.Join(dir, "syllabus.pdf"))
				got = b
				return err == nil && len(b) == len(pdf)
			}, 15*time.Second, 100*time.Millisecond, "the download lands")
			assert.True(t, bytes.Equal(pdf, got), "the downloaded bytes are the uploaded ones")

			// The link works only signed.
			unsigned, _, _ := strings.Cut(href, "?")
			resp, err := http.Get(unsigned)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "unsigned link refused")
			student.noFailureShown()
		})
	}
}
