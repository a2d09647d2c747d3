package stacks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/pulumitest"
)

// snapshotStacks are the stacks whose declared resources are committed in
// testdata/snapshot: the two stack files as they are, and dev served on its
// own domain (an existing zone by ID), the third shape the edge can take.
func snapshotStacks(t *testing.T) []struct {
	file, stack string
	cfg         map[string]string
} {
	return []struct {
		file, stack string
		cfg         map[string]string
	}{
		{"dev", "dev", stackConfig(t, "dev")},
		{"prod", "prod", stackConfig(t, "prod")},
		{"dev-domain", "dev", withDomain(stackConfig(t, "dev"))},
	}
}

// snapshotResource is one declared resource as the snapshot records it.
type snapshotResource struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Parent   string `json:"parent,omitempty"`   // "<type>::<name>" of the parent
	Provider string `json:"provider,omitempty"` // explicit provider's logical name
	Inputs   any    `json:"inputs,omitempty"`
}

// TestProgramMatchesSnapshot runs the whole program under mocks and compares
// every declared resource (type, name, parent, provider, inputs) with the
// committed snapshot, so any change to what the stack declares shows up as
// a readable diff in review. SURGE_UPDATE_SNAPSHOT=1 (make snapshot-update)
// rewrites the files after a deliberate change.
func TestProgramMatchesSnapshot(t *testing.T) {
	update := os.Getenv("SURGE_UPDATE_SNAPSHOT") == "1"
	for _, s := range snapshotStacks(t) {
		t.Run(s.file, func(t *testing.T) {
			m, _ := runStack(t, s.stack, s.cfg)
			got, err := snapshotJSON(m)
			require.NoError(t, err)
			path := filepath.Join("testdata", "snapshot", s.file+".json")
			if update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "no snapshot yet: SURGE_UPDATE_SNAPSHOT=1 go test ./stacks -run TestProgramMatchesSnapshot")
			if bytes.Equal(want, got) {
				return
			}
			diff, err := snapshotDiff(want, got)
			require.NoError(t, err)
			t.Errorf("stack %s declares something else than %s (if intended: make snapshot-update):\n%s", s.file, path, diff)
		})
	}
}

// snapshotJSON renders the recorded resources sorted by type and name.
func snapshotJSON(m *pulumitest.Mocks) ([]byte, error) {
	var out []snapshotResource
	for _, r := range m.Resources() {
		out = append(out, snapshotResource{
			Type:     r.Type,
			Name:     r.Name,
			Parent:   urnTypeName(r.Parent),
			Provider: providerName(r.Provider),
			Inputs:   plain(resource.NewObjectProperty(r.Inputs)),
		})
	}
	slices.SortFunc(out, func(a, b snapshotResource) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encoding the snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// urnTypeName shortens a URN (urn:pulumi:stack::project::a$b::name) to
// "b::name"; the root stack's is kept as its type.
func urnTypeName(urn string) string {
	if urn == "" {
		return ""
	}
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return urn
	}
	types := strings.Split(parts[2], "$")
	return types[len(types)-1] + "::" + strings.Join(parts[3:], "::")
}

// providerName is the logical name in a provider reference "urn::id".
func providerName(ref string) string {
	if ref == "" {
		return ""
	}
	parts := strings.Split(ref, "::")
	if len(parts) < 2 {
		return ref
	}
	return parts[len(parts)-2]
}

// plain turns a property value into JSON-able data. Secrets, unknowns and
// assets are marked so the snapshot shows them; a file asset keeps only its
// base name (tests build into temporary directories).
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plain(e)
		}
		return out
	case v.IsSecret():
		return map[string]any{"<secret>": plain(v.SecretValue().Element)}
	case v.IsComputed():
		return "<computed>"
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return "<unknown>"
		}
		if o.Secret {
			return map[string]any{"<secret>": plain(o.Element)}
		}
		return plain(o.Element)
	case v.IsAsset():
		a := v.AssetValue()
		switch {
		case a.IsText():
			return map[string]any{"<asset:text>": a.Text}
		case a.IsPath():
			return map[string]any{"<asset:file>": filepath.Base(a.Path)}
		default:
			return map[string]any{"<asset:uri>": a.URI}
		}
	case v.IsArchive():
		a := v.ArchiveValue()
		if a.IsPath() {
			return map[string]any{"<archive:file>": filepath.Base(a.Path)}
		}
		return map[string]any{"<archive>": a.Hash}
	case v.IsResourceReference():
		ref := v.ResourceReferenceValue()
		return map[string]any{"<resource>": urnTypeName(string(ref.URN))}
	default:
		return fmt.Sprintf("<%s>", v.TypeString())
	}
}

