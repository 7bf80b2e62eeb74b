package publish

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

func TestFeedHeaders(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	for _, f := range formats() {
		t.Run(f.name, func(t *testing.T) {
			rec := get(t, h, http.MethodGet, "/topics/tech."+f.ext, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			hd := rec.Header()
			if got := hd.Get("Content-Type"); got != f.contentType {
				t.Errorf("Content-Type %q, want %q", got, f.contentType)
			}
			etag := hd.Get("ETag")
			if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) != 66 {
				t.Errorf("ETag %q is not a quoted sha256", etag)
			}
			if got, want := hd.Get("Last-Modified"), "Mon, 06 May 2024 07:30:00 GMT"; got != want {
				t.Errorf("Last-Modified %q, want %q", got, want)
			}
			if got := hd.Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("Vary %q", got)
			}
			if got := hd.Get("Cache-Control"); got != "public, max-age=60" {
				t.Errorf("Cache-Control %q", got)
			}
			if got := hd.Get("Content-Encoding"); got != "" {
				t.Errorf("Content-Encoding %q without Accept-Encoding", got)
			}
			if got := hd.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
		})
	}
}

func TestConditionalRequests(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	first := get(t, h, http.MethodGet, "/topics/tech.atom", nil)
	etag, lastMod := first.Header().Get("ETag"), first.Header().Get("Last-Modified")
	firstGz := get(t, h, http.MethodGet, "/topics/tech.atom", http.Header{"Accept-Encoding": {"gzip"}})
	gzETag := firstGz.Header().Get("ETag")
	if gzETag == etag || gzETag == "" {
		t.Fatalf("gzip ETag %q must differ from identity ETag %q", gzETag, etag)
	}
	tests := []struct {
		name   string
		method string
		header http.Header
		want   int
	}{
		{"if-none-match", "GET", http.Header{"If-None-Match": {etag}}, http.StatusNotModified},
		{"if-none-match weak", "GET", http.Header{"If-None-Match": {"W/" + etag}}, http.StatusNotModified},
		{"if-none-match list", "GET", http.Header{"If-None-Match": {`"other", ` + etag}}, http.StatusNotModified},
		{"if-none-match other", "GET", http.Header{"If-None-Match": {`"other"`}}, http.StatusOK},
		{"if-none-match gzip variant", "GET", http.Header{"If-None-Match": {gzETag}, "Accept-Encoding": {"gzip"}}, http.StatusNotModified},
		{"if-none-match identity tag for gzip", "GET", http.Header{"If-None-Match": {etag}, "Accept-Encoding": {"gzip"}}, http.StatusOK},
		{"if-modified-since same", "GET", http.Header{"If-Modified-Since": {lastMod}}, http.StatusNotModified},
		{"if-modified-since later", "GET", http.Header{"If-Modified-Since": {"Tue, 07 May 2024 00:00:00 GMT"}}, http.StatusNotModified},
		{"if-modified-since earlier", "GET", http.Header{"If-Modified-Since": {"Sun, 05 May 2024 00:00:00 GMT"}}, http.StatusOK},
		{"head if-none-match", "HEAD", http.Header{"If-None-Match": {etag}}, http.StatusNotModified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, tt.method, "/topics/tech.atom", tt.header)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
			if rec.Code == http.StatusNotModified {
				if rec.Body.Len() != 0 {
					t.Errorf("304 with a body of %d bytes", rec.Body.Len())
				}
				if rec.Header().Get("ETag") == "" {
					t.Errorf("304 without ETag")
				}
			}
		})
	}
}

