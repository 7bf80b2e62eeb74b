package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/tributary-news/tributary/storage"
)

// feedFarm serves a few feeds in every input format with ETag and
// Last-Modified support, and counts the conditional requests it gets.
type feedFarm struct {
	mu          sync.Mutex
	feeds       map[string]farmFeed // path → feed
	requests    map[string]int
	conditional map[string]int
	notModified map[string]int
}

type farmFeed struct {
	contentType string
	body        string
	// validators says which validators the server sends: "etag",
	// "lastmod" or "both" (many servers send only one).
	validators string
}

func newFeedFarm() *feedFarm {
	return &feedFarm{
		feeds:       map[string]farmFeed{},
		requests:    map[string]int{},
		conditional: map[string]int{},
		notModified: map[string]int{},
	}
}

// startFeedFarm serves the three test feeds (RSS with both validators,
// Atom with an ETag only, JSON Feed with Last-Modified only) until the
// test ends.
func startFeedFarm(t *testing.T) (*feedFarm, *httptest.Server) {
	t.Helper()
	farm := newFeedFarm()
	farm.set("/wire.rss", farmFeed{contentType: "application/rss+xml", body: wireRSS, validators: "both"})
	farm.set("/un.atom", farmFeed{contentType: "application/atom+xml", body: unAtom, validators: "etag"})
	farm.set("/outlet.json", farmFeed{contentType: "application/feed+json", body: outletJSON, validators: "lastmod"})
	srv := httptest.NewServer(farm)
	t.Cleanup(srv.Close)
	return farm, srv
}

func (f *feedFarm) set(path string, feed farmFeed) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.feeds[path] = feed
}

func (f *feedFarm) counts(path string) (requests, conditional, notModified int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[path], f.conditional[path], f.notModified[path]
}

// farmLastModified is the same for every body: a server whose only
// validator is Last-Modified changes it when the body changes, so it is
// derived from the body's hash.
func farmLastModified(body string) string {
	sum := sha256.Sum256([]byte(body))
	t := time.Date(2021, 12, 11, 0, 0, int(sum[0]), 0, time.UTC)
	return t.Format(http.TimeFormat)
}

func (f *feedFarm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	feed, ok := f.feeds[r.URL.Path]
	f.requests[r.URL.Path]++
	if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
		f.conditional[r.URL.Path]++
	}
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256([]byte(feed.body))
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	lastMod := farmLastModified(feed.body)
	if feed.validators != "lastmod" {
		w.Header().Set("ETag", etag)
	}
	if feed.validators != "etag" {
		w.Header().Set("Last-Modified", lastMod)
	}
	match := (feed.validators != "lastmod" && r.Header.Get("If-None-Match") == etag) ||
		(feed.validators == "lastmod" && r.Header.Get("If-Modified-Since") == lastMod)
	if match {
		f.mu.Lock()
		f.notModified[r.URL.Path]++
		f.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", feed.contentType)
	io.WriteString(w, feed.body)
}

const wireRSS = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>Wire World</title><link>https://wire.example/world</link><description>World news</description>
<item><title>Xi sends congratulatory letter to South-South Human Rights Forum</title>
<link>https://wire.example/2021/12/10/forum</link><guid>wire-forum-1</guid>
<pubDate>Fri, 10 Dec 2021 14:26:00 GMT</pubDate>
<description><![CDATA[<p>The South-South Human Rights Forum opened in Beijing.</p><script>alert(1)</script><img src="/img/forum.jpg" onerror="x()">]]></description>
<category>Politics</category></item>
<item><title>Storm batters the coast</title><link>https://wire.example/2021/12/09/storm</link><guid>wire-storm-1</guid>
<pubDate>Thu, 09 Dec 2021 08:00:00 GMT</pubDate><description>Heavy rain and wind.</description></item>
<item><title>Human rights summit closes in Geneva</title><link>https://wire.example/2021/12/08/summit</link><guid>wire-summit-1</guid>
<pubDate>Wed, 08 Dec 2021 12:00:00 GMT</pubDate><description>Delegates agreed a statement.</description></item>
</channel></rss>`

const unAtom = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>UN News</title><id>tag:un.example,2021:news</id>
<updated>2021-12-10T18:00:00Z</updated><link href="https://un.example/news"/>
<entry><title>Forum hears calls to put human rights first</title><id>tag:un.example,2021:hr-forum</id>
<link href="https://un.example/story/hr-forum"/><updated>2021-12-10T18:00:00Z</updated><published>2021-12-10T17:00:00Z</published>
<author><name>UN News</name></author><summary>Speakers at the forum in Beijing discussed human rights governance.</summary></entry>
<entry><title>Climate talks resume</title><id>tag:un.example,2021:climate</id>
<link href="https://un.example/story/climate"/><updated>2021-12-09T10:00:00Z</updated>
<summary>Negotiators return to the table on climate finance.</summary></entry>
</feed>`

