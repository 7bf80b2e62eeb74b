package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tributary-news/tributary/aggregator"
)

// newFastRequest is a request as fasthttp's server hands it to a handler.
func newFastRequest(method, target string, header http.Header) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(target)
	req.Header.SetHost("example.org")
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 50000}, nil)
	return ctx
}

// startServer serves h with a Server logging to logger (nil discards) on
// a loopback port until the test ends, and returns its base URL.
func startServer(t *testing.T, h *Handler, opts ServerOptions, logger *slog.Logger) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, opts, logger)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// rawClient sends requests as given: no compression of its own, no
// redirects followed.
var rawClient = &http.Client{
	Transport:     &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

type wireResponse struct {
	status  int
	header  http.Header
	body    []byte
	chunked bool
}

func send(t *testing.T, method, url string, header http.Header) wireResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return wireResponse{status: resp.StatusCode, header: resp.Header, body: body, chunked: slices.Contains(resp.TransferEncoding, "chunked")}
}

// TestServerMatchesNetHTTP sends the same requests to the Handler served
// by net/http and by Server — topic feeds through ServeFastHTTP's own
// path, everything else through the adaptor — and wants the same status,
// headers (but Date) and bytes from both.
func TestServerMatchesNetHTTP(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	std := httptest.NewServer(h)
	defer std.Close()
	fast := startServer(t, h, ServerOptions{ReadTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10}, nil)

	etag := send(t, "GET", std.URL+"/topics/tech.atom", nil).header.Get("ETag")
	gzETag := send(t, "GET", std.URL+"/topics/tech.atom", http.Header{"Accept-Encoding": {"gzip"}}).header.Get("ETag")
	lastMod := send(t, "GET", std.URL+"/topics/tech.atom", nil).header.Get("Last-Modified")
	if etag == "" || gzETag == "" || lastMod == "" {
		t.Fatalf("no validators: ETag %q, gzip ETag %q, Last-Modified %q", etag, gzETag, lastMod)
	}
	gz := http.Header{"Accept-Encoding": {"gzip, deflate, br"}}
	with := func(kv ...string) http.Header {
		hd := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			hd[kv[i]] = append(hd[kv[i]], kv[i+1])
		}
		return hd
	}
	tests := []struct {
		method, path string
		header       http.Header
	}{
		{"GET", "/topics/tech.rss", nil},
		{"GET", "/topics/tech.atom", nil},
		{"GET", "/topics/tech.json", nil},
		{"GET", "/topics/empty.json", nil},
		{"GET", "/topics/tech.rss", gz},
		{"GET", "/topics/tech.atom", gz},
		{"GET", "/topics/tech.atom?utm_source=reader", gz},
		{"HEAD", "/topics/tech.atom", nil},
		{"HEAD", "/topics/tech.atom", gz},
		{"GET", "/topics/tech.atom", with("Accept-Encoding", "gzip;q=0, *")},
		{"GET", "/topics/tech.atom", with("Accept-Encoding", "identity", "Accept-Encoding", "gzip")},
		{"GET", "/topics/tech.atom", with("Accept-Encoding", "br", "Accept-Encoding", "deflate", "Accept-Encoding", "gzip")},
		{"GET", "/topics/tech.atom", with("If-None-Match", etag)},
		{"GET", "/topics/tech.atom", with("If-None-Match", "W/"+etag)},
		{"GET", "/topics/tech.atom", with("If-None-Match", `"other", `+etag)},
		{"GET", "/topics/tech.atom", with("If-None-Match", `"other"`, "If-None-Match", etag)},
		{"GET", "/topics/tech.atom", with("If-None-Match", "*")},
		{"GET", "/topics/tech.atom", with("If-None-Match", `"other"`)},
		{"GET", "/topics/tech.atom", with("If-None-Match", " ")},
		{"GET", "/topics/tech.atom", with("Accept-Encoding", "gzip", "If-None-Match", gzETag)},
		{"HEAD", "/topics/tech.atom", with("Accept-Encoding", "gzip", "If-None-Match", gzETag)},
		{"GET", "/topics/tech.atom", with("Accept-Encoding", "gzip", "If-None-Match", etag)},
		{"GET", "/topics/tech.atom", with("If-Modified-Since", lastMod)},
		{"GET", "/topics/tech.atom", with("If-Modified-Since", "Tue, 07 May 2024 00:00:00 GMT")},
		{"GET", "/topics/tech.atom", with("If-Modified-Since", "Sun, 05 May 2024 00:00:00 GMT")},
		{"GET", "/topics/tech.atom", with("If-Modified-Since", "yesterday")},
		{"GET", "/topics/tech.atom", with("If-None-Match", `"other"`, "If-Modified-Since", lastMod)},
		{"GET", "/topics/tech.atom", with("Range", "bytes=0-99")},
		{"GET", "/topics/tech.atom", with("Accept-Encoding", "gzip", "Range", "bytes=10-")},
		{"GET", "/topics/tech.atom", with("If-Match", `"other"`)},
		{"GET", "/topics/tech.atom", with("If-Match", etag)},
		{"GET", "/topics/tech.atom", with("If-Unmodified-Since", "Sun, 05 May 2024 00:00:00 GMT")},
		{"GET", "/topics/tech.atom", with("If-Range", etag, "Range", "bytes=0-9")},
		{"GET", "/topics/nope.rss", nil},
		{"GET", "/topics/tech.xml", nil},
		{"GET", "/topics/tech", nil},
		{"GET", "/topics/.rss", nil},
		{"GET", "/topics/", nil},
		{"GET", "/topics/tech.rss/", nil},
		{"GET", "/topics//tech.rss", nil},
		{"GET", "/topics/./tech.rss", nil},
		{"GET", "/topics/t%65ch.rss", nil},
		{"GET", "/topics/tech.rss?", nil},
		{"POST", "/topics/tech.rss", nil},
		{"GET", "/", nil},
		{"HEAD", "/", nil},
		{"GET", "/healthz", nil},
		{"GET", "/topics.opml", gz},
		{"GET", "/sources.json", nil},
		{"GET", "/stories/nope.json", nil},
		{"GET", "/nope", nil},
		{"PUT", "/", nil},
	}
	for _, tt := range tests {
		name := tt.method + " " + tt.path
		for _, k := range slices.Sorted(maps.Keys(tt.header)) {
			name += fmt.Sprintf(" %s:%q", k, tt.header[k])
		}
		t.Run(name, func(t *testing.T) {
			want := send(t, tt.method, std.URL+tt.path, tt.header)
			got := send(t, tt.method, fast+tt.path, tt.header)
			if got.status != want.status {
				t.Errorf("status %d, net/http %d", got.status, want.status)
			}
			for _, hd := range []http.Header{want.header, got.header} {
				hd.Del("Date")
				if want.chunked {
					// net/http streams a body it was not told the
					// length of; the adaptor buffers it and says.
					hd.Del("Content-Length")
				}
			}
			for _, k := range slices.Sorted(maps.Keys(want.header)) {
				if !slices.Equal(got.header[k], want.header[k]) {
					t.Errorf("%s: %q, net/http %q", k, got.header[k], want.header[k])
				}
			}
			for _, k := range slices.Sorted(maps.Keys(got.header)) {
				if want.header[k] == nil {
					t.Errorf("%s: %q, net/http sends none", k, got.header[k])
				}
			}
			if !bytes.Equal(got.body, want.body) {
				t.Errorf("body of %d bytes differs from net/http's %d:\n%.300s\nnet/http:\n%.300s", len(got.body), len(want.body), got.body, want.body)
			}
		})
	}
}

