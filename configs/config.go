// Package configs owns tributary's configuration file: its schema, the
// defaults, and a strict loader that reports every problem as
// "FILE:LINE: message" so that a typo never silently changes what the daemon
// does. The example configuration (tributary.yaml) and the sample feeds it
// points at live next to this file.
package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tributary-news/tributary/aggregator"
)

// Defaults applied to keys the file leaves out.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultDataDir      = "./data"
	DefaultSchedule     = "@every 15m"
	DefaultTimeout      = 30 * time.Second
	DefaultConcurrency  = 8
	DefaultMaxBodyBytes = 10 << 20 // 10 MiB
	DefaultMaxAge       = 720 * time.Hour
	DefaultMaxItems     = 50
	DefaultPerHost      = 2
	DefaultFeedMaxItems = 1000
	DefaultBacklog      = 168 * time.Hour

	// DBFile is the name of the bbolt database inside DataDir.
	DBFile = "tributary.db"
	// ProjectURL is named in the default User-Agent.
	ProjectURL = "https://github.com/tributary-news/tributary"
)

// Config is a loaded, validated configuration with defaults applied.
type Config struct {
	// Path is the file the configuration came from, as given to Load.
	Path string

	Listen string
	// BaseURL is the absolute http(s) URL the server is reached at, without
	// a trailing slash; self links in output feeds are built from it.
	BaseURL string
	// DataDir is an absolute directory (a relative data_dir is resolved
	// against the config file's directory).
	DataDir string
	// Schedule is the default poll schedule of every source.
	Schedule string
	// Backlog is the default of every source's Backlog: the window of
	// publication within which items a source already carried at its first
	// poll enter topics (0 takes everything).
	Backlog time.Duration

	Fetch     FetchConfig
	Retention RetentionConfig
	Publish   PublishConfig

	// Sources have absolute URLs; a source's Schedule is empty when it
	// uses the default Schedule.
	Sources []aggregator.Source
	// Topics have a Title (the name unless set) and a non-empty Query.
	Topics []aggregator.Topic
}

// FetchConfig is how feeds are fetched.
type FetchConfig struct {
	Timeout      time.Duration // whole request, body included; > 0
	Concurrency  int           // feeds fetched at once; >= 1
	MaxBodyBytes int64         // after decompression; > 0
	UserAgent    string
	PerHost      int // fetches in flight to one host; >= 1
	MaxItems     int // items taken from one feed; >= 1
}

// RetentionConfig is how long items are kept.
type RetentionConfig struct {
	// MaxAge is the age (by published time) after which items are pruned;
	// 0 keeps everything.
	MaxAge time.Duration
}

// PublishConfig is how topic feeds are rendered.
type PublishConfig struct {
	MaxItems int // items per output feed; >= 1
}

// DBPath is the path of the bbolt database file.
func (c *Config) DBPath() string { return filepath.Join(c.DataDir, DBFile) }

// Options adjusts how a configuration is loaded.
type Options struct {
	// ValidateQuery, when set, checks a topic query. Its error is reported
	// as "topics[i].query: MSG" at the line of the query; when the error
	// (or one it wraps) has a Column() int method and MSG does not already
	// mention the column, MSG is prefixed with "column N: ".
	ValidateQuery func(q string) error
	// Version is put in the default User-Agent ("dev" when empty).
	Version string
}

// Error is one problem in a configuration file, at a line (0 when the
// problem has no single line, like an unreadable file).
type Error struct {
	Path string // the config file, as given
	Line int    // 1-based
	Msg  string
	// Err is the underlying error, if any (a query syntax error, say).
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Path == "" && e.Line == 0:
		return e.Msg
	case e.Path == "":
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads and validates the configuration file at path.
//
// Problems in the file are all reported, sorted by line: one problem is
// returned as an *Error, several as errors.Join of *Error values, whose
// Error() has one "PATH:LINE: msg" per line. A YAML syntax or type error
// stops before the semantic checks (their results would be noise).
func Load(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configs: %w", err)
	}
	return Parse(data, path, opts)
}

// Parse is Load on data already read. path is used only in messages and to
// resolve a relative data_dir and relative file: URLs (against its
// directory, or the working directory when path is "").
func Parse(data []byte, path string, opts Options) (*Config, error) {
	raw, ok := decodeClean(data)
	t := tree{data: data}
	if !ok {
		// Something is wrong with the file: decode it again the slow way,
		// with its node tree at hand, to say what and where.
		root, err := parseTree(data, path)
		if err != nil {
			return nil, err
		}
		t.root, t.parsed = root, true
		raw = rawConfig{}
		if root != nil {
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
				return nil, decodeErrors(err, root, path)
			}
		}
	}
	baseDir, err := baseDir(path)
	if err != nil {
		return nil, err
	}
	v := &validator{path: path, baseDir: baseDir, tree: t, opts: opts}
	cfg := v.build(&raw)
	if err := v.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeClean decodes data in one pass, which is what a valid file needs
// (parsing is most of the cost of loading thousands of sources). It
// reports false on any error, or when a second document follows: Parse
// then reports the problem with the file's lines.
func decodeClean(data []byte) (rawConfig, bool) {
	var raw rawConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return rawConfig{}, errors.Is(err, io.EOF)
	}
	var extra yaml.Node
	return raw, errors.Is(dec.Decode(&extra), io.EOF)
}

// parseTree parses data into a node tree, kept for the line numbers of
// semantic errors. It returns nil for an empty document.
func parseTree(data []byte, path string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(data, path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{Path: path, Line: extra.Line, Msg: "yaml: a second document; the file must hold one"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(data, path, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML syntax error into an *Error at the line where
// the problem is. The yaml package reports the line where the enclosing
// construct began (and sometimes one less, or none at all), so the line
// is found as the shortest prefix of the file that fails the same way,
// searching from just before the reported line.
func syntaxError(data []byte, path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	reported := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscanf(m[1], "%d", &reported)
		msg = m[2]
	}
	line := reported
	// Each prefix is parsed afresh, so the search is quadratic: bound the
	// bytes it may parse and fall back to the reported line past that.
	budget := refineBudget
	end := 0
	for k, l := range bytes.SplitAfter(data, []byte("\n")) {
		end += len(l)
		if k+1 < reported-1 {
			continue
		}
		if budget -= end; budget < 0 {
			break
		}
		if prefixFails(data[:end], msg) {
			line = k + 1
			break
		}
	}
	if line == 0 {
		line = 1
	}
	return &Error{Path: path, Line: line, Msg: "yaml: " + msg, Err: err}
}

// refineBudget is how many bytes syntaxError may parse looking for a line.
const refineBudget = 4 << 20

func prefixFails(prefix []byte, msg string) bool {
	dec := yaml.NewDecoder(bytes.NewReader(prefix))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			return false
		}
		got := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			got = m[2]
		}
		return got == msg
	}
}

func baseDir(path string) (string, error) {
	dir := "."
	if path != "" {
		dir = filepath.Dir(path)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("configs: resolve directory of %q: %w", path, err)
	}
	return abs, nil
}
