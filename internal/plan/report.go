package plan

import (
	"fmt"
	"sort"
	"strings"
)

// WriteTree renders the resource tree: components, then resources by type.
func (p *Plan) WriteTree(b *strings.Builder) {
	var walk func(n *Node, prefix string, last bool, depth int)
	walk = func(n *Node, prefix string, last bool, depth int) {
		branch, next := "├─ ", "│  "
		if last {
			branch, next = "└─ ", "   "
		}
		if depth == 0 {
			branch, next = "", ""
		}
		size := ""
		if !n.Custom {
			size = fmt.Sprintf(" (%d)", n.Size())
		}
		fmt.Fprintf(b, "%s%s%s %s%s\n", prefix, branch, n.Type, n.Name, size)
		for i, c := range n.Children {
			walk(c, prefix+next, i == len(n.Children)-1, depth+1)
		}
	}
	walk(p.Tree(), "", true, 0)
}

// countRows are the type counts of a and b (b may be nil), sorted by type.
func countRows(a, b *Plan) (types []string, ca, cb map[string]int) {
	ca, cb = a.Counts(), map[string]int{}
	if b != nil {
		cb = b.Counts()
	}
	set := map[string]bool{}
	for t := range ca {
		set[t] = true
	}
	for t := range cb {
		set[t] = true
	}
	for t := range set {
		types = append(types, t)
	}
	sort.Strings(types)
	return types, ca, cb
}

func usd(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	intPart, frac := s[:len(s)-3], s[len(s)-3:]
	var out []byte
	for i := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 && intPart[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, intPart[i])
	}
	return "$" + string(out) + frac
}

// WriteEstimate renders the estimate as a Markdown table with its sources.
func WriteEstimate(b *strings.Builder, e *Estimate) {
	fmt.Fprintf(b, "**Estimate**, not a quote: on-demand list prices for %s entered %s (each line's source below), the stack idle at its desired capacity, 730 hours a month.\n\n", e.Region, e.AsOf)
	fmt.Fprintf(b, "| item | as declared | quantity / month | unit price | monthly |\n| --- | --- | --- | --- | --- |\n")
	for _, l := range e.Lines {
		fmt.Fprintf(b, "| %s | %s | %g %s | [$%g](%s) (%s) | %s |\n", l.Item, l.Detail, round(l.Quantity), l.Price.Unit, l.Price.USD, l.Price.Source, l.Price.AsOf, usd(l.Monthly))
	}
	fmt.Fprintf(b, "| **total** | | | | **%s** |\n\n", usd(e.Total))
	fmt.Fprintf(b, "Not included (they follow traffic and data, and are not guessed here):\n\n")
	for _, u := range e.Usage {
		fmt.Fprintf(b, "- %s\n", u)
	}
}

func round(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// Report is the Markdown report of one stack, compared with the other.
func Report(p, other *Plan) (string, error) {
	est, err := p.Estimate()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Offline plan: stack `%s` (%s)\n\n", p.Stack, p.Region)
	fmt.Fprintf(&b, "The real program under the recording mock monitor (no AWS account, no Pulumi CLI): what `pulumi up` would create in a new stack, not a diff against deployed state. App artifact sha256 `%s`.\n\n", p.Artifact.SHA256)
	fmt.Fprintf(&b, "%d AWS resources in %d components; data sources read: %s.\n\n", len(p.Custom()), len(p.componentsList()), strings.Join(uniq(p.Calls), ", "))
	for _, lt := range p.ByType("aws:ec2/launchTemplate:LaunchTemplate") {
		if img := lt.Str("imageId"); strings.HasPrefix(img, "resolve:ssm:") {
			fmt.Fprintf(&b, "The fleet's AMI is resolved by EC2 at each launch from the public SSM parameter `%s`.\n\n", strings.TrimPrefix(img, "resolve:ssm:"))
		}
	}

	fmt.Fprintf(&b, "## Monthly cost estimate\n\n")
	WriteEstimate(&b, est)

	if other != nil {
		oest, err := other.Estimate()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\n## `%s` compared with `%s`\n\n", p.Stack, other.Stack)
		fmt.Fprintf(&b, "| | %s | %s |\n| --- | --- | --- |\n", p.Stack, other.Stack)
		fmt.Fprintf(&b, "| **estimated monthly total** | **%s** | **%s** |\n", usd(est.Total), usd(oest.Total))
		for _, row := range diffLines(est, oest) {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", row[0], row[1], row[2])
		}
		for _, row := range SettingDiff(p, other) {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", row[0], row[1], row[2])
		}
		types, ca, cb := countRows(p, other)
		for _, t := range types {
			if ca[t] != cb[t] {
				fmt.Fprintf(&b, "| `%s` | %d | %d |\n", t, ca[t], cb[t])
			}
		}
	}

	fmt.Fprintf(&b, "\n## Components\n\n```mermaid\n%s```\n", p.Mermaid())

	fmt.Fprintf(&b, "\n## Resources per type\n\n| type | count |\n| --- | --- |\n")
	types, ca, _ := countRows(p, nil)
	for _, t := range types {
		fmt.Fprintf(&b, "| `%s` | %d |\n", t, ca[t])
	}

	fmt.Fprintf(&b, "\n## Resource tree\n\n```\n")
	p.WriteTree(&b)
	fmt.Fprintf(&b, "```\n")
	return b.String(), nil
}

// diffLines pairs the estimate lines of two stacks by item and keeps those
// whose size differs.
func diffLines(a, b *Estimate) [][3]string {
	da, db := map[string]string{}, map[string]string{}
	var items []string
	for _, l := range a.Lines {
		if _, ok := da[l.Item]; !ok {
			items = append(items, l.Item)
		}
		da[l.Item] = join(da[l.Item], l.Detail)
	}
	for _, l := range b.Lines {
		if _, ok := da[l.Item]; !ok {
			if _, ok := db[l.Item]; !ok {
				items = append(items, l.Item)
			}
		}
		db[l.Item] = join(db[l.Item], l.Detail)
	}
	var rows [][3]string
	for _, it := range items {
		if da[it] != db[it] {
			rows = append(rows, [3]string{it, orNone(da[it]), orNone(db[it])})
		}
	}
	return rows
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// componentsList is the component resources of the plan.
func (p *Plan) componentsList() []string {
	var out []string
	for _, r := range p.Resources {
		if !r.Custom {
			out = append(out, key(r.Type, r.Name))
		}
	}
	return out
}
