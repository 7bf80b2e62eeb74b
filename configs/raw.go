package configs

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The raw types mirror the file. Pointers tell an absent key (default
// applies) from an explicit zero.
type rawConfig struct {
	Listen    string       `yaml:"listen"`
	BaseURL   string       `yaml:"base_url"`
	DataDir   *string      `yaml:"data_dir"`
	Schedule  *string      `yaml:"schedule"`
	Backlog   *duration    `yaml:"backlog"`
	Fetch     rawFetch     `yaml:"fetch"`
	Retention rawRetention `yaml:"retention"`
	Publish   rawPublish   `yaml:"publish"`
	Sources   []rawSource  `yaml:"sources"`
	Topics    []rawTopic   `yaml:"topics"`
}

type rawFetch struct {
	Timeout      *duration `yaml:"timeout"`
	Concurrency  *integer  `yaml:"concurrency"`
	MaxBodyBytes *byteSize `yaml:"max_body_bytes"`
	UserAgent    string    `yaml:"user_agent"`
	PerHost      *integer  `yaml:"per_host"`
	MaxItems     *integer  `yaml:"max_items"`
}

type rawRetention struct {
	MaxAge *duration `yaml:"max_age"`
}

type rawPublish struct {
	MaxItems *integer `yaml:"max_items"`
}

type rawSource struct {
	Name     string    `yaml:"name"`
	URL      string    `yaml:"url"`
	Title    string    `yaml:"title"`
	Schedule *string   `yaml:"schedule"`
	Tags     []string  `yaml:"tags"`
	Backlog  *duration `yaml:"backlog"`
	Priority *integer  `yaml:"priority"`
}

type rawTopic struct {
	Name    string   `yaml:"name"`
	Title   string   `yaml:"title"`
	Query   string   `yaml:"query"`
	Sources []string `yaml:"sources"`
}

// typeError reports a value that does not fit its type the way the yaml
// package does, so that decodeErrors reformats it like the others.
func typeError(n *yaml.Node, into string) error {
	return &yaml.TypeError{Errors: []string{
		fmt.Sprintf("line %d: cannot unmarshal %s `%s` into %s", n.Line, n.ShortTag(), n.Value, into),
	}}
}

// duration is a time.Duration written as Go writes it ("90s", "1h30m"),
// with days allowed as a leading term ("30d", "1d12h"); a bare 0 is zero.
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "duration")
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return typeError(n, "duration")
	}
	*d = duration(v)
	return nil
}

var daysRE = regexp.MustCompile(`^(-?)(\d+)d(.*)$`)

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	m := daysRE.FindStringSubmatch(s)
	if m == nil {
		return time.ParseDuration(s)
	}
	days, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil || days > int64(1<<63-1)/int64(24*time.Hour) {
		return 0, fmt.Errorf("duration %q out of range", s)
	}
	d := time.Duration(days) * 24 * time.Hour
	if m[3] != "" {
		rest, err := time.ParseDuration(m[3])
		if err != nil || rest < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		d += rest
	}
	if m[1] == "-" {
		d = -d
	}
	return d, nil
}

// integer accepts only YAML integers: the yaml package would truncate 1.5
// into 1 without a word.
type integer int64

func (i *integer) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return typeError(n, "integer")
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		return typeError(n, "integer")
	}
	*i = integer(v)
	return nil
}

// byteSize is a number of bytes: an integer, or one with a unit
// ("512KiB", "10MiB", "1GB").
type byteSize int64

var byteSizeRE = regexp.MustCompile(`^(\d+)\s*([KMG]i?B|B)?$`)

func (b *byteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "byte size")
	}
	m := byteSizeRE.FindStringSubmatch(strings.TrimSpace(n.Value))
	if m == nil {
		if n.ShortTag() == "!!int" { // a negative number: let validation say so
			var v int64
			if err := n.Decode(&v); err == nil {
				*b = byteSize(v)
				return nil
			}
		}
		return typeError(n, "byte size")
	}
	v, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return typeError(n, "byte size")
	}
	unit := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[2]]
	if v > (1<<63-1)/unit {
		return typeError(n, "byte size")
	}
	*b = byteSize(v * unit)
	return nil
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)
	duplicateKeyRE = regexp.MustCompile(`^line (\d+): mapping key (".*") already defined at line (\d+)$`)
	cannotDecodeRE = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	lineRE         = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// decodeErrors turns the yaml package's decoding errors into *Error values
