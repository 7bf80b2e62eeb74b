package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tributary-news/tributary/configs"
)

const sourcesTestConfig = `# Test config: comments must survive edits.
data_dir: data   # next to this file
fetch:
  user_agent: "tributary-test/1 (+mailto:test@example.org)"

sources:
  # Wire services.
  - name: wire
    title: "The Wire"
    url: "https://wire.example/rss"
    tags: [news]

  # Kept for the topic below.
  - name: pinned
    url: "https://pinned.example/atom"

topics:
  - name: everything
    query: 'news OR world'
    sources: [pinned, "tag:news"]   # pinned is named here
`

// feedSite serves a web page advertising two feeds, the feeds, and a page
// advertising none; it records the User-Agent of every request.
type feedSite struct {
	*httptest.Server
	mu     sync.Mutex
	agents []string
}

func newFeedSite(t *testing.T) *feedSite {
	t.Helper()
	s := &feedSite{}
	mux := http.NewServeMux()
	mux.HandleFunc("/blog/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><html><head><title>Blog</title>
<link rel="alternate" type="application/rss+xml" href="/blog/rss.xml">
<link rel="alternate" type="application/atom+xml" href="/blog/atom.xml"></head><body></body></html>`))
	})
	mux.HandleFunc("/plain/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><html><head><title>Nothing</title></head><body>hi</body></html>`))
	})
	mux.HandleFunc("/blog/rss.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write([]byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>Le Blog: Genève
  édition</title><link>https://blog.example/</link>
<item><title>One</title><link>https://blog.example/1</link></item></channel></rss>`))
	})
	mux.HandleFunc("/blog/atom.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/atom+xml")
		w.Write([]byte(`<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>The Wire</title><id>urn:b</id>
<updated>2024-01-01T00:00:00Z</updated></feed>`))
	})
	mux.HandleFunc("/moved.xml", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/blog/rss.xml", http.StatusMovedPermanently)
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.agents = append(s.agents, r.UserAgent())
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func writeTestConfig(t *testing.T, contents string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tributary.yaml")
	if err := os.WriteFile(path, []byte(contents), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestSourcesAdd(t *testing.T) {
	site := newFeedSite(t)
	path := writeTestConfig(t, sourcesTestConfig, 0o600)

	code, out, errOut := run(t, "sources", "add", site.URL+"/blog/", "--config", path, "--tag", "blog", "--tag", "news")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	wantOut := site.URL + "/blog/ is a web page; it advertises 2 feed(s):\n" +
		"  1. " + site.URL + "/blog/rss.xml\n" +
		"  2. " + site.URL + "/blog/atom.xml\n" +
		"taking 1. (--pick N takes another)\n" +
		"added source le-blog-geneve-edition (Le Blog: Genève édition) " + site.URL + "/blog/rss.xml at " + path + ":16\n"
	if out != wantOut {
		t.Errorf("output\n%s\nwant\n%s", out, wantOut)
	}
	got, _ := os.ReadFile(path)
	want := strings.Replace(sourcesTestConfig, `    url: "https://pinned.example/atom"
`, `    url: "https://pinned.example/atom"
  - name: le-blog-geneve-edition
    title: "Le Blog: Genève édition"
    url: "`+site.URL+`/blog/rss.xml"
    tags: [blog, news]
`, 1)
	if string(got) != want {
		t.Errorf("config\n%s\nwant\n%s", got, want)
	}
	if info, _ := os.Stat(path); runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 kept", info.Mode().Perm())
	}
	site.mu.Lock()
	for _, ua := range site.agents {
		if ua != "tributary-test/1 (+mailto:test@example.org)" {
			t.Errorf("User-Agent %q, want the config's", ua)
		}
	}
	if len(site.agents) != 2 {
		t.Errorf("%d requests, want 2 (the page, then the feed)", len(site.agents))
	}
	site.mu.Unlock()

	// The second feed, whose title is taken as a name: made unique.
	code, out, errOut = run(t, "sources", "add", "--config", path, "--pick", "2", site.URL+"/blog/")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "added source the-wire (The Wire) "+site.URL+"/blog/atom.xml at "+path+":20\n") {
		t.Errorf("output %s", out)
	}

	// A permanent redirect: the new URL is kept.
	path2 := writeTestConfig(t, sourcesTestConfig, 0o644)
	code, out, errOut = run(t, "sources", "add", site.URL+"/moved.xml", "--config", path2, "--name", "moved", "--title", "Moved")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "has moved permanently to "+site.URL+"/blog/rss.xml") ||
		!strings.Contains(out, "added source moved (Moved) "+site.URL+"/blog/rss.xml at ") {
		t.Errorf("output %s", out)
	}
}

