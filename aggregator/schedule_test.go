package aggregator_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

func TestNewSchedules(t *testing.T) {
	sources := []aggregator.Source{{Name: "a"}, {Name: "b", Schedule: "*/10 * * * *"}, {Name: "c", Schedule: "@hourly"}}
	s, err := aggregator.NewSchedules(sources, "@every 15m")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 12, 3, 0, 0, time.UTC)
	want := map[string]time.Time{
		"a": now.Add(15 * time.Minute),
		"b": time.Date(2026, 11, 27, 12, 10, 0, 0, time.UTC),
		"c": time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC),
	}
	for _, src := range sources {
		if got := s.Next(src, now); !got.Equal(want[src.Name]) {
			t.Errorf("%s: next = %v, want %v", src.Name, got, want[src.Name])
		}
	}
	if _, err := aggregator.NewSchedules([]aggregator.Source{{Name: "x", Schedule: "every day"}}, "@hourly"); err == nil {
		t.Error("a bad schedule was accepted")
	}
}

// TestSchedulerPollsDueSourcesAndStops: a source never polled is polled at
// once, one whose next poll lies ahead is left alone, and cancelling the
// context stops the scheduler after its in-flight polls.
func TestSchedulerPollsDueSourcesAndStops(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		io.WriteString(w, rssFeed(rssItem("x", "x", "")))
	}))
	defer srv.Close()

	db := openStore(t)
	now := time.Now()
	if err := db.SaveState(t.Context(), aggregator.SourceState{Source: "later", LastPolled: now, NextPoll: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	sources := []aggregator.Source{{Name: "fresh", URL: srv.URL + "/fresh"}, {Name: "later", URL: srv.URL + "/later"}}
	schedules, err := aggregator.NewSchedules(sources, "@every 1h")
	if err != nil {
		t.Fatal(err)
	}
	p := newTestPoller(t, db, nil, func(o *aggregator.PollerOptions) { o.Now = time.Now; o.NextPoll = schedules.Next })
	polled := make(chan aggregator.PollResult, 4)
	sched := aggregator.NewScheduler(aggregator.SchedulerOptions{
		Poller: p, Store: db, Schedules: schedules, MaxJitter: time.Second,
		OnPolled: func(r aggregator.PollResult) { polled <- r },
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sched.Run(ctx, sources) }()

	select {
	case r := <-polled:
		if r.Source != "fresh" || r.Err != nil || r.New != 1 {
			t.Errorf("first poll = %+v, want fresh with 1 new item", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a never-polled source was not polled at once")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("scheduler did not stop")
	}
	mu.Lock()
	defer mu.Unlock()
	if hits["/later"] != 0 || hits["/fresh"] != 1 {
		t.Errorf("hits = %v, want only /fresh once", hits)
	}
	st, _ := db.SourceState(t.Context(), "fresh")
	if !st.NextPoll.After(now) {
		t.Errorf("next poll = %v, want a time after %v", st.NextPoll, now)
	}
}