// panicStore panics when a topic feed is rendered.
type panicStore struct{ *fakeStore }

func (panicStore) TopicStories(context.Context, string, int) ([]aggregator.Story, error) {
	panic("store bug")
}

// TestServerSurvivesPanic: fasthttp recovers no panic of its handler. A
// panic while answering a feed on the fast path is a 500; on the slow path
// (here, a range) it ends the connection, as net/http does. Both are
// logged as errors with the panic's value, and the server goes on serving.
func TestServerSurvivesPanic(t *testing.T) {
	var logs lockedLog
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	h := NewHandler(panicStore{fixtureStore()}, testConfig(testBaseURL), logger)
	base := startServer(t, h, ServerOptions{}, logger)
	for range 2 {
		got := send(t, "GET", base+"/topics/tech.rss", nil)
		if got.status != http.StatusInternalServerError || string(got.body) != "internal server error\n" ||
			got.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET /topics/tech.rss: %d %q %q, want 500 as http.Error", got.status, got.header, got.body)
		}
	}
	req, err := http.NewRequest("GET", base+"/topics/tech.rss", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=0-99")
	if resp, err := rawClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a range request whose handler panicked got %s, want the connection closed", resp.Status)
	}
	if got := send(t, "GET", base+"/healthz", nil); got.status != http.StatusOK {
		t.Errorf("after the panics, /healthz: %d", got.status)
	}
	if n := strings.Count(logs.String(), `level=ERROR msg="panic while serving"`); n != 3 {
		t.Errorf("%d panics logged as errors, want 3:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "panic=\"store bug\""); n != 3 {
		t.Errorf("the panic's value logged %d times, want 3:\n%s", n, logs.String())
	}
}

// TestServerHeaderLimit: a request header larger than MaxHeaderBytes is
// refused with 431, as net/http's MaxHeaderBytes did, and others are
// served.
func TestServerHeaderLimit(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	base := startServer(t, h, ServerOptions{MaxHeaderBytes: 8 << 10}, nil)
	if got := send(t, "GET", base+"/topics/tech.rss", http.Header{"X-Big": {strings.Repeat("a", 4<<10)}}); got.status != http.StatusOK {
		t.Errorf("4 KiB header: %d, want 200", got.status)
	}
	if got := send(t, "GET", base+"/topics/tech.rss", http.Header{"X-Big": {strings.Repeat("a", 12<<10)}}); got.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("12 KiB header: %d, want 431", got.status)
	}
	if got := send(t, "GET", base+"/healthz", nil); got.status != http.StatusOK {
		t.Errorf("then /healthz: %d", got.status)
	}
}

