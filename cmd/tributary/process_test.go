package main

// Tests that run the built binary as a real process, the way a service
// manager does: a clean stop on SIGTERM, reloads on SIGHUP and on a change
// of the config file, and crash safety under SIGKILL at random moments.

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tributary-news/tributary/storage"
)

// TestProcess builds the binary once and runs it as a child process in
// each subtest.
func TestProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the process tests in -short mode: they build the binary and run it for about 20s")
	}
	bin := buildBinary(t)
	t.Run("SIGTERM", func(t *testing.T) { testProcessSIGTERM(t, bin) })
	t.Run("SIGHUP", func(t *testing.T) { testProcessSIGHUP(t, bin) })
	t.Run("FileChange", func(t *testing.T) { testProcessFileChange(t, bin) })
	t.Run("SIGKILL", func(t *testing.T) { testProcessSIGKILL(t, bin) })
}

// buildBinary builds this package (without -race: the binary is the
// system under test) into a temporary directory the subtests share.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool to build the binary with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "tributary")
	start := time.Now()
	cmd := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", filepath.Base(bin), time.Since(start).Round(time.Millisecond))
	return bin
}

// process is one `tributary run` child process.
type process struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	base   string        // http://HOST:PORT, read from the "serving" log line
	ready  time.Duration // from exec to the "serving" log line
	exited chan struct{} // closed once Wait has returned
}

var servingRE = regexp.MustCompile(`msg=serving addr=(\S+)`)

// startProcess runs `tributary run --config cfgPath` and waits until it
// logs the address it serves on. The process is killed at the end of the
// test if it still runs, and its log is shown when the test failed.
func startProcess(t *testing.T, bin, cfgPath string) *process {
	t.Helper()
	var stderr lockedBuffer
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Env = daemonEnv()
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.WaitDelay = 5 * time.Second
	p := &process{cmd: cmd, stderr: &stderr, exited: make(chan struct{})}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait() // the exit status is read from cmd.ProcessState
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("log of pid %d:\n%s", cmd.Process.Pid, stderr.String())
		}
	})
	for deadline := start.Add(10 * time.Second); ; {
		if m := servingRE.FindStringSubmatch(stderr.String()); m != nil {
			p.base, p.ready = "http://"+m[1], time.Since(start)
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not report its address within 10s:\n%s", stderr.String())
		}
		select {
		case <-p.exited:
			t.Fatalf("the daemon exited before serving (%v):\n%s", cmd.ProcessState, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// daemonEnv is the test's environment without the variables a service
// manager sets, so that a test run under systemd does not hand them on.
func daemonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its state.
func (p *process) wait(t *testing.T, timeout time.Duration) *os.ProcessState {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState
	case <-time.After(timeout):
		t.Fatalf("the daemon did not exit within %v:\n%s", timeout, p.stderr.String())
		return nil
	}
}

// kill ends the process with SIGKILL unless it has exited, and reaps it.
func (p *process) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func (p *process) log() string { return p.stderr.String() }

// stopCleanly sends SIGTERM and checks the process exits 0 after logging
// that it stopped; it returns how long the stop took.
func (p *process) stopCleanly(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	p.signal(t, syscall.SIGTERM)
	state := p.wait(t, 15*time.Second)
	took := time.Since(start)
	if code := state.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v):\n%s", code, state, p.log())
	}
	log := p.log()
	down, stopped := strings.Index(log, `msg="shutting down"`), strings.Index(log, "msg=stopped")
	if down < 0 || stopped < down {
		t.Errorf(`want "shutting down" then "stopped" in the log:\n%s`, log)
	}
	return took
}

