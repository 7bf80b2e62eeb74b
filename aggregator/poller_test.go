package aggregator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/aggregator/cpugate"
	"github.com/tributary-news/tributary/storage"
)

var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "tributary.db"), storage.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newTestPoller(t *testing.T, store aggregator.Store, topics []aggregator.Topic, opts func(*aggregator.PollerOptions)) *aggregator.Poller {
	t.Helper()
	matcher, err := aggregator.NewTopicMatcher(topics, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := aggregator.PollerOptions{
		Store:       store,
		Fetcher:     aggregator.NewFetcher(aggregator.FetcherOptions{Timeout: 5 * time.Second, MaxBodyBytes: 1 << 20}),
		Matcher:     matcher,
		Concurrency: 2,
		Now:         func() time.Time { return testNow },
		NextPoll:    func(aggregator.Source, time.Time) time.Time { return testNow.Add(time.Hour) },
	}
	if opts != nil {
		opts(&o)
	}
	return aggregator.NewPoller(o)
}

func rssFeed(items ...string) string {
	return `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://t.example/</link>` +
		`<description>d</description>` + strings.Join(items, "") + `</channel></rss>`
}

func rssItem(guid, title, pubDate string) string {
	date := ""
	if pubDate != "" {
		date = "<pubDate>" + pubDate + "</pubDate>"
	}
	return fmt.Sprintf(`<item><guid>%s</guid><title>%s</title><link>https://t.example/%s</link>%s<description>%s body</description></item>`,
		guid, title, guid, date, title)
}

// serveBody serves whatever body points at, as RSS.
func serveBody(t *testing.T, body *atomic.Value) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, body.Load().(string))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPollDates(t *testing.T) {
	tests := []struct {
		name          string
		pubDate       string
		maxAge        time.Duration
		wantNew       int
		wantPublished time.Time
	}{
		{"date kept", "Fri, 10 Dec 2021 14:26:00 GMT", 0, 1, time.Date(2021, 12, 10, 14, 26, 0, 0, time.UTC)},
		{"missing date becomes first seen", "", 0, 1, testNow},
		{"garbage date becomes first seen", "yesterday-ish", 0, 1, testNow},
		{"far future becomes first seen", "Mon, 01 Jan 2035 00:00:00 GMT", 0, 1, testNow},
		{"within a day ahead kept", testNow.Add(3 * time.Hour).Format(time.RFC1123), 0, 1, testNow.Add(3 * time.Hour)},
		{"older than retention dropped at ingest", "Fri, 10 Dec 2021 14:26:00 GMT", 720 * time.Hour, 0, time.Time{}},
		{"within retention kept", testNow.Add(-719 * time.Hour).Format(time.RFC1123), 720 * time.Hour, 1, testNow.Add(-719 * time.Hour)},
		{"missing date kept under retention", "", 720 * time.Hour, 1, testNow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body atomic.Value
			body.Store(rssFeed(rssItem("a", "Alpha", tt.pubDate)))
			srv := serveBody(t, &body)
			db := openStore(t)
			p := newTestPoller(t, db, nil, func(o *aggregator.PollerOptions) { o.MaxAge = tt.maxAge })
			res := p.Poll(t.Context(), aggregator.Source{Name: "s", URL: srv.URL})
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.New != tt.wantNew {
				t.Fatalf("new = %d, want %d", res.New, tt.wantNew)
			}
			// An item retention would prune at once is counted as such,
			// not as unchanged.
			if wantOld := 1 - tt.wantNew; res.TooOld != wantOld || res.Unchanged != 0 {
				t.Errorf("too old = %d, unchanged = %d; want %d, 0", res.TooOld, res.Unchanged, wantOld)
			}
			if tt.wantNew == 0 {
				return
			}
			it, err := db.Item(t.Context(), "s", aggregator.ItemID("s", "a"))
			if err != nil {
				t.Fatal(err)
			}
			if !it.Published.Equal(tt.wantPublished) {
				t.Errorf("published = %v, want %v", it.Published, tt.wantPublished)
			}
			if !it.FirstSeen.Equal(testNow) {
				t.Errorf("first seen = %v, want %v", it.FirstSeen, testNow)
			}
		})
	}
}

