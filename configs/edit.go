package configs

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/tributary-news/tributary/aggregator"
)

// Editing the sources list in place.
//
// The file is changed by text surgery guided by the positions of the
// parsed yaml.Node tree, never by re-encoding it: re-encoding would
// reformat every line and move or drop comments. So every byte outside
// the lines added or removed stays as it was, and the result is loaded
// with the same validation as Load before anything is written.
//
// What belongs to a sources item when it is removed: its own lines (from
// its "-" to its last line of content, comments between its keys
// included) and the comment block directly above it (no blank line
// between) — unless the next item follows directly below it, without a
// blank line or comment in between: then the comment is the heading of a
// group of items ("# Newspapers.") and stays for the rest of the group.
// Comments and blank lines after an item's last line belong to what
// follows. When the removed lines sat between two blank lines (or right
// under the sources key, before a blank line), one blank line goes with
// them.

// NewSource is a source to write into a config file. Name and URL are
// required; Title and Tags are written only when set.
type NewSource struct {
	Name  string
	URL   string
	Title string
	Tags  []string
}

// Edit is a change to a config file, made and validated but not written.
type Edit struct {
	Path string // the config file, as given
	Old  []byte // the file as it was read
	New  []byte // the file as it will be written
	// Config is New, loaded and validated.
	Config *Config
	// Line is the 1-based line in New of the first added source, or the
	// line in Old where the removed lines began.
	Line int
}