func TestHead(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	for _, path := range []string{"/topics/tech.rss", "/topics.opml", "/sources.json", "/", "/healthz"} {
		t.Run(path, func(t *testing.T) {
			getRec := get(t, h, http.MethodGet, path, nil)
			rec := get(t, h, http.MethodHead, path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			if rec.Body.Len() != 0 {
				t.Errorf("HEAD has a body of %d bytes", rec.Body.Len())
			}
			if got, want := rec.Header().Get("Content-Type"), getRec.Header().Get("Content-Type"); got != want {
				t.Errorf("Content-Type %q, GET has %q", got, want)
			}
		})
	}
}

func TestGzip(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	plain := get(t, h, http.MethodGet, "/topics/tech.json", nil).Body.Bytes()
	tests := []struct {
		acceptEncoding string
		wantGzip       bool
	}{
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"x-gzip", true},
		{"*", true},
		{"gzip;q=0", false},
		{"gzip;q=0.000", false},
		{"gzip; q=0, *", false},
		{"*;q=0", false},
		{"*, gzip;q=0", false},
		{"deflate, br", false},
		{"identity", false},
		{"gzip;q=abc", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.acceptEncoding, func(t *testing.T) {
			var hdr http.Header
			if tt.acceptEncoding != "" {
				hdr = http.Header{"Accept-Encoding": {tt.acceptEncoding}}
			}
			rec := get(t, h, http.MethodGet, "/topics/tech.json", hdr)
			if rec.Header().Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary %q", rec.Header().Get("Vary"))
			}
			gotGzip := rec.Header().Get("Content-Encoding") == "gzip"
			if gotGzip != tt.wantGzip {
				t.Fatalf("Content-Encoding %q, want gzip=%v", rec.Header().Get("Content-Encoding"), tt.wantGzip)
			}
			body := rec.Body.Bytes()
			if gotGzip {
				if !strings.HasSuffix(rec.Header().Get("ETag"), `-gz"`) {
					t.Errorf("gzip ETag %q has no -gz suffix", rec.Header().Get("ETag"))
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, plain) {
				t.Errorf("body differs from the identity body")
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 200},
		{"GET", "/healthz", 200},
		{"GET", "/topics.opml", 200},
		{"GET", "/sources.json", 200},
		{"GET", "/topics/tech.rss", 200},
		{"GET", "/topics/empty.json", 200},
		{"GET", "/topics/nope.rss", 404},
		{"GET", "/topics/tech.xml", 404},
		{"GET", "/topics/tech", 404},
		{"GET", "/topics/.rss", 404},
		{"GET", "/topics/tech.rss.rss", 404},
		{"GET", "/nope", 404},
		{"GET", "/index.html", 404},
		{"POST", "/topics/tech.rss", 405},
		{"PUT", "/", 405},
		{"DELETE", "/sources.json", 405},
		{"POST", "/healthz", 405},
		{"OPTIONS", "/topics.opml", 405},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := get(t, h, tt.method, tt.path, nil)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
			if tt.want == 405 && !strings.Contains(rec.Header().Get("Allow"), "GET") {
				t.Errorf("405 with Allow %q", rec.Header().Get("Allow"))
			}
		})
	}
	if body := get(t, h, "GET", "/healthz", nil).Body.String(); body != "ok" {
		t.Errorf("/healthz body %q", body)
	}
}

func TestRenderOnceUntilInvalidate(t *testing.T) {
	store := fixtureStore()
	h := newTestHandler(t, store, testConfig(testBaseURL))
	for range 20 {
		for _, f := range formats() {
			for _, ae := range []string{"", "gzip"} {
				rec := get(t, h, "GET", "/topics/tech."+f.ext, http.Header{"Accept-Encoding": {ae}})
				if rec.Code != 200 {
					t.Fatalf("status %d", rec.Code)
				}
			}
		}
	}
	if got := store.itemCalls("tech"); got != 3 {
		t.Fatalf("%d renders for 120 requests in 3 formats, want 3", got)
	}

	h.Invalidate() // a poll that changed no topic: no effect
	get(t, h, "GET", "/topics/tech.rss", nil)
	if got := store.itemCalls("tech"); got != 3 {
		t.Fatalf("Invalidate() with no topics re-rendered tech: %d renders", got)
	}
	h.Invalidate("everything") // another topic: no effect on tech
	get(t, h, "GET", "/topics/tech.rss", nil)
	if got := store.itemCalls("tech"); got != 3 {
		t.Fatalf("invalidating another topic re-rendered tech: %d renders", got)
	}
	h.Invalidate("tech")
	for range 5 {
		get(t, h, "GET", "/topics/tech.rss", nil)
	}
	if got := store.itemCalls("tech"); got != 4 {
		t.Fatalf("%d renders after Invalidate(tech), want 4", got)
	}
	h.InvalidateAll()
	get(t, h, "GET", "/topics/tech.rss", nil)
	if got := store.itemCalls("tech"); got != 5 {
		t.Fatalf("%d renders after InvalidateAll(), want 5", got)
	}
	h.SetConfig(testConfig(testBaseURL))
	get(t, h, "GET", "/topics/tech.rss", nil)
	if got := store.itemCalls("tech"); got != 6 {
		t.Fatalf("%d renders after SetConfig, want 6", got)
	}
}