// TestServerClosesStalledClients: a client that stops halfway through its
// request, or keeps a connection open without asking anything more, is
// disconnected after ReadTimeout or IdleTimeout; it holds nothing longer.
func TestServerClosesStalledClients(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	const timeout = 200 * time.Millisecond
	base := startServer(t, h, ServerOptions{ReadTimeout: timeout, IdleTimeout: timeout, MaxHeaderBytes: 16 << 10}, nil)
	addr := strings.TrimPrefix(base, "http://")
	tests := []struct{ name, send string }{
		{"half a request", "GET /topics/tech.rss HTTP/1.1\r\nHost: example.org\r\n"},
		{"idle after a request", "GET /healthz HTTP/1.1\r\nHost: example.org\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tt.send); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(conn) // until the server closes
			if err != nil {
				t.Fatalf("connection still open after %v (read %q): %v", time.Since(start), got, err)
			}
			if strings.Contains(tt.send, "\r\n\r\n") && !strings.HasPrefix(string(got), "HTTP/1.1 200 OK") {
				t.Errorf("the request before idling got %q", got)
			}
		})
	}
}

// TestServerStoreError: a feed that cannot be rendered is a 500 on the
// fast path as on net/http, and the next request tries again.
func TestServerStoreError(t *testing.T) {
	store := fixtureStore()
	store.err = errors.New("disk on fire")
	h := newTestHandler(t, store, testConfig(testBaseURL))
	std := httptest.NewServer(h)
	defer std.Close()
	fast := startServer(t, h, ServerOptions{}, nil)
	for _, base := range []string{fast, std.URL, fast} {
		got := send(t, "GET", base+"/topics/tech.rss", http.Header{"Accept-Encoding": {"gzip"}})
		if got.status != http.StatusInternalServerError || got.header.Get("Content-Type") != "text/plain; charset=utf-8" ||
			got.header.Get("X-Content-Type-Options") != "nosniff" || string(got.body) != "internal server error\n" {
			t.Errorf("%s: %d %q %q", base, got.status, got.header, got.body)
		}
	}
	if calls := store.itemCalls("tech"); calls != 3 {
		t.Errorf("%d renders for 3 requests; a failure must not be cached", calls)
	}
}

// TestServerHeaderCase: header names are case-insensitive on the wire; the
// fast path sees a lower-case Accept-Encoding and If-None-Match.
func TestServerHeaderCase(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	base := startServer(t, h, ServerOptions{}, nil)
	gzETag := send(t, "GET", base+"/topics/tech.rss", http.Header{"Accept-Encoding": {"gzip"}}).header.Get("ETag")
	for _, tt := range []struct{ name, header, want string }{
		{"accept-encoding", "accept-encoding: gzip\r\n", "HTTP/1.1 200 OK"},
		{"if-none-match", "accept-encoding: GZIP\r\nif-none-match: " + gzETag + "\r\n", "HTTP/1.1 304 Not Modified"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			req := "GET /topics/tech.rss HTTP/1.1\r\nhost: example.org\r\nconnection: close\r\n" + tt.header + "\r\n"
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			resp, err := io.ReadAll(conn)
			if err != nil {
				t.Fatal(err)
			}
			head, _, _ := strings.Cut(string(resp), "\r\n\r\n")
			if !strings.HasPrefix(head, tt.want) || !strings.Contains(head, "\r\nEtag: "+gzETag) {
				t.Errorf("response header:\n%s\nwant %s with Etag %s", head, tt.want, gzETag)
			}
		})
	}
}

// TestServerLogsClientErrorsAtDebug: a malformed request gets fasthttp's
// 400, and its report is a debug line, not a warning a scanner could fill
// the log with.
func TestServerLogsClientErrorsAtDebug(t *testing.T) {
	// fasthttp's worker logs the connection's error after closing it, and
	// may do so after Shutdown has returned: the log is read under a lock,
	// waiting for the line.
	var logs lockedLog
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, ServerOptions{}, logger)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "NOT HTTP AT ALL\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.HasPrefix(string(resp), "HTTP/1.1 400 ") {
		t.Errorf("malformed request answered %q, want a 400", resp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	const line = "level=DEBUG msg=\"http: error when serving connection"
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), line) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), line) {
		t.Errorf("no debug line for the malformed request; logs:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a client's malformed request logged above debug:\n%s", logs.String())
	}
}

// TestServerListenerError: Serve on a listener that fails says so.
func TestServerListenerError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	srv := NewServer(newTestHandler(t, fixtureStore(), testConfig(testBaseURL)), ServerOptions{}, nil)
	if err := srv.Serve(ln); err == nil || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve on a closed listener: %v, want an error wrapping net.ErrClosed", err)
	}
}

// lockedLog is a log sink that a test may read while the server writes.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
