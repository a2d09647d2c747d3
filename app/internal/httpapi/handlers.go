package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/surge-dev/surge/app/internal/surge"
)

// MaxStudentsPerImport bounds one bulk import call.
const MaxStudentsPerImport = 10000

func (s *Server) handleHealthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			writeError(w, surge.Errorf(surge.CodeDraining, "draining"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

func (s *Server) handleReadyz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			writeError(w, surge.Errorf(surge.CodeDraining, "draining"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		var dbErr, redisErr error
		var wg sync.WaitGroup
		wg.Go(func() { dbErr = s.d.Store.Ping(ctx) })
		wg.Go(func() { redisErr = s.d.Room.Ping(ctx) })
		wg.Wait()
		if dbErr != nil || redisErr != nil {
			var down []string
			if dbErr != nil {
				down = append(down, "database")
				s.d.Logger.Warn("readiness: database", "err", dbErr)
			}
			if redisErr != nil {
				down = append(down, "redis")
				s.d.Logger.Warn("readiness: redis", "err", redisErr)
			}
			writeError(w, surge.Errorf(surge.CodeUnavailable, "not ready: %s unreachable", strings.Join(down, " and ")))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, surge.Errorf(surge.CodeNotFound, "no such endpoint"))
}

// decode reads a JSON request body into v (see decodeBody).
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(r.Header.Get("Content-Type"), http.MaxBytesReader(w, r.Body, MaxBodyBytes), MaxBodyBytes, v)
}

// pathID parses a path segment that must name a course: a positive decimal
// integer. Anything else cannot name one: 404.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	if v == "" || len(v) > 19 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, surge.ErrCourseNotFound
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, surge.ErrCourseNotFound
	}
	return id, nil
}

type courseOut struct {
	ID        int64     `json:"id"`
	Code      string    `json:"code"`
	Title     string    `json:"title"`
	Capacity  int       `json:"capacity"`
	Enrolled  int       `json:"enrolled"`
	SeatsLeft int       `json:"seatsLeft"`
	OpensAt   time.Time `json:"opensAt"`
	Open      bool      `json:"open"`
}

func (s *Server) courseOut(c surge.Course) courseOut {
	return courseOut{ID: c.ID, Code: c.Code, Title: c.Title, Capacity: c.Capacity, Enrolled: c.Enrolled,
		SeatsLeft: c.SeatsLeft(), OpensAt: c.OpensAt.UTC(), Open: c.Open(s.d.Now())}
}

func checkText(errs []string, name, v string, maxLen int) []string {
	switch {
	case strings.TrimSpace(v) == "":
		return append(errs, name+" must not be empty")
	case strings.ContainsRune(v, 0):
		// PostgreSQL text cannot hold NUL: refused here, not as a 500 there.
		return append(errs, name+" must not contain NUL characters")
	case utf8.RuneCountInString(v) > maxLen:
		return append(errs, name+" is longer than "+strconv.Itoa(maxLen)+" characters")
	}
	return errs
}

func checkCapacity(errs []string, c int) []string {
	if c < surge.MinCapacity || c > surge.MaxCapacity {
		return append(errs, "capacity must be within 1..100000")
	}
	return errs
}

func parseTime(errs []string, name, v string) (time.Time, []string) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, append(errs, name+" must be an RFC 3339 time (2026-03-02T09:00:00Z)")
	}
	// RFC 3339 offsets are at most 23:59, and the UTC time must stay within
	// years 1..9999: JSON cannot encode others, and one such course would
	// break the course list for everyone.
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return time.Time{}, append(errs, name+" has a UTC offset beyond 23:59")
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, append(errs, name+" must lie within years 0001..9999 in UTC")
	}
	return t.UTC(), errs
}

func invalid(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return surge.Errorf(surge.CodeInvalid, "%s", strings.Join(errs, "; "))
}

type createCourseIn struct {
	Code     *string `json:"code"`
	Title    *string `json:"title"`
	Capacity *int    `json:"capacity"`
	OpensAt  *string `json:"opensAt"`
}