func TestInvalidateChangesETag(t *testing.T) {
	store := fixtureStore()
	h := newTestHandler(t, store, testConfig(testBaseURL))
	for _, f := range formats() {
		t.Run(f.name, func(t *testing.T) {
			store.setItems("tech", fixtureItems())
			h.Invalidate("tech")
			path := "/topics/tech." + f.ext
			before := get(t, h, "GET", path, nil).Header().Get("ETag")

			h.Invalidate("tech") // unchanged items: the same bytes, the same ETag
			if again := get(t, h, "GET", path, nil).Header().Get("ETag"); again != before {
				t.Fatalf("ETag changed without a change: %s -> %s", before, again)
			}

			items := fixtureItems()
			items[1].Title = "A corrected title"
			changed := fixedNow.Add(time.Hour) // later than every other item
			items[1].Updated = changed
			store.setItems("tech", items)
			if cached := get(t, h, "GET", path, nil).Header().Get("ETag"); cached != before {
				t.Fatalf("ETag changed before Invalidate")
			}
			h.Invalidate("tech")
			rec := get(t, h, "GET", path, http.Header{"If-None-Match": {before}})
			if rec.Code != http.StatusOK {
				t.Fatalf("conditional request after a change: status %d, want 200", rec.Code)
			}
			if after := rec.Header().Get("ETag"); after == before {
				t.Fatalf("ETag %s unchanged after the items changed", after)
			}
			if !strings.Contains(rec.Body.String(), "A corrected title") {
				t.Errorf("new title missing from the feed")
			}
			if got, want := rec.Header().Get("Last-Modified"), changed.Format(http.TimeFormat); got != want {
				t.Errorf("Last-Modified %q, want %q", got, want)
			}
		})
	}
}

// TestConcurrentRequestsRenderOnce holds the first render at a gate while
// many requests arrive: they must all wait for that one render.
func TestConcurrentRequestsRenderOnce(t *testing.T) {
	store := fixtureStore()
	store.gate = make(chan struct{})
	store.called = make(chan struct{}, 100)
	h := newTestHandler(t, store, testConfig(testBaseURL))

	const n = 50
	var wg sync.WaitGroup
	bodies := make([][]byte, n)
	for i := range n {
		wg.Go(func() {
			rec := get(t, h, "GET", "/topics/tech.atom", nil)
			if rec.Code != 200 {
				t.Errorf("status %d", rec.Code)
			}
			bodies[i] = rec.Body.Bytes()
		})
	}
	<-store.called // the one render started; the others queue behind it
	time.Sleep(20 * time.Millisecond)
	close(store.gate)
	wg.Wait()
	if got := store.itemCalls("tech"); got != 1 {
		t.Fatalf("%d renders for %d concurrent requests, want 1", got, n)
	}
	for i := range bodies {
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("response %d differs", i)
		}
	}
}

