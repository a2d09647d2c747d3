package stacks

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// pulumiSource reads the running program's stack config.
type pulumiSource struct{ ctx *pulumi.Context }

func (s pulumiSource) Get(key string) (string, bool) { return s.ctx.GetConfig(key) }

// StackFileSource reads a committed Pulumi.<stack>.yaml the way the Pulumi
// engine hands it to the program (objects as JSON strings), so tests can load
// the real stack files without the CLI.
func StackFileSource(path string) (ConfigSource, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading stack file: %w", err)
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	m := mapSource{}
	for k, v := range doc.Config {
		if s, ok := v.(string); ok {
			m[k] = s
			continue
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: encoding %s: %w", path, k, err)
		}
		m[k] = string(j)
	}
	return m, nil
}

// mapSource is a ConfigSource over a plain map.
type mapSource map[string]string

func (m mapSource) Get(key string) (string, bool) { v, ok := m[key]; return v, ok }
