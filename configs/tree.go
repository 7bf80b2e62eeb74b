package configs

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A keyPath names a place in the file: string segments are mapping keys, int
// segments list indexes ("sources", 3, "name" is sources[3].name).
type keyPath = []any

// render writes a path the way messages show it: sources[3].name.
func render(p keyPath) string {
	var b strings.Builder
	for _, seg := range p {
		switch s := seg.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(s) + "]")
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// tree finds lines in the file. A file that decodes cleanly is parsed
// again into nodes only when a line is asked for, that is for an error.
type tree struct {
	data   []byte
	parsed bool
	root   *yaml.Node // the document's top node; nil for an empty file
}

// line is the line of the value at p or, when p does not exist in the file
// (a missing key, say), of the nearest node that holds it.
func (t *tree) line(p keyPath) int {
	if !t.parsed {
		// The file decoded, so it parses; an error leaves root nil.
		t.root, _ = parseTree(t.data, "")
		t.parsed = true
	}
	n := t.root
	if n == nil {
		return 1
	}
	for _, seg := range p {
		next := child(n, seg)
		if next == nil {
			break
		}
		n = next
	}
	return n.Line
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func child(n *yaml.Node, seg any) *yaml.Node {
	n = resolve(n)
	switch s := seg.(type) {
	case string:
		_, v := lookup(n, s)
		return v
	case int:
		if n.Kind == yaml.SequenceNode && s >= 0 && s < len(n.Content) {
			return n.Content[s]
		}
	}
	return nil
}

func lookup(n *yaml.Node, key string) (k, v *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// entry is one value in the file with its path; key is nil for a list
// element.
type entry struct {
	path keyPath
	key  *yaml.Node
	val  *yaml.Node
}

// index lists every value in the file in document order.
func index(root *yaml.Node) []entry {
	var out []entry
	var walk func(p keyPath, n *yaml.Node, depth int)
	walk = func(p keyPath, n *yaml.Node, depth int) {
		if depth > 32 { // aliases can nest deep; the schema does not
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				cp := append(append(keyPath{}, p...), k.Value)
				out = append(out, entry{path: cp, key: k, val: v})
				walk(cp, v, depth+1)
			}
		case yaml.SequenceNode:
			for i, v := range n.Content {
				cp := append(append(keyPath{}, p...), i)
				out = append(out, entry{path: cp, val: v})
				walk(cp, v, depth+1)
			}
		}
	}
	if root != nil {
		out = append(out, entry{val: root})
		walk(nil, root, 0)
	}
	return out
}
