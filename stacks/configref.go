package stacks

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

//go:generate go run ./cmd/configref -readme ../README.md

// The README's configuration reference sits between these markers.
const (
	refStart = "<!-- config-reference:start -->\n"
	refEnd   = "<!-- config-reference:end -->"
)

// modulePath is the module the Spec types live in; their source is found
// under the repository root by the rest of their package path.
const modulePath = "github.com/surge-dev/surge/"

// ConfigReference renders the configuration reference table: every key
// the typed Config accepts, its type, its meaning (the field's comment in
// the Spec that owns it) and its dev and prod defaults (Defaults). root is
// the repository root, where the Spec sources are read.
func ConfigReference(root string) (string, error) {
	docs := fieldDocs{root: root, byType: map[reflect.Type]map[string]string{}}
	rows := []string{
		"| key | type | meaning | dev | prod |",
		"| --- | --- | --- | --- | --- |",
		"| `aws:region` | string | The stack's region (required). | — | — |",
		"| `surge:environment` | string | `dev` or `prod`; \"\" = the stack's name. Prod is checked against the HA floor below. | `dev` | `prod` |",
	}
	dev, prod := reflect.ValueOf(Defaults(Dev)).Elem(), reflect.ValueOf(Defaults(Prod)).Elem()
	t := dev.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" || !f.IsExported() {
			continue
		}
		more, err := docs.rows("surge:"+name, f.Type, dev.Field(i), prod.Field(i))
		if err != nil {
			return "", err
		}
		rows = append(rows, more...)
	}
	return strings.Join(rows, "\n") + "\n", nil
}

// UpdateREADME rewrites the table between the markers of the README.
func UpdateREADME(readme, root string) error {
	b, err := os.ReadFile(readme)
	if err != nil {
		return fmt.Errorf("reading %s: %w", readme, err)
	}
	table, err := ConfigReference(root)
	if err != nil {
		return err
	}
	out, err := replaceReference(string(b), table)
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	if err := os.WriteFile(readme, []byte(out), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", readme, err)
	}
	return nil
}

// replaceReference puts table between the markers of text.
func replaceReference(text, table string) (string, error) {
	a := strings.Index(text, refStart)
	b := strings.Index(text, refEnd)
	if a < 0 || b < a {
		return "", fmt.Errorf("no %q ... %q markers", strings.TrimSpace(refStart), refEnd)
	}
	return text[:a+len(refStart)] + table + text[b:], nil
}

// fieldDocs reads field comments from the Go source of the Spec types.
type fieldDocs struct {
	root   string
	byType map[reflect.Type]map[string]string
}

// rows renders key and, for an object or a list of objects, its fields.
func (d *fieldDocs) rows(key string, t reflect.Type, dev, prod reflect.Value) ([]string, error) {
	elem, list := t, false
	if elem.Kind() == reflect.Slice && elem.Elem().Kind() == reflect.Struct {
		elem, list = elem.Elem(), true
	}
	if elem.Kind() == reflect.Pointer {
		elem = elem.Elem()
	}
	if elem.Kind() != reflect.Struct {
		return nil, nil
	}
	var rows []string
	var walk func(st reflect.Type, dev, prod reflect.Value) error
	walk = func(st reflect.Type, dev, prod reflect.Value) error {
		comments, err := d.of(st)
		if err != nil {
			return err
		}
		for i := 0; i < st.NumField(); i++ {
			f := st.Field(i)
			if !f.IsExported() {
				continue
			}
			fdev, fprod := field(dev, i), field(prod, i)
			if f.Anonymous && f.Tag.Get("json") == "" {
				// encoding/json lifts an embedded struct's fields.
				if err := walk(f.Type, fdev, fprod); err != nil {
					return err
				}
				continue
			}
			name := jsonName(f)
			if name == "" {
				continue
			}
			meaning := comments[f.Name]
			if meaning == "" {
				return fmt.Errorf("%s.%s (%s) has no comment to document it", st, f.Name, key+"."+name)
			}
			if strings.Contains(meaning, "Default") {
				// The dev and prod columns come from Defaults: a default
				// repeated in prose is the copy that drifts.
				return fmt.Errorf("%s.%s (%s): the comment states a default; Defaults is its only home", st, f.Name, key+"."+name)
			}
			rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s | %s |", key+"."+name, typeName(f.Type),
				strings.ReplaceAll(meaning, "|", `\|`), value(fdev), value(fprod)))
			sub := key + "." + name
			if f.Type.Kind() == reflect.Slice {
				sub += "[]"
			}
			more, err := d.rows(sub, f.Type, fdev, fprod)
			if err != nil {
				return err
			}
			rows = append(rows, more...)
		}
		return nil
	}
	if list {
		// A list's items have no defaults of their own.
		dev, prod = reflect.Value{}, reflect.Value{}
	}
	if err := walk(elem, deref(dev), deref(prod)); err != nil {
		return nil, err
	}
	return rows, nil
}

// of returns the comments of the struct type's fields: the line comment,
// else the doc comment, as one line.
func (d *fieldDocs) of(t reflect.Type) (map[string]string, error) {
	if c, ok := d.byType[t]; ok {
		return c, nil
	}
	rel, ok := strings.CutPrefix(t.PkgPath(), modulePath)
	if !ok {
		return nil, fmt.Errorf("%s is not a type of this module", t)
	}
	dir := filepath.Join(d.root, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the source of %s: %w", t, err)
	}
	fset := token.NewFileSet()
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", e.Name(), err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != t.Name() {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, f := range st.Fields.List {
				text := ""
				if f.Comment != nil {
					text = f.Comment.Text()
				} else if f.Doc != nil {
					text = f.Doc.Text()
				}
				text = strings.Join(strings.Fields(text), " ")
				for _, n := range f.Names {
					out[n.Name] = text
				}
			}
			return false
		})
	}
	d.byType[t] = out
	return out, nil
}

func jsonName(f reflect.StructField) string {
	name := strings.Split(f.Tag.Get("json"), ",")[0]
	if name == "-" {
		return ""
	}
	return name
}

func field(v reflect.Value, i int) reflect.Value {
	if !v.IsValid() {
		return v
	}
	return v.Field(i)
}

func deref(v reflect.Value) reflect.Value {
	if v.IsValid() && v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}
		}
		return v.Elem()
	}
	return v
}

// typeName is the config type as an operator writes it.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "list of objects"
		}
		return "list of " + typeName(t.Elem())
	case reflect.Pointer, reflect.Struct:
		return "object"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "int"
	}
	return t.Kind().String()
}

// value renders a default; "—" when there is none.
func value(v reflect.Value) string {
	v = deref(v)
	if !v.IsValid() {
		return "—"
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return "—"
		}
		return "`" + v.String() + "`"
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	case reflect.Slice:
		if v.Len() == 0 {
			return "—"
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return "`[" + strings.Join(parts, ", ") + "]`"
	case reflect.Struct:
		return "below"
	}
	return fmt.Sprint(v.Interface())
}
