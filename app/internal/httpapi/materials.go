package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/surge-dev/surge/app/internal/surge"
)

// Materials is the durable side of course materials (PostgreSQL).
type Materials interface {
	GrantStaff(ctx context.Context, courseID int64, studentNo string) error
	IsStaff(ctx context.Context, courseID, studentID int64) (bool, error)
	CreateUpload(ctx context.Context, u surge.Upload) error
	Upload(ctx context.Context, courseID int64, key string) (surge.Upload, bool, error)
	RecordMaterial(ctx context.Context, courseID int64, uploadKey, key string, at time.Time) (surge.Material, error)
	Materials(ctx context.Context, courseID int64) ([]surge.Material, error)
}

// MediaStorage is where the files live: S3 (presigned POSTs, HEAD) and
// CloudFront (signed download URLs).
type MediaStorage interface {
	UploadTTL() time.Duration
	UploadOrigin() string // where the browser posts (its page must be allowed to connect there)
	PresignUpload(ctx context.Context, u surge.Upload) (surge.UploadForm, error)
	Head(ctx context.Context, key string) (surge.ObjectInfo, bool, error)
	Copy(ctx context.Context, src, etag, dst string) error
	URL(key string) (string, time.Time, error)
}

// confirmGrace is how long after its policy expired an upload may still be
// recorded: S3 checks the expiry when the POST starts, and a large file on
// a slow link arrives later.
const confirmGrace = 10 * time.Minute

// materialsOn reports whether both halves are configured; otherwise the
// request is answered with ErrMaterialsOff.
func (s *Server) materialsOn(w http.ResponseWriter, r *http.Request) bool {
	if s.d.Materials == nil || s.d.Media == nil {
		s.fail(w, r, surge.ErrMaterialsOff)
		return false
	}
	return true
}

