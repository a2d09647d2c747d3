package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
)

// materialsFixture: one app with course materials on a test object store
// and CDN; staff "s1" of course A, student "u1"; the app's clock can be
// moved forward.
type materialsFixture struct {
	*fixture
	media   *testenv.Media
	db      string
	shift   *atomic.Int64
	courseA int64
	courseB int64
	staff   *testenv.Client
	student *testenv.Client
}

func newMaterialsFixture(t *testing.T, uploadTTL time.Duration) *materialsFixture {
	t.Helper()
	m := testenv.NewMedia(t)
	shift := &atomic.Int64{}
	sh := env.NewShared(t)
	app := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Media: m, UploadTTL: uploadTTL,
		Now: func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }})
	f := &materialsFixture{fixture: &fixture{t: t, app: app, admin: env.NewClient(t, app.HTTP.URL)}, media: m, db: sh.DBURL, shift: shift}
	f.courseA = f.course("MAT-A", 10, past)
	f.courseB = f.course("MAT-B", 10, past)
	f.students("s1", "u1")
	r := f.admin.Admin("PUT", fmt.Sprintf("/api/admin/courses/%d/staff/s1", f.courseA), nil)
	require.Equal(t, http.StatusNoContent, r.Status, "grant staff: %s", r.Body)
	f.staff, f.student = f.login("s1"), f.login("u1")
	return f
}

type presigned struct {
	Key    string            `json:"key"`
	URL    string            `json:"url"`
	Fields map[string]string `json:"fields"`
}

func (f *materialsFixture) presign(c *testenv.Client, course int64, name, ct string, size int) presigned {
	f.t.Helper()
	r := c.Must("POST", fmt.Sprintf("/api/courses/%d/materials/uploads", course), map[string]any{"filename": name, "contentType": ct, "size": size})
	require.Equal(f.t, http.StatusCreated, r.Status, "presign: %s", r.Body)
	var p presigned
	require.NoError(f.t, jsonUnmarshal(r.Body, &p))
	return p
}

// post sends the browser's multipart POST to S3: the fields, with
// overrides (replacing the field of that name in any case; an empty value
// drops it), then the file last.
func post(t *testing.T, p presigned, file []byte, overrides map[string]string) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fields := map[string]string{}
	for k, v := range p.Fields {
		fields[k] = v
	}
	for k, v := range overrides {
		for name := range fields { // form field names are case-insensitive
			if strings.EqualFold(name, k) {
				delete(fields, name)
			}
		}
		if v == "" {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	fw, err := mw.CreateFormFile("file", "upload.bin")
	require.NoError(t, err)
	_, _ = fw.Write(file)
	require.NoError(t, mw.Close())
	resp, err := http.Post(p.URL, mw.FormDataContentType(), &body)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *materialsFixture) confirm(c *testenv.Client, course int64, key string) testenv.Response {
	f.t.Helper()
	return c.Must("POST", fmt.Sprintf("/api/courses/%d/materials", course), map[string]string{"key": key})
}

// recorded counts the rows of materials and of pending uploads.
func (f *materialsFixture) recorded() (materials, pending int) {
	f.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.db)
	require.NoError(f.t, err)
	defer conn.Close(ctx)
	require.NoError(f.t, conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM materials), (SELECT count(*) FROM material_uploads)").Scan(&materials, &pending))
	return materials, pending
}

var pdf = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