// checkBolt opens the database file with bbolt itself, read-only, and
// runs its consistency check; it returns how long the open took.
func checkBolt(t *testing.T, path string) time.Duration {
	t.Helper()
	start := time.Now()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	opened := time.Since(start)
	if err != nil {
		t.Fatalf("bbolt open %s: %v", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Errorf("bbolt consistency check of %s:\n%v", path, err)
	}
	return opened
}

// servedEntry is what the tests read back of a JSON Feed entry.
type servedEntry struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// testClient bounds every request of the tests to a daemon.
var testClient = &http.Client{Timeout: 5 * time.Second}

// getTopicJSON fetches a topic's JSON Feed; unlike fetchTopic it returns
// errors, for a daemon that may be killed mid-request.
func getTopicJSON(client *http.Client, base, topic string) ([]servedEntry, error) {
	resp, err := client.Get(base + "/topics/" + topic + ".json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s.json: %s", topic, resp.Status)
	}
	var feed struct {
		Items []servedEntry `json:"items"`
	}
	if err := json.Unmarshal(body, &feed); err != nil {
		return nil, fmt.Errorf("GET %s.json: %w", topic, err)
	}
	return feed.Items, nil
}

// duplicates lists the ids and titles that occur more than once.
func duplicates(entries []servedEntry) []string {
	ids, titles := map[string]int{}, map[string]int{}
	var dups []string
	for _, e := range entries {
		if ids[e.ID]++; ids[e.ID] == 2 {
			dups = append(dups, "id "+e.ID)
		}
		if titles[e.Title]++; titles[e.Title] == 2 {
			dups = append(dups, "title "+strconv.Quote(e.Title))
		}
	}
	return dups
}