const outletJSON = `{"version":"https://jsonfeed.org/version/1.1","title":"Outlet","home_page_url":"https://outlet.example/",
"items":[
{"id":"outlet-1","url":"https://outlet.example/a/1","title":"Human rights forum hears from 100 countries",
 "content_html":"<p>Delegates from about 100 countries attended the forum.</p>","date_published":"2021-12-10T20:00:00Z"},
{"id":"outlet-2","url":"https://outlet.example/a/2","title":"Cup final ends in a draw",
 "content_text":"A sports story.","date_published":"2021-12-10T21:00:00Z"}
]}`

// e2eConfig writes a config for the farm into dir and returns its path.
func e2eConfig(t *testing.T, dir, farmURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
base_url: "http://127.0.0.1:8080"
data_dir: %q
schedule: "@every 1h"
backlog: 0
fetch: {timeout: 5s, concurrency: 4}
retention: {max_age: 0}
publish: {max_items: 50}
sources:
  - name: wire
    url: "%s/wire.rss"
    title: "Wire World"
    tags: [wire]
  - name: un
    url: "%s/un.atom"
    title: "UN News"
  - name: outlet
    url: "%s/outlet.json"
  - name: broken
    url: "%s/missing.xml"
topics:
  - name: human-rights-forum
    title: "Human rights forum coverage"
    query: '"human rights" AND (forum OR summit)'
  - name: climate
    title: "Climate"
    query: 'climate'
  - name: wire-only
    title: "Wire only"
    query: 'forum OR storm'
    sources: ["tag:wire"]
`, filepath.Join(dir, "data"), farmURL, farmURL, farmURL, farmURL)
	path := filepath.Join(dir, "tributary.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// execute runs the CLI and returns its exit code and output.
func execute(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Execute(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// daemon runs `run` for cfgPath until stopped, and returns its base URL.
type daemon struct {
	app    *App
	cancel context.CancelFunc
	done   chan error
}

func startDaemon(t *testing.T, cfgPath string) *daemon {
	t.Helper()
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := OpenApp(t.Context(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	d := &daemon{app: app, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := app.Serve(ctx)
		if cerr := app.Close(); err == nil {
			err = cerr
		}
		d.done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for app.Addr() == nil {
		if time.Now().After(deadline) {
			t.Fatal("daemon did not bind its listener")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { d.stop(t) })
	return d
}

func (d *daemon) url() string { return "http://" + d.app.Addr().String() }

func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("daemon stopped with error: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop within 15s")
	}
}

// topicEntry is what the test reads back of one entry of a topic feed.
type topicEntry struct {
	ID, Title, Link string
	Updated         time.Time
}

func fetchTopic(t *testing.T, baseURL, topic, ext string) []topicEntry {
	t.Helper()
	resp, err := http.Get(baseURL + "/topics/" + topic + "." + ext)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s.%s: %s\n%s", topic, ext, resp.Status, body)
	}
	feed, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse %s.%s: %v", topic, ext, err)
	}
	var out []topicEntry
	for _, it := range feed.Items {
		e := topicEntry{ID: it.GUID, Title: it.Title, Link: it.Link}
		if it.UpdatedParsed != nil {
			e.Updated = *it.UpdatedParsed
		}
		out = append(out, e)
	}
	return out
}

func titles(entries []topicEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Title)
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	farm, srv := startFeedFarm(t)

	dir := t.TempDir()
	cfgPath := e2eConfig(t, dir, srv.URL)

	if code, out, errOut := execute(t, "check", "--config", cfgPath); code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}

	// First poll: every source fetched; the broken one reported, not fatal.
	code, out, errOut := execute(t, "poll", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("poll: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"wire: 3 new", "un: 2 new", "outlet: 2 new", "broken: error: ", "3 ok, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("poll output lacks %q:\n%s", want, out)
		}
	}

	wantForum := []string{
		"Human rights forum hears from 100 countries",                      // 2021-12-10 20:00
		"Forum hears calls to put human rights first",                      // 17:00
		"Xi sends congratulatory letter to South-South Human Rights Forum", // 14:26
		"Human rights summit closes in Geneva",                             // 2021-12-08
	}
	// Tuning a query: the stored items it matches, newest first, with the
	// words that matched; nothing is changed.
	code, out, errOut = execute(t, "topics", "test", "--config", cfgPath, "--topic", "human-rights-forum",
		"--query", `"human rights" AND summit`)
	if code != 0 {
		t.Fatalf("topics test: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"2021-12-08 12:00  wire  Human rights summit closes in Geneva\n    https://wire.example/2021/12/08/summit\n    matched: \"human rights\", summit\n",
		"1 stored items match; 6 do not.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("topics test output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := execute(t, "topics", "test", "--config", cfgPath, "--topic", "x", "--query", "(forum"); code != 1 ||
		!strings.Contains(errOut, "column 1: unbalanced parenthesis") {
		t.Errorf("topics test with a bad query: exit %d, %q", code, errOut)
	}

	d := startDaemon(t, cfgPath)
	ids := map[string]string{} // title → id, across formats and restarts
	for _, ext := range []string{"rss", "atom", "json"} {
		entries := fetchTopic(t, d.url(), "human-rights-forum", ext)
		if got := titles(entries); !slices.Equal(got, wantForum) {
			t.Errorf("%s: human-rights-forum = %q, want %q", ext, got, wantForum)
		}
		for _, e := range entries {
			if prev, ok := ids[e.Title]; ok && prev != e.ID {
				t.Errorf("%s: %q has id %q, other format said %q", ext, e.Title, e.ID, prev)
			}
			ids[e.Title] = e.ID
		}
		if got := titles(fetchTopic(t, d.url(), "climate", ext)); !slices.Equal(got, []string{"Climate talks resume"}) {
			t.Errorf("%s: climate = %q", ext, got)
		}
		wireOnly := []string{"Xi sends congratulatory letter to South-South Human Rights Forum", "Storm batters the coast"}
		if got := titles(fetchTopic(t, d.url(), "wire-only", ext)); !slices.Equal(got, wireOnly) {
			t.Errorf("%s: wire-only = %q, want %q", ext, got, wireOnly)
		}
	}
	validateTopicFeeds(t, d.url(), "human-rights-forum", len(wantForum))

	resp, err := http.Get(d.url() + "/topics/no-such-topic.atom")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown topic: %s, want 404", resp.Status)
	}
	d.stop(t)

	// Second poll: conditional requests everywhere, nothing added.
	code, out, _ = execute(t, "poll", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("second poll: exit %d\n%s", code, out)
	}
	for _, path := range []string{"/wire.rss", "/un.atom", "/outlet.json"} {
		req, cond, nm := farm.counts(path)
		if cond < 1 || nm < 1 {
			t.Errorf("%s: %d requests, %d conditional, %d answered 304; want the repeat poll conditional", path, req, cond, nm)
		}
	}
	if strings.Contains(out, " new,") && !strings.Contains(out, "wire: not modified") {
		t.Errorf("second poll was not 'not modified':\n%s", out)
	}

	// A changed item is updated in place: same id, updated time moves,
	// and it does not appear twice.
	changed := strings.Replace(wireRSS, "The South-South Human Rights Forum opened in Beijing.",
		"The South-South Human Rights Forum opened in Beijing on Friday.", 1)
	farm.set("/wire.rss", farmFeed{contentType: "application/rss+xml", body: changed, validators: "both"})
	code, out, _ = execute(t, "poll", "--config", cfgPath, "--source", "wire")
	if code != 0 || !strings.Contains(out, "wire: 0 new, 1 updated, 2 unchanged") {
		t.Fatalf("poll after change: exit %d\n%s", code, out)
	}

	// Export: the same feeds as static files, plus the OPML.
	outDir := filepath.Join(dir, "export")
	if code, out, errOut := execute(t, "export", "--config", cfgPath, "--out", outDir); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	for _, name := range []string{"topics/human-rights-forum.rss", "topics/human-rights-forum.atom",
		"topics/human-rights-forum.json", "topics/climate.atom", "topics/wire-only.json", "topics.opml"} {
		data, err := os.ReadFile(filepath.Join(outDir, name))
		if err != nil {
			t.Errorf("export: %v", err)
			continue
		}
		if strings.HasPrefix(name, "topics/human-rights-forum") && !strings.Contains(string(data), "Xi sends congratulatory letter") {
			t.Errorf("exported %s lacks the forum story", name)
		}
	}

	// Restart: every id kept, the changed item once, its updated time moved.
	d = startDaemon(t, cfgPath)
	for _, ext := range []string{"rss", "atom", "json"} {
		entries := fetchTopic(t, d.url(), "human-rights-forum", ext)
		if got := titles(entries); !slices.Equal(got, wantForum) {
			t.Errorf("after restart %s: %q, want %q", ext, got, wantForum)
		}
		for _, e := range entries {
			if ids[e.Title] != e.ID {
				t.Errorf("after restart %s: %q id %q, was %q", ext, e.Title, e.ID, ids[e.Title])
			}
			if ext == "atom" && strings.HasPrefix(e.Title, "Xi sends") && e.Updated.Year() < 2025 {
				t.Errorf("changed item's updated time did not move: %v", e.Updated)
			}
		}
	}
	validateTopicFeeds(t, d.url(), "human-rights-forum", len(wantForum))
}

// validateTopicFeeds runs the project's third-party feed validators on
// every format of a topic feed.
func validateTopicFeeds(t *testing.T, baseURL, topic string, items int) {
	t.Helper()
	tool := validateFeedTool(t)
	for _, ext := range []string{"rss", "atom", "json"} {
		url := baseURL + "/topics/" + topic + "." + ext
		cmd := exec.CommandContext(t.Context(), tool, url, "--min-items", fmt.Sprint(items),
			"--require-sanitized", "--newest-first")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("validate-feed %s: %v\n%s", ext, err, out)
		}
	}
}

// validateFeedTool finds shared/tools/validate-feed beside the repository
// (or $VALIDATE_FEED); absent, the test is skipped — except in CI, which
// installs it and must never skip.
func validateFeedTool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VALIDATE_FEED"); p != "" {
		return p
	}
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "tools", "validate-feed"))
	if err == nil {
		if _, err = os.Stat(p); err == nil {
			if _, err = exec.LookPath("newsboat"); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("validate-feed or its clients are missing (%v); .ci/run must install them", err)
	}
	t.Skipf("skipping feed validation: validate-feed or its clients not available (%v); run ../shared/tools/install-validators.sh", err)
	return ""
}

// TestLockedDatabase: while one process holds the store, another command
// fails quickly with a clear message instead of hanging.
func TestLockedDatabase(t *testing.T) {
	dir := t.TempDir()
	cfgPath := e2eConfig(t, dir, "http://127.0.0.1:1")
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	held, err := storage.Open(cfg.DBPath(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	start := time.Now()
	code, _, errOut := execute(t, "poll", "--config", cfgPath)
	elapsed := time.Since(start)
	if code == 0 {
		t.Fatal("poll succeeded on a locked database")
	}
	if !strings.Contains(errOut, "is in use by another tributary process") || !strings.Contains(errOut, cfg.DBPath()) {
		t.Errorf("message = %q", errOut)
	}
	if elapsed > 5*time.Second {
		t.Errorf("took %v to give up, want a few seconds", elapsed)
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: \"127.0.0.1:8080\"\nsources:\n  - name: Bad_Name\n    url: \"https://x.example/feed\"\n"), 0o600)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no command", nil, 2, "Usage"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"missing config flag", []string{"poll"}, 2, "--config FILE is required"},
		{"config not found", []string{"check", "--config", filepath.Join(dir, "nope.yaml")}, 1, "nope.yaml"},
		{"bad config line", []string{"check", "--config", bad}, 1, bad + ":3: "},
		{"export without out", []string{"export", "--config", bad}, 2, "--out DIR is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := execute(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d containing %q", code, errOut, tt.wantCode, tt.wantErr)
			}
		})
	}
}