func TestSourcesAddRefused(t *testing.T) {
	site := newFeedSite(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
		code    int
	}{
		{name: "page without feeds", args: []string{site.URL + "/plain/"},
			wantErr: "/plain/: this is an HTML page, not a feed", code: 1},
		{name: "pick out of range", args: []string{site.URL + "/blog/", "--pick", "3"},
			wantErr: "--pick 3: the page advertises 2 feed(s): " + site.URL + "/blog/rss.xml, " + site.URL + "/blog/atom.xml", code: 1},
		{name: "name taken", args: []string{site.URL + "/blog/rss.xml", "--name", "wire"},
			wantErr: `tributary.yaml:8: a source named "wire" already exists`, code: 1},
		{name: "bad name", args: []string{site.URL + "/blog/rss.xml", "--name", "Not OK"},
			wantErr: `sources[2].name: "Not OK" must match`, code: 1},
		{name: "bad URL", args: []string{"ftp://files.example/feed"},
			wantErr: `ftp://files.example/feed: scheme "ftp" is not supported`, code: 1},
		{name: "URL already present", args: []string{"https://wire.example/rss"},
			wantErr: `https://wire.example/rss is already source "wire"`, code: 1},
		{name: "unreachable", args: []string{site.URL + "/missing.xml"},
			wantErr: "HTTP 404 Not Found", code: 1},
		{name: "no URL", args: nil, wantErr: "want a URL, got 0 arguments", code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTestConfig(t, sourcesTestConfig, 0o644)
			code, out, errOut := run(t, append([]string{"sources", "add", "--config", path}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q (stdout %q)", code, errOut, tt.code, tt.wantErr, out)
			}
			if got, _ := os.ReadFile(path); string(got) != sourcesTestConfig {
				t.Errorf("the config changed:\n%s", got)
			}
		})
	}
}

func TestSourcesAddDryRun(t *testing.T) {
	site := newFeedSite(t)
	path := writeTestConfig(t, sourcesTestConfig, 0o644)
	code, out, errOut := run(t, "sources", "add", site.URL+"/blog/atom.xml", "--config", path, "--dry-run", "--name", "atom")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"+++ " + path + "\n", "+  - name: atom\n", `+    title: "The Wire"` + "\n",
		"would add source atom (The Wire) " + site.URL + "/blog/atom.xml at " + path + ":16\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != sourcesTestConfig {
		t.Error("--dry-run wrote the config")
	}
}

