package aggregator_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/storage"
)

// scriptedServer answers each path with the handler set for it and counts
// the requests per path.
type scriptedServer struct {
	*httptest.Server
	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	hits     map[string]int
}

func newScriptedServer(t *testing.T) *scriptedServer {
	t.Helper()
	s := &scriptedServer{handlers: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		h := s.handlers[r.URL.Path]
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *scriptedServer) handle(path string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[path] = h
}

func (s *scriptedServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func status(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

func feedBody(body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		io.WriteString(w, body)
	}
}

// newPoliteFixture is a poller on a movable clock, with the real schedule
// parser ("@every 15m") deciding next polls.
func newPoliteFixture(t *testing.T, sources []aggregator.Source, topics []aggregator.Topic) (*time.Time, *aggregator.Poller, *storage.DB) {
	t.Helper()
	now := testNow
	db := openStore(t)
	schedules, err := aggregator.NewSchedules(sources, "@every 15m")
	if err != nil {
		t.Fatal(err)
	}
	matcher, err := aggregator.NewTopicMatcher(topics, sources)
	if err != nil {
		t.Fatal(err)
	}
	p := aggregator.NewPoller(aggregator.PollerOptions{
		Store: db,
		Fetcher: aggregator.NewFetcher(aggregator.FetcherOptions{
			Timeout: 5 * time.Second, MaxBodyBytes: 1 << 20, Now: func() time.Time { return now },
		}),
		Matcher:  matcher,
		NextPoll: schedules.Next,
		Now:      func() time.Time { return now },
	})
	return &now, p, db
}

func TestRetryAfterDefersEveryPoll(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantPause  time.Duration
	}{
		{"429 with seconds", status(http.StatusTooManyRequests, "Retry-After", "7200"), 429, 2 * time.Hour},
		{"503 with a date", status(http.StatusServiceUnavailable, "Retry-After", testNow.Add(3*time.Hour).Format(http.TimeFormat)), 503, 3 * time.Hour},
		{"absurd pause capped at a week", status(http.StatusTooManyRequests, "Retry-After", "99999999"), 429, 7 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newScriptedServer(t)
			srv.handle("/feed", tt.handler)
			src := aggregator.Source{Name: "s", URL: srv.URL + "/feed"}
			now, p, db := newPoliteFixture(t, []aggregator.Source{src}, nil)

			res := p.Poll(t.Context(), src)
			if res.Err == nil || res.Status != tt.wantStatus {
				t.Fatalf("first poll: %+v", res)
			}
			st, _ := db.SourceState(t.Context(), "s")
			if want := testNow.Add(tt.wantPause); !st.RetryAfter.Equal(want) || st.NextPoll.Before(want) {
				t.Fatalf("retry after %v, next poll %v; want %v", st.RetryAfter, st.NextPoll, want)
			}

			// Neither a manual nor a scheduled poll fetches before then.
			*now = testNow.Add(tt.wantPause - time.Minute)
			if res := p.Poll(t.Context(), src); !res.Deferred.Equal(st.RetryAfter) || !strings.Contains(res.String(), "deferred until") {
				t.Errorf("manual poll during the pause: %+v (%s)", res, res)
			}
			if res := p.PollScheduled(t.Context(), src, *now); res.Deferred.IsZero() {
				t.Errorf("scheduled poll during the pause: %+v", res)
			}
			if got := srv.count("/feed"); got != 1 {
				t.Errorf("fetched %d times during the pause, want 1", got)
			}

			// After it, the source is polled again and, once it works,
			// the pause and the failures are forgotten.
			*now = testNow.Add(tt.wantPause + time.Minute)
			srv.handle("/feed", feedBody(rssFeed(rssItem("a", "Alpha", ""))))
			if res := p.Poll(t.Context(), src); res.Err != nil || res.New != 1 {
				t.Fatalf("poll after the pause: %+v", res)
			}
			st, _ = db.SourceState(t.Context(), "s")
			if !st.RetryAfter.IsZero() || st.ConsecutiveFailures != 0 {
				t.Errorf("state after recovery: %+v", st)
			}
		})
	}
}