// writeFarmConfig writes a config serving the e2e feed farm's three good
// sources with the given topics block, in place (no rename), to path.
func writeFarmConfig(t *testing.T, path, dataDir, farmURL, topics string) {
	t.Helper()
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
data_dir: %q
schedule: "@every 1h"
backlog: 0
retention: {max_age: 0}
sources:
  - name: wire
    url: "%s/wire.rss"
  - name: un
    url: "%s/un.atom"
  - name: outlet
    url: "%s/outlet.json"
topics:
%s`, dataDir, farmURL, farmURL, farmURL, topics)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

const (
	topicForum   = "  - name: human-rights-forum\n    query: '\"human rights\" AND (forum OR summit)'\n"
	topicClimate = "  - name: climate\n    query: 'climate'\n"
	topicStorm   = "  - name: storm\n    query: 'storm'\n"
	// topicBad is invalid on its second line, the config's line 17 when
	// it follows topicForum in writeFarmConfig's layout.
	topicBad = "  - name: bad\n    query: '(forum'\n"
)

func startFarm(t *testing.T) *httptest.Server {
	t.Helper()
	_, srv := startFeedFarm(t)
	return srv
}

// topicStatus is the HTTP status of a topic's JSON Feed.
func topicStatus(t *testing.T, base, topic string) int {
	t.Helper()
	code, _ := getBody(t, base+"/topics/"+topic+".json")
	return code
}

// testProcessSIGTERM: SIGTERM stops the daemon cleanly (exit 0, "stopped"
// logged) with the store closed: a following open is instant and the
// store holds what was served.
func testProcessSIGTERM(t *testing.T, bin string) {
	srv := startFarm(t)
	dir := t.TempDir()
	cfgPath := e2eConfig(t, dir, srv.URL)
	p := startProcess(t, bin, cfgPath)

	var served []servedEntry
	eventually(t, "the topic to fill", func() bool {
		entries, err := getTopicJSON(testClient, p.base, "human-rights-forum")
		served = entries
		return err == nil && len(entries) == 4
	})
	stopTook := p.stopCleanly(t)

	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	db, err := storage.Open(cfg.DBPath(), storage.Options{Timeout: time.Second})
	openTook := time.Since(start)
	if err != nil {
		t.Fatalf("open after SIGTERM: %v (after %v)", err, openTook)
	}
	// "At once": far below the lock timeout, which an open of a database
	// still held would wait out.
	if openTook > 500*time.Millisecond {
		t.Errorf("open after SIGTERM took %v, want it at once", openTook)
	}
	stories, err := db.TopicStories(t.Context(), "human-rights-forum", 50)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, st := range stories {
		stored = append(stored, st.ID)
	}
	var servedIDs []string
	for _, e := range served {
		servedIDs = append(servedIDs, e.ID)
	}
	if !slices.Equal(stored, servedIDs) {
		t.Errorf("stored topic stories %q, served %q", stored, servedIDs)
	}
	for _, name := range []string{"wire", "un", "outlet"} {
		state, err := db.SourceState(t.Context(), name)
		if err != nil || state.LastPolled.IsZero() || state.NextPoll.IsZero() {
			t.Errorf("source %s: state %+v, %v; want its poll recorded", name, state, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	checkBolt(t, cfg.DBPath())
	t.Logf("SIGTERM: stopped in %v; storage.Open afterwards took %v", stopTook.Round(time.Millisecond), openTook.Round(time.Microsecond))
}

// testProcessSIGHUP: SIGHUP alone reloads. The config is reached through
// a symlink and edited at its target, in a directory the file watcher
// does not watch, so only the signal can apply it. A valid change is
// applied; an invalid one is refused with FILE:LINE and the running
// config stays in force; a valid one after it is applied again.
func testProcessSIGHUP(t *testing.T, bin string) {
	srv := startFarm(t)
	dir := t.TempDir()
	for _, sub := range []string{"etc", "real"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(dir, "real", "tributary.yaml")
	cfgPath := filepath.Join(dir, "etc", "tributary.yaml")
	dataDir := filepath.Join(dir, "data")
	writeFarmConfig(t, target, dataDir, srv.URL, topicForum)
	if err := os.Symlink(target, cfgPath); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, bin, cfgPath)
	eventually(t, "the forum topic to fill", func() bool {
		entries, err := getTopicJSON(testClient, p.base, "human-rights-forum")
		return err == nil && len(entries) == 4
	})
	if code := topicStatus(t, p.base, "climate"); code != http.StatusNotFound {
		t.Fatalf("climate before any reload: %d", code)
	}

	// A valid change.
	writeFarmConfig(t, target, dataDir, srv.URL, topicForum+topicClimate)
	p.signal(t, syscall.SIGHUP)
	eventually(t, "the new topic", func() bool {
		code, body := getBody(t, p.base+"/topics/climate.json")
		return code == http.StatusOK && strings.Contains(body, "Climate talks resume")
	})
	if log := p.log(); !strings.Contains(log, `why="reload requested"`) || strings.Contains(log, `why="config file changed"`) {
		t.Errorf("want the reload to be the signal's:\n%s", log)
	}

	// An invalid change: refused with the file and line, the old config kept.
	writeFarmConfig(t, target, dataDir, srv.URL, topicForum+topicBad)
	p.signal(t, syscall.SIGHUP)
	refusal := regexp.MustCompile(`level=ERROR msg="config not reloaded; keeping the running one" err=".*tributary\.yaml:17: `)
	eventually(t, "the refusal", func() bool { return refusal.MatchString(p.log()) })
	if code := topicStatus(t, p.base, "climate"); code != http.StatusOK {
		t.Errorf("climate after the refused reload: %d, want the old config kept", code)
	}
	if code := topicStatus(t, p.base, "bad"); code != http.StatusNotFound {
		t.Errorf("the refused config's topic is served: %d", code)
	}
	if got := sourceNames(t, p.base); !slices.Equal(got, []string{"wire", "un", "outlet"}) {
		t.Errorf("sources after the refused reload: %v", got)
	}

	// The daemon still reloads after a refusal.
	writeFarmConfig(t, target, dataDir, srv.URL, topicForum+topicStorm)
	p.signal(t, syscall.SIGHUP)
	eventually(t, "the topic of the next valid config", func() bool {
		return topicStatus(t, p.base, "storm") == http.StatusOK
	})
	if code := topicStatus(t, p.base, "climate"); code != http.StatusNotFound {
		t.Errorf("climate is still served after it was removed: %d", code)
	}
	if n := strings.Count(p.log(), "msg=\"config reloaded\""); n != 2 {
		t.Errorf("%d reloads logged, want 2", n)
	}
	p.stopCleanly(t)
	checkBolt(t, filepath.Join(dataDir, "tributary.db"))
}