// TestConcurrentInvalidate runs requests, invalidations and config swaps
// together (for -race), then checks the handler still serves fresh data.
func TestConcurrentInvalidate(t *testing.T) {
	store := fixtureStore()
	h := newTestHandler(t, store, testConfig(testBaseURL))
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			paths := []string{"/topics/tech.rss", "/topics/tech.atom", "/topics/everything.json", "/topics/empty.rss", "/sources.json", "/", "/topics.opml"}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", srv.URL+paths[(i+w)%len(paths)], nil)
				if i%2 == 0 {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("%s: status %d", req.URL.Path, resp.StatusCode)
					return
				}
			}
		})
	}
	for i := range 200 {
		switch i % 4 {
		case 0:
			h.Invalidate("tech")
		case 1:
			items := fixtureItems()
			items[0].Title = strings.Repeat("x", i)
			store.setItems("tech", items)
			h.Invalidate("tech", "everything")
		case 2:
			h.InvalidateAll()
		case 3:
			h.SetConfig(testConfig(testBaseURL))
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()

	items := fixtureItems()
	items[0].Title = "final title"
	store.setItems("tech", items)
	h.Invalidate("tech")
	if body := get(t, h, "GET", "/topics/tech.rss", nil).Body.String(); !strings.Contains(body, "final title") {
		t.Errorf("stale feed after the last Invalidate")
	}
}

// TestIdentityFromGzip: a render keeps a feed's gzip'd bytes; the first
// request without gzip inflates them, and the bytes are kept for the
// next. Until then the cache holds no identity bytes, and a 304 needs
// none. Cached bytes that do not inflate answer 500, without the feed's
// validators, over both servers.
func TestIdentityFromGzip(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	gz := get(t, h, "GET", "/topics/tech.atom", http.Header{"Accept-Encoding": {"gzip"}})
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	cached := func() *renderedFeed {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.cache[cacheKey{topic: "tech", format: "atom"}].feed
	}
	if rf := cached(); rf.identity.body != nil || rf.inflated.body != nil {
		t.Fatalf("after a gzip'd request the cache holds identity bytes")
	}
	plain := get(t, h, "GET", "/topics/tech.atom", nil)
	if !bytes.Equal(plain.Body.Bytes(), want) || plain.Header().Get("Content-Length") != strconv.Itoa(len(want)) {
		t.Fatalf("identity body of %d bytes (Content-Length %s), want the %d inflated bytes",
			plain.Body.Len(), plain.Header().Get("Content-Length"), len(want))
	}
	if rf := cached(); !bytes.Equal(rf.inflated.body, want) {
		t.Errorf("the inflated bytes are not kept")
	}
	etag := plain.Header().Get("ETag")

	// A fresh render, whose gzip'd bytes are then corrupted.
	h.Invalidate("tech")
	get(t, h, "GET", "/topics/tech.atom", http.Header{"Accept-Encoding": {"gzip"}})
	rf := cached()
	rf.gzip.body = rf.gzip.body[:len(rf.gzip.body)/2]
	if rec := get(t, h, "GET", "/topics/tech.atom", http.Header{"If-None-Match": {etag}}); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match of the identity ETag: status %d, want 304", rec.Code)
	}
	for _, header := range []http.Header{nil, {"Range": {"bytes=0-9"}}} {
		rec := get(t, h, "GET", "/topics/tech.atom", header)
		if rec.Code != http.StatusInternalServerError || rec.Header().Get("ETag") != "" || rec.Header().Get("Cache-Control") != "" {
			t.Errorf("%v from corrupt cached bytes: status %d, ETag %q, Cache-Control %q; want 500 and neither",
				header, rec.Code, rec.Header().Get("ETag"), rec.Header().Get("Cache-Control"))
		}
	}
	ctx := newFastRequest("GET", "/topics/tech.atom", nil)
	h.ServeFastHTTP(ctx)
	if code, tag := ctx.Response.StatusCode(), ctx.Response.Header.Peek("ETag"); code != http.StatusInternalServerError || tag != nil {
		t.Errorf("fast path, from corrupt cached bytes: status %d, ETag %q; want 500 and none", code, tag)
	}
}