func TestSourcesRemove(t *testing.T) {
	path := writeTestConfig(t, sourcesTestConfig, 0o600)

	// Named by a topic: refused, naming the topic and its line.
	code, _, errOut := run(t, "sources", "remove", "pinned", "--config", path)
	if code != 1 || !strings.Contains(errOut, path+`:20: topic "everything" lists source "pinned"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	// Unknown.
	code, _, errOut = run(t, "sources", "remove", "--config", path, "nope")
	if code != 1 || !strings.Contains(errOut, `no source named "nope"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	// The only source with a tag a topic selects: the result is invalid.
	code, _, errOut = run(t, "sources", "remove", "--config", path, "wire")
	if code != 1 || !strings.Contains(errOut, `would not be valid, nothing written`) || !strings.Contains(errOut, `unknown tag "news"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if got, _ := os.ReadFile(path); string(got) != sourcesTestConfig {
		t.Fatalf("a refused remove changed the config:\n%s", got)
	}

	// Allowed once the topic no longer needs it.
	edited := strings.Replace(sourcesTestConfig, `sources: [pinned, "tag:news"]`, `sources: [pinned]`, 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "sources", "remove", "--config", path, "wire")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != "removed source wire from "+path+":7\n" {
		t.Errorf("output %q", out)
	}
	got, _ := os.ReadFile(path)
	want := strings.Replace(edited, `  # Wire services.
  - name: wire
    title: "The Wire"
    url: "https://wire.example/rss"
    tags: [news]

`, "", 1)
	if string(got) != want {
		t.Errorf("config\n%s\nwant\n%s", got, want)
	}
	if info, _ := os.Stat(path); runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 kept", info.Mode().Perm())
	}
}

func TestSourcesList(t *testing.T) {
	path := writeTestConfig(t, sourcesTestConfig, 0o644)
	code, out, errOut := run(t, "sources", "list", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "NAME    URL                          TITLE     TAGS\n" +
		"wire    https://wire.example/rss     The Wire  news\n" +
		"pinned  https://pinned.example/atom  -         -\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

const importOPML = `<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>From my reader</title></head>
  <body>
    <outline text="Politics">
      <outline text="Europe">
        <outline type="rss" text="EU Observer" xmlUrl="https://euobserver.example/rss"/>
      </outline>
      <outline type="rss" text="Wire, again" xmlUrl="https://wire.example/rss"/>
    </outline>
    <outline type="rss" text="The Wire" xmlUrl="https://other-wire.example/feed" category="/Wires/Global,agency"/>
    <outline type="rss" text="EU Observer (copy)" xmlUrl="https://euobserver.example/rss"/>
  </body>
</opml>
`

func TestOPMLImport(t *testing.T) {
	path := writeTestConfig(t, sourcesTestConfig, 0o644)
	opml := filepath.Join(t.TempDir(), "subs.opml")
	if err := os.WriteFile(opml, []byte(importOPML), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "opml", "import", opml, "--config", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "skipped Wire, again <https://wire.example/rss>: already source wire\n" +
		"skipped EU Observer (copy) <https://euobserver.example/rss>: listed twice in the file (imported as eu-observer)\n" +
		"imported eu-observer (EU Observer) https://euobserver.example/rss\n" +
		"imported the-wire (The Wire) https://other-wire.example/feed\n" +
		"imported 2 source(s) into " + path + " at line 16, skipped 2\n"
	if out != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
	got, _ := os.ReadFile(path)
	wantCfg := strings.Replace(sourcesTestConfig, `    url: "https://pinned.example/atom"
`, `    url: "https://pinned.example/atom"
  - name: eu-observer
    title: "EU Observer"
    url: "https://euobserver.example/rss"
    tags: [politics, europe]
  - name: the-wire
    title: "The Wire"
    url: "https://other-wire.example/feed"
    tags: [wires, global, agency]
`, 1)
	if string(got) != wantCfg {
		t.Errorf("config\n%s\nwant\n%s", got, wantCfg)
	}

	// Again: everything is there already.
	code, out, _ = run(t, "opml", "import", opml, "--config", path)
	if code != 0 || !strings.HasSuffix(out, "nothing to import: 4 feed(s) in "+opml+", 4 skipped\n") {
		t.Errorf("exit %d, output %s", code, out)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, got) {
		t.Error("a second import changed the config")
	}

	// Not OPML: refused, nothing written.
	bad := filepath.Join(t.TempDir(), "bad.opml")
	os.WriteFile(bad, []byte("<rss/>"), 0o644)
	code, _, errOut = run(t, "opml", "import", "--config", path, bad)
	if code != 1 || !strings.Contains(errOut, "not <opml>") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// export, then import into an empty config: the same sources.
func TestOPMLRoundTrip(t *testing.T) {
	path := writeTestConfig(t, sourcesTestConfig, 0o644)
	dir := t.TempDir()
	opml := filepath.Join(dir, "out.opml")
	code, out, errOut := run(t, "opml", "export", "--config", path, "--out", opml)
	if code != 0 || out != "exported 2 source(s) to "+opml+"\n" {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	code, stdoutExport, _ := run(t, "opml", "export", "--config", path)
	if written, _ := os.ReadFile(opml); code != 0 || string(written) != stdoutExport {
		t.Error("--out and standard output differ")
	}

	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, "opml", "import", opml, "--config", empty); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	a, err := configs.Load(path, configs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := configs.Load(empty, configs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Sources, b.Sources) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", b.Sources, a.Sources)
	}
	_, listA, _ := run(t, "sources", "list", "--config", path)
	_, listB, _ := run(t, "sources", "list", "--config", empty)
	if listA != listB {
		t.Errorf("lists differ:\n%s\n%s", listA, listB)
	}
}

// A relative file: URL is fetched against the config's directory and
// written as it was given.
func TestSourcesAddRelativeFile(t *testing.T) {
	path := writeTestConfig(t, sourcesTestConfig, 0o644)
	feed := `<?xml version="1.0"?><rss version="2.0"><channel><title>Local News</title><link>https://local.example/</link></channel></rss>`
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "local.xml"), []byte(feed), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "sources", "add", "--config", path, "file:local.xml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != "added source local-news (Local News) file:local.xml at "+path+":16\n" {
		t.Errorf("output %q", out)
	}
	if got, _ := os.ReadFile(path); !strings.Contains(string(got), `url: "file:local.xml"`) {
		t.Errorf("config:\n%s", got)
	}
}