// AddSources returns the edit of the config file data (read from path)
// that appends srcs after the last item of its sources list, in the style
// of that item (block or flow mapping, its indentation, its key order, its
// style of tags list). A file without a sources key gets one at its end.
// Values are written as YAML double-quoted strings, names and tags plain
// when that reads back the same.
//
// The file must be valid before the edit (an invalid one is refused with
// its errors), a name must not be taken, nor a URL already present; the
// result is loaded with opts and refused, with the loader's errors, if it
// is not valid.
func AddSources(data []byte, path string, srcs []NewSource, opts Options) (*Edit, error) {
	if len(srcs) == 0 {
		return nil, errors.New("configs: no sources to add")
	}
	old, doc, err := loadForEdit(data, path, opts)
	if err != nil {
		return nil, err
	}
	names := map[string]int{} // name -> line, for messages
	urls := map[string]string{}
	for i, s := range old.Sources {
		names[s.Name] = doc.tree.line(keyPath{"sources", i, "name"})
		urls[s.URL] = s.Name
	}
	for _, s := range srcs {
		if s.Name == "" {
			return nil, errors.New("configs: a source to add needs a name")
		}
		if line, ok := names[s.Name]; ok {
			if line > 0 {
				return nil, fmt.Errorf("configs: %s:%d: a source named %q already exists", path, line, s.Name)
			}
			return nil, fmt.Errorf("configs: source name %q is given twice", s.Name)
		}
		names[s.Name] = 0
		abs, err := SourceURL(path, s.URL)
		if err != nil {
			return nil, fmt.Errorf("configs: source %q: %w", s.Name, err)
		}
		if other, ok := urls[abs]; ok {
			return nil, fmt.Errorf("configs: %s is already the URL of source %q", s.URL, other)
		}
		urls[abs] = s.Name
	}

	lines := doc.lines
	var (
		at     int      // index in lines where the new lines go
		insert []string // the new lines
		first  int      // index within insert of the first item's line
	)
	eol := doc.eol
	switch {
	case doc.seq == nil || isNull(doc.seq):
		// No sources key (or an empty one): a block list of the new ones.
		dash := 2
		if doc.key == nil {
			at = len(lines)
			if at > 0 && !strings.HasSuffix(lines[at-1], "\n") {
				lines[at-1] += eol
			}
			if at > 0 && !isBlank(lines[at-1]) {
				insert = append(insert, eol)
			}
			insert = append(insert, "sources:"+eol)
		} else {
			ki := doc.key.Line - 1
			dash = indentOf(lines[ki]) + 2
			if doc.seq != nil && doc.seq.Value != "" && doc.seq.Line == doc.key.Line {
				// "sources: ~" or "sources: null": the block list replaces the null.
				lines[ki] = cutValue(lines[ki], doc.seq.Column-1, len(doc.seq.Value))
			}
			at = ki + 1
			// Comments indented under the key are about the list: the
			// items go after them.
			for at < len(lines) && isComment(lines[at]) && indentOf(lines[at]) > indentOf(lines[ki]) {
				at++
			}
		}
		first = len(insert)
		for _, s := range srcs {
			insert = append(insert, blockItem(s, dash, dash+2, defaultKeyOrder, -1, eol)...)
		}
	case doc.seq.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("configs: %s:%d: sources is not a list", path, doc.seq.Line)
	case doc.seq.Style&yaml.FlowStyle != 0 && len(doc.seq.Content) > 0:
		return nil, fmt.Errorf("configs: %s:%d: sources is written as a flow list ([...]); write it as a block list (\"- name: ...\" lines) to edit it with tributary", path, doc.seq.Line)
	case doc.seq.Style&yaml.FlowStyle != 0:
		// "sources: []": the block list replaces the brackets.
		ki := doc.seq.Line - 1
		cut, ok := cutFlowEmpty(lines[ki], doc.seq.Column-1)
		if !ok {
			return nil, fmt.Errorf("configs: %s:%d: cannot edit this empty sources list; write it as \"sources:\"", path, doc.seq.Line)
		}
		lines[ki] = cut
		dash := indentOf(lines[doc.key.Line-1]) + 2
		at = ki + 1
		for _, s := range srcs {
			insert = append(insert, blockItem(s, dash, dash+2, defaultKeyOrder, -1, eol)...)
		}
	default:
		spans := doc.itemSpans()
		last := doc.seq.Content[len(doc.seq.Content)-1]
		lastSpan := spans[len(spans)-1]
		dash := doc.seq.Column - 1
		itemIndent := last.Column - 1
		if last.Kind != yaml.MappingNode || itemIndent <= dash {
			itemIndent = dash + 2
		}
		at = lastSpan.end + 1
		order, tagsDash := siblingStyle(doc.seq.Content)
		for _, s := range srcs {
			if last.Kind == yaml.MappingNode && last.Style&yaml.FlowStyle != 0 {
				insert = append(insert, flowItem(s, dash, itemIndent, order, eol))
			} else {
				insert = append(insert, blockItem(s, dash, itemIndent, order, tagsDash, eol)...)
			}
		}
	}

	if at > 0 && at == len(lines) && !strings.HasSuffix(lines[at-1], "\n") {
		lines[at-1] += eol
	}
	out := slices.Concat(lines[:at], insert, lines[at:])
	e := &Edit{Path: path, Old: data, New: []byte(strings.Join(out, "")), Line: at + first + 1}
	want := make([]string, 0, len(old.Sources)+len(srcs))
	for _, s := range old.Sources {
		want = append(want, s.Name)
	}
	for _, s := range srcs {
		want = append(want, s.Name)
	}
	if err := e.validate(opts, want); err != nil {
		return nil, err
	}
	return e, nil
}