func (s *Server) handleCreateCourse() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in createCourseIn
		if err := s.decode(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		var errs []string
		var opensAt time.Time
		if in.Code == nil || in.Title == nil || in.Capacity == nil || in.OpensAt == nil {
			errs = append(errs, "code, title, capacity and opensAt are required")
		} else {
			errs = checkText(errs, "code", *in.Code, 32)
			errs = checkText(errs, "title", *in.Title, 200)
			errs = checkCapacity(errs, *in.Capacity)
			opensAt, errs = parseTime(errs, "opensAt", *in.OpensAt)
		}
		if err := invalid(errs); err != nil {
			s.fail(w, r, err)
			return
		}
		c, err := s.d.Store.CreateCourse(r.Context(), strings.TrimSpace(*in.Code), *in.Title, *in.Capacity, opensAt)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.prime(r.Context(), c)
		if err := s.d.Room.Seed(r.Context(), c.ID); err != nil {
			// Joining seeds the counter itself (one statement) if this failed.
			s.d.Logger.Warn("seeding ticket counter", "course", c.ID, "err", err)
		}
		writeJSON(w, http.StatusCreated, s.courseOut(c))
	}
}

// prime puts a course just written into the cache (and drops the list) after
// an admin change. A failure only delays visibility by the cache period
// (2 s), so it is logged, not returned.
func (s *Server) prime(ctx context.Context, c surge.Course) {
	if err := s.d.Courses.Prime(ctx, c); err != nil {
		s.d.Logger.Warn("priming course cache", "course", c.ID, "err", err)
	}
}

type updateCourseIn struct {
	Title    *string `json:"title"`
	Capacity *int    `json:"capacity"`
	OpensAt  *string `json:"opensAt"`
}

func (s *Server) handleUpdateCourse() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var in updateCourseIn
		if err := s.decode(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		var errs []string
		var u surge.CourseUpdate
		if in.Title != nil {
			errs = checkText(errs, "title", *in.Title, 200)
			u.Title = in.Title
		}
		if in.Capacity != nil {
			errs = checkCapacity(errs, *in.Capacity)
			u.Capacity = in.Capacity
		}
		if in.OpensAt != nil {
			var t time.Time
			t, errs = parseTime(errs, "opensAt", *in.OpensAt)
			u.OpensAt = &t
		}
		if err := invalid(errs); err != nil {
			s.fail(w, r, err)
			return
		}
		c, err := s.d.Store.UpdateCourse(r.Context(), id, u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.prime(r.Context(), c)
		if u.Capacity != nil && c.SeatsLeft() > 0 {
			// Seats may have appeared: the lowest waiting-list tickets get them.
			if err := s.d.Room.SeatsFreed(r.Context(), id); err != nil {
				// The admitters' seat check hands them out within a second.
				s.d.Logger.Warn("waking admitter after capacity change", "course", id, "err", err)
			}
		}
		writeJSON(w, http.StatusOK, s.courseOut(c))
	}
}

type studentIn struct {
	StudentNo *string `json:"studentNo"`
	Name      *string `json:"name"`
	Password  *string `json:"password"`
}