// materialsCourse checks that materials are on and resolves the course of
// the path; it answers the request itself when either fails.
func (s *Server) materialsCourse(w http.ResponseWriter, r *http.Request) (int64, bool) {
	if !s.materialsOn(w, r) {
		return 0, false
	}
	id, err := pathID(r, "id")
	if err == nil {
		_, err = s.d.Courses.Course(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return 0, false
	}
	return id, true
}

// staffCourse resolves the course of the path and checks, in the database,
// that the signed-in student is its staff. Nothing the client sends says
// who is staff.
func (s *Server) staffCourse(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, ok := s.materialsCourse(w, r)
	if !ok {
		return 0, false
	}
	ok, err := s.d.Materials.IsStaff(r.Context(), id, studentFrom(r.Context()))
	if err != nil {
		s.fail(w, r, err)
		return 0, false
	}
	if !ok {
		s.fail(w, r, surge.ErrNotStaff)
		return 0, false
	}
	return id, true
}

// newObjectKey is a random (version 4) UUID under the course's prefix: the
// client never names the object.
func newObjectKey(courseID int64) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return surge.CoursePrefix(courseID) + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func checkFilename(errs []string, v string) []string {
	errs = checkText(errs, "filename", v, 200)
	if strings.ContainsAny(v, `/\`) || strings.ContainsFunc(v, unicode.IsControl) {
		errs = append(errs, "filename must not contain slashes or control characters")
	}
	return errs
}

type uploadIn struct {
	Filename    *string `json:"filename"`
	ContentType *string `json:"contentType"`
	Size        *int64  `json:"size"`
}

type uploadOut struct {
	Key       string            `json:"key"`
	URL       string            `json:"url"`
	Fields    map[string]string `json:"fields"`
	ExpiresAt time.Time         `json:"expiresAt"`
}

// handlePresignUpload authorises one upload: a presigned POST whose policy
// fixes the key (under the course's prefix), the type and the exact size.
func (s *Server) handlePresignUpload() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.staffCourse(w, r)
		if !ok {
			return
		}
		var in uploadIn
		if err := s.decode(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		if in.Filename == nil || in.ContentType == nil || in.Size == nil {
			s.fail(w, r, surge.Errorf(surge.CodeInvalid, "filename, contentType and size are required"))
			return
		}
		if !surge.MaterialTypeAllowed(*in.ContentType) {
			s.fail(w, r, surge.Errorf(surge.CodeUnsupportedMedia, "contentType must be one of %s", strings.Join(surge.MaterialTypes, ", ")))
			return
		}
		if *in.Size > surge.MaxMaterialBytes {
			s.fail(w, r, surge.Errorf(surge.CodeTooLarge, "a material is at most %d bytes (25 MiB)", surge.MaxMaterialBytes))
			return
		}
		var errs []string
		errs = checkFilename(errs, *in.Filename)
		if *in.Size < 1 {
			errs = append(errs, "size must be at least 1 byte")
		}
		if err := invalid(errs); err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		u := surge.Upload{
			Key: newObjectKey(id), CourseID: id, StaffID: studentFrom(ctx),
			Filename: *in.Filename, ContentType: *in.ContentType, Size: *in.Size,
			ExpiresAt: s.d.Now().Add(s.d.Media.UploadTTL()).UTC().Truncate(time.Second),
		}
		form, err := s.d.Media.PresignUpload(ctx, u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.d.Materials.CreateUpload(ctx, u); err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, uploadOut{Key: u.Key, URL: form.URL, Fields: form.Fields, ExpiresAt: u.ExpiresAt})
	}
}

type confirmIn struct {
	Key *string `json:"key"`
}

type materialOut struct {
	ID          int64     `json:"id"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"`
	UploadedAt  time.Time `json:"uploadedAt"`
	URL         string    `json:"url"`
	URLExpires  time.Time `json:"urlExpiresAt"`
}

func (s *Server) materialOut(m surge.Material) (materialOut, error) {
	u, exp, err := s.d.Media.URL(m.Key)
	if err != nil {
		return materialOut{}, err
	}
	return materialOut{ID: m.ID, Filename: m.Filename, ContentType: m.ContentType, Size: m.Size,
		UploadedAt: m.UploadedAt, URL: u, URLExpires: exp.UTC()}, nil
}

// handleConfirmUpload records an upload once S3 holds exactly the object
// the policy allowed, copied to its recorded key. Anything else is refused
// and nothing is recorded.
func (s *Server) handleConfirmUpload() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.staffCourse(w, r)
		if !ok {
			return
		}
		var in confirmIn
		if err := s.decode(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		if in.Key == nil {
			s.fail(w, r, surge.Errorf(surge.CodeInvalid, "key is required"))
			return
		}
		if !surge.InCoursePrefix(id, *in.Key) {
			s.fail(w, r, surge.ErrKeyOutsidePrefix)
			return
		}
		ctx := r.Context()
		u, found, err := s.d.Materials.Upload(ctx, id, *in.Key)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !found || u.StaffID != studentFrom(ctx) {
			s.fail(w, r, surge.ErrUploadNotFound)
			return
		}
		if s.d.Now().After(u.ExpiresAt.Add(confirmGrace)) {
			s.fail(w, r, surge.ErrUploadExpired)
			return
		}
		obj, stored, err := s.d.Media.Head(ctx, u.Key)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		switch {
		case !stored:
			s.fail(w, r, surge.ErrUploadNotStored)
			return
		case obj.Size != u.Size:
			s.fail(w, r, surge.Errorf(surge.CodeTooLarge, "the stored file is %d bytes, the upload allowed %d", obj.Size, u.Size))
			return
		case obj.ContentType != u.ContentType:
			s.fail(w, r, surge.Errorf(surge.CodeUnsupportedMedia, "the stored file is %q, the upload allowed %q", obj.ContentType, u.ContentType))
			return
		}
		// Served from a key no policy can write: a replayed form cannot
		// replace the file once it is recorded.
		final := surge.RecordedKey(u.Key)
		if err := s.d.Media.Copy(ctx, u.Key, obj.ETag, final); err != nil {
			s.fail(w, r, err)
			return
		}
		m, err := s.d.Materials.RecordMaterial(ctx, id, u.Key, final, s.d.Now())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out, err := s.materialOut(m)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, out)
	}
}

// handleListMaterials lists a course's materials with signed download URLs
// for any signed-in student; canUpload says whether they are its staff.
func (s *Server) handleListMaterials() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.materialsCourse(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		ms, err := s.d.Materials.Materials(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		staff, err := s.d.Materials.IsStaff(ctx, id, studentFrom(ctx))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := make([]materialOut, len(ms))
		for i, m := range ms {
			if out[i], err = s.materialOut(m); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"materials": out, "canUpload": staff,
			"types": surge.MaterialTypes, "maxBytes": surge.MaxMaterialBytes})
	}
}

// handleGrantStaff makes a student staff of a course: they may then upload
// its materials.
func (s *Server) handleGrantStaff() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.d.Materials == nil {
			s.fail(w, r, surge.ErrMaterialsOff)
			return
		}
		id, err := pathID(r, "id")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		no := r.PathValue("studentNo")
		if no == "" || len(no) > 256 || strings.ContainsRune(no, 0) {
			s.fail(w, r, surge.Errorf(surge.CodeNotFound, "no such student"))
			return
		}
		if err := s.d.Materials.GrantStaff(r.Context(), id, no); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
