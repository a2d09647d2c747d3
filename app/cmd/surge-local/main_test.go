package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/localenv"
	"github.com/surge-dev/surge/internal/localenv/appproc"
	"github.com/surge-dev/surge/internal/localenv/surgeapi"
)

func TestPlanSeed(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 500, time.UTC)
	p, err := planSeed(now, 250, "pw")
	require.NoError(t, err)

	require.Len(t, p.Students, 250)
	seen := map[string]bool{}
	for i, s := range p.Students {
		assert.Equal(t, studentNo(i+1), s.StudentNo)
		assert.False(t, seen[s.StudentNo], "duplicate %s", s.StudentNo)
		seen[s.StudentNo] = true
		assert.Equal(t, "pw", s.Password)
		assert.NotEmpty(t, s.Name)
	}
	assert.Equal(t, "S00001", p.Students[0].StudentNo)
	assert.Equal(t, "S00250", p.Students[249].StudentNo)

	var openNow, later, tiny int
	codes := map[string]bool{}
	for _, c := range p.Courses {
		assert.False(t, codes[c.Code], "duplicate course code %s", c.Code)
		codes[c.Code] = true
		assert.True(t, c.Capacity >= 1 && c.Capacity <= 100000, "%s capacity %d within the contract's 1..100000", c.Code, c.Capacity)
		assert.Equal(t, c.OpensAt, c.OpensAt.Truncate(time.Second), "%s opensAt in whole seconds", c.Code)
		assert.Equal(t, time.UTC, c.OpensAt.Location())
		switch {
		case !c.OpensAt.After(now):
			openNow++
		case c.OpensAt.Sub(now) <= 10*time.Minute:
			later++
		default:
			t.Errorf("%s opens too late for a demo: %v", c.Code, c.OpensAt)
		}
		if c.Capacity < 5 {
			tiny++
		}
	}
	assert.GreaterOrEqual(t, openNow, 2, "courses open now")
	assert.GreaterOrEqual(t, later, 1, "courses opening in a few minutes")
	assert.Equal(t, 1, tiny, "one tiny course shows the full state")
}

func TestPlanSeedRejects(t *testing.T) {
	tests := []struct {
		name     string
		students int
		password string
		wantErrs []string
	}{
		{"zero students", 0, "pw", []string{"students must be"}},
		{"too many", maxDemoStudents + 1, "pw", []string{"students must be"}},
		{"everything wrong at once", -1, "", []string{"students must be", "password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := planSeed(time.Now(), tt.students, tt.password)
			require.Error(t, err)
			for _, w := range tt.wantErrs {
				assert.Contains(t, err.Error(), w, "students=%d password=%q", tt.students, tt.password)
			}
		})
	}
}

func TestClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"0.0.0.0:9000":   "127.0.0.1:9000",
		"127.0.0.1:8081": "127.0.0.1:8081",
	} {
		got, err := clientAddr(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := clientAddr("8080")
	assert.Error(t, err)
}

// TestLocalRun is the full one-command run: build, servers, migrate, serve,
// seed, login and join, then a clean shutdown that removes the temp dir. It
// needs the app (app/cmd/surge) and the server binaries.
func TestLocalRun(t *testing.T) {
	if testing.Short() {
		t.Skip("full local run; short mode")
	}
	root, err := appproc.ModuleRoot()
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(root, "app", "cmd", "surge")); err != nil {
		t.Skip("app/cmd/surge not present yet")
	}
	addr, err := appproc.FreeAddr()
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	var out bytes.Buffer
	var mu sync.Mutex
	var checkErr error
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, config{Listen: addr, Students: 50, PasswordHash: "fast", Password: "pw-demo-123", DrainWait: 30 * time.Second},
			lockedWriter{&mu, &out}, func(base, token string) {
				defer stop()
				api := &surgeapi.Client{Base: base, AdminToken: token}
				courses, err := api.Courses(ctx)
				if err != nil {
					checkErr = err
					return
				}
				if len(courses) != 5 {
					checkErr = errors.New("want 5 seeded courses")
					return
				}
				s, err := api.Login(ctx, "S00001", "pw-demo-123")
				if err != nil {
					checkErr = err
					return
				}
				var cs101 surgeapi.Course
				for _, c := range courses {
					if c.Code == "CS101" {
						cs101 = c
					}
				}
				if _, err := s.Join(ctx, cs101.ID); err != nil {
					checkErr = err
				}
				if err := checkPage(ctx, base); err != nil {
					checkErr = errors.Join(checkErr, err)
				}
				if _, err := api.Login(ctx, "S00001", "wrong"); surgeapi.StatusOf(err) != http.StatusUnauthorized {
					checkErr = errors.Join(checkErr, errors.New("bad password must be 401"))
				}
			})
	}()
	err = <-done
	mu.Lock()
	log := out.String()
	mu.Unlock()
	localenv.SkipIfNotInstalled(t, err)
	require.NoError(t, err, log)
	require.NoError(t, checkErr, log)
	assert.Contains(t, log, "surge is running at http://"+addr)
	assert.Equal(t, 1, strings.Count(log, "export SURGE_ADMIN_TOKEN="), "token printed exactly once")
	assert.Contains(t, log, "S00001")
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "surge-local-*"))
	for _, m := range matches {
		if strings.Contains(log, m) {
			t.Errorf("temp dir %s not removed", m)
		}
	}
}

// checkPage: the URL the banner prints opens the students' page.
func checkPage(ctx context.Context, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), "<title>Course registration</title>") {
		return fmt.Errorf("GET / = %d %s, want the students' page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
