-- Course materials. Staff of a course (course_staff, granted by an admin)
-- upload files straight to S3 with a presigned POST; material_uploads holds
-- each authorised upload until the app has checked the object with a HEAD
-- and moved it to materials, in one transaction. A key can be recorded once.
CREATE TABLE course_staff (
    course_id  bigint      NOT NULL REFERENCES courses (id),
    student_id bigint      NOT NULL REFERENCES students (id),
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (course_id, student_id)
);

CREATE TABLE material_uploads (
    key          text        PRIMARY KEY,
    course_id    bigint      NOT NULL REFERENCES courses (id),
    staff_id     bigint      NOT NULL REFERENCES students (id),
    filename     text        NOT NULL,
    content_type text        NOT NULL,
    size         bigint      NOT NULL CHECK (size > 0),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX material_uploads_expires_at ON material_uploads (expires_at);

CREATE TABLE materials (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    course_id    bigint      NOT NULL REFERENCES courses (id),
    key          text        NOT NULL UNIQUE,
    filename     text        NOT NULL,
    content_type text        NOT NULL,
    size         bigint      NOT NULL CHECK (size > 0),
    uploaded_by  bigint      NOT NULL REFERENCES students (id),
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX materials_course_id ON materials (course_id, uploaded_at);