// that name the offending key by its path.
func decodeErrors(err error, root *yaml.Node, path string) error {
	te, ok := err.(*yaml.TypeError)
	if !ok {
		return &Error{Path: path, Line: 1, Msg: "yaml: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: err}
	}
	entries := index(root)
	var errs []*Error
	for _, s := range te.Errors {
		errs = append(errs, decodeError(s, entries, path))
	}
	return joinErrors(errs)
}

func decodeError(s string, entries []entry, path string) *Error {
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	if m := unknownFieldRE.FindStringSubmatch(s); m != nil {
		line, key := atoi(m[1]), m[2]
		for _, e := range entries {
			if e.key != nil && e.key.Line == line && e.key.Value == key {
				return &Error{Path: path, Line: line, Msg: prefixed(e.path[:len(e.path)-1], fmt.Sprintf("unknown field %q", key))}
			}
		}
		return &Error{Path: path, Line: line, Msg: fmt.Sprintf("unknown field %q", key)}
	}
	if m := duplicateKeyRE.FindStringSubmatch(s); m != nil {
		line, first := atoi(m[1]), atoi(m[3])
		key, _ := strconv.Unquote(m[2])
		for _, e := range entries {
			if e.key != nil && e.key.Line == line && e.key.Value == key {
				return &Error{Path: path, Line: line, Msg: fmt.Sprintf("%s: duplicate key (first at line %d)", render(e.path), first)}
			}
		}
		return &Error{Path: path, Line: line, Msg: fmt.Sprintf("duplicate key %q (first at line %d)", key, first)}
	}
	if m := cannotDecodeRE.FindStringSubmatch(s); m != nil {
		line, tag, value, into := atoi(m[1]), m[2], m[3], m[4]
		var found *entry
		for i := range entries {
			e := &entries[i]
			if e.val.Line != line || e.val.ShortTag() != tag {
				continue
			}
			if v, truncated := strings.CutSuffix(value, "..."); value != "" && e.val.Value != value &&
				!(truncated && strings.HasPrefix(e.val.Value, v)) {
				continue
			}
			found = e // keep the last: the deepest node on the line
		}
		want := expected(into)
		if found == nil {
			return &Error{Path: path, Line: line, Msg: fmt.Sprintf("%s, got %s", want, describe(tag, value))}
		}
		return &Error{Path: path, Line: line, Msg: prefixed(found.path, fmt.Sprintf("%s, got %s", want, describeNode(found.val)))}
	}
	if m := lineRE.FindStringSubmatch(s); m != nil {
		return &Error{Path: path, Line: atoi(m[1]), Msg: m[2]}
	}
	return &Error{Path: path, Line: 1, Msg: s}
}

// expected says what a Go type wants, in the words of the file.
func expected(goType string) string {
	switch {
	case goType == "duration":
		return `must be a duration like "30s", "15m", "720h" or "30d"`
	case goType == "integer" || strings.HasPrefix(goType, "int"):
		return "must be an integer"
	case goType == "byte size":
		return `must be a number of bytes, optionally with a unit like "512KiB" or "10MiB"`
	case goType == "string":
		return "must be a string"
	case strings.HasPrefix(goType, "[]"):
		return "must be a list"
	case goType == "configs.rawConfig":
		return "the configuration must be a mapping"
	case strings.HasPrefix(goType, "configs.raw"):
		return "must be a mapping"
	}
	return "must be a " + goType
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return describe(n.ShortTag(), n.Value)
}

func describe(tag, value string) string {
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!null":
		return "null"
	}
	return strconv.Quote(value)
}

func prefixed(p keyPath, msg string) string {
	if len(p) == 0 {
		return msg
	}
	return render(p) + ": " + msg
}

// joinErrors returns nil, the one error, or all of them sorted by line.
func joinErrors(errs []*Error) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
