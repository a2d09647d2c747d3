package httpapi

import (
	"net/http"

	"github.com/surge-dev/surge/app/internal/web"
)

// routes is the whole API surface.
func (s *Server) routes(mux *http.ServeMux) {
	// Health checks: never shed, never depend on a request budget.
	mux.Handle("GET /healthz", s.observe("GET /healthz", s.handleHealthz()))
	mux.Handle("GET /readyz", s.observe("GET /readyz", s.handleReadyz()))

	api := func(pattern string, h http.Handler) {
		mux.Handle(pattern, s.observe(pattern, s.admit(s.timeout(h))))
	}
	admin := func(pattern string, h http.Handler) { api(pattern, s.requireAdmin(h)) }
	student := func(pattern string, h http.HandlerFunc) { api(pattern, s.requireSession(h)) }

	admin("POST /api/admin/courses", s.handleCreateCourse())
	admin("PUT /api/admin/courses/{id}", s.handleUpdateCourse())
	// Bulk import hashes passwords (seconds per hundred at production cost):
	// it is exempt from the request timeout, see handleImportStudents.
	mux.Handle("POST /api/admin/students", s.observe("POST /api/admin/students", s.admit(s.requireAdmin(s.handleImportStudents()))))

	// Sign-in checks passwords (bcrypt, CPU-bound) in its own bounded pool,
	// outside MaxInflight: a flood of sign-ins cannot starve joins and polls.
	mux.Handle("POST /api/login", s.observe("POST /api/login", s.admitLogin(s.timeout(s.handleLogin()))))
	admin("DELETE /api/admin/students/{studentNo}/sessions", s.handleRevokeSessions())
	admin("PUT /api/admin/courses/{id}/staff/{studentNo}", s.handleGrantStaff())
	api("POST /api/logout", s.handleLogout())
	api("GET /api/courses", s.handleListCourses())
	// The same answer for every student, no session: CloudFront caches it
	// for a second (components/cdn), so most polls never reach the app.
	api("GET /api/courses/{id}/progress", s.handleProgress())

	student("POST /api/courses/{id}/queue", s.handleJoin())
	student("GET /api/courses/{id}/queue", s.handleQueueStatus())
	student("DELETE /api/courses/{id}/queue", s.handleLeave())
	student("GET /api/enrollments", s.handleEnrollments())
	student("DELETE /api/enrollments/{courseId}", s.handleCancel())

	// Course materials: staff (checked in the database) upload straight to
	// S3 with a presigned POST, then confirm; signed-in students list them
	// with CloudFront signed URLs.
	student("GET /api/courses/{id}/materials", s.handleListMaterials())
	student("POST /api/courses/{id}/materials/uploads", s.handlePresignUpload())
	student("POST /api/courses/{id}/materials", s.handleConfirmUpload())

	// The students' page (embedded files, never shed); everything else,
	// /api/* included: a JSON 404, still subject to load shedding.
	var connect []string // the page posts materials straight to the uploads bucket
	if s.d.Media != nil {
		connect = append(connect, s.d.Media.UploadOrigin())
	}
	mux.Handle("/", s.observe("other", web.HandlerConnecting(s.admit(http.HandlerFunc(s.handleNotFound)), connect...)))
}