func TestMaterialsPresignUploadConfirmList(t *testing.T) {
	f := newMaterialsFixture(t, 0)
	p := f.presign(f.staff, f.courseA, "Syllabus 2026.pdf", "application/pdf", len(pdf))
	assert.True(t, strings.HasPrefix(p.Key, fmt.Sprintf("media/materials/%d/", f.courseA)), "key under the course prefix: %s", p.Key)
	assert.Equal(t, "application/pdf", p.Fields["Content-Type"])
	assert.NotEmpty(t, p.Fields["policy"])
	assert.NotContains(t, p.Fields, "x-amz-security-token", "static test keys have no session token")

	// Not uploaded yet: not recorded.
	assertError(t, f.confirm(f.staff, f.courseA, p.Key), http.StatusConflict, "conflict", "confirm before upload")

	status, body := post(t, p, pdf, nil)
	require.Equal(t, http.StatusNoContent, status, "S3 POST: %s", body)
	r := f.confirm(f.staff, f.courseA, p.Key)
	require.Equal(t, http.StatusCreated, r.Status, "confirm: %s", r.Body)
	assert.Equal(t, "Syllabus 2026.pdf", r.JSON()["filename"])

	// Replayed confirmation: refused, recorded once.
	assertError(t, f.confirm(f.staff, f.courseA, p.Key), http.StatusConflict, "conflict", "replayed confirm")

	// Concurrent confirmations of another upload: exactly one records it.
	p2 := f.presign(f.staff, f.courseA, "Timetable.png", "image/png", 4)
	status, body = post(t, p2, []byte("\x89PNG"), nil)
	require.Equal(t, http.StatusNoContent, status, body)
	statuses := make(chan int, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { statuses <- f.confirm(f.staff, f.courseA, p2.Key).Status })
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: 3}, counts, "one confirmation wins")

	// Any signed-in student lists it, with a signed link that downloads it.
	r = f.student.Must("GET", fmt.Sprintf("/api/courses/%d/materials", f.courseA), nil)
	require.Equal(t, http.StatusOK, r.Status, "list: %s", r.Body)
	var list struct {
		Materials []struct {
			Filename, ContentType, URL string
			Size                       int
		}
		CanUpload bool
	}
	require.NoError(t, jsonUnmarshal(r.Body, &list))
	require.Len(t, list.Materials, 2)
	assert.False(t, list.CanUpload, "a student is not staff")
	got := list.Materials[0]
	assert.Equal(t, len(pdf), got.Size)
	assert.Contains(t, got.URL, "Key-Pair-Id="+testenv.CDNKeyPairID)
	resp, err := http.Get(got.URL)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "signed download: %s", b)
	assert.Equal(t, pdf, b)
	assert.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")

	// The same form posted again (a replayed policy, still within its
	// minutes): S3 takes it, as S3 would, but only at the upload's key; the
	// recorded file is another object and does not change.
	other := bytes.Repeat([]byte("x"), len(pdf))
	status, body = post(t, p, other, nil)
	require.Equal(t, http.StatusNoContent, status, "S3 accepts a replayed policy until it expires: %s", body)
	resp, err = http.Get(got.URL)
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, pdf, b, "the recorded file is untouched by the replay")
	assertError(t, f.confirm(f.staff, f.courseA, p.Key), http.StatusConflict, "conflict", "confirming the replay")

	// The CDN refuses the same object unsigned, or signed for another path.
	unsigned, _, _ := strings.Cut(got.URL, "?")
	// Another object of the course: the key with its last character changed
	// (a UUID's last hex digit may already be "0").
	otherKey := p.Key[:len(p.Key)-1] + "0"
	if strings.HasSuffix(p.Key, "0") {
		otherKey = p.Key[:len(p.Key)-1] + "1"
	}
	for what, u := range map[string]string{
		"unsigned":         unsigned,
		"other path":       strings.Replace(got.URL, p.Key, otherKey, 1),
		"tampered expires": strings.Replace(got.URL, "Expires=", "Expires=9", 1),
	} {
		resp, err := http.Get(u)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, what)
	}

	r = f.staff.Must("GET", fmt.Sprintf("/api/courses/%d/materials", f.courseA), nil)
	assert.Equal(t, true, r.JSON()["canUpload"], "staff may upload")
	m, pending := f.recorded()
	assert.Equal(t, 2, m, "two materials, each recorded once")
	assert.Equal(t, 0, pending, "the upload was consumed")
}

