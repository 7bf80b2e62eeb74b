package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/robfig/cron/v3"

	"github.com/tributary-news/tributary/aggregator"
)

// validator builds a Config from the raw file, collecting every problem
// with its line.
type validator struct {
	path    string
	baseDir string // absolute directory relative paths are resolved against
	tree    tree
	opts    Options
	errs    []*Error
}

func (v *validator) errorf(p keyPath, format string, args ...any) {
	v.errs = append(v.errs, &Error{Path: v.path, Line: v.tree.line(p), Msg: prefixed(p, fmt.Sprintf(format, args...))})
}

// at is p extended by segs, never sharing p's array.
func at(p keyPath, segs ...any) keyPath {
	return append(append(make(keyPath, 0, len(p)+len(segs)), p...), segs...)
}

func (v *validator) err() error { return joinErrors(v.errs) }

// namePattern is what source and topic names and tags look like: they
// appear in URLs and storage keys.
const namePatternText = "[a-z0-9][a-z0-9-]*"

var namePattern = regexp.MustCompile("^" + namePatternText + "$")

const maxNameLen = 64

// tagPrefix marks a tag in a topic's sources.
const tagPrefix = "tag:"

func (v *validator) checkName(p keyPath, name string) bool {
	switch {
	case name == "":
		v.errorf(p, "is required")
	case len(name) > maxNameLen:
		v.errorf(p, "%q is longer than %d characters", name, maxNameLen)
	case !namePattern.MatchString(name):
		v.errorf(p, "%q must match %s (lower-case letters, digits and dashes)", name, namePatternText)
	default:
		return true
	}
	return false
}

func (v *validator) build(raw *rawConfig) *Config {
	c := &Config{Path: v.path}

	c.Listen = strings.TrimSpace(raw.Listen)
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	listenOK := v.checkListen(keyPath{"listen"}, c.Listen)

	c.BaseURL = strings.TrimSpace(raw.BaseURL)
	if c.BaseURL != "" {
		c.BaseURL = v.checkBaseURL(keyPath{"base_url"}, c.BaseURL)
	} else if listenOK {
		c.BaseURL = defaultBaseURL(c.Listen)
	}

	c.DataDir = DefaultDataDir
	if raw.DataDir != nil {
		c.DataDir = strings.TrimSpace(*raw.DataDir)
	}
	if c.DataDir == "" {
		v.errorf(keyPath{"data_dir"}, "must not be empty")
	} else if !filepath.IsAbs(c.DataDir) {
		c.DataDir = filepath.Join(v.baseDir, c.DataDir)
	} else {
		c.DataDir = filepath.Clean(c.DataDir)
	}

	c.Schedule = DefaultSchedule
	if raw.Schedule != nil && strings.TrimSpace(*raw.Schedule) != "" {
		c.Schedule = strings.TrimSpace(*raw.Schedule)
	}
	v.checkSchedule(keyPath{"schedule"}, c.Schedule)

	c.Backlog = DefaultBacklog
	if raw.Backlog != nil {
		c.Backlog = time.Duration(*raw.Backlog)
	}
	if c.Backlog < 0 {
		v.errorf(keyPath{"backlog"}, "must not be negative (0 takes everything)")
	}

	v.buildFetch(c, &raw.Fetch)

	c.Retention.MaxAge = DefaultMaxAge
	if raw.Retention.MaxAge != nil {
		c.Retention.MaxAge = time.Duration(*raw.Retention.MaxAge)
	}
	if c.Retention.MaxAge < 0 {
		v.errorf(keyPath{"retention", "max_age"}, "must not be negative (0 keeps everything)")
	}

	c.Publish.MaxItems = v.positiveInt(keyPath{"publish", "max_items"}, raw.Publish.MaxItems, DefaultMaxItems)

	tags := v.buildSources(c, raw.Sources)
	v.buildTopics(c, raw.Topics, tags)
	return c
}