// testProcessFileChange: an edit saved the way editors save (a new file
// renamed over the old one) is applied without a signal, more than once
// (the watch survives the replaced inode), and an invalid edit is refused
// with its line while the running config stays in force.
func testProcessFileChange(t *testing.T, bin string) {
	srv := startFarm(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tributary.yaml")
	dataDir := filepath.Join(dir, "data")
	draft := filepath.Join(dir, "draft.yaml")
	save := func(topics string) {
		t.Helper()
		writeFarmConfig(t, draft, dataDir, srv.URL, topics)
		if err := os.Rename(draft, cfgPath); err != nil {
			t.Fatal(err)
		}
	}
	save(topicForum)
	p := startProcess(t, bin, cfgPath)
	eventually(t, "the forum topic to fill", func() bool {
		entries, err := getTopicJSON(testClient, p.base, "human-rights-forum")
		return err == nil && len(entries) == 4
	})

	save(topicForum + topicClimate)
	eventually(t, "the first edit", func() bool {
		code, body := getBody(t, p.base+"/topics/climate.json")
		return code == http.StatusOK && strings.Contains(body, "Climate talks resume")
	})
	save(topicForum + topicClimate + topicStorm)
	eventually(t, "the second edit", func() bool { return topicStatus(t, p.base, "storm") == http.StatusOK })
	if n := strings.Count(p.log(), `why="config file changed"`); n != 2 {
		t.Errorf("%d reloads for a changed file, want 2:\n%s", n, p.log())
	}

	save(topicForum + topicBad)
	refusal := regexp.MustCompile(`level=ERROR msg="config not reloaded; keeping the running one" err=".*tributary\.yaml:17: `)
	eventually(t, "the refusal", func() bool { return refusal.MatchString(p.log()) })
	for _, topic := range []string{"climate", "storm"} {
		if code := topicStatus(t, p.base, topic); code != http.StatusOK {
			t.Errorf("%s after the refused edit: %d, want the old config kept", topic, code)
		}
	}
	p.stopCleanly(t)
	checkBolt(t, filepath.Join(dataDir, "tributary.db"))
}

// growingFeeds serves one RSS feed per source that gains perRequest new
// items on every request and lists the newest window of them.
type growingFeeds struct {
	mu       sync.Mutex
	sources  []string
	created  map[string]int // source → items created so far
	requests map[string]int
}

const (
	feedPerRequest = 3
	feedWindow     = 40
	feedPause      = 300 * time.Millisecond
)

// total is the number of requests served so far.
func (g *growingFeeds) total() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, r := range g.requests {
		n += r
	}
	return n
}

func newGrowingFeeds(sources []string) *growingFeeds {
	g := &growingFeeds{sources: sources, created: map[string]int{}, requests: map[string]int{}}
	for _, s := range sources {
		g.created[s] = 0
	}
	return g
}

func (g *growingFeeds) stats() (requests, created map[string]int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.requests), maps.Clone(g.created)
}