func TestMaterialsStaffOnly(t *testing.T) {
	f := newMaterialsFixture(t, 0)
	anon := env.NewClient(t, f.app.HTTP.URL)
	in := map[string]any{"filename": "a.pdf", "contentType": "application/pdf", "size": 10}
	assertError(t, anon.Must("POST", fmt.Sprintf("/api/courses/%d/materials/uploads", f.courseA), in), http.StatusUnauthorized, "unauthorized", "signed out")
	assertError(t, anon.Must("GET", fmt.Sprintf("/api/courses/%d/materials", f.courseA), nil), http.StatusUnauthorized, "unauthorized", "list signed out")
	assertError(t, f.student.Must("POST", fmt.Sprintf("/api/courses/%d/materials/uploads", f.courseA), in), http.StatusForbidden, "forbidden", "student")
	// Staff of one course only: not of another.
	assertError(t, f.staff.Must("POST", fmt.Sprintf("/api/courses/%d/materials/uploads", f.courseB), in), http.StatusForbidden, "forbidden", "other course")
	// A client's claim changes nothing.
	assertError(t, f.student.Must("POST", fmt.Sprintf("/api/courses/%d/materials/uploads", f.courseA), in, "X-Staff", "true"), http.StatusForbidden, "forbidden", "claimed staff")
	assertError(t, f.staff.Must("POST", "/api/courses/999999/materials/uploads", in), http.StatusNotFound, "not_found", "no such course")
	// Another staff member cannot confirm s1's upload.
	p := f.presign(f.staff, f.courseA, "a.pdf", "application/pdf", len(pdf))
	status, body := post(t, p, pdf, nil)
	require.Equal(t, http.StatusNoContent, status, body)
	assertError(t, f.confirm(f.student, f.courseA, p.Key), http.StatusForbidden, "forbidden", "student confirms")
	// Granting needs the admin token, and names real courses and students.
	assertError(t, f.staff.Must("PUT", fmt.Sprintf("/api/admin/courses/%d/staff/u1", f.courseA), nil), http.StatusUnauthorized, "unauthorized", "grant without token")
	assertError(t, f.admin.Admin("PUT", fmt.Sprintf("/api/admin/courses/%d/staff/nobody", f.courseA), nil), http.StatusNotFound, "not_found", "grant unknown student")
	assertError(t, f.admin.Admin("PUT", "/api/admin/courses/999999/staff/u1", nil), http.StatusNotFound, "not_found", "grant unknown course")
	m, _ := f.recorded()
	assert.Equal(t, 0, m)
}

func TestMaterialsBadInputRecordsNothing(t *testing.T) {
	f := newMaterialsFixture(t, 2*time.Second)
	uploads := fmt.Sprintf("/api/courses/%d/materials/uploads", f.courseA)
	t.Run("presign", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"wrong type", map[string]any{"filename": "x.html", "contentType": "text/html", "size": 10}, 415, "unsupported_media_type"},
			{"type with parameters", map[string]any{"filename": "x.pdf", "contentType": "application/pdf; x=1", "size": 10}, 415, "unsupported_media_type"},
			{"oversized", map[string]any{"filename": "x.pdf", "contentType": "application/pdf", "size": 25<<20 + 1}, 413, "payload_too_large"},
			{"empty file", map[string]any{"filename": "x.pdf", "contentType": "application/pdf", "size": 0}, 400, "invalid_request"},
			{"slash in name", map[string]any{"filename": "../x.pdf", "contentType": "application/pdf", "size": 10}, 400, "invalid_request"},
			{"missing fields", map[string]any{"filename": "x.pdf"}, 400, "invalid_request"},
			{"client picks the key", map[string]any{"filename": "x.pdf", "contentType": "application/pdf", "size": 10, "key": "media/materials/1/x"}, 400, "invalid_request"},
		} {
			assertError(t, f.staff.Must("POST", uploads, tc.body), tc.status, tc.code, tc.name)
		}
		m, pending := f.recorded()
		assert.Equal(t, 0, m+pending, "nothing recorded")
	})

	t.Run("refused by S3", func(t *testing.T) {
		other := fmt.Sprintf("media/materials/%d/0f0f0f0f-0000-4000-8000-000000000000", f.courseB)
		for _, tc := range []struct {
			name      string
			file      []byte
			overrides map[string]string
			status    int
		}{
			{"other type than the policy", pdf, map[string]string{"Content-Type": "text/html"}, 403},
			{"larger than declared", append(pdf, 'x'), nil, 400},
			{"smaller than declared", pdf[1:], nil, 400},
			{"key outside the prefix", pdf, map[string]string{"key": other}, 403},
			{"extra field", pdf, map[string]string{"x-amz-meta-owner": "me"}, 403},
			{"no policy", pdf, map[string]string{"policy": ""}, 403},
			{"forged signature", pdf, map[string]string{"x-amz-signature": strings.Repeat("0", 64)}, 403},
		} {
			p := f.presign(f.staff, f.courseA, "s.pdf", "application/pdf", len(pdf))
			status, body := post(t, p, tc.file, tc.overrides)
			assert.Equal(t, tc.status, status, "%s: %s", tc.name, body)
			assertError(t, f.confirm(f.staff, f.courseA, p.Key), http.StatusConflict, "conflict", tc.name+": confirm")
			_, stored := f.media.Object(context.Background(), other)
			assert.False(t, stored, "%s: nothing stored outside the prefix", tc.name)
		}
		m, _ := f.recorded()
		assert.Equal(t, 0, m, "nothing recorded")
	})

	t.Run("expired policy", func(t *testing.T) {
		p := f.presign(f.staff, f.courseA, "late.pdf", "application/pdf", len(pdf))
		f.media.SetNow(func() time.Time { return time.Now().Add(3 * time.Second) })
		defer f.media.SetNow(time.Now)
		status, body := post(t, p, pdf, nil)
		assert.Equal(t, http.StatusForbidden, status, "expired POST: %s", body)
		assert.Contains(t, body, "Policy expired")
		assertError(t, f.confirm(f.staff, f.courseA, p.Key), http.StatusConflict, "conflict", "expired: confirm")

		// Uploaded in time, but confirmed long after the policy expired.
		f.media.SetNow(time.Now)
		p = f.presign(f.staff, f.courseA, "slow.pdf", "application/pdf", len(pdf))
		status, body = post(t, p, pdf, nil)
		require.Equal(t, http.StatusNoContent, status, body)
		f.shift.Store(int64(time.Hour))
		defer f.shift.Store(0)
		r := f.confirm(f.staff, f.courseA, p.Key)
		assertError(t, r, http.StatusConflict, "conflict", "confirm after expiry")
		assert.Contains(t, string(r.Body), "expired")
		m, _ := f.recorded()
		assert.Equal(t, 0, m, "nothing recorded")
	})

	t.Run("confirm keys", func(t *testing.T) {
		p := f.presign(f.staff, f.courseA, "k.pdf", "application/pdf", len(pdf))
		status, body := post(t, p, pdf, nil)
		require.Equal(t, http.StatusNoContent, status, body)
		suffix := strings.TrimPrefix(p.Key, fmt.Sprintf("media/materials/%d/", f.courseA))
		for name, key := range map[string]string{
			"other course's prefix": fmt.Sprintf("media/materials/%d/%s", f.courseB, suffix),
			"climbing out":          fmt.Sprintf("media/materials/%d/../%d/%s", f.courseA, f.courseB, suffix),
			"another bucket path":   "releases/" + suffix,
			"nested":                p.Key + "/x",
		} {
			assertError(t, f.confirm(f.staff, f.courseA, key), http.StatusBadRequest, "invalid_request", name)
		}
		// The right key in the course it was not issued for.
		assertError(t, f.confirm(f.staff, f.courseB, p.Key), http.StatusForbidden, "forbidden", "other course")
		m, _ := f.recorded()
		assert.Equal(t, 0, m, "nothing recorded")
		require.Equal(t, http.StatusCreated, f.confirm(f.staff, f.courseA, p.Key).Status, "the right key still works")
	})
}