func (s *Server) handleImportStudents() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in []studentIn
		if err := s.decode(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		if len(in) > MaxStudentsPerImport {
			s.fail(w, r, surge.Errorf(surge.CodeInvalid, "at most %d students per call", MaxStudentsPerImport))
			return
		}
		var errs []string
		seen := make(map[string]bool, len(in))
		var uniq []studentIn
		var nos []string
		for i, st := range in {
			at := "students[" + strconv.Itoa(i) + "]"
			if st.StudentNo == nil || st.Name == nil || st.Password == nil {
				errs = append(errs, at+": studentNo, name and password are required")
			} else {
				errs = checkText(errs, at+".studentNo", *st.StudentNo, 64)
				errs = checkText(errs, at+".name", *st.Name, 200)
				if l := len(*st.Password); l < 1 || l > 72 {
					errs = append(errs, at+".password must be 1..72 bytes")
				}
			}
			if len(errs) > 20 {
				errs = append(errs, "…")
				break
			}
			if len(errs) == 0 && !seen[*st.StudentNo] {
				seen[*st.StudentNo] = true
				uniq = append(uniq, st)
				nos = append(nos, *st.StudentNo)
			}
		}
		if err := invalid(errs); err != nil {
			s.fail(w, r, err)
			return
		}
		// Hashing at production cost takes a while: no write deadline here;
		// the context still ends if the client goes away.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		ctx := r.Context()
		existing, err := s.d.Store.ExistingStudentNos(ctx, nos)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var todo []studentIn
		for _, st := range uniq {
			if !existing[*st.StudentNo] {
				todo = append(todo, st)
			}
		}
		news, err := s.hashAll(ctx, todo)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		n, err := s.d.Store.ImportStudents(ctx, news)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]int{"created": n})
	}
}

// hashAll bcrypts passwords on all cores.
func (s *Server) hashAll(ctx context.Context, in []studentIn) ([]surge.NewStudent, error) {
	out := make([]surge.NewStudent, len(in))
	next := make(chan int)
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				h, err := bcrypt.GenerateFromPassword([]byte(*in[i].Password), s.d.BcryptCost)
				if err != nil {
					once.Do(func() { firstErr = err })
					continue
				}
				out[i] = surge.NewStudent{StudentNo: *in[i].StudentNo, Name: *in[i].Name, PasswordHash: string(h)}
			}
		})
	}
	for i := range in {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, firstErr
}

type loginIn struct {
	StudentNo *string `json:"studentNo"`
	Password  *string `json:"password"`
}

func (s *Server) handleLogin() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in loginIn
		if err := s.decode(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		if in.StudentNo == nil || in.Password == nil {
			s.fail(w, r, surge.Errorf(surge.CodeInvalid, "studentNo and password are required"))
			return
		}
		// The same bounds as the import: nothing longer was ever stored.
		var errs []string
		if n := utf8.RuneCountInString(*in.StudentNo); n < 1 || n > 64 {
			errs = append(errs, "studentNo must be 1..64 characters")
		}
		if l := len(*in.Password); l < 1 || l > 72 {
			errs = append(errs, "password must be 1..72 bytes")
		}
		if err := invalid(errs); err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		sum := sha256.Sum256([]byte(*in.StudentNo))
		keys := []string{"a:" + hex.EncodeToString(sum[:16])}
		limits := []int{s.d.LoginAccountLimit}
		if addr, ok := s.clientAddr(r); ok {
			keys = append(keys, "c:"+addr)
			limits = append(limits, s.d.LoginClientLimit)
		}
		counts, left, err := s.d.Sessions.Failures(ctx, keys...)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for i, limit := range limits {
			if counts[i] >= int64(limit) {
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int((left[i]+time.Second-1)/time.Second))))
				s.fail(w, r, surge.Errorf(surge.CodeRateLimited, "too many failed sign-ins, retry later"))
				return
			}
		}
		var (
			id    int64
			hash  string
			found bool
		)
		// No stored student number holds NUL (import refuses it) and
		// PostgreSQL would reject it as a parameter: a plain miss.
		if !strings.ContainsRune(*in.StudentNo, 0) {
			id, hash, found, err = s.d.Store.StudentCredentials(ctx, *in.StudentNo)
			if err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if !found {
			hash = string(s.dummyHash) // same work whether or not the student exists
		}
		select {
		case s.hashSlots <- struct{}{}:
		case <-ctx.Done():
			s.fail(w, r, ctx.Err())
			return
		}
		err = bcrypt.CompareHashAndPassword([]byte(hash), []byte(*in.Password))
		<-s.hashSlots
		if !found || err != nil {
			windows := map[string]time.Duration{keys[0]: 5 * time.Minute}
			if len(keys) > 1 {
				windows[keys[1]] = time.Minute
			}
			if err := s.d.Sessions.AddFailure(context.WithoutCancel(ctx), windows); err != nil {
				s.d.Logger.Warn("counting failed sign-in", "err", err)
			}
			s.fail(w, r, surge.Errorf(surge.CodeUnauthorized, "wrong student number or password"))
			return
		}
		sid, err := s.d.Sessions.Create(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: s.cookieName, Value: sid, Path: "/",
			MaxAge: int(s.d.Sessions.TTL().Seconds()), HttpOnly: true,
			Secure: s.d.CookieSecure, SameSite: http.SameSiteLaxMode,
		})
		writeJSON(w, http.StatusOK, map[string]any{"studentNo": *in.StudentNo})
	}
}

