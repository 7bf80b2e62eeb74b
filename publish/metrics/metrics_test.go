package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/publish"
	"github.com/tributary-news/tributary/publish/metrics"
)

var t0 = time.Date(2024, 5, 6, 7, 30, 0, 0, time.UTC)

func newMetrics(t *testing.T, opts metrics.Options) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestObservePoll(t *testing.T) {
	ok := aggregator.PollResult{
		Source: "alpha", Status: 200, Duration: 300 * time.Millisecond,
		SaveResult: aggregator.SaveResult{New: 3, Updated: 2, Unchanged: 7, Merged: 1},
		State:      aggregator.SourceState{LastPolled: t0},
	}
	tests := []struct {
		name     string
		res      aggregator.PollResult
		result   string
		timed    bool
		success  bool
		new, upd float64
		merged   float64
	}{
		{name: "ok", res: ok, result: "ok", timed: true, success: true, new: 3, upd: 2, merged: 1},
		{name: "not modified", res: aggregator.PollResult{Source: "alpha", Status: 304, NotModified: true, Duration: time.Second, State: aggregator.SourceState{LastPolled: t0}},
			result: "not_modified", timed: true, success: true},
		{name: "error", res: aggregator.PollResult{Source: "alpha", Status: 500, Err: errors.New("HTTP 500"), Duration: time.Second},
			result: "error", timed: true},
		{name: "error wins over new items", res: func() aggregator.PollResult { r := ok; r.Err = errors.New("boom"); return r }(),
			result: "error", timed: true},
		{name: "deferred", res: aggregator.PollResult{Source: "alpha", Deferred: t0.Add(time.Hour)}, result: "deferred"},
		{name: "disabled", res: aggregator.PollResult{Source: "alpha", Disabled: true}, result: "disabled"},
		{name: "skipped", res: aggregator.PollResult{Source: "alpha", Skipped: true}, result: "skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t, metrics.Options{Now: func() time.Time { return t0.Add(time.Hour) }})
			if got := metrics.Result(tt.res); got != tt.result {
				t.Fatalf("Result = %q, want %q", got, tt.result)
			}
			m.ObservePoll(tt.res)
			m.ObservePoll(tt.res)

			want := fmt.Sprintf(`
# HELP tributary_polls_total Polls of a source, by what they did (ok, not_modified, error, deferred, disabled, skipped).
# TYPE tributary_polls_total counter
tributary_polls_total{result=%q,source="alpha"} 2
`, tt.result)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tributary_polls_total"); err != nil {
				t.Error(err)
			}
			wantTimed := 0
			if tt.timed {
				wantTimed = 2
			}
			if got := histogramCount(t, reg, "tributary_poll_duration_seconds", "result", tt.result); got != wantTimed {
				t.Errorf("poll duration observations for %s = %d, want %d", tt.result, got, wantTimed)
			}
			if tt.success {
				want := `
# HELP tributary_last_success_timestamp_seconds When a source was last polled successfully (ok or not_modified), as a Unix time.
# TYPE tributary_last_success_timestamp_seconds gauge
tributary_last_success_timestamp_seconds{source="alpha"} 1.7149806e+09
`
				if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tributary_last_success_timestamp_seconds"); err != nil {
					t.Error(err)
				}
			} else if n := countSeries(t, reg, "tributary_last_success_timestamp_seconds"); n != 0 {
				t.Errorf("a %s poll set last success (%d series)", tt.result, n)
			}
			if tt.new > 0 || tt.upd > 0 {
				if got := gatheredValue(t, reg, "tributary_items_ingested_total", "source", "alpha"); got != 2*tt.new {
					t.Errorf("items ingested %v, want %v", got, 2*tt.new)
				}
				if got := gatheredValue(t, reg, "tributary_items_updated_total", "source", "alpha"); got != 2*tt.upd {
					t.Errorf("items updated %v, want %v", got, 2*tt.upd)
				}
			} else if n := countSeries(t, reg, "tributary_items_ingested_total"); n != 0 {
				t.Errorf("a %s poll counted items (%d series)", tt.result, n)
			}
			if got := gatheredValue(t, reg, "tributary_stories_merged_total", "", ""); got != 2*tt.merged {
				t.Errorf("stories merged %v, want %v", got, 2*tt.merged)
			}
		})
	}
}