func TestBackoffDoublesAndResets(t *testing.T) {
	srv := newScriptedServer(t)
	srv.handle("/feed", status(http.StatusInternalServerError))
	src := aggregator.Source{Name: "s", URL: srv.URL + "/feed"}
	now, p, db := newPoliteFixture(t, []aggregator.Source{src}, nil)

	wantDelays := []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour, 24 * time.Hour, 24 * time.Hour}
	for i, want := range wantDelays {
		res := p.Poll(t.Context(), src)
		if res.Err == nil {
			t.Fatalf("failure %d: no error", i+1)
		}
		st, _ := db.SourceState(t.Context(), "s")
		if got := st.NextPoll.Sub(*now); got != want || st.ConsecutiveFailures != i+1 {
			t.Errorf("after %d failures: next poll in %v (failures %d), want %v", i+1, got, st.ConsecutiveFailures, want)
		}
		// A scheduled run before the backoff ends is skipped, unfetched.
		hits := srv.count("/feed")
		if res := p.PollScheduled(t.Context(), src, now.Add(15*time.Minute)); !res.Skipped {
			t.Errorf("scheduled poll inside the backoff: %+v", res)
		}
		if srv.count("/feed") != hits {
			t.Error("a skipped poll fetched")
		}
		*now = st.NextPoll
	}

	// Success resets the failures and returns to the schedule.
	srv.handle("/feed", feedBody(rssFeed(rssItem("a", "Alpha", ""))))
	if res := p.PollScheduled(t.Context(), src, *now); res.Err != nil || res.Skipped {
		t.Fatalf("poll at the end of the backoff: %+v", res)
	}
	st, _ := db.SourceState(t.Context(), "s")
	if st.ConsecutiveFailures != 0 || st.NextPoll.Sub(*now) != 15*time.Minute {
		t.Errorf("after success: failures %d, next poll in %v", st.ConsecutiveFailures, st.NextPoll.Sub(*now))
	}

	// The state, and so the backoff, survives a restart: it is all in
	// the store, which a new poller reads.
	srv.handle("/feed", status(http.StatusBadGateway))
	p.Poll(t.Context(), src)
	st2, _ := db.SourceState(t.Context(), "s")
	if st2.ConsecutiveFailures != 1 || !st2.NextPoll.After(*now) {
		t.Errorf("after a new failure: %+v", st2)
	}
}

func TestGoneDisablesUntilTheConfigChanges(t *testing.T) {
	srv := newScriptedServer(t)
	srv.handle("/old", status(http.StatusGone))
	srv.handle("/new", feedBody(rssFeed(rssItem("a", "Alpha", ""))))
	src := aggregator.Source{Name: "s", URL: srv.URL + "/old"}
	_, p, db := newPoliteFixture(t, []aggregator.Source{src}, nil)

	if res := p.Poll(t.Context(), src); res.Status != http.StatusGone || res.Err == nil {
		t.Fatalf("first poll: %+v", res)
	}
	st, _ := db.SourceState(t.Context(), "s")
	if !st.Disabled || !strings.Contains(st.LastError, "410 Gone") {
		t.Fatalf("state: %+v", st)
	}
	for _, res := range []aggregator.PollResult{p.Poll(t.Context(), src), p.PollScheduled(t.Context(), src, testNow.Add(24*time.Hour))} {
		if !res.Disabled || !strings.HasPrefix(res.String(), "s: disabled: 410 Gone") {
			t.Errorf("poll of a disabled source: %+v (%s)", res, res)
		}
	}
	if srv.count("/old") != 1 {
		t.Errorf("a disabled source was fetched %d times", srv.count("/old"))
	}

	src.URL = srv.URL + "/new"
	if res := p.Poll(t.Context(), src); res.Err != nil || res.New != 1 {
		t.Fatalf("poll after the config changed its URL: %+v", res)
	}
	if st, _ := db.SourceState(t.Context(), "s"); st.Disabled || st.ConfigURL != src.URL {
		t.Errorf("state after the URL changed: %+v", st)
	}
}

func TestPermanentRedirectIsFollowedFromThenOn(t *testing.T) {
	srv := newScriptedServer(t)
	srv.handle("/new", feedBody(rssFeed(rssItem("a", "Alpha", ""))))
	srv.handle("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusMovedPermanently)
	})
	srv.handle("/temp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusFound)
	})
	moved := aggregator.Source{Name: "moved", URL: srv.URL + "/old"}
	temp := aggregator.Source{Name: "temp", URL: srv.URL + "/temp"}
	now, p, db := newPoliteFixture(t, []aggregator.Source{moved, temp}, nil)

	for _, src := range []aggregator.Source{moved, temp} {
		if res := p.Poll(t.Context(), src); res.Err != nil || res.New != 1 {
			t.Fatalf("%s: %+v", src.Name, res)
		}
	}
	st, _ := db.SourceState(t.Context(), "moved")
	if st.PermanentRedirect != srv.URL+"/new" {
		t.Errorf("permanent redirect = %q", st.PermanentRedirect)
	}
	if st, _ := db.SourceState(t.Context(), "temp"); st.PermanentRedirect != "" {
		t.Errorf("a 302 was recorded as permanent: %q", st.PermanentRedirect)
	}
	*now = now.Add(time.Hour)
	res := p.Poll(t.Context(), moved)
	if res.Err != nil || !strings.Contains(res.String(), "moved permanently to "+srv.URL+"/new") {
		t.Errorf("second poll: %+v (%s)", res, res)
	}
	p.Poll(t.Context(), temp)
	if got := srv.count("/old"); got != 1 {
		t.Errorf("the old URL was fetched %d times, want once: the new one is used from then on", got)
	}
	if got := srv.count("/temp"); got != 2 {
		t.Errorf("the temporarily redirected URL was fetched %d times, want 2", got)
	}
}