// handleRevokeSessions ends every session of a student (a stolen laptop, a
// shared password): they must sign in again everywhere.
func (s *Server) handleRevokeSessions() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		no := r.PathValue("studentNo")
		if no == "" || utf8.RuneCountInString(no) > 64 || strings.ContainsRune(no, 0) {
			s.fail(w, r, surge.Errorf(surge.CodeNotFound, "no such student"))
			return
		}
		id, _, found, err := s.d.Store.StudentCredentials(r.Context(), no)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !found {
			s.fail(w, r, surge.Errorf(surge.CodeNotFound, "no such student"))
			return
		}
		n, err := s.d.Sessions.RevokeAll(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
	}
}

func (s *Server) handleLogout() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(s.cookieName); err == nil {
			if err := s.d.Sessions.Delete(r.Context(), c.Value); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		http.SetCookie(w, &http.Cookie{Name: s.cookieName, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: s.d.CookieSecure, SameSite: http.SameSiteLaxMode})
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleListCourses() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cs, err := s.d.Courses.Courses(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := make([]courseOut, len(cs))
		for i, c := range cs {
			out[i] = s.courseOut(c)
		}
		writeJSON(w, http.StatusOK, map[string]any{"courses": out})
	}
}

// ProgressCacheControl lets CloudFront and browsers reuse a progress answer
// for a second: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html
const ProgressCacheControl = "public, max-age=1"

type progressOut struct {
	CourseID int64 `json:"courseId"`
	// DecidedThrough: every ticket at or below it was decided (enrolled,
	// waiting list, or gone). A student whose ticket is above it is still
	// waiting; at or below, their own state is final.
	DecidedThrough int64     `json:"decidedThrough"`
	SeatsLeft      int       `json:"seatsLeft"`
	AsOf           time.Time `json:"asOf"`
}

// handleProgress answers how far admission of a course has got. It holds
// nothing about any student, so it needs no session and may be cached by
// anyone. The course comes from the course cache (as for joins), the
// progress from one waiting-room script.
func (s *Server) handleProgress() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			// 404 as for an unknown course, as the other course paths do.
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		c, err := s.d.Courses.Course(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		through, err := s.d.Room.DecidedThrough(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSONCaching(w, http.StatusOK, progressOut{CourseID: id, DecidedThrough: through,
			SeatsLeft: c.SeatsLeft(), AsOf: s.d.Now().UTC()}, ProgressCacheControl)
	}
}

type queueOut struct {
	State    surge.State `json:"state"`
	Ticket   int64       `json:"ticket,omitempty"`
	Position int64       `json:"position,omitempty"`
	// PollAfterMs, on a queued answer: when to ask again (see pollAfter).
	PollAfterMs *int64 `json:"pollAfterMs,omitempty"`
}

func toQueueOut(st surge.Status) queueOut {
	out := queueOut{State: st.State}
	if st.State != surge.StateNone {
		out.Ticket = st.Ticket
	}
	if st.State == surge.StateQueued {
		out.Position = st.Position
	}
	return out
}