func TestPollDedupAndUpdate(t *testing.T) {
	var body atomic.Value
	body.Store(rssFeed(rssItem("a", "Forum opens", "Fri, 10 Dec 2021 14:26:00 GMT"), rssItem("b", "Storm", "")))
	srv := serveBody(t, &body)
	db := openStore(t)
	now := testNow
	p := newTestPoller(t, db, []aggregator.Topic{{Name: "forum", Query: "forum"}}, func(o *aggregator.PollerOptions) {
		o.Now = func() time.Time { return now }
	})
	src := aggregator.Source{Name: "s", URL: srv.URL}

	res := p.Poll(t.Context(), src)
	if res.Err != nil || res.New != 2 {
		t.Fatalf("first poll: %+v", res)
	}
	if want := []string{"forum"}; strings.Join(res.ChangedTopics, ",") != "forum" {
		t.Errorf("changed topics = %v, want %v", res.ChangedTopics, want)
	}
	first, _ := db.Item(t.Context(), "s", aggregator.ItemID("s", "a"))
	undated, _ := db.Item(t.Context(), "s", aggregator.ItemID("s", "b"))

	// Same body again: nothing new, no write.
	now = now.Add(time.Hour)
	if res := p.Poll(t.Context(), src); res.Err != nil || !res.NotModified || res.New+res.Updated != 0 {
		t.Fatalf("identical body: %+v", res)
	}

	// One item reworded, and the feed reordered: updated in place, the
	// undated item keeps its first-seen date as published.
	now = now.Add(time.Hour)
	body.Store(rssFeed(rssItem("b", "Storm", ""), rssItem("a", "Forum opens in Beijing", "Fri, 10 Dec 2021 14:26:00 GMT")))
	res = p.Poll(t.Context(), src)
	if res.Err != nil || res.New != 0 || res.Updated != 1 || res.Unchanged != 1 {
		t.Fatalf("changed poll: %+v", res)
	}
	got, _ := db.Item(t.Context(), "s", aggregator.ItemID("s", "a"))
	if got.ID != first.ID || !got.FirstSeen.Equal(first.FirstSeen) || !got.Published.Equal(first.Published) {
		t.Errorf("identity moved: %+v, was %+v", got, first)
	}
	if !got.Updated.Equal(now) || got.Title != "Forum opens in Beijing" {
		t.Errorf("updated = %v title %q, want %v and the new title", got.Updated, got.Title, now)
	}
	undatedNow, _ := db.Item(t.Context(), "s", aggregator.ItemID("s", "b"))
	if !undatedNow.Published.Equal(undated.Published) {
		t.Errorf("undated item's published moved from %v to %v", undated.Published, undatedNow.Published)
	}
	if !slices.Equal(got.Topics, []string{"forum"}) || len(undatedNow.Topics) != 0 {
		t.Errorf("topics: %q and %q, want [forum] and none", got.Topics, undatedNow.Topics)
	}
	st, _ := db.SourceState(t.Context(), "s")
	if st.ItemCount != 2 {
		t.Errorf("item count = %d, want 2", st.ItemCount)
	}
}