func TestPublisherHintsSlowPolling(t *testing.T) {
	withTTL := func(minutes string) string {
		return strings.Replace(rssFeed(rssItem("a", "Alpha", "")), "<description>d</description>",
			"<description>d</description><ttl>"+minutes+"</ttl>", 1)
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    time.Duration // until the next poll, on a 15-minute schedule
	}{
		{"no hint", feedBody(rssFeed(rssItem("a", "Alpha", ""))), 15 * time.Minute},
		{"ttl of two hours", feedBody(withTTL("120")), 2 * time.Hour},
		{"ttl shorter than the schedule", feedBody(withTTL("5")), 15 * time.Minute},
		{"ttl of a month capped at a day", feedBody(withTTL("43200")), 24 * time.Hour},
		{"Cache-Control max-age", feedBody(rssFeed(rssItem("a", "Alpha", "")), "Cache-Control", "public, max-age=3600"), time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newScriptedServer(t)
			srv.handle("/feed", tt.handler)
			src := aggregator.Source{Name: "s", URL: srv.URL + "/feed"}
			now, p, db := newPoliteFixture(t, []aggregator.Source{src}, nil)
			if res := p.PollScheduled(t.Context(), src, *now); res.Err != nil {
				t.Fatal(res.Err)
			}
			st, _ := db.SourceState(t.Context(), "s")
			if got := st.NextPoll.Sub(*now); got != tt.want {
				t.Errorf("next poll in %v, want %v", got, tt.want)
			}
			// Scheduled runs before then are skipped.
			if tt.want > 15*time.Minute {
				if res := p.PollScheduled(t.Context(), src, now.Add(15*time.Minute)); !res.Skipped {
					t.Errorf("scheduled run inside the hint: %+v", res)
				}
			}
		})
	}
}

// TestNotModifiedKeepsTheFeedsHint: a 304 says nothing of the feed's own
// ttl, which still holds for the same feed, so a shorter Cache-Control
// max-age on the 304 does not shorten the interval the ttl asked for; a
// longer one lengthens it.
func TestNotModifiedKeepsTheFeedsHint(t *testing.T) {
	body := strings.Replace(rssFeed(rssItem("a", "Alpha", "")), "<description>d</description>",
		"<description>d</description><ttl>120</ttl>", 1)
	tests := []struct {
		name   string
		maxAge string
		want   time.Duration // until the next poll after the 304
	}{
		{"shorter max-age", "300", 2 * time.Hour},
		{"longer max-age", "10800", 3 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newScriptedServer(t)
			srv.handle("/feed", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age="+tt.maxAge)
				w.Header().Set("ETag", `"v1"`)
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				io.WriteString(w, body)
			})
			src := aggregator.Source{Name: "s", URL: srv.URL + "/feed"}
			now, p, db := newPoliteFixture(t, []aggregator.Source{src}, nil)
			if res := p.PollScheduled(t.Context(), src, *now); res.Err != nil || res.NotModified {
				t.Fatalf("first poll: %+v", res)
			}
			*now = now.Add(3 * time.Hour)
			if res := p.PollScheduled(t.Context(), src, *now); res.Err != nil || !res.NotModified {
				t.Fatalf("second poll: %+v", res)
			}
			st, _ := db.SourceState(t.Context(), "s")
			if got := st.NextPoll.Sub(*now); got != tt.want {
				t.Errorf("next poll after the 304 in %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBacklogKeepsOldItemsOutOfTopics(t *testing.T) {
	day := 24 * time.Hour
	feed := rssFeed(
		rssItem("recent", "Forum recent", testNow.Add(-day).Format(time.RFC1123Z)),
		rssItem("old", "Forum old", testNow.Add(-30*day).Format(time.RFC1123Z)),
	)
	tests := []struct {
		backlog time.Duration
		want    []string
	}{
		{7 * day, []string{"Forum recent"}},
		{0, []string{"Forum recent", "Forum old"}},
		{60 * day, []string{"Forum recent", "Forum old"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.backlog), func(t *testing.T) {
			srv := newScriptedServer(t)
			srv.handle("/feed", feedBody(feed))
			src := aggregator.Source{Name: "s", URL: srv.URL + "/feed", Backlog: tt.backlog}
			_, p, db := newPoliteFixture(t, []aggregator.Source{src}, []aggregator.Topic{{Name: "forum", Query: "forum"}})
			if res := p.Poll(t.Context(), src); res.Err != nil || res.New != 2 {
				t.Fatalf("poll: %+v", res)
			}
			var inTopic []string
			for _, guid := range []string{"recent", "old"} {
				it, err := db.Item(t.Context(), "s", aggregator.ItemID("s", guid))
				if err != nil {
					t.Fatalf("item %s not stored: %v", guid, err)
				}
				if slices.Contains(it.Topics, "forum") {
					inTopic = append(inTopic, it.Title)
				}
			}
			if !slices.Equal(inTopic, tt.want) {
				t.Errorf("in topic: %q, want %q", inTopic, tt.want)
			}
		})
	}
}