func TestLastSuccessFallsBackToNow(t *testing.T) {
	m, reg := newMetrics(t, metrics.Options{Now: func() time.Time { return t0 }})
	m.ObservePoll(aggregator.PollResult{Source: "beta", NotModified: true})
	if got := gatheredValue(t, reg, "tributary_last_success_timestamp_seconds", "source", "beta"); got != float64(t0.Unix()) {
		t.Errorf("last success %v, want %v", got, float64(t0.Unix()))
	}
}

func TestObservePrune(t *testing.T) {
	m, reg := newMetrics(t, metrics.Options{})
	m.ObservePrune(aggregator.PruneResult{Items: 5, ChangedTopics: []string{"x"}})
	m.ObservePrune(aggregator.PruneResult{})
	m.ObservePrune(aggregator.PruneResult{Items: 2})
	want := `
# HELP tributary_items_pruned_total Items removed by retention.
# TYPE tributary_items_pruned_total counter
tributary_items_pruned_total 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tributary_items_pruned_total"); err != nil {
		t.Error(err)
	}
}

func TestSetSources(t *testing.T) {
	m, reg := newMetrics(t, metrics.Options{})
	m.SetSources([]string{"alpha", "beta"})
	// Six results per source start at zero.
	if n := countSeries(t, reg, "tributary_polls_total"); n != 12 {
		t.Errorf("polls series = %d, want 12", n)
	}
	m.ObservePoll(aggregator.PollResult{Source: "beta", State: aggregator.SourceState{LastPolled: t0}})
	// A reload drops beta: none of its series stay behind.
	m.SetSources([]string{"alpha", "gamma"})
	for _, name := range []string{"tributary_polls_total", "tributary_items_ingested_total", "tributary_items_updated_total", "tributary_last_success_timestamp_seconds"} {
		for _, s := range series(t, reg, name) {
			if s["source"] == "beta" {
				t.Errorf("%s still has a series for beta", name)
			}
		}
	}
	if n := countSeries(t, reg, "tributary_polls_total"); n != 12 {
		t.Errorf("polls series after reload = %d, want 12", n)
	}
	if n := countSeries(t, reg, "tributary_items_ingested_total"); n != 2 {
		t.Errorf("ingested series after reload = %d, want 2", n)
	}
}

func TestNew(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, metrics.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg, metrics.Options{}); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
	if _, err := metrics.New(nil, metrics.Options{}); err == nil {
		t.Error("a nil registry was accepted")
	}
}

func TestStoreSize(t *testing.T) {
	size := 4096.0
	_, reg := newMetrics(t, metrics.Options{StoreSize: func() float64 { return size }})
	if got := gatheredValue(t, reg, "tributary_store_size_bytes", "", ""); got != 4096 {
		t.Errorf("store size %v, want 4096", got)
	}
	size = 8192
	if got := gatheredValue(t, reg, "tributary_store_size_bytes", "", ""); got != 8192 {
		t.Errorf("store size %v after growth, want 8192", got)
	}
	_, reg = newMetrics(t, metrics.Options{})
	if n := countSeries(t, reg, "tributary_store_size_bytes"); n != 0 {
		t.Errorf("store size without StoreSize: %d series", n)
	}
}

func TestInstrumentUnknownRoute(t *testing.T) {
	m, reg := newMetrics(t, metrics.Options{})
	h := m.Instrument("/topics/"+strings.Repeat("x", 40), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got := gatheredValue(t, reg, "tributary_http_requests_total", "route", "other"); got != 1 {
		t.Errorf("requests{route=other} = %v, want 1", got)
	}
}

// handler is a publish.Handler over an empty store, with metrics when m is
// not nil.
func handler(m *metrics.Metrics) *publish.Handler {
	h := publish.NewHandler(emptyStore{}, publish.Config{
		BaseURL: "http://feeds.example",
		Topics:  []aggregator.Topic{{Name: "tech", Title: "Tech", Query: "golang"}},
		Sources: []aggregator.Source{{Name: "alpha", URL: "https://alpha.example/feed.xml"}},
	}, nil)
	h.Now = func() time.Time { return t0 }
	if m != nil {
		h.SetMetrics(m)
	}
	return h
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// serveFast serves one request through h's fasthttp side and returns
// its status.
func serveFast(h *publish.Handler, method, target string) int {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(target)
	req.Header.SetHost("feeds.example")
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 50000}, nil)
	h.ServeFastHTTP(&ctx)
	return ctx.Response.StatusCode()
}

// TestHandlerRoutes counts each request once under its route, served by
// net/http (ServeHTTP) or by fasthttp (ServeFastHTTP: topic feeds on its
// own path, the rest through ServeHTTP).
func TestHandlerRoutes(t *testing.T) {
	tests := []struct {
		method, path string
		route        string
		code         int
	}{
		{"GET", "/", "/", 200},
		{"GET", "/topics/tech.rss", "/topics", 200},
		{"HEAD", "/topics/tech.atom", "/topics", 200},
		{"GET", "/topics/nope.json", "/topics", 404},
		{"GET", "/topics/tech.exe", "/topics", 404},
		{"GET", "/topics.opml", "/topics.opml", 200},
		{"GET", "/sources.json", "/sources.json", 200},
		{"GET", "/stories/abc.json", "/stories", 404},
		{"GET", "/healthz", "/healthz", 200},
		{"GET", "/metrics", "/metrics", 200},
		{"POST", "/healthz", "other", 405},
		{"GET", "/nope", "other", 404},
		{"GET", "/topics//tech.rss", "/topics", 307}, // the mux redirects to the clean path
	}
	transports := []struct {
		name  string
		serve func(h *publish.Handler, method, target string) int
	}{
		{"net/http", func(h *publish.Handler, method, target string) int { return serve(h, method, target).Code }},
		{"fasthttp", serveFast},
	}
	for _, tr := range transports {
		for _, tt := range tests {
			t.Run(tr.name+" "+tt.method+" "+tt.path, func(t *testing.T) {
				m, reg := newMetrics(t, metrics.Options{})
				h := handler(m)
				if code := tr.serve(h, tt.method, tt.path); code != tt.code {
					t.Fatalf("status %d, want %d", code, tt.code)
				}
				want := fmt.Sprintf(`
# HELP tributary_http_requests_total HTTP requests served, by route and status code.
# TYPE tributary_http_requests_total counter
tributary_http_requests_total{code="%d",route=%q} 1
`, tt.code, tt.route)
				if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tributary_http_requests_total"); err != nil {
					t.Error(err)
				}
				if got := histogramCount(t, reg, "tributary_http_request_duration_seconds", "route", tt.route); got != 1 {
					t.Errorf("request duration observations = %d, want 1", got)
				}
			})
		}
	}
}

// TestHandlerBoundedRoutes asks for random URLs: they all land on
// route="other" (or a known route), so the series do not grow.
func TestHandlerBoundedRoutes(t *testing.T) {
	m, reg := newMetrics(t, metrics.Options{})
	h := handler(m)
	serve(h, "GET", "/nope")
	before := countSeries(t, reg, "tributary_http_requests_total") + countSeries(t, reg, "tributary_http_request_duration_seconds")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 100 {
		path := fmt.Sprintf("/%x/%d", rng.Uint64(), i)
		if i%3 == 0 {
			path = fmt.Sprintf("/x%x.json?q=%d", rng.Uint64(), i)
		}
		serve(h, "GET", path)
	}
	after := countSeries(t, reg, "tributary_http_requests_total") + countSeries(t, reg, "tributary_http_request_duration_seconds")
	if after != before {
		t.Errorf("series grew from %d to %d over 100 random paths", before, after)
	}
	if got := gatheredValue(t, reg, "tributary_http_requests_total", "route", "other"); got != 101 {
		t.Errorf("requests{route=other} = %v, want 101", got)
	}
}

func TestHandlerMetricsEndpoint(t *testing.T) {
	m, _ := newMetrics(t, metrics.Options{StoreSize: func() float64 { return 1 << 20 }})
	m.SetSources([]string{"alpha"})
	m.ObservePoll(aggregator.PollResult{Source: "alpha", SaveResult: aggregator.SaveResult{New: 1, Merged: 1}})
	m.ObservePrune(aggregator.PruneResult{Items: 1})
	h := handler(m)
	serve(h, "GET", "/healthz")
	rec := serve(h, "GET", "/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text exposition format", ct)
	}
	body, _ := io.ReadAll(rec.Body)
	for _, name := range []string{
		"tributary_polls_total", "tributary_poll_duration_seconds_bucket", "tributary_items_ingested_total",
		"tributary_items_updated_total", "tributary_stories_merged_total", "tributary_items_pruned_total",
		"tributary_last_success_timestamp_seconds", "tributary_store_size_bytes 1.048576e+06",
		`tributary_http_requests_total{code="200",route="/healthz"} 1`, "tributary_http_request_duration_seconds_bucket",
	} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
}

func TestHandlerWithoutMetrics(t *testing.T) {
	h := handler(nil)
	if rec := serve(h, "GET", "/metrics"); rec.Code != http.StatusNotFound {
		t.Errorf("/metrics without SetMetrics: status %d, want 404", rec.Code)
	}
	if rec := serve(h, "GET", "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("/healthz: status %d", rec.Code)
	}
}

// series returns the label sets of a metric's series.
func series(t *testing.T, g prometheus.Gatherer, name string) []map[string]string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out = append(out, labels)
		}
	}
	return out
}

func countSeries(t *testing.T, g prometheus.Gatherer, name string) int {
	return len(series(t, g, name))
}

// gatheredValue is the value of a counter or gauge series with the label
// (none when label is ""), 0 when there is no such series.
func gatheredValue(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !hasLabel(m.GetLabel(), label, value) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func histogramCount(t *testing.T, g prometheus.Gatherer, name, label, value string) int {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabel(m.GetLabel(), label, value) {
				n += int(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return n
}

func hasLabel(labels []*dto.LabelPair, name, value string) bool {
	for _, l := range labels {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// emptyStore is a publish.Store with nothing stored.
type emptyStore struct{}

func (emptyStore) TopicStories(context.Context, string, int) ([]aggregator.Story, error) {
	return nil, nil
}
func (emptyStore) TopicItemCount(context.Context, string) (int, error) { return 0, nil }
func (emptyStore) Story(context.Context, string) (aggregator.Story, error) {
	return aggregator.Story{}, aggregator.ErrNotFound
}
func (emptyStore) SourceStates(context.Context) ([]aggregator.SourceState, error) {
	return nil, nil
}

// TestRouteRecorder: requests recorded without Instrument land in the same
// series, by route and code — the kept 200 and 304 series and any other
// code — and an unknown route is "other".
func TestRouteRecorder(t *testing.T) {
	m, reg := newMetrics(t, metrics.Options{})
	topics := m.Recorder(metrics.RouteTopics)
	for _, code := range []int{200, 200, 304, 500, 304, 200} {
		topics.Observe(code, time.Millisecond)
	}
	m.Recorder("/made-up").Observe(404, time.Millisecond)
	want := `
# HELP tributary_http_requests_total HTTP requests served, by route and status code.
# TYPE tributary_http_requests_total counter
tributary_http_requests_total{code="200",route="/topics"} 3
tributary_http_requests_total{code="304",route="/topics"} 2
tributary_http_requests_total{code="500",route="/topics"} 1
tributary_http_requests_total{code="404",route="other"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tributary_http_requests_total"); err != nil {
		t.Error(err)
	}
	if got := histogramCount(t, reg, "tributary_http_request_duration_seconds", "route", "/topics"); got != 6 {
		t.Errorf("/topics duration observations = %d, want 6", got)
	}
}