func (v *validator) buildFetch(c *Config, raw *rawFetch) {
	c.Fetch.Timeout = DefaultTimeout
	if raw.Timeout != nil {
		c.Fetch.Timeout = time.Duration(*raw.Timeout)
	}
	if c.Fetch.Timeout <= 0 {
		v.errorf(keyPath{"fetch", "timeout"}, "must be positive, got %s", c.Fetch.Timeout)
	}

	c.Fetch.Concurrency = v.positiveInt(keyPath{"fetch", "concurrency"}, raw.Concurrency, DefaultConcurrency)

	c.Fetch.MaxBodyBytes = DefaultMaxBodyBytes
	if raw.MaxBodyBytes != nil {
		c.Fetch.MaxBodyBytes = int64(*raw.MaxBodyBytes)
	}
	if c.Fetch.MaxBodyBytes <= 0 {
		v.errorf(keyPath{"fetch", "max_body_bytes"}, "must be positive, got %d", c.Fetch.MaxBodyBytes)
	}

	c.Fetch.PerHost = v.positiveInt(keyPath{"fetch", "per_host"}, raw.PerHost, DefaultPerHost)

	c.Fetch.MaxItems = v.positiveInt(keyPath{"fetch", "max_items"}, raw.MaxItems, DefaultFeedMaxItems)

	c.Fetch.UserAgent = strings.TrimSpace(raw.UserAgent)
	if c.Fetch.UserAgent == "" {
		c.Fetch.UserAgent = DefaultUserAgent(v.opts.Version)
	}
	if strings.ContainsFunc(c.Fetch.UserAgent, unicode.IsControl) {
		v.errorf(keyPath{"fetch", "user_agent"}, "must not contain control characters")
	}
}

// positiveInt is the value of an optional count that must be at least 1:
// def when the key is absent, an error at its line when it is below 1.
func (v *validator) positiveInt(p keyPath, raw *integer, def int) int {
	n := def
	if raw != nil {
		n = int(*raw)
	}
	if n < 1 {
		v.errorf(p, "must be at least 1, got %d", n)
	}
	return n
}

// DefaultUserAgent is the User-Agent sent when the config sets none.
func DefaultUserAgent(version string) string {
	if version == "" {
		version = "dev"
	}
	return "tributary/" + version + " (+" + ProjectURL + ")"
}

// checkUniqueName checks a source or topic name's pattern and that no
// earlier one (whose paths firstAt records) has it. Paths, not lines: a
// line is looked up only for an error, so a valid file is parsed once.
func (v *validator) checkUniqueName(p keyPath, kind, name string, firstAt map[string]keyPath) {
	if !v.checkName(p, name) {
		return
	}
	if first, dup := firstAt[name]; dup {
		v.errorf(p, "duplicate %s name %q (first at line %d)", kind, name, v.tree.line(first))
		return
	}
	firstAt[name] = p
}

// buildSources checks the sources and returns the tags they use.
func (v *validator) buildSources(c *Config, raws []rawSource) map[string]bool {
	tags := map[string]bool{}
	firstAt := map[string]keyPath{}
	for i, raw := range raws {
		p := keyPath{"sources", i}
		s := aggregator.Source{
			Name:  strings.TrimSpace(raw.Name),
			Title: strings.TrimSpace(raw.Title),
		}
		v.checkUniqueName(at(p, "name"), "source", s.Name, firstAt)
		s.URL = v.checkSourceURL(at(p, "url"), strings.TrimSpace(raw.URL))
		s.Backlog = c.Backlog
		if raw.Backlog != nil {
			if s.Backlog = time.Duration(*raw.Backlog); s.Backlog < 0 {
				v.errorf(at(p, "backlog"), "must not be negative (0 takes everything)")
			}
		}
		if raw.Priority != nil {
			s.Priority = int(*raw.Priority)
		}
		if raw.Schedule != nil && strings.TrimSpace(*raw.Schedule) != "" {
			s.Schedule = strings.TrimSpace(*raw.Schedule)
			v.checkSchedule(at(p, "schedule"), s.Schedule)
		}
		seen := map[string]bool{}
		for j, tag := range raw.Tags {
			tp := at(p, "tags", j)
			tag = strings.TrimSpace(tag)
			if !v.checkName(tp, tag) {
				continue
			}
			if seen[tag] {
				v.errorf(tp, "duplicate tag %q", tag)
				continue
			}
			seen[tag] = true
			tags[tag] = true
			s.Tags = append(s.Tags, tag)
		}
		c.Sources = append(c.Sources, s)
	}
	return tags
}