func TestMaterialsDisabled(t *testing.T) {
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true})
	id := f.course("OFF", 5, past)
	f.students("n1")
	c := f.login("n1")
	assertError(t, c.Must("GET", fmt.Sprintf("/api/courses/%d/materials", id), nil), http.StatusNotFound, "not_found", "disabled")
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestRecordCopiesOnlyTheCheckedFile: the copy to the recorded key names
// the ETag the HEAD saw; a file replaced in between is not copied.
func TestRecordCopiesOnlyTheCheckedFile(t *testing.T) {
	f := newMaterialsFixture(t, 0)
	ctx := context.Background()
	svc := f.media.Service(t, 0)
	p := f.presign(f.staff, f.courseA, "a.pdf", "application/pdf", len(pdf))
	status, body := post(t, p, pdf, nil)
	require.Equal(t, http.StatusNoContent, status, body)
	checked, found, err := svc.Head(ctx, p.Key)
	require.NoError(t, err)
	require.True(t, found)
	require.NotEmpty(t, checked.ETag)

	other := bytes.Repeat([]byte("y"), len(pdf))
	status, body = post(t, p, other, nil) // replaced between the HEAD and the copy
	require.Equal(t, http.StatusNoContent, status, body)
	err = svc.Copy(ctx, p.Key, checked.ETag, surge.RecordedKey(p.Key))
	assert.Equal(t, surge.CodeConflict, surge.ErrorCode(err), "a changed file is not copied: %v", err)
	_, stored := f.media.Object(ctx, surge.RecordedKey(p.Key))
	assert.False(t, stored, "nothing at the recorded key")

	now, _, err := svc.Head(ctx, p.Key)
	require.NoError(t, err)
	require.NoError(t, svc.Copy(ctx, p.Key, now.ETag, surge.RecordedKey(p.Key)))
	b, stored := f.media.Object(ctx, surge.RecordedKey(p.Key))
	require.True(t, stored)
	assert.Equal(t, other, b, "the file that was checked is the one copied")
}