// RemoveSource returns the edit of the config file data (read from path)
// that removes the source named name: its lines, and the comment block
// that belongs to it (see the package notes above). It is refused when no
// source has that name, when a topic lists the source by name (naming the
// topic and its line), and when the result is not valid (a topic
// selecting a tag that only this source has, say).
func RemoveSource(data []byte, path string, name string, opts Options) (*Edit, error) {
	old, doc, err := loadForEdit(data, path, opts)
	if err != nil {
		return nil, err
	}
	idx := slices.IndexFunc(old.Sources, func(s aggregator.Source) bool { return s.Name == name })
	if idx < 0 {
		return nil, fmt.Errorf("configs: %s: no source named %q", path, name)
	}
	for i, t := range old.Topics {
		for j, sel := range t.Sources {
			if strings.TrimSpace(sel) == name {
				line := doc.tree.line(keyPath{"topics", i, "sources", j})
				return nil, fmt.Errorf("configs: %s:%d: topic %q lists source %q; take it out of the topic first", path, line, t.Name, name)
			}
		}
	}
	if doc.seq == nil || doc.seq.Kind != yaml.SequenceNode || idx >= len(doc.seq.Content) {
		return nil, fmt.Errorf("configs: %s: cannot find the lines of source %q", path, name)
	}
	if doc.seq.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("configs: %s:%d: sources is written as a flow list ([...]); write it as a block list (\"- name: ...\" lines) to edit it with tributary", path, doc.seq.Line)
	}
	spans := doc.itemSpans()
	span := spans[idx]
	lines := doc.lines
	start, end := span.start, span.end
	// The comment block directly above goes too, unless it heads a group:
	// the next item follows directly.
	c := start
	for c > 0 && isComment(lines[c-1]) && indentOf(lines[c-1]) >= doc.seq.Column-1 {
		c--
	}
	headsGroup := idx+1 < len(spans) && spans[idx+1].start == end+1
	if c < start && !headsGroup {
		start = c
	}
	// Between two blank lines (or a blank line and the end), one goes.
	// Right under the key, a blank line after goes too.
	blankBefore := start > 0 && isBlank(lines[start-1])
	underKey := doc.key != nil && start == doc.key.Line
	switch {
	case (blankBefore || underKey) && end+1 < len(lines) && isBlank(lines[end+1]):
		end++
	case blankBefore && end+1 == len(lines):
		start--
	}
	out := slices.Concat(lines[:start], lines[end+1:])
	e := &Edit{Path: path, Old: data, New: []byte(strings.Join(out, "")), Line: start + 1}
	var want []string
	for _, s := range old.Sources {
		if s.Name != name {
			want = append(want, s.Name)
		}
	}
	if err := e.validate(opts, want); err != nil {
		return nil, err
	}
	return e, nil
}

// validate loads the edited file and checks that its sources are want,
// in order: a guard against a cut in the wrong place.
func (e *Edit) validate(opts Options, want []string) error {
	cfg, err := Parse(e.New, e.Path, opts)
	if err != nil {
		return fmt.Errorf("configs: the edited %s would not be valid, nothing written:\n%w", displayPath(e.Path), err)
	}
	got := make([]string, len(cfg.Sources))
	for i, s := range cfg.Sources {
		got[i] = s.Name
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("configs: editing %s went wrong (sources would be %v, want %v); nothing written", displayPath(e.Path), got, want)
	}
	e.Config = cfg
	return nil
}

func displayPath(p string) string {
	if p == "" {
		return "config"
	}
	return p
}

// Apply writes the edit with WriteFileAtomic, after checking that the
// file still holds what the edit was made from.
func (e *Edit) Apply() error {
	cur, err := os.ReadFile(e.Path)
	if err != nil {
		return fmt.Errorf("configs: %w", err)
	}
	if !bytes.Equal(cur, e.Old) {
		return fmt.Errorf("configs: %s changed while it was being edited; nothing written, try again", e.Path)
	}
	return WriteFileAtomic(e.Path, e.New, 0o644)
}

// Diff shows the edit as a unified diff with two lines of context (the
// edits made here are one contiguous change each).
func (e *Edit) Diff() string {
	a, b := splitLines(e.Old), splitLines(e.New)
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	if p == len(a) && p == len(b) {
		return ""
	}
	const context = 2
	from := max(p-context, 0)
	aTo, bTo := min(len(a)-s+context, len(a)), min(len(b)-s+context, len(b))
	var w strings.Builder
	fmt.Fprintf(&w, "--- %s\n+++ %s\n", e.Path, e.Path)
	fmt.Fprintf(&w, "@@ -%s +%s @@\n", hunkRange(from, aTo), hunkRange(from, bTo))
	line := func(prefix, l string) {
		w.WriteString(prefix)
		w.WriteString(strings.TrimRight(l, "\r\n"))
		w.WriteByte('\n')
	}
	for _, l := range a[from:p] {
		line(" ", l)
	}
	for _, l := range a[p : len(a)-s] {
		line("-", l)
	}
	for _, l := range b[p : len(b)-s] {
		line("+", l)
	}
	for _, l := range a[len(a)-s : aTo] {
		line(" ", l)
	}
	return w.String()
}

