package publish

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/publish/metrics"
)

// benchItems makes n items of a typical size: a few paragraphs of HTML with
// relative links, an image and some markup to strip.
func benchItems(n int) []aggregator.Item {
	para := `<p>Lorem ipsum dolor sit amet, <a href="/wiki/Consectetur">consectetur</a> adipiscing elit, ` +
		`sed do <em>eiusmod</em> tempor incididunt ut labore et dolore magna aliqua &amp; more.</p>`
	content := strings.Repeat(para, 6) +
		`<p><img src="images/photo.jpg" alt="photo" width="640" onerror="x()"></p><script>track()</script>` +
		`<blockquote cite="https://example.org/q">Quote</blockquote><ul><li>one</li><li>two</li></ul>`
	items := make([]aggregator.Item, n)
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range items {
		t := start.Add(-time.Duration(i) * time.Hour)
		items[i] = aggregator.Item{
			ID:         fmt.Sprintf("urn:uuid:00000000-0000-5000-8000-%012d", i),
			Source:     "alpha",
			Link:       fmt.Sprintf("https://alpha.example/posts/%d.html", i),
			Title:      fmt.Sprintf("Item number %d: a headline of ordinary length", i),
			Summary:    `<p>A summary of the item, with <b>bold</b> text.</p>`,
			Content:    content,
			Authors:    []string{"Jane Doe"},
			Categories: []string{"news", "tech"},
			Published:  t,
			Updated:    t,
		}
	}
	return items
}

// BenchmarkRender measures one cache miss: reading 50 items, sanitising
// them and writing the feed (without compression).
func BenchmarkRender(b *testing.B) {
	store := newFakeStore()
	store.setItems("tech", benchItems(50))
	cfg := testConfig(testBaseURL)
	cfg.MaxItems = 50
	s := newSite(cfg)
	z := newSanitizer()
	ctx := context.Background()
	for _, f := range formats() {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				v, err := buildView(ctx, store, s, z, s.topics["tech"])
				if err != nil {
					b.Fatal(err)
				}
				body, err := render(v, s, f)
				if err != nil {
					b.Fatal(err)
				}
				size = len(body)
			}
			b.ReportMetric(float64(size), "bytes/feed")
		})
	}
}

// servingCase is one request of the serving benchmarks.
type servingCase struct {
	name   string
	header http.Header
	want   int
}

// servedFeed is the serving benchmarks' set-up: a handler with metrics,
// holding a 50-item feed at target, rendered, and the requests to time.
func servedFeed(b *testing.B) (h *Handler, store *fakeStore, cfg Config, target string, tests []servingCase) {
	store = newFakeStore()
	store.setItems("tech", benchItems(50))
	cfg = testConfig(testBaseURL)
	cfg.MaxItems = 50
	h = newTestHandler(b, store, cfg)
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	h.SetMetrics(m)
	target = "/topics/tech.rss"
	gzETag := get(b, h, http.MethodGet, target, http.Header{"Accept-Encoding": {"gzip"}}).Header().Get("ETag")
	return h, store, cfg, target, []servingCase{
		{"identity", http.Header{"Accept-Encoding": {"identity"}}, http.StatusOK},
		{"gzip", http.Header{"Accept-Encoding": {"gzip"}}, http.StatusOK},
		{"304", http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {gzETag}}, http.StatusNotModified},
	}
}

// BenchmarkServeCached measures serving a cached 50-item feed as the
// daemon does (with metrics), without the cost of a recorder: gzip'd and
// identity 200s, a 304 to If-None-Match, gzip'd 200s without the metrics
// (the handler's own share) and from parallel goroutines (the cache lock
// under contention).
func BenchmarkServeCached(b *testing.B) {
	h, store, cfg, target, tests := servedFeed(b)
	newRequest := func(header http.Header) *http.Request {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for k, vs := range header {
			req.Header[k] = vs
		}
		return req
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			req := newRequest(tt.header)
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				h.ServeHTTP(w, req)
				if w.code != tt.want {
					b.Fatalf("status %d, want %d", w.code, tt.want)
				}
			}
			b.ReportMetric(float64(w.n), "bytes/response")
		})
	}
	b.Run("gzip-uninstrumented", func(b *testing.B) {
		plain := newTestHandler(b, store, cfg)
		req := newRequest(tests[1].header)
		w := &discardWriter{header: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			plain.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		}
	})
	b.Run("gzip-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req := newRequest(tests[1].header)
			w := &discardWriter{header: http.Header{}}
			for pb.Next() {
				w.reset()
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Errorf("status %d", w.code)
					return
				}
			}
		})
	})
}