// handleJoin puts the student in the course's waiting room. Redis only: the
// course metadata comes from the cache. With a wait (awaitFinal) it answers
// once the student's state is final or the wait ends.
func (s *Server) handleJoin() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		c, err := s.d.Courses.Course(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !c.Open(s.d.Now()) {
			s.fail(w, r, surge.Errorf(surge.CodeNotOpen, "course opens at %s", c.OpensAt.UTC().Format(time.RFC3339)))
			return
		}
		s.awaitFinal(w, r, id, func(ctx context.Context) (surge.Status, error) {
			return s.d.Room.Join(ctx, id, studentFrom(ctx))
		}, true)
	}
}

func (s *Server) handleQueueStatus() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		if _, err := s.d.Courses.Course(ctx, id); err != nil {
			s.fail(w, r, err)
			return
		}
		s.awaitFinal(w, r, id, func(ctx context.Context) (surge.Status, error) {
			return s.d.Room.Status(ctx, id, studentFrom(ctx))
		}, false)
	}
}

func (s *Server) handleLeave() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := r.Context()
		ok, err := s.d.Room.Leave(ctx, id, studentFrom(ctx))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !ok {
			s.fail(w, r, surge.Errorf(surge.CodeNotFound, "not queued for this course"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

type enrollmentOut struct {
	CourseID   int64     `json:"courseId"`
	Code       string    `json:"code"`
	EnrolledAt time.Time `json:"enrolledAt"`
}

func (s *Server) handleEnrollments() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		es, err := s.d.Store.Enrollments(ctx, studentFrom(ctx))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := make([]enrollmentOut, len(es))
		for i, e := range es {
			out[i] = enrollmentOut{CourseID: e.CourseID, Code: e.Code, EnrolledAt: e.EnrolledAt}
		}
		writeJSON(w, http.StatusOK, map[string]any{"enrollments": out})
	}
}

// handleCancel makes a cancellation atomic as the student sees it. Redis
// first: a student it shows enrolled is taken out of the course (state none)
// and the admitter is woken. Then the seat is deleted in PostgreSQL (the
// truth). So no failure after the commit can leave the student shown
// enrolled without a seat. If the delete certainly did not happen (the
// database is down or refused it) the student is shown enrolled again; if
// its outcome is unknown (the connection broke mid-statement) the client
// gets a 503 and retries (the retry deletes the seat), and until then the
// student is shown none while the enrollments list still shows the seat
// (joining again finds it). A seat held by a student Redis does not show enrolled (a grant
// in flight, a student queued again after a Redis data loss) is cleared in
// Redis after the delete, as before. The wake-up set before the commit may
// be consumed by a batch that still found the course full: it is set again
// after the commit, and the admitters' one-second seat check covers a
// failure of that last step.
func (s *Server) handleCancel() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "courseId")
		if err != nil {
			s.fail(w, r, surge.ErrNotEnrolled)
			return
		}
		ctx := r.Context()
		student := studentFrom(ctx)
		wasEnrolled, ticket, err := s.d.Room.CancelEnrolled(ctx, id, student)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		deleted, err := s.d.Store.CancelEnrollment(ctx, student, id)
		if err != nil {
			if wasEnrolled && errors.Is(err, surge.ErrNotApplied) {
				// The seat is certainly still there (the database is down):
				// shown enrolled again.
				if rerr := s.d.Room.RestoreEnrolled(context.WithoutCancel(ctx), id, student, ticket); rerr != nil {
					s.d.Logger.Warn("restoring enrollment after a failed cancellation", "course", id, "err", rerr)
				}
			}
			s.fail(w, r, err)
			return
		}
		switch {
		case !deleted && !wasEnrolled:
			s.fail(w, r, surge.ErrNotEnrolled)
			return
		case !wasEnrolled:
			if _, err := s.d.Room.Cancelled(ctx, id, student); err != nil {
				s.fail(w, r, err)
				return
			}
		case deleted:
			if err := s.d.Room.SeatsFreed(ctx, id); err != nil {
				// The seat is free and the student shown none; the seat check
				// hands the seat out within a second.
				s.d.Logger.Warn("waking admitter after cancellation", "course", id, "err", err)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
