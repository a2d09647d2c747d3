package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/surge-dev/surge/app/internal/surge"
)

// GrantStaff makes a student staff of a course (idempotent). An unknown
// course or student is not found.
func (s *Store) GrantStaff(ctx context.Context, courseID int64, studentNo string) error {
	tag, err := s.writer.Exec(ctx, `INSERT INTO course_staff (course_id, student_id)
		SELECT c.id, st.id FROM courses c, students st WHERE c.id = $1 AND st.student_no = $2
		ON CONFLICT DO NOTHING`, courseID, studentNo)
	if err != nil {
		return fmt.Errorf("granting staff: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var course, student bool
	if err := s.writer.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM courses WHERE id = $1),
		EXISTS (SELECT 1 FROM students WHERE student_no = $2)`, courseID, studentNo).Scan(&course, &student); err != nil {
		return fmt.Errorf("granting staff: %w", err)
	}
	switch {
	case !course:
		return surge.ErrCourseNotFound
	case !student:
		return surge.Errorf(surge.CodeNotFound, "no such student")
	}
	return nil // already staff
}

// IsStaff reports whether the student is staff of the course. It reads the
// writer: a grant applies to the next request.
func (s *Store) IsStaff(ctx context.Context, courseID, studentID int64) (bool, error) {
	var ok bool
	err := s.writer.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM course_staff WHERE course_id = $1 AND student_id = $2)",
		courseID, studentID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("reading course staff: %w", err)
	}
	return ok, nil
}

// CreateUpload records an authorised upload. Expired ones of any course
// are dropped in the same statement, so the table stays small.
func (s *Store) CreateUpload(ctx context.Context, u surge.Upload) error {
	_, err := s.writer.Exec(ctx, `WITH gone AS (
			DELETE FROM material_uploads WHERE key IN (
				SELECT key FROM material_uploads WHERE expires_at < now() - interval '1 day' LIMIT 100))
		INSERT INTO material_uploads (key, course_id, staff_id, filename, content_type, size, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.Key, u.CourseID, u.StaffID, u.Filename, u.ContentType, u.Size, u.ExpiresAt)
	if err != nil {
		return fmt.Errorf("recording upload: %w", err)
	}
	return nil
}

const uploadColumns = "key, course_id, staff_id, filename, content_type, size, expires_at"

func scanUpload(row pgx.Row) (surge.Upload, error) {
	var u surge.Upload
	err := row.Scan(&u.Key, &u.CourseID, &u.StaffID, &u.Filename, &u.ContentType, &u.Size, &u.ExpiresAt)
	u.ExpiresAt = u.ExpiresAt.UTC()
	return u, err
}

// Upload returns the pending upload of a key in a course; found is false
// when there is none (never issued, another course's, or recorded already).
func (s *Store) Upload(ctx context.Context, courseID int64, key string) (u surge.Upload, found bool, err error) {
	u, err = scanUpload(s.writer.QueryRow(ctx, "SELECT "+uploadColumns+" FROM material_uploads WHERE key = $1 AND course_id = $2", key, courseID))
	if errors.Is(err, pgx.ErrNoRows) {
		return surge.Upload{}, false, nil
	}
	if err != nil {
		return surge.Upload{}, false, fmt.Errorf("reading upload: %w", err)
	}
	return u, true, nil
}

// RecordMaterial moves a pending upload to the course's materials, served
// from key, in one transaction: of two concurrent confirmations of the same
// upload exactly one records it, the other gets surge.ErrUploadNotFound.
func (s *Store) RecordMaterial(ctx context.Context, courseID int64, uploadKey, key string, uploadedAt time.Time) (surge.Material, error) {
	var m surge.Material
	err := pgx.BeginFunc(ctx, s.writer, func(tx pgx.Tx) error {
		u, err := scanUpload(tx.QueryRow(ctx, "DELETE FROM material_uploads WHERE key = $1 AND course_id = $2 RETURNING "+uploadColumns, uploadKey, courseID))
		if errors.Is(err, pgx.ErrNoRows) {
			return surge.ErrUploadNotFound
		}
		if err != nil {
			return err
		}
		m = surge.Material{CourseID: u.CourseID, Key: key, Filename: u.Filename, ContentType: u.ContentType,
			Size: u.Size, UploadedBy: u.StaffID, UploadedAt: uploadedAt.UTC()}
		return tx.QueryRow(ctx, `INSERT INTO materials (course_id, key, filename, content_type, size, uploaded_by, uploaded_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			m.CourseID, m.Key, m.Filename, m.ContentType, m.Size, m.UploadedBy, m.UploadedAt).Scan(&m.ID)
	})
	var se *surge.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &se):
		return surge.Material{}, err
	case errors.As(err, &pe) && pe.Code == "23505":
		return surge.Material{}, surge.ErrUploadNotFound
	case err != nil:
		return surge.Material{}, fmt.Errorf("recording material: %w", err)
	}
	return m, nil
}

// Materials lists a course's materials, oldest first.
func (s *Store) Materials(ctx context.Context, courseID int64) ([]surge.Material, error) {
	rows, err := s.writer.Query(ctx, `SELECT id, course_id, key, filename, content_type, size, uploaded_by, uploaded_at
		FROM materials WHERE course_id = $1 ORDER BY uploaded_at, id LIMIT 500`, courseID)
	if err != nil {
		return nil, fmt.Errorf("listing materials: %w", err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (surge.Material, error) {
		var m surge.Material
		err := r.Scan(&m.ID, &m.CourseID, &m.Key, &m.Filename, &m.ContentType, &m.Size, &m.UploadedBy, &m.UploadedAt)
		m.UploadedAt = m.UploadedAt.UTC()
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing materials: %w", err)
	}
	return ms, nil
}