// snapshotDiff lists what was removed (-), added (+) and changed (one line
// per changed input, flattened to a path) between two snapshots.
func snapshotDiff(want, got []byte) (string, error) {
	index := func(b []byte) (map[string]map[string]string, error) {
		var rs []map[string]any
		if err := json.Unmarshal(b, &rs); err != nil {
			return nil, fmt.Errorf("decoding a snapshot: %w", err)
		}
		out := map[string]map[string]string{}
		for _, r := range rs {
			key := fmt.Sprintf("%v %v", r["type"], r["name"])
			flat := map[string]string{}
			for _, f := range []string{"parent", "provider"} {
				if r[f] != nil {
					flat[f] = fmt.Sprint(r[f])
				}
			}
			flatten("inputs", r["inputs"], flat)
			out[key] = flat
		}
		return out, nil
	}
	w, err := index(want)
	if err != nil {
		return "", err
	}
	g, err := index(got)
	if err != nil {
		return "", err
	}
	var keys []string
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		wf, inW := w[k]
		gf, inG := g[k]
		switch {
		case !inG:
			fmt.Fprintf(&b, "- %s\n", k)
		case !inW:
			fmt.Fprintf(&b, "+ %s\n", k)
		default:
			var paths []string
			for p := range wf {
				paths = append(paths, p)
			}
			for p := range gf {
				if _, ok := wf[p]; !ok {
					paths = append(paths, p)
				}
			}
			slices.Sort(paths)
			var lines []string
			for _, p := range paths {
				wv, okW := wf[p]
				gv, okG := gf[p]
				switch {
				case !okG:
					lines = append(lines, fmt.Sprintf("    - %s = %s", p, wv))
				case !okW:
					lines = append(lines, fmt.Sprintf("    + %s = %s", p, gv))
				case wv != gv:
					lines = append(lines, fmt.Sprintf("    ~ %s: %s -> %s", p, wv, gv))
				}
			}
			if len(lines) > 0 {
				fmt.Fprintf(&b, "~ %s\n%s\n", k, strings.Join(lines, "\n"))
			}
		}
	}
	if b.Len() == 0 {
		return "(same resources and inputs; the files differ in formatting only)", nil
	}
	return b.String(), nil
}

// flatten writes every leaf of v under its dotted path; a JSON document in a
// string (a policy, user data) is flattened too, so a change shows where.
func flatten(path string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			out[path] = "{}"
		}
		for k, e := range x {
			flatten(path+"."+k, e, out)
		}
	case []any:
		if len(x) == 0 {
			out[path] = "[]"
		}
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", path, i), e, out)
		}
	case string:
		var doc any
		if t := strings.TrimSpace(x); (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && json.Unmarshal([]byte(t), &doc) == nil {
			flatten(path+"<json>", doc, out)
			return
		}
		if strings.Contains(x, "\n") {
			for i, line := range strings.Split(x, "\n") {
				out[fmt.Sprintf("%s<line %04d>", path, i+1)] = line
			}
			return
		}
		b, _ := json.Marshal(x)
		out[path] = string(b)
	default:
		b, _ := json.Marshal(x)
		out[path] = string(b)
	}
}
