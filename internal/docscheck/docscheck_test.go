package docscheck

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The words are assembled so that this file does not match its own rules.
var forbidden = []struct {
	name string
	re   *regexp.Regexp
}{
	{"a document outside the repository", regexp.MustCompile(`\b(` + "PIT" + `FALLS|` + "CON" + `TROLS|` + "BR" + `IEF)\b`)},
	{"a path outside the repository", regexp.MustCompile(`\.\./` + "sha" + `red\b|/work/` + "sha" + `red\b`)},
	{"an issue number", regexp.MustCompile(`(?i)\b` + "iss" + `ues?\s*#?\d+\b`)},
}

// problems lists what is wrong with one file's text, one line each.
func problems(text string) []string {
	var out []string
	for i, line := range strings.Split(text, "\n") {
		for _, f := range forbidden {
			if m := f.re.FindString(line); m != "" {
				out = append(out, fmt.Sprintf("line %d: %q is %s", i+1, m, f.name))
			}
		}
	}
	return out
}

func TestProblemsFindsForeignReferences(t *testing.T) {
	tests := []struct {
		text string
		bad  bool
	}{
		{"// the group follows latestVersion (" + "PIT" + "FALLS 8).", true},
		{"see " + "CON" + "TROLS §2.6", true},
		{"as the " + "BR" + "IEF says", true},
		{"read ../" + "shared/notes.md", true},
		{"the targets of " + "iss" + "ue 6", true},
		{"fixes " + "Iss" + "ue #12", true},
		{"// the group follows latestVersion (docs/decisions/launch-template-user-data.md).", false},
		{"s3.NewBucketOwnershipControls(ctx, name)", false},
		{"joins again gets `queued` briefly", false},
		{"terraform-provider-aws #34189", false},
		{"course#1 500/500 enrolled", false},
		{"managed by, or on behalf of, the issue tracking systems", false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			assert.Equal(t, tt.bad, len(problems(tt.text)) > 0, "%v", problems(tt.text))
		})
	}
}

// TestTrackedFilesCiteOnlyWhatAReaderCanOpen: code, comments and docs cite
// public documentation or files in this repository, never notes kept
// elsewhere or the tracker's numbers.
func TestTrackedFilesCiteOnlyWhatAReaderCanOpen(t *testing.T) {
	root := repoRoot(t)
	files := trackedFiles(t, root)
	require.NotEmpty(t, files)
	for _, rel := range files {
		data, err := os.ReadFile(filepath.Join(root, rel))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		require.NoError(t, err)
		if bytes.IndexByte(data, 0) >= 0 {
			continue // binary: profiles, images
		}
		for _, p := range problems(string(data)) {
			t.Errorf("%s %s", rel, p)
		}
	}
}

var (
	fence     = regexp.MustCompile("(?s)```.*?```")
	codeSpan  = regexp.MustCompile("`[^`\n]*`")
	inline    = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	reference = regexp.MustCompile(`(?m)^\s{0,3}\[[^\]]+\]:\s*(\S+)`)
	scheme    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// relativeLinks returns the link targets of a Markdown text that point into
// the repository: no URL scheme, no pure fragment, code left out.
func relativeLinks(text string) []string {
	text = fence.ReplaceAllString(text, "")
	text = codeSpan.ReplaceAllString(text, "")
	var out []string
	for _, re := range []*regexp.Regexp{inline, reference} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			target := strings.Trim(m[1], "<>")
			if scheme.MatchString(target) || strings.HasPrefix(target, "#") {
				continue
			}
			out = append(out, target)
		}
	}
	return out
}

func TestRelativeLinks(t *testing.T) {
	text := "see [a](decisions/a.md#context), ![plot](bench/x.svg), [web](https://docs.aws.amazon.com/x.html),\n" +
		"[top](#top), [mail](mailto:x@example.com), `[not](code.md)`\n" +
		"```\n[nor](fenced.md)\n```\n" +
		"[ref]: ../README.md\n"
	assert.Equal(t, []string{"decisions/a.md#context", "bench/x.svg", "../README.md"}, relativeLinks(text))
}

// TestMarkdownLinksResolve: every relative link in docs/ and the top-level
// Markdown files names a file or directory of the repository.
func TestMarkdownLinksResolve(t *testing.T) {
	root := repoRoot(t)
	var docs []string
	for _, rel := range trackedFiles(t, root) {
		if strings.HasSuffix(rel, ".md") && (strings.HasPrefix(rel, "docs/") || !strings.Contains(rel, "/")) {
			docs = append(docs, rel)
		}
	}
	require.Contains(t, docs, "README.md")
	checked := 0
	for _, rel := range docs {
		data, err := os.ReadFile(filepath.Join(root, rel))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for _, target := range relativeLinks(string(data)) {
			checked++
			path := target
			if i := strings.IndexAny(path, "#?"); i >= 0 {
				path = path[:i]
			}
			if p, err := url.PathUnescape(path); err == nil {
				path = p
			}
			abs := filepath.Clean(filepath.Join(root, filepath.Dir(rel), path))
			if inside, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(inside, "..") {
				t.Errorf("%s: link %q leaves the repository", rel, target)
				continue
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s: link %q: no such file in the repository", rel, target)
			}
		}
	}
	assert.Positive(t, checked, "no relative link found: the link pattern is broken")
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "go.mod not found above the test")
		dir = parent
	}
}

// trackedFiles lists the repository's files: git's index when git is there,
// else every file under the root except .git.
func trackedFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		return files
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(t, err)
	return files
}