// feedSyllables are syllables for the pseudo-words that make every item's
// text its own, so the story merger never joins two of them.
var feedSyllables = [16]string{"ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "ze", "bo", "da", "fi", "gu", "he", "jo"}

func feedWords(source string, n, count int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", source, n)))
	words := make([]string, count)
	for i := range words {
		b := sum[i%len(sum)] ^ byte(i*37)
		c := sum[(i+11)%len(sum)]
		words[i] = feedSyllables[b>>4] + feedSyllables[b&15] + feedSyllables[c&15]
	}
	return strings.Join(words, " ")
}

func (g *growingFeeds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".rss")
	idx := slices.Index(g.sources, name)
	if idx < 0 {
		http.NotFound(w, r)
		return
	}
	g.mu.Lock()
	g.requests[name]++
	g.created[name] += feedPerRequest
	n := g.created[name]
	g.mu.Unlock()

	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>%s</title><link>https://%s.example/</link><description>growing</description>
`, name, name)
	for i := n - 1; i >= max(0, n-feedWindow); i-- {
		pub := base.Add(time.Duration(i)*time.Minute + time.Duration(idx)*time.Second)
		fmt.Fprintf(&b, `<item><title>%s dispatch %d: %s</title><link>https://%s.example/items/%d</link><guid isPermaLink="false">%s-%d</guid>
<pubDate>%s</pubDate><description>%s</description></item>
`, name, i, feedWords(name, i, 4), name, i, name, i, pub.Format(time.RFC1123Z), feedWords(name, i+1_000_000, 12))
	}
	b.WriteString("</channel></rss>\n")
	// Half the body, a pause, the rest: a slow server keeps each poll in
	// flight for a good part of every second, where a kill can land.
	body := b.String()
	w.Header().Set("Content-Type", "application/rss+xml")
	io.WriteString(w, body[:len(body)/2])
	http.NewResponseController(w).Flush()
	select {
	case <-r.Context().Done():
		return
	case <-time.After(feedPause):
	}
	io.WriteString(w, body[len(body)/2:])
}

// quickSourceNames returns count source names whose scheduler jitter is
// under limit. The scheduler delays every run of a source by a stable
// share of maxJitter (30s) whatever its schedule, so on "@every 1s" most
// names would poll only every several seconds; these poll every second.
// The jitter is an FNV-1a hash of the name modulo maxJitter
// (aggregator.Scheduler.jitter); should that change, the test still
// holds, with fewer polls.
func quickSourceNames(count int, limit time.Duration) []string {
	var names []string
	for i := 0; len(names) < count; i++ {
		name := fmt.Sprintf("src%d", i)
		h := fnv.New64a()
		h.Write([]byte(name))
		if time.Duration(h.Sum64()%uint64(maxJitter)) < limit {
			names = append(names, name)
		}
	}
	return names
}

// testProcessSIGKILL: the daemon, polling on a 1-second schedule sources
// whose feeds keep growing, is killed with SIGKILL at random moments and
// restarted. After every kill the file passes bbolt's check; after every
// restart, and at the end, every entry served before is served again,
// exactly once.
func testProcessSIGKILL(t *testing.T, bin string) {
	const kills = 5
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TRIBUTARY_PROCESS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("TRIBUTARY_PROCESS_SEED: %v", err)
		}
	}
	t.Logf("seed %d (set TRIBUTARY_PROCESS_SEED=%d to repeat the kill times)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1|1))
	testDeadline := time.Now().Add(55 * time.Second)

	sources := quickSourceNames(3, 200*time.Millisecond)
	feeds := newGrowingFeeds(sources)
	srv := httptest.NewServer(feeds)
	defer srv.Close()

	dir := t.TempDir()
	dbPath := filepath.Join(dir, "data", "tributary.db")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `listen: "127.0.0.1:0"
data_dir: "data"
schedule: "@every 1s"
backlog: 0
retention: {max_age: 0}
fetch: {timeout: 5s}
publish: {max_items: 1000}
sources:
`)
	for _, s := range sources {
		fmt.Fprintf(&cfg, "  - name: %s\n    url: \"%s/%s.rss\"\n", s, srv.URL, s)
	}
	cfg.WriteString("topics:\n  - name: dispatches\n    query: 'dispatch'\n")
	cfgPath := filepath.Join(dir, "tributary.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: 2 * time.Second}
	served := map[string]string{} // entry id → title, everything served so far
	var order []string            // the ids in the order first served
	var readies, firstFeeds, checks []time.Duration
	fetches, failedFetches, inFlight := 0, 0, 0
	// check reads the topic once: no duplicates, and every entry served
	// before still there with its title. It returns false when the
	// daemon did not answer.
	check := func(p *process, when string) bool {
		entries, err := getTopicJSON(client, p.base, "dispatches")
		fetches++
		if err != nil {
			failedFetches++
			return false
		}
		if dups := duplicates(entries); len(dups) > 0 {
			t.Errorf("%s: served twice: %v", when, dups)
		}
		now := make(map[string]string, len(entries))
		for _, e := range entries {
			now[e.ID] = e.Title
		}
		var missing []string
		for _, id := range order {
			if title, ok := now[id]; !ok {
				missing = append(missing, id)
			} else if title != served[id] {
				t.Errorf("%s: entry %s was %q, now %q", when, id, served[id], title)
			}
		}
		if len(missing) > 0 {
			t.Fatalf("%s: %d of %d entries served before are gone: %v", when, len(missing), len(order), missing)
		}
		for _, e := range entries {
			if _, ok := served[e.ID]; !ok {
				served[e.ID] = e.Title
				order = append(order, e.ID)
			}
		}
		return true
	}
	// firstFeed waits for the first answer of a freshly started daemon.
	firstFeed := func(p *process, started time.Time, when string) {
		for deadline := time.Now().Add(10 * time.Second); !check(p, when); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the topic feed was not served within 10s", when)
			}
			time.Sleep(5 * time.Millisecond)
		}
		firstFeeds = append(firstFeeds, time.Since(started))
	}

	for run := 1; run <= kills; run++ {
		if time.Now().After(testDeadline) {
			t.Fatalf("out of time after %d kills", run-1)
		}
		requestsBefore := feeds.total()
		started := time.Now()
		p := startProcess(t, bin, cfgPath)
		readies = append(readies, p.ready)
		when := fmt.Sprintf("run %d", run)
		firstFeed(p, started, when)
		life := 1500*time.Millisecond + time.Duration(rng.Int64N(int64(2500*time.Millisecond)))
		for killAt := started.Add(life); time.Now().Before(killAt); {
			check(p, when)
			time.Sleep(min(time.Duration(rng.Int64N(int64(100*time.Millisecond))), time.Until(killAt)))
		}
		p.signal(t, syscall.SIGKILL)
		state := p.wait(t, 5*time.Second)
		if ws, ok := state.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("%s: the daemon ended with %v before it was killed:\n%s", when, state, p.log())
		}
		// A poll whose request the farm saw but whose result was not
		// logged was in flight (fetching or storing) when the kill came.
		requested := feeds.total() - requestsBefore
		polled := strings.Count(p.log(), "msg=polled") + strings.Count(p.log(), `msg="poll failed"`)
		if requested > polled {
			inFlight++
		}
		checks = append(checks, checkBolt(t, dbPath))
		t.Logf("%s: killed after %v; %d polls requested, %d finished; %d entries served so far", when,
			life.Round(time.Millisecond), requested, polled, len(order))
	}

	// The final daemon serves everything served before any kill, once.
	started := time.Now()
	p := startProcess(t, bin, cfgPath)
	readies = append(readies, p.ready)
	firstFeed(p, started, "after the last kill")
	before := len(order)
	final, err := getTopicJSON(client, p.base, "dispatches")
	if err != nil {
		t.Fatal(err)
	}
	if dups := duplicates(final); len(dups) > 0 {
		t.Errorf("final feed serves twice: %v", dups)
	}
	p.stopCleanly(t)
	checks = append(checks, checkBolt(t, dbPath))

	requests, created := feeds.stats()
	if len(final) < before {
		t.Errorf("final feed has %d entries, fewer than the %d served before", len(final), before)
	}
	t.Logf("%d kills, %d of them with a poll in flight; %d distinct entries served before the last one, all served once at the end (%d entries); "+
		"%d feed reads (%d unanswered, around kills)", kills, inFlight, before, len(final), fetches, failedFetches)
	t.Logf("feed requests per source %v, items created %v", requests, created)
	t.Logf("exec to serving: %v; exec to first topic feed: %v; bbolt read-only open after each kill: %v",
		roundAll(readies), roundAll(firstFeeds), roundAll(checks))
	if time.Now().After(testDeadline) {
		t.Errorf("the test took longer than its 55s budget")
	}
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(100 * time.Microsecond)
	}
	return out
}