func hunkRange(from, to int) string {
	if to-from == 0 {
		return fmt.Sprintf("%d,0", from)
	}
	return fmt.Sprintf("%d,%d", from+1, to-from)
}

// WriteFileAtomic replaces the file at path with data so that a reader
// sees either the old or the new contents, never a mix, and a crash
// leaves one of the two: a temporary file in the same directory is
// written, synced and renamed over the old one, and the directory synced.
// The file keeps its permission bits (perm is used for a new file); a
// symbolic link is followed, so the link stays and its target changes.
// The owner is that of the process writing.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	target := path
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		target = resolved
	}
	if info, err := os.Stat(target); err == nil {
		if !info.Mode().IsRegular() {
			return fmt.Errorf("configs: write %s: not a regular file", path)
		}
		perm = info.Mode().Perm()
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("configs: write %s: %w", path, err)
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("configs: write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("configs: write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("configs: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("configs: write %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("configs: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("configs: write %s: %w", path, err)
	}
	done = true
	// The rename is durable once the directory is synced; some systems
	// cannot sync a directory, and the data is in place either way.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// SourceURL checks a source URL as the loader does and returns it as the
// loaded config will hold it: a relative file: URL made absolute against
// the directory of the config file at configPath.
func SourceURL(configPath, raw string) (string, error) {
	dir, err := baseDir(configPath)
	if err != nil {
		return "", err
	}
	v := &validator{path: configPath, baseDir: dir}
	abs := v.checkSourceURL(nil, strings.TrimSpace(raw))
	if len(v.errs) > 0 {
		return "", errors.New(v.errs[0].Msg)
	}
	return abs, nil
}

// Slug turns a title into a name: lower-case ASCII letters, digits and
// dashes, diacritics dropped ("Genève" is "geneve"), at most 64
// characters. It is "" when nothing is left (a title in a script without
// Latin letters, say).
func Slug(s string) string {
	folded, _, err := transform.String(transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFC), s)
	if err == nil {
		s = folded
	}
	s = strings.ToLower(s)
	var b strings.Builder
	dash := false
	for _, r := range s {
		switch {
		case r == '\'' || r == '’':
			// "Al Jazeera's" is al-jazeeras.
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	return trimName(b.String(), maxNameLen)
}

// trimName cuts a slug to n bytes without leaving a dash at its end.
func trimName(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.TrimRight(s, "-")
}

// UniqueName returns base, or base with "-2", "-3"… appended, whichever
// is first not taken, within the length a name may have. An empty base is
// "source".
func UniqueName(base string, taken func(string) bool) string {
	base = trimName(base, maxNameLen)
	if base == "" {
		base = "source"
	}
	if !taken(base) {
		return base
	}
	for i := 2; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		cand := trimName(base, maxNameLen-len(suffix)) + suffix
		if !taken(cand) {
			return cand
		}
	}
}

// HostName is a name for a feed from its URL's host: "www.example.co.uk"
// is example-co-uk.
func HostName(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return Slug(strings.TrimPrefix(strings.ToLower(u.Hostname()), "www."))
}

// The file as the editor sees it.

// editDoc is a config file split into lines, with the nodes the editor
// needs.
type editDoc struct {
	lines []string // with their line endings
	eol   string   // the file's line ending
	tree  tree
	key   *yaml.Node // the top-level "sources" key, or nil
	seq   *yaml.Node // its value, or nil
}

// loadForEdit checks that the file is valid as it stands and finds the
// sources list in it.
func loadForEdit(data []byte, path string, opts Options) (*Config, *editDoc, error) {
	cfg, err := Parse(data, path, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("configs: %s is not valid as it stands; fix it first:\n%w", displayPath(path), err)
	}
	root, err := parseTree(data, path)
	if err != nil {
		return nil, nil, err
	}
	doc := &editDoc{lines: splitLines(data), eol: "\n", tree: tree{root: root, parsed: true}}
	if len(doc.lines) > 0 && strings.HasSuffix(doc.lines[0], "\r\n") {
		doc.eol = "\r\n"
	}
	if root != nil {
		if root.Kind != yaml.MappingNode {
			return nil, nil, fmt.Errorf("configs: %s: the configuration must be a mapping", displayPath(path))
		}
		if root.Style&yaml.FlowStyle != 0 {
			return nil, nil, fmt.Errorf("configs: %s: the configuration is written as a flow mapping ({...}); tributary edits block mappings only", displayPath(path))
		}
		doc.key, doc.seq = lookup(root, "sources")
		if doc.seq != nil && doc.seq.Kind == yaml.AliasNode {
			return nil, nil, fmt.Errorf("configs: %s:%d: sources is an alias; tributary cannot edit it in place", displayPath(path), doc.seq.Line)
		}
	}
	return cfg, doc, nil
}

// span is the lines of one sources item, as 0-based indexes, inclusive.
type span struct{ start, end int }

// itemSpans finds the lines of every item of the (block) sources list:
// from the line of its "-" to its last line that is neither blank nor only
// a comment (and not before the last line any of its nodes starts on).
func (d *editDoc) itemSpans() []span {
	dash := d.seq.Column - 1
	items := d.seq.Content
	starts := make([]int, len(items))
	for i, it := range items {
		s := it.Line - 1
		for s > 0 && !isDashLine(d.lines[s], dash) {
			s--
		}
		starts[i] = s
	}
	spans := make([]span, len(items))
	for i, it := range items {
		limit := len(d.lines)
		if i+1 < len(items) {
			limit = starts[i+1]
		} else {
			for l := starts[i] + 1; l < len(d.lines); l++ {
				if !isBlank(d.lines[l]) && !isComment(d.lines[l]) && indentOf(d.lines[l]) <= dash {
					limit = l
					break
				}
			}
		}
		end := max(starts[i], lastLine(it)-1)
		for l := end + 1; l < limit; l++ {
			if !isBlank(d.lines[l]) && !isComment(d.lines[l]) {
				end = l
			}
		}
		spans[i] = span{start: starts[i], end: end}
	}
	return spans
}

// lastLine is the last line any node under n starts on.
func lastLine(n *yaml.Node) int {
	line := n.Line
	for _, c := range n.Content {
		line = max(line, lastLine(c))
	}
	return line
}

func isDashLine(l string, dash int) bool {
	return indentOf(l) == dash && strings.HasPrefix(strings.TrimLeft(l, " "), "-")
}

func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	return strings.SplitAfter(string(data), "\n")[:bytes.Count(data, []byte("\n"))+boolInt(!bytes.HasSuffix(data, []byte("\n")))]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

func isBlank(l string) bool { return strings.TrimSpace(l) == "" }

func isComment(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "#") }

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// cutValue removes n bytes at col from a line, and the spaces before them.
func cutValue(l string, col, n int) string {
	if col < 0 || col+n > len(l) {
		return l
	}
	return strings.TrimRight(l[:col], " ") + l[col+n:]
}

// cutFlowEmpty removes the "[]" (spaces allowed inside) at col.
func cutFlowEmpty(l string, col int) (string, bool) {
	if col < 0 || col >= len(l) || l[col] != '[' {
		return l, false
	}
	j := col + 1
	for j < len(l) && l[j] == ' ' {
		j++
	}
	if j >= len(l) || l[j] != ']' {
		return l, false
	}
	return cutValue(l, col, j+1-col), true
}

// The keys of a new item, in the order the example config writes them.
var defaultKeyOrder = []string{"name", "title", "url", "tags"}

// siblingStyle reads the key order of the existing items — that of the
// last item with the most of the keys a new item may have; keys it does
// not have follow in the default order — and the indentation of the "-"
// of the tags of the last item with tags when they are a block list (-1
// when they are a flow list, or no item has tags).
func siblingStyle(items []*yaml.Node) (order []string, tagsDash int) {
	tagsDash = -1
	best := -1
	for _, item := range items {
		if item.Kind != yaml.MappingNode {
			continue
		}
		var keys []string
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i].Value, item.Content[i+1]
			if slices.Contains(defaultKeyOrder, k) && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
			if k == "tags" && v.Kind == yaml.SequenceNode && len(v.Content) > 0 {
				tagsDash = -1
				if v.Style&yaml.FlowStyle == 0 {
					tagsDash = v.Column - 1
				}
			}
		}
		if len(keys) >= best {
			best, order = len(keys), keys
		}
	}
	for _, k := range defaultKeyOrder {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	return order, tagsDash
}

// blockItem writes s as a block mapping item: "- " at dash, keys at
// indent, tags as a flow list or, when tagsDash >= 0, a block list with
// its "-" at tagsDash.
func blockItem(s NewSource, dash, indent int, order []string, tagsDash int, eol string) []string {
	var out []string
	for _, k := range order {
		var l string
		switch k {
		case "name":
			l = "name: " + yamlName(s.Name)
		case "title":
			if s.Title == "" {
				continue
			}
			l = "title: " + yamlQuote(s.Title)
		case "url":
			l = "url: " + yamlQuote(s.URL)
		case "tags":
			if len(s.Tags) == 0 {
				continue
			}
			if tagsDash < 0 {
				l = "tags: " + flowTags(s.Tags)
				break
			}
			l = "tags:"
			for _, t := range s.Tags {
				l += eol + strings.Repeat(" ", tagsDash) + "- " + yamlName(t)
			}
		}
		if len(out) == 0 {
			out = append(out, strings.Repeat(" ", dash)+"-"+strings.Repeat(" ", max(indent-dash-1, 1))+l+eol)
		} else {
			out = append(out, strings.Repeat(" ", indent)+l+eol)
		}
	}
	return out
}

// flowItem writes s as a flow mapping item on one line.
func flowItem(s NewSource, dash, indent int, order []string, eol string) string {
	var parts []string
	for _, k := range order {
		switch k {
		case "name":
			parts = append(parts, "name: "+yamlName(s.Name))
		case "title":
			if s.Title != "" {
				parts = append(parts, "title: "+yamlQuote(s.Title))
			}
		case "url":
			parts = append(parts, "url: "+yamlQuote(s.URL))
		case "tags":
			if len(s.Tags) > 0 {
				parts = append(parts, "tags: "+flowTags(s.Tags))
			}
		}
	}
	return strings.Repeat(" ", dash) + "-" + strings.Repeat(" ", max(indent-dash-1, 1)) + "{" + strings.Join(parts, ", ") + "}" + eol
}

func flowTags(tags []string) string {
	q := make([]string, len(tags))
	for i, t := range tags {
		q[i] = yamlName(t)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// yamlName writes a name or tag plain when it is one (and reads back as
// the same string), else double-quoted — the loader then says what is
// wrong with it.
func yamlName(s string) string {
	if namePattern.MatchString(s) {
		var v any
		if err := yaml.Unmarshal([]byte(s), &v); err == nil {
			if str, ok := v.(string); ok && str == s {
				return s
			}
		}
	}
	return yamlQuote(s)
}

// yamlQuote writes s as a YAML double-quoted scalar. Go's escapes are a
// subset of YAML's (\a \b \f \n \r \t \v \" \\ \xXX \uXXXX \UXXXXXXXX)
// with the same meaning as long as the string is valid UTF-8 (a lone
// \xXX byte would mean a code point in YAML), so invalid bytes are
// replaced first.
func yamlQuote(s string) string {
	return strconv.Quote(strings.ToValidUTF8(s, "\uFFFD"))
}
