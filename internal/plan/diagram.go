package plan

import (
	"fmt"
	"sort"
	"strings"
)

// Edge says that a resource of component To uses an output of (or waits
// for) a resource of component From.
type Edge struct{ From, To string }

// ComponentGraph is the components (by type token) with their resource
// counts, and the edges between them, from the recorded dependencies.
func (p *Plan) ComponentGraph() (sizes map[string]int, edges []Edge) {
	top := p.components()
	typeOf := map[string]string{} // component key -> type token
	for _, r := range p.Resources {
		if !r.Custom {
			typeOf[key(r.Type, r.Name)] = r.Type
		}
	}
	group := func(k string) string {
		if c := top[k]; c != "" {
			return typeOf[c]
		}
		return ""
	}
	sizes = map[string]int{}
	seen := map[Edge]bool{}
	for _, r := range p.Custom() {
		to := group(key(r.Type, r.Name))
		if to == "" {
			continue
		}
		sizes[to]++
		for _, d := range r.Dependencies {
			from := group(urnKey(d))
			if from == "" || from == to {
				continue
			}
			seen[Edge{from, to}] = true
		}
	}
	for e := range seen {
		edges = append(edges, e)
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].From != edges[j].From {
			return edges[i].From < edges[j].From
		}
		return edges[i].To < edges[j].To
	})
	return sizes, edges
}

// nodeID turns "surge:network:Network" into "network_Network".
func nodeID(token string) string {
	parts := strings.Split(token, ":")
	if len(parts) == 3 {
		return parts[1] + "_" + parts[2]
	}
	return strings.NewReplacer(":", "_", "/", "_").Replace(token)
}

// Mermaid renders the component graph as a Mermaid flowchart: one node per
// component with the number of AWS resources it declares, an arrow from a
// component to each component that uses one of its outputs.
func (p *Plan) Mermaid() string {
	sizes, edges := p.ComponentGraph()
	var comps []string
	for c := range sizes {
		comps = append(comps, c)
	}
	sort.Strings(comps)
	var b strings.Builder
	fmt.Fprintf(&b, "flowchart LR\n")
	for _, c := range comps {
		parts := strings.Split(c, ":")
		label := c
		if len(parts) == 3 {
			label = parts[1] + " " + parts[2]
		}
		noun := "resources"
		if sizes[c] == 1 {
			noun = "resource"
		}
		fmt.Fprintf(&b, "  %s[\"%s<br/>%d %s\"]\n", nodeID(c), label, sizes[c], noun)
	}
	for _, e := range edges {
		fmt.Fprintf(&b, "  %s --> %s\n", nodeID(e.From), nodeID(e.To))
	}
	return b.String()
}
