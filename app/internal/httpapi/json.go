package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/surge-dev/surge/app/internal/surge"
)

// MaxBodyBytes bounds every request body (413 above).
const MaxBodyBytes = 1 << 20

// decodeBody is the one place where request bodies are read: the media type
// must be JSON, the body at most limit bytes of valid UTF-8 holding exactly
// one JSON value whose fields all exist in v. Every failure is an
// application error (415, 413 or 400), never a 500.
func decodeBody(contentType string, body io.Reader, limit int64, v any) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return surge.Errorf(surge.CodeUnsupportedMedia, "Content-Type must be application/json")
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || int64(len(b)) > limit {
		return surge.Errorf(surge.CodeTooLarge, "request body larger than %d bytes", limit)
	}
	if err != nil {
		return surge.Errorf(surge.CodeInvalid, "reading request body failed")
	}
	if !utf8.Valid(b) {
		// encoding/json would silently replace invalid bytes with U+FFFD.
		return surge.Errorf(surge.CodeInvalid, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return surge.Errorf(surge.CodeInvalid, "%s", describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return surge.Errorf(surge.CodeInvalid, "request body must hold a single JSON value")
	}
	return nil
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "request body is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "request body is truncated JSON"
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return fmt.Sprintf("body must be %s", jsonKind(te.Type.Kind().String()))
	default:
		// e.g. `json: unknown field "x"`: names only what the client sent.
		return err.Error()
	}
}

func jsonKind(k string) string {
	switch k {
	case "int", "int32", "int64":
		return "an integer"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of another type"
	}
	return "of another type"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONCaching(w, status, v, "no-store")
}

// writeJSONCaching is writeJSON with the Cache-Control header given: only
// answers that are the same for every client may be cached by CloudFront.
func writeJSONCaching(w http.ResponseWriter, status int, v any, cacheControl string) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are encoded here; this is a bug.
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", cacheControl)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    surge.Code `json:"code"`
	Message string     `json:"message"`
}

// statusOf maps application error codes to HTTP statuses; this is the only
// place that knows about both.
func statusOf(c surge.Code) int {
	switch c {
	case surge.CodeInvalid:
		return http.StatusBadRequest
	case surge.CodeUnauthorized:
		return http.StatusUnauthorized
	case surge.CodeForbidden:
		return http.StatusForbidden
	case surge.CodeNotFound:
		return http.StatusNotFound
	case surge.CodeConflict, surge.CodeNotOpen:
		return http.StatusConflict
	case surge.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case surge.CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case surge.CodeUnavailable, surge.CodeOverloaded, surge.CodeDraining:
		return http.StatusServiceUnavailable
	case surge.CodeRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, e *surge.Error) {
	status := statusOf(e.Code)
	if status == http.StatusServiceUnavailable {
		retry := "1"
		if e.Code == surge.CodeUnavailable {
			retry = "2"
		}
		w.Header().Set("Retry-After", retry)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}})
}