// TestInflate: inflate returns the bytes gzip'd, and an error for bytes
// that are not gzip or end early.
func TestInflate(t *testing.T) {
	want := []byte(strings.Repeat("<item>news</item>", 100))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(want)
	zw.Close()
	if got, err := inflate(gz.Bytes(), len(want)); err != nil || !bytes.Equal(got, want) {
		t.Errorf("inflate: %d bytes, %v; want the %d gzip'd", len(got), err, len(want))
	}
	for name, bad := range map[string][]byte{"not gzip": want, "cut short": gz.Bytes()[:gz.Len()/2]} {
		if _, err := inflate(bad, len(want)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestRenderedHook: Rendered is called once for each render, failed
// ones included, and not for a feed served from the cache.
func TestRenderedHook(t *testing.T) {
	store := fixtureStore()
	h := newTestHandler(t, store, testConfig(testBaseURL))
	var rendered atomic.Int32
	h.Rendered = func() { rendered.Add(1) }
	for range 3 {
		for _, f := range formats() {
			get(t, h, "GET", "/topics/tech."+f.ext, http.Header{"Accept-Encoding": {"gzip"}})
		}
	}
	if got := rendered.Load(); got != 3 {
		t.Errorf("Rendered called %d times for 9 requests of 3 formats, want 3", got)
	}
	h.Invalidate("tech")
	store.mu.Lock()
	store.err = errors.New("disk on fire")
	store.mu.Unlock()
	if rec := get(t, h, "GET", "/topics/tech.rss", nil); rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	if got := rendered.Load(); got != 4 {
		t.Errorf("Rendered called %d times after a failed render, want 4", got)
	}
}

func TestStoreError(t *testing.T) {
	store := fixtureStore()
	store.err = errors.New("disk on fire")
	h := newTestHandler(t, store, testConfig(testBaseURL))
	for _, path := range []string{"/topics/tech.rss", "/sources.json", "/"} {
		if rec := get(t, h, "GET", path, nil); rec.Code != http.StatusInternalServerError {
			t.Errorf("%s: status %d, want 500", path, rec.Code)
		}
	}
	// A failed render is not cached.
	store.mu.Lock()
	store.err = nil
	store.mu.Unlock()
	if rec := get(t, h, "GET", "/topics/tech.rss", nil); rec.Code != 200 {
		t.Errorf("after recovery: status %d, want 200", rec.Code)
	}
}

func TestSetConfig(t *testing.T) {
	store := fixtureStore()
	h := newTestHandler(t, store, testConfig(testBaseURL))
	if rec := get(t, h, "GET", "/topics/tech.rss", nil); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	cfg := testConfig("https://other.example/feeds/")
	cfg.Topics = cfg.Topics[1:] // drop tech
	h.SetConfig(cfg)
	if rec := get(t, h, "GET", "/topics/tech.rss", nil); rec.Code != 404 {
		t.Errorf("dropped topic: status %d, want 404", rec.Code)
	}
	rec := get(t, h, "GET", "/topics/everything.rss", nil)
	if want := `<atom:link href="https://other.example/feeds/topics/everything.rss"`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("new BaseURL not used: want %s in\n%s", want, rec.Body)
	}
}

func TestEmptyFeedIsStable(t *testing.T) {
	store := fixtureStore()
	h := newTestHandler(t, store, testConfig(testBaseURL))
	for _, f := range formats() {
		first := get(t, h, "GET", "/topics/empty."+f.ext, nil)
		h.InvalidateAll()
		second := get(t, h, "GET", "/topics/empty."+f.ext, nil)
		if first.Header().Get("ETag") != second.Header().Get("ETag") {
			t.Errorf("%s: empty feed ETag changed between renders", f.name)
		}
		if lm := first.Header().Get("Last-Modified"); lm != "" {
			t.Errorf("%s: empty feed has Last-Modified %q", f.name, lm)
		}
	}
}

func TestIndexPage(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	rec := get(t, h, "GET", "/", nil)
	body := rec.Body.String()
	for _, want := range []string{
		`<meta name="viewport"`,
		`<link rel="alternate" type="application/rss+xml" title="Tech &amp; Science (RSS)" href="https://news.example.org/topics/tech.rss">`,
		`<link rel="alternate" type="application/atom+xml"`,
		`<link rel="alternate" type="application/feed+json"`,
		`Nothing &lt;yet&gt;`,     // escaped
		`503 Service Unavailable`, // status in words
		`failing (3 in a row)`,
		`not polled yet`,
		`moved permanently to`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("index page lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Errorf("index page has a script")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

// TestFileSourceNotPublished: a file: source's path on this machine never
// reaches subscribers.
func TestFileSourceNotPublished(t *testing.T) {
	store := newFakeStore()
	store.setItems("tech", []aggregator.Item{{
		ID: "urn:uuid:6a0f7f5e-7d2b-5c55-9a45-0f6f8f1b2c3d", Source: "gamma", Title: "Local story",
		Link: "https://gamma.example/story", Summary: "<p>text</p>",
		Published: at("2024-05-01T10:00:00Z"), Updated: at("2024-05-01T10:00:00Z"),
	}})
	h := newTestHandler(t, store, testConfig("http://feeds.example"))
	for _, ext := range []string{"rss", "atom", "json"} {
		body := get(t, h, http.MethodGet, "/topics/tech."+ext, nil).Body.String()
		if strings.Contains(body, "/srv/feeds") || strings.Contains(body, "file:") {
			t.Errorf("%s feed publishes the file source's path:\n%s", ext, body)
		}
		// RSS's <source> needs a url, so there the source goes unnamed.
		if ext != "rss" && !strings.Contains(body, "Gamma (local file)") {
			t.Errorf("%s feed does not name the source", ext)
		}
	}
}
