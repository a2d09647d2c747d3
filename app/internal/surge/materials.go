package surge

import (
	"strconv"
	"strings"
	"time"
)

// Course materials: files staff attach to a course (a syllabus PDF, images).
// The browser uploads them straight to S3 with a presigned POST; the app
// records one only after S3 confirms its size and type.

// MaterialsPrefix is where every material object lives in the uploads
// bucket, one folder per course. CloudFront serves it under /media/*.
const MaterialsPrefix = "media/materials/"

// MaxMaterialBytes bounds one material file (25 MiB).
const MaxMaterialBytes = 25 << 20

// MaterialTypes are the content types staff may upload.
var MaterialTypes = []string{"application/pdf", "image/png", "image/jpeg", "image/webp"}

// MaterialTypeAllowed reports whether ct is one of MaterialTypes (exactly:
// no parameters, lower case, as S3 compares it).
func MaterialTypeAllowed(ct string) bool {
	for _, t := range MaterialTypes {
		if t == ct {
			return true
		}
	}
	return false
}

// CoursePrefix is the key prefix of one course's materials.
func CoursePrefix(courseID int64) string {
	return MaterialsPrefix + strconv.FormatInt(courseID, 10) + "/"
}

// InCoursePrefix reports whether key names an object directly under the
// course's prefix: one path segment of [0-9a-f-], nothing that could climb
// out or reach another course.
func InCoursePrefix(courseID int64, key string) bool {
	rest, ok := strings.CutPrefix(key, CoursePrefix(courseID))
	if !ok || len(rest) < 8 || len(rest) > 64 {
		return false
	}
	for _, r := range rest {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == '-') {
			return false
		}
	}
	return true
}

// Upload is an upload the app has authorised but not recorded yet: the
// presigned POST fixes its key, type and size; it expires at ExpiresAt.
type Upload struct {
	Key         string
	CourseID    int64
	StaffID     int64
	Filename    string
	ContentType string
	Size        int64
	ExpiresAt   time.Time
}

// Material is a recorded file of a course.
type Material struct {
	ID          int64
	CourseID    int64
	Key         string
	Filename    string
	ContentType string
	Size        int64
	UploadedBy  int64
	UploadedAt  time.Time
}

// UploadForm is what the browser posts to S3: the URL and the form fields
// to send before the file (the policy and its signature among them).
type UploadForm struct {
	URL    string
	Fields map[string]string
}

// ObjectInfo is what S3 reports of a stored object (HEAD).
type ObjectInfo struct {
	Size        int64
	ContentType string
	ETag        string
}

// RecordedKey is where a confirmed upload is copied to and served from. No
// upload policy names it, so posting an upload's form again (within its
// few minutes) can only replace the upload, never a recorded file.
func RecordedKey(uploadKey string) string { return uploadKey + "/file" }

// CodeForbidden: authenticated, but not allowed to do this.
const CodeForbidden Code = "forbidden"

// Errors of the materials routes.
var (
	ErrNotStaff         = &Error{Code: CodeForbidden, Message: "only the course's staff may do this"}
	ErrMaterialsOff     = &Error{Code: CodeNotFound, Message: "course materials are not enabled on this server"}
	ErrUploadNotFound   = &Error{Code: CodeConflict, Message: "no such pending upload: it was never issued for this course, or it was already recorded"}
	ErrUploadExpired    = &Error{Code: CodeConflict, Message: "the upload's policy expired: ask for a new one"}
	ErrUploadNotStored  = &Error{Code: CodeConflict, Message: "the file has not reached storage: upload it with the form first"}
	ErrKeyOutsidePrefix = &Error{Code: CodeInvalid, Message: "key is not under this course's materials prefix"}
)
