-- Courses, students and enrollments. The seat counter courses.enrolled is
-- maintained by statement-level triggers on enrollments and bounded by a CHECK
-- constraint, so no code path can overbook a course: an INSERT that would push
-- enrolled past capacity fails as a whole.
CREATE TABLE courses (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code         text        NOT NULL UNIQUE,
    title        text        NOT NULL,
    capacity     integer     NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
    enrolled     integer     NOT NULL DEFAULT 0,
    opens_at     timestamptz NOT NULL,
    -- Bumped whenever Redis lost the course's ticket counter: tickets are
    -- ticket_epoch * 2^32 + sequence, so they keep increasing across a restart.
    ticket_epoch bigint      NOT NULL DEFAULT 0,
    -- Highest admitter fencing token that granted seats; a stale admitter
    -- (older token) is refused by the grant statement.
    admit_fence  bigint      NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT courses_enrolled_within_capacity CHECK (enrolled >= 0 AND enrolled <= capacity)
);

CREATE TABLE students (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_no    text        NOT NULL UNIQUE,
    name          text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE enrollments (
    course_id   bigint      NOT NULL REFERENCES courses (id),
    student_id  bigint      NOT NULL REFERENCES students (id),
    ticket      bigint,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (course_id, student_id)
);

CREATE INDEX enrollments_student_id ON enrollments (student_id);

CREATE FUNCTION enrollments_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE courses c SET enrolled = c.enrolled + n.cnt
    FROM (SELECT course_id, count(*) AS cnt FROM new_rows GROUP BY course_id) n
    WHERE c.id = n.course_id;
    RETURN NULL;
END $$;

CREATE FUNCTION enrollments_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE courses c SET enrolled = c.enrolled - o.cnt
    FROM (SELECT course_id, count(*) AS cnt FROM old_rows GROUP BY course_id) o
    WHERE c.id = o.course_id;
    RETURN NULL;
END $$;

CREATE TRIGGER enrollments_count_insert AFTER INSERT ON enrollments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION enrollments_count_insert();

CREATE TRIGGER enrollments_count_delete AFTER DELETE ON enrollments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION enrollments_count_delete();