// discardWriter is a reusable http.ResponseWriter that keeps the status
// and counts the body, so a benchmark measures the handler alone.
type discardWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

func (w *discardWriter) reset() {
	clear(w.header)
	w.code, w.n = 0, 0
}

// TestServeFeedLikeServeContent checks the cached-feed fast path against
// http.ServeContent serving the same bytes with the same headers (as
// serveFeed did before it had a fast path): same status, body and headers
// for unconditional, conditional, HEAD and range requests, on a feed with
// a Last-Modified and on an empty one (the epoch: none).
func TestServeFeedLikeServeContent(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	feeds := []struct {
		topic string
		f     format
	}{{"tech", formatAtom}, {"empty", formatJSON}}
	for _, fd := range feeds {
		rf, err := h.feed(context.Background(), fd.topic, fd.f)
		if err != nil {
			t.Fatal(err)
		}
		etag, gzETag := rf.identity.etag, rf.gzip.etag
		lastMod := rf.modTime.UTC().Format(http.TimeFormat)
		later := rf.modTime.Add(time.Hour).UTC().Format(http.TimeFormat)
		earlier := rf.modTime.Add(-time.Hour).UTC().Format(http.TimeFormat)
		gz := func(hd http.Header) http.Header {
			if hd = hd.Clone(); hd == nil {
				hd = http.Header{}
			}
			hd.Set("Accept-Encoding", "gzip")
			return hd
		}
		tests := []struct {
			name   string
			header http.Header
		}{
			{"plain", nil},
			{"inm exact", http.Header{"If-None-Match": {etag}}},
			{"inm weak", http.Header{"If-None-Match": {"W/" + etag}}},
			{"inm list", http.Header{"If-None-Match": {`"a", W/"b",` + etag}}},
			{"inm list tabs", http.Header{"If-None-Match": {"\t\"a\" ,\t" + etag + " "}}},
			{"inm star", http.Header{"If-None-Match": {"*"}}},
			{"inm other", http.Header{"If-None-Match": {`"other"`}}},
			{"inm gzip tag for identity", http.Header{"If-None-Match": {gzETag}}},
			{"inm malformed", http.Header{"If-None-Match": {`abc, ` + etag}}},
			{"inm unterminated", http.Header{"If-None-Match": {`"abc`}}},
			{"inm bad char", http.Header{"If-None-Match": {"\"a b\", " + etag}}},
			{"inm empty", http.Header{"If-None-Match": {""}}},
			{"inm empty ims same", http.Header{"If-None-Match": {""}, "If-Modified-Since": {lastMod}}},
			{"inm other ims same", http.Header{"If-None-Match": {`"other"`}, "If-Modified-Since": {lastMod}}},
			{"ims same", http.Header{"If-Modified-Since": {lastMod}}},
			{"ims later", http.Header{"If-Modified-Since": {later}}},
			{"ims earlier", http.Header{"If-Modified-Since": {earlier}}},
			{"ims malformed", http.Header{"If-Modified-Since": {"yesterday"}}},
			{"ims rfc850", http.Header{"If-Modified-Since": {rf.modTime.UTC().Format(time.RFC850)}}},
			{"if-match", http.Header{"If-Match": {etag}}},
			{"if-match other", http.Header{"If-Match": {`"other"`}}},
			{"ius earlier", http.Header{"If-Unmodified-Since": {earlier}}},
			{"range", http.Header{"Range": {"bytes=0-9"}}},
			{"if-range other", http.Header{"Range": {"bytes=0-9"}, "If-Range": {`"other"`}}},
		}
		for _, tt := range tests {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				for _, header := range []http.Header{tt.header, gz(tt.header)} {
					name := fmt.Sprintf("%s/%s/%s/ae=%s", fd.topic, tt.name, method, header.Get("Accept-Encoding"))
					t.Run(name, func(t *testing.T) {
						path := "/topics/" + fd.topic + "." + fd.f.ext
						got := get(t, h, method, path, header)
						want := serveContentReference(rf, method, header)
						compareResponses(t, got, want, !needsServeContent(header))
					})
				}
			}
		}
	}
}

