package configs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// columnError is what the query parser's syntax error looks like to the
// loader: a message and a Column method.
type columnError struct {
	col int
	msg string
}

func (e *columnError) Error() string { return e.msg }
func (e *columnError) Column() int   { return e.col }

// fakeValidateQuery rejects queries with unbalanced parentheses (at the
// column of the first unmatched one, 1-based) and the word "BAD".
func fakeValidateQuery(q string) error {
	depth, open := 0, 0
	for i, r := range q {
		switch r {
		case '(':
			if depth == 0 {
				open = i + 1
			}
			depth++
		case ')':
			if depth == 0 {
				return &columnError{col: i + 1, msg: "unbalanced parenthesis"}
			}
			depth--
		}
	}
	if depth > 0 {
		return &columnError{col: open, msg: "unbalanced parenthesis"}
	}
	if strings.Contains(q, "BAD") {
		return errors.New("query: unknown operator BAD")
	}
	return nil
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // the whole error text
	}{
		{
			name: "unknown top-level field",
			yaml: "listen: \"127.0.0.1:8080\"\nlistn: \":9090\"\n",
			want: `test.yaml:2: unknown field "listn"`,
		},
		{
			name: "unknown nested field",
			yaml: "fetch:\n  timeout: 10s\n  timeot: 5s\n",
			want: `test.yaml:3: fetch: unknown field "timeot"`,
		},
		{
			name: "unknown source field",
			yaml: `sources:
  - name: a
    url: https://example.org/feed.xml
    titel: A
`,
			want: `test.yaml:4: sources[0]: unknown field "titel"`,
		},
		{
			name: "duplicate key",
			yaml: "listen: \":8080\"\nschedule: \"@hourly\"\nlisten: \":9090\"\n",
			want: `test.yaml:3: listen: duplicate key (first at line 1)`,
		},
		{
			name: "syntax error bad indentation",
			yaml: "fetch:\n  timeout: 10s\n concurrency: 2\n",
			want: `test.yaml:3: yaml: did not find expected key`,
		},
		{
			name: "syntax error tab",
			yaml: "listen: \":8080\"\nfetch:\n\ttimeout: 10s\n",
			want: `test.yaml:3: yaml: found character that cannot start any token`,
		},
		{
			name: "syntax error unterminated quote",
			yaml: "listen: \":8080\"\nsources:\n  - name: \"cgtn\n    url: x\n",
			want: `test.yaml:3: yaml: found unexpected end of stream`,
		},
		{
			name: "second document",
			yaml: "listen: \":1\"\n---\nlisten: \":2\"\n",
			want: `test.yaml:2: yaml: a second document; the file must hold one`,
		},
		{
			name: "top level is a list",
			yaml: "- a\n- b\n",
			want: `test.yaml:1: the configuration must be a mapping, got a list`,
		},
		{
			name: "integer expected",
			yaml: "fetch:\n  concurrency: eight\n",
			want: `test.yaml:2: fetch.concurrency: must be an integer, got "eight"`,
		},
		{
			name: "float is not an integer",
			yaml: "publish:\n  max_items: 2.5\n",
			want: `test.yaml:2: publish.max_items: must be an integer, got "2.5"`,
		},
		{
			name: "bad duration",
			yaml: "fetch:\n  timeout: 30 seconds\n",
			want: `test.yaml:2: fetch.timeout: must be a duration like "30s", "15m", "720h" or "30d", got "30 seconds"`,
		},
		{
			name: "bad byte size",
			yaml: "fetch:\n  max_body_bytes: lots\n",
			want: `test.yaml:2: fetch.max_body_bytes: must be a number of bytes, optionally with a unit like "512KiB" or "10MiB", got "lots"`,
		},
		{
			name: "sources not a list",
			yaml: "listen: \":8080\"\nsources: cgtn-world\n",
			want: `test.yaml:2: sources: must be a list, got "cgtn-world"`,
		},
		{
			name: "several type errors on one flow line",
			yaml: "fetch: {timeout: 5, concurrency: 1.5}\n",
			want: `test.yaml:1: fetch.timeout: must be a duration like "30s", "15m", "720h" or "30d", got "5"` + "\n" +
				`test.yaml:1: fetch.concurrency: must be an integer, got "1.5"`,
		},
		{
			name: "listen without port",
			yaml: "listen: 8080\n",
			want: `test.yaml:1: listen: must be host:port like "127.0.0.1:8080", got "8080"`,
		},
		{
			name: "listen port out of range",
			yaml: "data_dir: /var/lib/tributary\nlisten: \"localhost:99999\"\n",
			want: `test.yaml:2: listen: port "99999" must be a number from 0 to 65535`,
		},
		{
			name: "base_url not absolute",
			yaml: "listen: \":8080\"\nbase_url: \"news.example.org/feeds\"\n",
			want: `test.yaml:2: base_url: must be an absolute http:// or https:// URL, got "news.example.org/feeds"`,
		},
		{
			name: "base_url not http",
			yaml: "base_url: \"ftp://news.example.org/\"\n",
			want: `test.yaml:1: base_url: must be an absolute http:// or https:// URL, got "ftp://news.example.org/"`,
		},
		{
			name: "empty data_dir",
			yaml: "listen: \":8080\"\ndata_dir: \"\"\n",
			want: `test.yaml:2: data_dir: must not be empty`,
		},
		{
			name: "bad global schedule",
			yaml: "schedule: \"every 5 minutes\"\n",
			want: `test.yaml:1: schedule: invalid schedule "every 5 minutes": expected exactly 5 fields, found 3: [every 5 minutes]`,
		},
		{
			name: "bad source schedule",
			yaml: `sources:
  - name: a
    url: https://example.org/a.xml
    schedule: "61 * * * *"
`,
			want: `test.yaml:4: sources[0].schedule: invalid schedule "61 * * * *": end of range (61) above maximum (59): 61`,
		},
		{
			name: "zero @every",
			yaml: "schedule: \"@every 0s\"\n",
			want: `test.yaml:1: schedule: invalid schedule "@every 0s": the interval must be positive`,
		},
		{
			name: "negative timeout",
			yaml: "fetch:\n  timeout: -5s\n",
			want: `test.yaml:2: fetch.timeout: must be positive, got -5s`,
		},
		{
			name: "zero concurrency",
			yaml: "fetch:\n  timeout: 5s\n  concurrency: 0\n",
			want: `test.yaml:3: fetch.concurrency: must be at least 1, got 0`,
		},
		{
			name: "negative max_body_bytes",
			yaml: "fetch:\n  max_body_bytes: -1\n",
			want: `test.yaml:2: fetch.max_body_bytes: must be positive, got -1`,
		},
		{
			name: "control character in user_agent",
			yaml: "fetch:\n  user_agent: \"bot\\r\\nX-Evil: 1\"\n",
			want: `test.yaml:2: fetch.user_agent: must not contain control characters`,
		},
		{
			name: "negative backlog",
			yaml: "backlog: -1h\n",
			want: `test.yaml:1: backlog: must not be negative (0 takes everything)`,
		},
		{
			name: "negative source backlog",
			yaml: "sources:\n  - name: a\n    url: https://a.example/feed\n    backlog: -2h\n",
			want: `test.yaml:4: sources[0].backlog: must not be negative (0 takes everything)`,
		},
		{
			name: "zero per_host",
			yaml: "fetch:\n  per_host: 0\n",
			want: `test.yaml:2: fetch.per_host: must be at least 1, got 0`,
		},
		{
			name: "zero fetch max_items",
			yaml: "fetch: {max_items: 0}\n",
			want: `test.yaml:1: fetch.max_items: must be at least 1, got 0`,
		},
		{
			name: "priority not an integer",
			yaml: "sources:\n  - name: a\n    url: https://a.example/feed\n    priority: high\n",
			want: `test.yaml:4: sources[0].priority: must be an integer, got "high"`,
		},
		{
			name: "negative max_age",
			yaml: "retention:\n  max_age: -24h\n",
			want: `test.yaml:2: retention.max_age: must not be negative (0 keeps everything)`,
		},
		{
			name: "zero max_items",
			yaml: "publish:\n  max_items: 0\n",
			want: `test.yaml:2: publish.max_items: must be at least 1, got 0`,
		},
		{
			name: "bad source name",
			yaml: `sources:
  - name: CGTN_World
    url: https://www.cgtn.com/subscribe/rss/section/world.xml
`,
			want: `test.yaml:2: sources[0].name: "CGTN_World" must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and dashes)`,
		},
		{
			name: "missing source name",
			yaml: `sources:
  - name: a
    url: https://example.org/a.xml
  - title: B
    url: https://example.org/b.xml
`,
			want: `test.yaml:4: sources[1].name: is required`,
		},
		{
			name: "missing source url",
			yaml: `sources:
  - name: a
    title: A
`,
			want: `test.yaml:2: sources[0].url: is required`,
		},
		{
			name: "duplicate source name",
			yaml: `sources:
  - name: bbc-world
    url: https://feeds.bbci.co.uk/news/world/rss.xml
  - name: al-jazeera
    url: https://www.aljazeera.com/xml/rss/all.xml
  - name: bbc-world
    url: https://feeds.bbci.co.uk/news/rss.xml
`,
			want: `test.yaml:6: sources[2].name: duplicate source name "bbc-world" (first at line 2)`,
		},
		{
			name: "unsupported url scheme",
			yaml: "sources:\n  - {name: a, url: \"ftp://example.org/feed.xml\"}\n",
			want: `test.yaml:2: sources[0].url: scheme "ftp" is not supported (use http, https or file)`,
		},
		{
			name: "relative url",
			yaml: "sources:\n  - name: a\n    url: feed.xml\n",
			want: `test.yaml:3: sources[0].url: "feed.xml" must be an absolute URL (http://, https:// or file:)`,
		},
		{
			name: "http url without host",
			yaml: "sources:\n  - name: a\n    url: \"https:///feed.xml\"\n",
			want: `test.yaml:3: sources[0].url: "https:///feed.xml" has no host`,
		},
		{
			name: "file url with host",
			yaml: "sources:\n  - name: a\n    url: \"file://fileserver/feeds/a.xml\"\n",
			want: `test.yaml:3: sources[0].url: "file://fileserver/feeds/a.xml": a file URL must not name a host ("fileserver")`,
		},
		{
			name: "bad tag",
			yaml: `sources:
  - name: a
    url: https://example.org/a.xml
    tags:
      - wire
      - State_Media
`,
			want: `test.yaml:6: sources[0].tags[1]: "State_Media" must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and dashes)`,
		},
		{
			name: "bad topic name",
			yaml: `topics:
  - name: "Human Rights"
    query: rights
`,
			want: `test.yaml:2: topics[0].name: "Human Rights" must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and dashes)`,
		},
		{
			name: "duplicate topic name",
			yaml: `topics:
  - name: refugees
    query: refugees
  - name: refugees
    title: Refugees again
    query: asylum
`,
			want: `test.yaml:4: topics[1].name: duplicate topic name "refugees" (first at line 2)`,
		},
		{
			name: "missing query",
			yaml: `topics:
  - name: refugees
    title: Refugees
`,
			want: `test.yaml:2: topics[0].query: is required`,
		},
		{
			name: "query error with column",
			yaml: `sources:
  - name: a
    url: https://example.org/a.xml
topics:
  - name: a
    query: ok
  - name: b
    query: x
  - name: human-rights-forum
    title: Human rights forum coverage
    query: '"human rights" AND (forum OR summit'
`,
			want: `test.yaml:11: topics[2].query: column 20: unbalanced parenthesis`,
		},
		{
			name: "query error as is",
			yaml: "topics:\n  - name: a\n    query: \"x BAD y\"\n",
			want: `test.yaml:3: topics[0].query: query: unknown operator BAD`,
		},
		{
			name: "topic names unknown source",
			yaml: `sources:
  - name: bbc-world
    url: https://feeds.bbci.co.uk/news/world/rss.xml
topics:
  - name: world
    query: world
    sources: [bbc-world, bbc-wrld]
`,
			want: `test.yaml:7: topics[0].sources[1]: unknown source "bbc-wrld"`,
		},
		{
			name: "topic names unknown tag",
			yaml: `sources:
  - name: cgtn-world
    url: https://www.cgtn.com/subscribe/rss/section/world.xml
    tags: [state-media]
topics:
  - name: world
    query: world
    sources:
      - "tag:state-media"
      - "tag:wire"
`,
			want: `test.yaml:10: topics[0].sources[1]: unknown tag "wire": no source has it`,
		},
		{
			name: "topic tag not matching the pattern",
			yaml: `topics:
  - name: world
    query: world
    sources: ["tag:Wire"]
`,
			want: `test.yaml:4: topics[0].sources[0]: "Wire" must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and dashes)`,
		},
		{
			name: "several errors are all reported in line order",
			yaml: `topics:
  - name: world
    query: world
    sources: [nowhere]
listen: nowhere
sources:
  - name: A
    url: gopher://example.org/
`,
			want: `test.yaml:4: topics[0].sources[0]: unknown source "nowhere"` + "\n" +
				`test.yaml:5: listen: must be host:port like "127.0.0.1:8080", got "nowhere"` + "\n" +
				`test.yaml:7: sources[0].name: "A" must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and dashes)` + "\n" +
				`test.yaml:8: sources[0].url: scheme "gopher" is not supported (use http, https or file)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml), "test.yaml", Options{ValidateQuery: fakeValidateQuery})
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want error %q", cfg, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error %T is not an *Error", err)
			}
			if cerr.Path != "test.yaml" || cerr.Line < 1 {
				t.Errorf("*Error = %+v, want Path test.yaml and a line", cerr)
			}
		})
	}
}

func TestQueryErrorUnwraps(t *testing.T) {
	_, err := Parse([]byte("topics:\n  - name: a\n    query: \"(x\"\n"), "t.yaml", Options{ValidateQuery: fakeValidateQuery})
	var qerr *columnError
	if !errors.As(err, &qerr) || qerr.Column() != 1 {
		t.Fatalf("errors.As(%v) to the validator's error failed", err)
	}
}

// writeConfig writes data as dir/tributary.yaml and returns its path.
func writeConfig(t *testing.T, dir, data string) string {
	t.Helper()
	path := filepath.Join(dir, "tributary.yaml")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDefaults(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `sources:
  - name: cgtn-world
    url: https://www.cgtn.com/subscribe/rss/section/world.xml
    tags: [state-media]
topics:
  - name: human-rights-forum
    query: '"human rights" AND (forum OR summit)'
`)
	cfg, err := Load(path, Options{Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:     path,
		Listen:   "127.0.0.1:8080",
		BaseURL:  "http://127.0.0.1:8080",
		DataDir:  filepath.Join(dir, "data"),
		Schedule: "@every 15m",
		Backlog:  168 * time.Hour,
		Fetch: FetchConfig{
			Timeout:      30 * time.Second,
			Concurrency:  8,
			MaxBodyBytes: 10485760,
			UserAgent:    "tributary/1.2.3 (+https://github.com/tributary-news/tributary)",
			PerHost:      2,
			MaxItems:     1000,
		},
		Retention: RetentionConfig{MaxAge: 720 * time.Hour},
		Publish:   PublishConfig{MaxItems: 50},
		Sources: []aggregator.Source{{
			Name:    "cgtn-world",
			URL:     "https://www.cgtn.com/subscribe/rss/section/world.xml",
			Tags:    []string{"state-media"},
			Backlog: 168 * time.Hour,
		}},
		Topics: []aggregator.Topic{{
			Name:  "human-rights-forum",
			Title: "human-rights-forum",
			Query: `"human rights" AND (forum OR summit)`,
		}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", cfg, want)
	}
	if got, want := cfg.DBPath(), filepath.Join(dir, "data", "tributary.db"); got != want {
		t.Errorf("DBPath() = %q, want %q", got, want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, data := range []string{"", "# nothing but a comment\n", "---\n"} {
		cfg, err := Parse([]byte(data), "", Options{})
		if err != nil {
			t.Fatalf("Parse(%q): %v", data, err)
		}
		if cfg.Listen != DefaultListen || cfg.Publish.MaxItems != DefaultMaxItems ||
			cfg.Fetch.UserAgent != "tributary/dev (+https://github.com/tributary-news/tributary)" ||
			len(cfg.Sources) != 0 || len(cfg.Topics) != 0 {
			t.Errorf("Parse(%q) = %+v, want defaults", data, cfg)
		}
		wd, _ := os.Getwd()
		if cfg.DataDir != filepath.Join(wd, "data") {
			t.Errorf("DataDir = %q, want ./data resolved against the working directory", cfg.DataDir)
		}
	}
}

func TestParseValues(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "etc", "tributary.yaml")
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "explicit retention 0 keeps everything",
			yaml: "retention:\n  max_age: 0\n",
			check: func(t *testing.T, c *Config) {
				if c.Retention.MaxAge != 0 {
					t.Errorf("MaxAge = %v, want 0", c.Retention.MaxAge)
				}
			},
		},
		{
			name: "retention 0s",
			yaml: "retention: {max_age: 0s}\n",
			check: func(t *testing.T, c *Config) {
				if c.Retention.MaxAge != 0 {
					t.Errorf("MaxAge = %v, want 0", c.Retention.MaxAge)
				}
			},
		},
		{
			name: "null retention is the default",
			yaml: "retention: {max_age: ~}\n",
			check: func(t *testing.T, c *Config) {
				if c.Retention.MaxAge != DefaultMaxAge {
					t.Errorf("MaxAge = %v, want %v", c.Retention.MaxAge, DefaultMaxAge)
				}
			},
		},
		{
			name: "durations with days, sizes with units",
			yaml: "retention: {max_age: 1d12h}\nfetch: {timeout: 1m30s, max_body_bytes: 2MiB, concurrency: 2}\n",
			check: func(t *testing.T, c *Config) {
				if c.Retention.MaxAge != 36*time.Hour || c.Fetch.Timeout != 90*time.Second ||
					c.Fetch.MaxBodyBytes != 2<<20 || c.Fetch.Concurrency != 2 {
					t.Errorf("got %+v %+v", c.Retention, c.Fetch)
				}
			},
		},
		{
			name: "relative data_dir is relative to the config file",
			yaml: "data_dir: ../var/tributary\n",
			check: func(t *testing.T, c *Config) {
				if want := filepath.Join(dir, "var", "tributary"); c.DataDir != want {
					t.Errorf("DataDir = %q, want %q", c.DataDir, want)
				}
			},
		},
		{
			name: "absolute data_dir is kept",
			yaml: "data_dir: /var/lib/tributary/\n",
			check: func(t *testing.T, c *Config) {
				if c.DataDir != "/var/lib/tributary" {
					t.Errorf("DataDir = %q", c.DataDir)
				}
			},
		},
		{
			name: "file URLs",
			yaml: `sources:
  - {name: a, url: "file:samples/a.xml"}
  - {name: b, url: "file://./samples/b.xml"}
  - {name: c, url: "file:///srv/feeds/c.xml"}
  - {name: d, url: "file://localhost/srv/feeds/d.xml"}
  - {name: e, url: "file:../feeds/e%20one.xml"}
  - {name: f, url: "file:/srv/feeds/f.xml"}
`,
			check: func(t *testing.T, c *Config) {
				want := []string{
					"file://" + filepath.ToSlash(filepath.Join(dir, "etc", "samples", "a.xml")),
					"file://" + filepath.ToSlash(filepath.Join(dir, "etc", "samples", "b.xml")),
					"file:///srv/feeds/c.xml",
					"file:///srv/feeds/d.xml",
					"file://" + filepath.ToSlash(filepath.Join(dir, "feeds", "e%20one.xml")),
					"file:///srv/feeds/f.xml",
				}
				for i, s := range c.Sources {
					if s.URL != want[i] {
						t.Errorf("sources[%d].URL = %q, want %q", i, s.URL, want[i])
					}
				}
			},
		},
		{
			name: "listen on every interface gives a localhost base_url",
			yaml: "listen: \":9090\"\n",
			check: func(t *testing.T, c *Config) {
				if c.BaseURL != "http://localhost:9090" {
					t.Errorf("BaseURL = %q", c.BaseURL)
				}
			},
		},
		{
			name: "IPv6 listen",
			yaml: "listen: \"[::1]:8080\"\n",
			check: func(t *testing.T, c *Config) {
				if c.BaseURL != "http://[::1]:8080" {
					t.Errorf("BaseURL = %q", c.BaseURL)
				}
			},
		},
		{
			name: "base_url loses its trailing slash",
			yaml: "base_url: \"https://news.example.org/tributary/\"\n",
			check: func(t *testing.T, c *Config) {
				if c.BaseURL != "https://news.example.org/tributary" {
					t.Errorf("BaseURL = %q", c.BaseURL)
				}
			},
		},
		{
			name: "source fields, schedules and topic selections",
			yaml: `schedule: "@hourly"
backlog: 48h
fetch:
  user_agent: "newsbot/2 (+mailto:ops@example.org)"
  per_host: 1
  max_items: 200
sources:
  - name: un-news
    title: "  UN News  "
    url: https://news.un.org/feed/subscribe/en/news/all/rss.xml
    schedule: "*/10 * * * *"
    tags: [un, wire]
    backlog: 0
    priority: 10
  - name: hrw
    url: https://www.hrw.org/rss/news
    schedule: ""
topics:
  - name: rights
    title: Rights
    query: "  rights  "
    sources: [hrw, "tag:un"]
`,
			check: func(t *testing.T, c *Config) {
				wantSources := []aggregator.Source{
					{Name: "un-news", Title: "UN News", URL: "https://news.un.org/feed/subscribe/en/news/all/rss.xml", Schedule: "*/10 * * * *", Tags: []string{"un", "wire"}, Priority: 10},
					{Name: "hrw", URL: "https://www.hrw.org/rss/news", Backlog: 48 * time.Hour},
				}
				wantTopics := []aggregator.Topic{{Name: "rights", Title: "Rights", Query: "rights", Sources: []string{"hrw", "tag:un"}}}
				if !reflect.DeepEqual(c.Sources, wantSources) || !reflect.DeepEqual(c.Topics, wantTopics) {
					t.Errorf("got\n %+v\n %+v", c.Sources, c.Topics)
				}
				if c.Schedule != "@hourly" || c.Fetch.UserAgent != "newsbot/2 (+mailto:ops@example.org)" ||
					c.Backlog != 48*time.Hour || c.Fetch.PerHost != 1 || c.Fetch.MaxItems != 200 {
					t.Errorf("Schedule %q, UserAgent %q, backlog %v, fetch %+v", c.Schedule, c.Fetch.UserAgent, c.Backlog, c.Fetch)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml), cfgPath, Options{ValidateQuery: fakeValidateQuery})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Path: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{Error{Path: "a.yaml", Msg: "bad"}, "a.yaml: bad"},
		{Error{Line: 3, Msg: "bad"}, "line 3: bad"},
		{Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestExampleConfig loads the shipped configs/tributary.yaml.
func TestExampleConfig(t *testing.T) {
	cfg, err := Load("tributary.yaml", Options{ValidateQuery: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(here, "data") {
		t.Errorf("DataDir = %q, want %q", cfg.DataDir, filepath.Join(here, "data"))
	}
	if cfg.Retention.MaxAge != 0 || cfg.Listen != "127.0.0.1:8080" || cfg.Schedule != "@every 15m" {
		t.Errorf("retention %v, listen %q, schedule %q", cfg.Retention.MaxAge, cfg.Listen, cfg.Schedule)
	}
	if n := len(cfg.Sources); n < 10 {
		t.Errorf("%d sources, want at least 10", n)
	}
	samples := 0
	for _, s := range cfg.Sources {
		p, ok := strings.CutPrefix(s.URL, "file://")
		if !ok {
			continue
		}
		samples++
		if _, err := os.Stat(filepath.FromSlash(p)); err != nil {
			t.Errorf("source %s: %v", s.Name, err)
		}
	}
	if samples != 5 {
		t.Errorf("%d file: sources, want the 5 samples", samples)
	}
	var forum *aggregator.Topic
	for i := range cfg.Topics {
		if cfg.Topics[i].Name == "human-rights-forum" {
			forum = &cfg.Topics[i]
		}
	}
	if forum == nil || forum.Title != "Human rights forum coverage" || forum.Query != `"human rights" AND (forum OR summit)` {
		t.Errorf("human-rights-forum topic = %+v", forum)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"listen: \":8080\"\nsources:\n  - {name: a, url: \"file:x.xml\", tags: [t]}\ntopics:\n  - {name: b, query: q, sources: [\"tag:t\"]}\n",
		"fetch: {timeout: 5, concurrency: 1.5}\n",
		"a: &x [*x]\n",
		"sources:\n  - name: \"x\n",
	}
	if data, err := os.ReadFile("tributary.yaml"); err == nil {
		seeds = append(seeds, string(data))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		cfg, err := Parse([]byte(data), "fuzz.yaml", Options{ValidateQuery: fakeValidateQuery})
		if err == nil {
			if cfg == nil || cfg.Fetch.Concurrency < 1 || cfg.Publish.MaxItems < 1 || cfg.DataDir == "" {
				t.Fatalf("Parse accepted an invalid config: %+v", cfg)
			}
			return
		}
		var cerr *Error
		if !errors.As(err, &cerr) {
			t.Fatalf("error %v is a %T, not an *Error", err, err)
		}
	})
}