func TestPollFailureKeepsItems(t *testing.T) {
	var body atomic.Value
	body.Store(rssFeed(rssItem("a", "Alpha", "")))
	fail := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<!doctype html><html><head><title>Oops</title></head><body>maintenance</body></html>`)
			return
		}
		io.WriteString(w, body.Load().(string))
	}))
	defer srv.Close()
	db := openStore(t)
	p := newTestPoller(t, db, nil, nil)
	src := aggregator.Source{Name: "s", URL: srv.URL}
	if res := p.Poll(t.Context(), src); res.Err != nil {
		t.Fatal(res.Err)
	}
	fail.Store(true)
	for i := 1; i <= 2; i++ {
		res := p.Poll(t.Context(), src)
		if res.Err == nil || !strings.Contains(res.Err.Error(), "not a feed") {
			t.Fatalf("poll %d: err = %v, want an HTML-page error", i, res.Err)
		}
		st, _ := db.SourceState(t.Context(), "s")
		if st.ConsecutiveFailures != i || st.LastError == "" || st.LastStatus != 200 || st.ItemCount != 1 {
			t.Errorf("after failure %d: %+v", i, st)
		}
	}
	fail.Store(false)
	body.Store(rssFeed(rssItem("a", "Alpha", ""), rssItem("b", "Beta", "")))
	if res := p.Poll(t.Context(), src); res.Err != nil || res.New != 1 {
		t.Fatalf("recovery: %+v", res)
	}
	st, _ := db.SourceState(t.Context(), "s")
	if st.ConsecutiveFailures != 0 || st.LastError != "" {
		t.Errorf("state not reset on success: %+v", st)
	}
}

// panickyStore panics when a feed is saved, as a bug in one source's
// handling would.
type panickyStore struct{ aggregator.Store }

func (panickyStore) SaveFeed(context.Context, aggregator.FeedUpdate) (aggregator.SaveResult, error) {
	panic("boom")
}

func TestPollRecoversPanic(t *testing.T) {
	var body atomic.Value
	body.Store(rssFeed(rssItem("a", "Alpha", "")))
	srv := serveBody(t, &body)
	db := openStore(t)
	p := newTestPoller(t, panickyStore{db}, nil, nil)
	res := p.Poll(t.Context(), aggregator.Source{Name: "s", URL: srv.URL})
	if res.Err == nil || !strings.Contains(res.Err.Error(), "boom") {
		t.Fatalf("err = %v, want the panic recorded", res.Err)
	}
	st, _ := db.SourceState(t.Context(), "s")
	if !strings.Contains(st.LastError, "boom") || st.ConsecutiveFailures != 1 {
		t.Errorf("state = %+v, want the panic as the source's error", st)
	}
}

func TestPollConcurrencyLimit(t *testing.T) {
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		io.WriteString(w, rssFeed(rssItem(r.URL.Path, "x", "")))
	}))
	defer srv.Close()
	db := openStore(t)
	p := newTestPoller(t, db, nil, func(o *aggregator.PollerOptions) { o.Concurrency = 3 })
	done := make(chan struct{})
	for i := range 12 {
		go func() {
			p.Poll(t.Context(), aggregator.Source{Name: fmt.Sprintf("s%d", i), URL: fmt.Sprintf("%s/f%d", srv.URL, i)})
			done <- struct{}{}
		}()
	}
	for range 12 {
		<-done
	}
	if got := peak.Load(); got > 3 || got < 2 {
		t.Errorf("peak concurrent fetches = %d, want at most 3 (and some overlap)", got)
	}
}

// blockedSaves holds every SaveFeed until release is closed, telling
// entered when one starts.
type blockedSaves struct {
	aggregator.Store
	entered chan struct{}
	release chan struct{}
}

func (s blockedSaves) SaveFeed(ctx context.Context, u aggregator.FeedUpdate) (aggregator.SaveResult, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.Store.SaveFeed(ctx, u)
}

// TestPollNotModifiedNeedsNoSaveSlot: a source that answers 304 saves only
// its state, so it does not wait for a save slot behind changed feeds the
// store has not committed yet.
func TestPollNotModifiedNeedsNoSaveSlot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/unchanged" {
			w.Header().Set("ETag", `"v1"`)
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		io.WriteString(w, rssFeed(rssItem(r.URL.Path, "x", "")))
	}))
	defer srv.Close()
	db := openStore(t)
	unchanged := aggregator.Source{Name: "unchanged", URL: srv.URL + "/unchanged"}
	if res := newTestPoller(t, db, nil, nil).Poll(t.Context(), unchanged); res.Err != nil {
		t.Fatal(res.Err)
	}

	store := blockedSaves{Store: db, entered: make(chan struct{}), release: make(chan struct{})}
	p := newTestPoller(t, store, nil, func(o *aggregator.PollerOptions) { o.Concurrency = 1 })
	// Changed feeds take every save slot and wait for the store.
	done := make(chan aggregator.PollResult)
	for i := range aggregator.SavesPerSlot {
		go func() {
			done <- p.Poll(t.Context(), aggregator.Source{Name: fmt.Sprintf("s%d", i), URL: fmt.Sprintf("%s/f%d", srv.URL, i)})
		}()
		<-store.entered
	}
	got := make(chan aggregator.PollResult)
	go func() { got <- p.Poll(t.Context(), unchanged) }()
	select {
	case res := <-got:
		if res.Err != nil || !res.NotModified {
			t.Errorf("unchanged source: not modified %v, err %v", res.NotModified, res.Err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a source answering 304 waited for a save slot")
	}
	close(store.release)
	for range aggregator.SavesPerSlot {
		if res := <-done; res.Err != nil {
			t.Error(res.Err)
		}
	}
	if t.Failed() {
		<-got
	}
}

// countedStates counts the polls that have read their source's state.
type countedStates struct {
	blockedSaves
	read *atomic.Int32
}

func (s countedStates) SourceState(ctx context.Context, source string) (aggregator.SourceState, error) {
	s.read.Add(1)
	return s.Store.SourceState(ctx, source)
}

// TestPollAllBoundsRunningPolls: PollAll reports every source once, and
// while the store holds the saves, no more polls get under way than
// runningPerSlot per fetch slot: the others have not even read their
// state.
func TestPollAllBoundsRunningPolls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, rssFeed(rssItem(r.URL.Path, "x", "")))
	}))
	defer srv.Close()
	var read atomic.Int32
	store := countedStates{
		blockedSaves: blockedSaves{Store: openStore(t), entered: make(chan struct{}, 1000), release: make(chan struct{})},
		read:         &read,
	}
	p := newTestPoller(t, store, nil, func(o *aggregator.PollerOptions) { o.Concurrency = 1 })
	const n = 3 * aggregator.RunningPerSlot
	var sources []aggregator.Source
	for i := range n {
		sources = append(sources, aggregator.Source{Name: fmt.Sprintf("s%d", i), URL: fmt.Sprintf("%s/f%d", srv.URL, i)})
	}
	reported := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.PollAll(t.Context(), sources, func(res aggregator.PollResult) {
			if res.Err != nil {
				t.Errorf("%s: %v", res.Source, res.Err)
			}
			reported[res.Source]++
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for read.Load() < aggregator.RunningPerSlot && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // for any poll past the bound to show
	if got := read.Load(); got != aggregator.RunningPerSlot {
		t.Errorf("%d polls read their state while the saves were held, want %d", got, aggregator.RunningPerSlot)
	}
	close(store.release)
	<-done
	if len(reported) != n {
		t.Errorf("%d sources reported, want %d", len(reported), n)
	}
	for name, k := range reported {
		if k != 1 {
			t.Errorf("%s reported %d times", name, k)
		}
	}
}

// TestPollAllCanceled: with its context cancelled, PollAll still reports
// every source once, each with the cancellation as its error.
func TestPollAllCanceled(t *testing.T) {
	p := newTestPoller(t, openStore(t), nil, func(o *aggregator.PollerOptions) { o.Concurrency = 1 })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var sources []aggregator.Source
	for i := range 3 * aggregator.RunningPerSlot {
		sources = append(sources, aggregator.Source{Name: fmt.Sprintf("s%d", i), URL: "http://127.0.0.1:1/feed"})
	}
	reported := map[string]int{}
	p.PollAll(ctx, sources, func(res aggregator.PollResult) {
		if !errors.Is(res.Err, context.Canceled) {
			t.Errorf("%s: error %v, want context.Canceled", res.Source, res.Err)
		}
		reported[res.Source]++
	})
	if len(reported) != len(sources) {
		t.Errorf("%d sources reported, want %d", len(reported), len(sources))
	}
	for name, k := range reported {
		if k != 1 {
			t.Errorf("%s reported %d times", name, k)
		}
	}
}

// TestPollPreparesHoldingCPU: a poll parses and prepares its feed holding
// a token of the CPU gate, and waits for one after fetching; a poll whose
// feed did not change parses nothing and needs none.
func TestPollPreparesHoldingCPU(t *testing.T) {
	var body atomic.Value
	body.Store(rssFeed(rssItem("a", "Alpha", "Fri, 27 Nov 2026 10:00:00 GMT")))
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, body.Load().(string))
	}))
	t.Cleanup(srv.Close)
	gate := cpugate.New(1)
	store := openStore(t)
	p := newTestPoller(t, store, nil, func(o *aggregator.PollerOptions) { o.CPU = gate })
	src := aggregator.Source{Name: "s", URL: srv.URL}
	ctx := context.Background()

	if err := gate.Enter(ctx); err != nil { // every core busy
		t.Fatal(err)
	}
	done := make(chan aggregator.PollResult, 1)
	go func() { done <- p.Poll(ctx, src) }()
	select {
	case res := <-done:
		t.Fatalf("the poll finished while every core was taken: %+v", res)
	case <-time.After(100 * time.Millisecond):
	}
	if requests.Load() != 1 {
		t.Errorf("%d requests before the poll got a core, want 1: fetching needs no token", requests.Load())
	}
	gate.Leave()
	if res := <-done; res.Err != nil || res.New != 1 {
		t.Fatalf("poll after the core came free: %+v", res)
	}

	// Unchanged: the body's hash matches, nothing is parsed.
	if err := gate.Enter(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { done <- p.Poll(ctx, src) }()
	select {
	case res := <-done:
		if res.Err != nil || !res.NotModified {
			t.Fatalf("unchanged poll: %+v", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a poll of an unchanged feed waited for a core")
	}

	// A poll whose context ends while it waits for a core stops there,
	// and the source is not marked as failing.
	body.Store(rssFeed(rssItem("b", "Beta", "Fri, 27 Nov 2026 11:00:00 GMT")))
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if res := p.Poll(cctx, src); res.Err == nil || res.State.ConsecutiveFailures != 0 {
		t.Fatalf("poll cancelled while waiting for a core: err %v, %d failures", res.Err, res.State.ConsecutiveFailures)
	}
	gate.Leave()
	st, err := store.SourceState(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if st.ConsecutiveFailures != 0 || st.ItemCount != 1 {
		t.Fatalf("after the cancelled poll: %d failures, %d items; want 0 and 1", st.ConsecutiveFailures, st.ItemCount)
	}
}

// conditionalServer serves every path the same feed with ETag "v1" and
// answers a request with any validator 304. failing paths answer 500;
// on /moved's 304 the publisher hands out a new ETag.
func conditionalServer(t *testing.T, failing *atomic.Value) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, _ := failing.Load().(string); f != "" && r.URL.Path == f {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		if r.Header.Get("If-None-Match") != "" {
			if r.URL.Path == "/moved" {
				w.Header().Set("ETag", `"v2"`)
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, rssFeed(rssItem("a", "Alpha", "")))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// failingStateRound is a store whose SaveStates fails.
type failingStateRound struct{ aggregator.Store }

var errRoundLost = errors.New("disk full")

func (failingStateRound) SaveStates(context.Context, []aggregator.SourceState) error {
	return errRoundLost
}

// TestPollAllSavesUnchangedStatesTogether: in a round of PollAll, a 304
// that changes nothing but the poll times is saved with the others when
// the round ends, not at once; a 304 that changes more (a recovery from
// failures, new validators) is saved at once; and a round whose states
// cannot be saved says so.
func TestPollAllSavesUnchangedStatesTogether(t *testing.T) {
	var failing atomic.Value
	srv := conditionalServer(t, &failing)
	db := openStore(t)
	var now atomic.Value
	now.Store(testNow)
	p := newTestPoller(t, db, nil, func(o *aggregator.PollerOptions) {
		o.Now = func() time.Time { return now.Load().(time.Time) }
		o.NextPoll = func(_ aggregator.Source, after time.Time) time.Time { return after.Add(time.Hour) }
	})
	var sources []aggregator.Source
	for _, name := range []string{"a", "b", "recovering", "moved"} {
		sources = append(sources, aggregator.Source{Name: name, URL: srv.URL + "/" + name})
	}
	ctx := t.Context()
	state := func(name string) aggregator.SourceState {
		t.Helper()
		st, err := db.SourceState(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if err := p.PollAll(ctx, sources, func(res aggregator.PollResult) {
		if res.Err != nil || res.New != 1 {
			t.Errorf("first round, %s: %d new, %v", res.Source, res.New, res.Err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	failing.Store("/recovering")
	now.Store(testNow.Add(time.Minute))
	if res := p.Poll(ctx, sources[2]); res.Err == nil {
		t.Fatal("the failing source did not fail")
	}
	failing.Store("")

	round := testNow.Add(time.Hour)
	now.Store(round)
	err := p.PollAll(ctx, sources, func(res aggregator.PollResult) {
		if res.Err != nil || !res.NotModified {
			t.Errorf("%s: not modified %v, %v", res.Source, res.NotModified, res.Err)
		}
		if !res.State.LastPolled.Equal(round) {
			t.Errorf("%s: result's state polled %v, want %v", res.Source, res.State.LastPolled, round)
		}
		st := state(res.Source)
		switch res.Source {
		case "a", "b":
			if !st.LastPolled.Equal(testNow) {
				t.Errorf("%s: stored state polled %v while its round runs, want %v", res.Source, st.LastPolled, testNow)
			}
		case "recovering":
			if !st.LastPolled.Equal(round) || st.ConsecutiveFailures != 0 {
				t.Errorf("recovering: stored state polled %v after %d failures, want at once %v after 0", st.LastPolled, st.ConsecutiveFailures, round)
			}
		case "moved":
			if !st.LastPolled.Equal(round) || st.ETag != `"v2"` {
				t.Errorf("moved: stored state polled %v with ETag %s, want at once %v with \"v2\"", st.LastPolled, st.ETag, round)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range sources {
		st := state(src.Name)
		if !st.LastPolled.Equal(round) || st.LastStatus != http.StatusNotModified || !st.NextPoll.Equal(round.Add(time.Hour)) || st.ItemCount != 1 {
			t.Errorf("%s after the round: polled %v, status %d, next %v, %d items; want %v, 304, %v, 1",
				src.Name, st.LastPolled, st.LastStatus, st.NextPoll, st.ItemCount, round, round.Add(time.Hour))
		}
	}

	now.Store(round.Add(time.Hour))
	p = newTestPoller(t, failingStateRound{db}, nil, nil)
	err = p.PollAll(ctx, sources, func(res aggregator.PollResult) {})
	if !errors.Is(err, errRoundLost) || !strings.Contains(err.Error(), "save the state of 4 unchanged sources") {
		t.Errorf("PollAll with the states' commit failing = %v, want the 4 states' error", err)
	}
	if err := p.PollAll(ctx, nil, func(aggregator.PollResult) {}); err != nil {
		t.Errorf("a round with no unchanged source saved states: %v", err)
	}
}

// TestPollAllSavesStatesInBatches: a round commits its unchanged states
// every StateBatch sources, before reporting the one that fills a batch.
func TestPollAllSavesStatesInBatches(t *testing.T) {
	var failing atomic.Value
	srv := conditionalServer(t, &failing)
	db := openStore(t)
	round := testNow.Add(time.Hour)
	p := newTestPoller(t, db, nil, func(o *aggregator.PollerOptions) {
		o.Concurrency = 8
		o.Now = func() time.Time { return round }
	})
	ctx := t.Context()
	var sources []aggregator.Source
	var seeded []aggregator.SourceState
	for i := range aggregator.StateBatch + 10 {
		src := aggregator.Source{Name: fmt.Sprintf("s%d", i), URL: fmt.Sprintf("%s/s%d", srv.URL, i)}
		sources = append(sources, src)
		seeded = append(seeded, aggregator.SourceState{Source: src.Name, ConfigURL: src.URL, ETag: `"v1"`,
			LastPolled: testNow, LastStatus: http.StatusNotModified, NextPoll: testNow.Add(time.Hour)})
	}
	if err := db.SaveStates(ctx, seeded); err != nil {
		t.Fatal(err)
	}
	savedInRound := func() int {
		states, err := db.SourceStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, st := range states {
			if st.LastPolled.Equal(round) {
				n++
			}
		}
		return n
	}
	reported := 0
	err := p.PollAll(ctx, sources, func(res aggregator.PollResult) {
		if res.Err != nil || !res.NotModified {
			t.Errorf("%s: not modified %v, %v", res.Source, res.NotModified, res.Err)
		}
		reported++
		switch reported {
		case aggregator.StateBatch - 1:
			if n := savedInRound(); n != 0 {
				t.Errorf("%d states saved before a batch filled", n)
			}
		case aggregator.StateBatch:
			if n := savedInRound(); n != aggregator.StateBatch {
				t.Errorf("%d states saved when the batch filled, want %d", n, aggregator.StateBatch)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := savedInRound(); n != len(sources) {
		t.Errorf("%d states saved after the round, want %d", n, len(sources))
	}
}

// TestPollResultString: the poll command's line says what happened to the
// feed's items, the ones too old to keep included.
func TestPollResultString(t *testing.T) {
	tests := []struct {
		name string
		res  aggregator.PollResult
		want string
	}{
		{"items", aggregator.PollResult{Source: "s", Status: 200, SaveResult: aggregator.SaveResult{New: 1, Updated: 2, Unchanged: 3}},
			"s: 1 new, 2 updated, 3 unchanged; HTTP 200"},
		{"too old", aggregator.PollResult{Source: "s", Status: 200, SaveResult: aggregator.SaveResult{New: 1}, TooOld: 29},
			"s: 1 new, 0 updated, 0 unchanged, 29 older than retention.max_age (not stored); HTTP 200"},
		{"not modified", aggregator.PollResult{Source: "s", Status: 304, NotModified: true},
			"s: not modified; HTTP 304"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.res.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