// serveContentReference serves rf as serveFeed did before its fast path.
func serveContentReference(rf *renderedFeed, method string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	hd := rec.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Type", rf.contentType[0])
	hd.Set("Cache-Control", feedCacheControl)
	hd.Add("Vary", "Accept-Encoding")
	rep := &rf.identity
	if acceptsGzip(req.Header.Values("Accept-Encoding")) {
		rep = &rf.gzip
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", rep.etag)
	body, err := rf.body(rep)
	if err != nil {
		panic(err)
	}
	http.ServeContent(rec, req, "", rf.modTime, bytes.NewReader(body))
	return rec
}

// compareResponses compares a response to http.ServeContent's; fast says
// it came from the fast path, which also sends Content-Length with gzip.
func compareResponses(t *testing.T, got, want *httptest.ResponseRecorder, fast bool) {
	t.Helper()
	if got.Code != want.Code {
		t.Fatalf("status %d, http.ServeContent %d", got.Code, want.Code)
	}
	if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Errorf("body of %d bytes, http.ServeContent %d", got.Body.Len(), want.Body.Len())
	}
	for _, k := range []string{"Content-Type", "Content-Encoding", "Etag", "Last-Modified", "Vary",
		"Cache-Control", "Accept-Ranges", "Content-Range", "X-Content-Type-Options"} {
		if g, w := got.Header()[k], want.Header()[k]; !slices.Equal(g, w) {
			t.Errorf("%s %q, http.ServeContent %q", k, g, w)
		}
	}
	// http.ServeContent leaves Content-Length out beside a
	// Content-Encoding; the fast path sends it, and it must be right.
	// (ServeContent itself still serves ranges and If-Match & co.)
	gotLen, wantLen := got.Header().Get("Content-Length"), want.Header().Get("Content-Length")
	switch {
	case wantLen != "" && gotLen != wantLen:
		t.Errorf("Content-Length %q, http.ServeContent %q", gotLen, wantLen)
	case fast && got.Code == http.StatusOK && gotLen != strconv.Itoa(len(want.Body.Bytes())) && got.Body.Len() > 0:
		t.Errorf("Content-Length %q for a body of %d bytes", gotLen, want.Body.Len())
	case fast && got.Code == http.StatusOK && gotLen == "":
		t.Errorf("gzip'd 200 without Content-Length")
	case got.Code == http.StatusNotModified && gotLen != "":
		t.Errorf("304 with Content-Length %q", gotLen)
	}
}

// TestIfNoneMatchLines: a list split over several header lines (RFC 9110
// 5.3) matches on any line; http.ServeContent reads only the first.
func TestIfNoneMatchLines(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	etag := get(t, h, http.MethodGet, "/topics/tech.rss", nil).Header().Get("ETag")
	tests := []struct {
		name  string
		lines []string
		want  int
	}{
		{"second line", []string{`"a"`, etag}, http.StatusNotModified},
		{"second line weak in list", []string{`"a", "b"`, `"c", W/` + etag}, http.StatusNotModified},
		{"malformed first line", []string{`abc`, etag}, http.StatusNotModified},
		{"none", []string{`"a"`, `"b"`}, http.StatusOK},
		{"blank lines", []string{"", " "}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, http.MethodGet, "/topics/tech.rss", http.Header{"If-None-Match": tt.lines})
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
		})
	}
}