func (v *validator) buildTopics(c *Config, raws []rawTopic, tags map[string]bool) {
	sources := map[string]bool{}
	for _, s := range c.Sources {
		sources[s.Name] = true
	}
	firstAt := map[string]keyPath{}
	for i, raw := range raws {
		p := keyPath{"topics", i}
		t := aggregator.Topic{
			Name:  strings.TrimSpace(raw.Name),
			Title: strings.TrimSpace(raw.Title),
			Query: strings.TrimSpace(raw.Query),
		}
		v.checkUniqueName(at(p, "name"), "topic", t.Name, firstAt)
		if t.Title == "" {
			t.Title = t.Name
		}
		qp := at(p, "query")
		switch {
		case t.Query == "":
			v.errorf(qp, "is required")
		case v.opts.ValidateQuery != nil:
			if err := v.opts.ValidateQuery(t.Query); err != nil {
				v.errs = append(v.errs, &Error{Path: v.path, Line: v.tree.line(qp), Msg: prefixed(qp, queryMessage(err)), Err: err})
			}
		}
		seen := map[string]bool{}
		for j, sel := range raw.Sources {
			sp := at(p, "sources", j)
			sel = strings.TrimSpace(sel)
			if seen[sel] {
				v.errorf(sp, "%q is listed twice", sel)
				continue
			}
			seen[sel] = true
			if tag, ok := strings.CutPrefix(sel, tagPrefix); ok {
				if v.checkName(sp, tag) && !tags[tag] {
					v.errorf(sp, "unknown tag %q: no source has it", tag)
				}
			} else if sel == "" {
				v.errorf(sp, "must name a source or %sNAME", tagPrefix)
			} else if !sources[sel] {
				v.errorf(sp, "unknown source %q", sel)
			}
			t.Sources = append(t.Sources, sel)
		}
		c.Topics = append(c.Topics, t)
	}
}

// queryMessage words a query validator's error, with the column in front
// when the error carries one its message does not mention.
func queryMessage(err error) string {
	msg := err.Error()
	var col interface{ Column() int }
	if errors.As(err, &col) && !strings.Contains(msg, "column") {
		return fmt.Sprintf("column %d: %s", col.Column(), msg)
	}
	return msg
}

func (v *validator) checkListen(p keyPath, listen string) bool {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		v.errorf(p, "must be host:port like %q, got %q", DefaultListen, listen)
		return false
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		v.errorf(p, "port %q must be a number from 0 to 65535", port)
		return false
	}
	if strings.ContainsAny(host, " /") {
		v.errorf(p, "host %q is not a host name or IP address", host)
		return false
	}
	return true
}

// defaultBaseURL is the URL of the listen address; an unspecified host
// (":8080", "0.0.0.0:8080") becomes localhost.
func defaultBaseURL(listen string) string {
	host, port, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (v *validator) checkBaseURL(p keyPath, s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf(p, "must be an absolute http:// or https:// URL, got %q", s)
		return s
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		v.errorf(p, "must not have a query, fragment or user info, got %q", s)
		return s
	}
	return strings.TrimRight(s, "/")
}

// checkSourceURL checks a feed URL and returns it with a relative file:
// URL made absolute.
func (v *validator) checkSourceURL(p keyPath, s string) string {
	if s == "" {
		v.errorf(p, "is required")
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		v.errorf(p, "invalid URL %q: %v", s, errors.Unwrap(err))
		return s
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			v.errorf(p, "%q has no host", s)
		}
		return s
	case "file":
		abs, err := v.resolveFileURL(u)
		if err != nil {
			v.errorf(p, "%q: %v", s, err)
			return s
		}
		return abs
	case "":
		v.errorf(p, "%q must be an absolute URL (http://, https:// or file:)", s)
	default:
		v.errorf(p, "scheme %q is not supported (use http, https or file)", u.Scheme)
	}
	return s
}

// resolveFileURL accepts file:///abs/path, file://localhost/abs/path and
// the relative forms file:rel/path and file://./rel/path, which it
// resolves against the config file's directory.
func (v *validator) resolveFileURL(u *url.URL) (string, error) {
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("a file URL must not have a query or fragment")
	}
	var p string
	switch {
	case u.Opaque != "":
		op, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", err
		}
		p = op
	case u.Host == "." || u.Host == "..":
		p = u.Host + u.Path
	case u.Host == "" || u.Host == "localhost":
		p = u.Path
	default:
		return "", fmt.Errorf("a file URL must not name a host (%q)", u.Host)
	}
	if p == "" {
		return "", errors.New("a file URL needs a path")
	}
	p = filepath.FromSlash(p)
	if !filepath.IsAbs(p) {
		p = filepath.Join(v.baseDir, p)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Clean(p))}).String(), nil
}

func (v *validator) checkSchedule(p keyPath, spec string) {
	if err := checkSchedule(spec); err != nil {
		v.errorf(p, "invalid schedule %q: %v", spec, err)
	}
}

func checkSchedule(spec string) error {
	if _, err := cron.ParseStandard(spec); err != nil {
		return err
	}
	// cron quietly turns "@every 0s" or a negative interval into 1s.
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		if d, err := time.ParseDuration(rest); err == nil && d <= 0 {
			return errors.New("the interval must be positive")
		}
	}
	return nil
}