func TestEtagListMatches(t *testing.T) {
	const etag = `"abc"`
	tests := []struct {
		list string
		want bool
	}{
		{`"abc"`, true},
		{`W/"abc"`, true},
		{` "x" , "abc" `, true},
		{`,,"abc"`, true},
		{`*`, true},
		{`"x", *`, true},
		{`"abcd"`, false},
		{`"ab"`, false},
		{`abc`, false},
		{`"x" "abc"`, true}, // like net/http: elements need no comma
		{`"x`, false},
		{`W/abc`, false},
		{`"a\"bc"`, false},
		{`"x", garbage, "abc"`, false}, // stops at the first malformed element, as net/http
		{``, false},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			if got := etagListMatches(tt.list, etag); got != tt.want {
				t.Errorf("etagListMatches(%q) = %v, want %v", tt.list, got, tt.want)
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   bool
	}{
		{"gzip", []string{"gzip"}, true},
		{"upper case", []string{"GZIP"}, true},
		{"spaces", []string{" deflate ,  gzip "}, true},
		{"x-gzip", []string{"br, x-gzip"}, true},
		{"star", []string{"br, *"}, true},
		{"gzip-ish", []string{"gzipped, xgzip"}, false},
		{"none", []string{"br, deflate"}, false},
		{"empty", []string{""}, false},
		{"absent", nil, false},
		{"second line", []string{"br", "gzip"}, true},
		{"refused on second line", []string{"identity", "gzip;q=0"}, false},
		{"named twice: the higher q", []string{"gzip", "gzip;q=0"}, true},
		{"q zero", []string{"gzip;q=0"}, false},
		{"q", []string{"gzip;q=0.5"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := acceptsGzip(tt.values); got != tt.want {
				t.Errorf("acceptsGzip(%q) = %v, want %v", tt.values, got, tt.want)
			}
		})
	}
}

// TestTopicFile checks which requests take the direct route to the feeds
// and that every other one is left to the mux.
func TestTopicFile(t *testing.T) {
	tests := []struct {
		method, target string
		want           string
		ok             bool
	}{
		{"GET", "/topics/tech.rss", "tech.rss", true},
		{"HEAD", "/topics/tech.atom?x=1", "tech.atom", true},
		{"GET", "/topics/t%C3%A9ch.rss", "téch.rss", true},
		{"POST", "/topics/tech.rss", "", false},
		{"GET", "/topics/", "", false},
		{"GET", "/topics/.", "", false},
		{"GET", "/topics/..", "", false},
		{"GET", "/topics//tech.rss", "", false},
		{"GET", "/topics/a/b.rss", "", false},
		{"GET", "/topics/a%2Fb.rss", "", false},
		{"GET", "/topics.opml", "", false},
		{"GET", "/topicsx/tech.rss", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			got, ok := topicFile(httptest.NewRequest(tt.method, tt.target, nil))
			if got != tt.want || ok != tt.ok {
				t.Errorf("topicFile = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestDirectRouteLikeMux serves topic paths through the handler and
// through its mux alone: the direct route must answer the same.
func TestDirectRouteLikeMux(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	for _, target := range []string{
		"/topics/tech.rss", "/topics/tech.json", "/topics/nope.rss", "/topics/tech.exe", "/topics/.rss",
		"/topics/tech", "/topics/te%63h.rss", "/topics/tech.rss?q=1", "/topics/t%C3%A9ch.rss",
	} {
		t.Run(target, func(t *testing.T) {
			got := get(t, h, http.MethodGet, target, http.Header{"Accept-Encoding": {"gzip"}})
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			want := httptest.NewRecorder()
			want.Header().Set("X-Content-Type-Options", "nosniff")
			h.mux.ServeHTTP(want, req)
			if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Errorf("status %d (%d bytes), mux %d (%d bytes)", got.Code, got.Body.Len(), want.Code, want.Body.Len())
			}
			for _, k := range []string{"Content-Type", "Content-Encoding", "Etag", "Content-Length"} {
				if g, w := got.Header().Get(k), want.Header().Get(k); g != w {
					t.Errorf("%s %q, mux %q", k, g, w)
				}
			}
		})
	}
}

// BenchmarkServeFastHTTP is BenchmarkServeCached for ServeFastHTTP, the
// daemon's own server: the same requests, answered into a RequestCtx
// (fasthttp writes the response to the connection afterwards).
func BenchmarkServeFastHTTP(b *testing.B) {
	h, _, _, target, tests := servedFeed(b)
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			ctx := newFastRequest(http.MethodGet, target, tt.header)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				h.ServeFastHTTP(ctx)
				if ctx.Response.StatusCode() != tt.want {
					b.Fatalf("status %d, want %d", ctx.Response.StatusCode(), tt.want)
				}
			}
			b.ReportMetric(float64(len(ctx.Response.Body())), "bytes/response")
		})
	}
}
