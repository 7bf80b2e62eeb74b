package aggregator

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const fetchTestFeed = `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>`

// fetchRecorder keeps the headers of every request a test server saw.
type fetchRecorder struct {
	mu      sync.Mutex
	headers []http.Header
}

func (r *fetchRecorder) record(req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers = append(r.headers, req.Header.Clone())
}

func (r *fetchRecorder) last(t *testing.T) http.Header {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.headers) == 0 {
		t.Fatal("the server saw no request")
	}
	return r.headers[len(r.headers)-1]
}

func fetchNewTestFetcher(opts FetcherOptions) *Fetcher {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	return NewFetcher(opts)
}

func TestFetchRequestHeaders(t *testing.T) {
	tests := []struct {
		name             string
		req              FetchRequest
		wantIfNoneMatch  string
		wantIfModSince   string
		userAgent        string
		wantUserAgentHas string
	}{
		{name: "no validators", wantUserAgentHas: "tributary"},
		{name: "etag only", req: FetchRequest{ETag: `"abc"`}, wantIfNoneMatch: `"abc"`, wantUserAgentHas: "tributary"},
		{
			name:             "last-modified only",
			req:              FetchRequest{LastModified: "Mon, 01 Jan 2024 00:00:00 GMT"},
			wantIfModSince:   "Mon, 01 Jan 2024 00:00:00 GMT",
			wantUserAgentHas: "tributary",
		},
		{
			name:             "both, sent independently",
			req:              FetchRequest{ETag: `W/"xyz"`, LastModified: "Tue, 02 Jan 2024 00:00:00 GMT"},
			wantIfNoneMatch:  `W/"xyz"`,
			wantIfModSince:   "Tue, 02 Jan 2024 00:00:00 GMT",
			userAgent:        "TestAgent/2.0 (+https://example.test/)",
			wantUserAgentHas: "TestAgent/2.0 (+https://example.test/)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &fetchRecorder{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				io.WriteString(w, fetchTestFeed)
			}))
			defer srv.Close()

			f := fetchNewTestFetcher(FetcherOptions{UserAgent: tt.userAgent})
			req := tt.req
			req.URL = srv.URL + "/feed"
			if _, err := f.Fetch(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			h := rec.last(t)
			if got := h.Get("If-None-Match"); got != tt.wantIfNoneMatch {
				t.Errorf("If-None-Match = %q, want %q", got, tt.wantIfNoneMatch)
			}
			if got := h.Get("If-Modified-Since"); got != tt.wantIfModSince {
				t.Errorf("If-Modified-Since = %q, want %q", got, tt.wantIfModSince)
			}
			if got := h.Get("User-Agent"); !strings.Contains(got, tt.wantUserAgentHas) {
				t.Errorf("User-Agent = %q, want it to contain %q", got, tt.wantUserAgentHas)
			}
			if got := h.Get("Accept"); !strings.HasPrefix(got, "application/rss+xml") {
				t.Errorf("Accept = %q, want feed types first", got)
			}
			if got := h.Get("Accept-Encoding"); got != "gzip" {
				t.Errorf("Accept-Encoding = %q, want the transport's gzip", got)
			}
		})
	}
}

// TestFetchConditionalGET runs two polls against servers that validate
// with an ETag, a Last-Modified or both: the second poll must send back
// what the first received and come back "not modified".
func TestFetchConditionalGET(t *testing.T) {
	const (
		etag    = `"v1"`
		lastMod = "Wed, 03 Jan 2024 10:00:00 GMT"
	)
	tests := []struct {
		name           string
		sendETag       bool
		sendLastMod    bool
		wantETag       string
		wantLastMod    string
		wantIfNoneMat  string
		wantIfModSince string
	}{
		{"etag only", true, false, etag, "", etag, ""},
		{"last-modified only", false, true, "", lastMod, "", lastMod},
		{"both", true, true, etag, lastMod, etag, lastMod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &fetchRecorder{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				if tt.sendETag {
					w.Header().Set("ETag", etag)
				}
				if tt.sendLastMod {
					w.Header().Set("Last-Modified", lastMod)
				}
				if (tt.sendETag && r.Header.Get("If-None-Match") == etag) ||
					(!tt.sendETag && tt.sendLastMod && r.Header.Get("If-Modified-Since") == lastMod) {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Header().Set("Content-Type", "application/rss+xml")
				io.WriteString(w, fetchTestFeed)
			}))
			defer srv.Close()
			f := fetchNewTestFetcher(FetcherOptions{})
			ctx := context.Background()

			first, err := f.Fetch(ctx, FetchRequest{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			if first.StatusCode != 200 || first.NotModified || string(first.Body) != fetchTestFeed {
				t.Fatalf("first fetch = %d, not modified %v, body %q", first.StatusCode, first.NotModified, first.Body)
			}
			if first.ETag != tt.wantETag || first.LastModified != tt.wantLastMod {
				t.Fatalf("first validators = %q, %q; want %q, %q", first.ETag, first.LastModified, tt.wantETag, tt.wantLastMod)
			}
			if first.ContentType != "application/rss+xml" {
				t.Errorf("ContentType = %q", first.ContentType)
			}
			if h := rec.last(t); h.Get("If-None-Match") != "" || h.Get("If-Modified-Since") != "" {
				t.Errorf("first request was conditional: %v", h)
			}

			second, err := f.Fetch(ctx, FetchRequest{URL: srv.URL, ETag: first.ETag, LastModified: first.LastModified})
			if err != nil {
				t.Fatal(err)
			}
			h := rec.last(t)
			if got := h.Get("If-None-Match"); got != tt.wantIfNoneMat {
				t.Errorf("second If-None-Match = %q, want %q", got, tt.wantIfNoneMat)
			}
			if got := h.Get("If-Modified-Since"); got != tt.wantIfModSince {
				t.Errorf("second If-Modified-Since = %q, want %q", got, tt.wantIfModSince)
			}
			if !second.NotModified || second.StatusCode != http.StatusNotModified || len(second.Body) != 0 {
				t.Fatalf("second fetch = %d, not modified %v, %d bytes", second.StatusCode, second.NotModified, len(second.Body))
			}
			if second.ETag != tt.wantETag || second.LastModified != tt.wantLastMod {
				t.Errorf("validators after 304 = %q, %q; want them kept: %q, %q", second.ETag, second.LastModified, tt.wantETag, tt.wantLastMod)
			}
		})
	}
}

func TestFetchNotModifiedRefreshesValidators(t *testing.T) {
	tests := []struct {
		name        string
		respETag    string
		respLastMod string
		wantETag    string
		wantLastMod string
	}{
		{"304 without validators keeps the request's", "", "", `"old"`, "Mon, 01 Jan 2024 00:00:00 GMT"},
		{"304 with a new etag refreshes it", `"new"`, "", `"new"`, "Mon, 01 Jan 2024 00:00:00 GMT"},
		{"304 with a new last-modified refreshes it", "", "Fri, 05 Jan 2024 00:00:00 GMT", `"old"`, "Fri, 05 Jan 2024 00:00:00 GMT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.respETag != "" {
					w.Header().Set("ETag", tt.respETag)
				}
				if tt.respLastMod != "" {
					w.Header().Set("Last-Modified", tt.respLastMod)
				}
				w.WriteHeader(http.StatusNotModified)
			}))
			defer srv.Close()
			res, err := fetchNewTestFetcher(FetcherOptions{}).Fetch(context.Background(),
				FetchRequest{URL: srv.URL, ETag: `"old"`, LastModified: "Mon, 01 Jan 2024 00:00:00 GMT"})
			if err != nil {
				t.Fatal(err)
			}
			if !res.NotModified || res.ETag != tt.wantETag || res.LastModified != tt.wantLastMod {
				t.Errorf("got not modified %v, %q, %q; want true, %q, %q", res.NotModified, res.ETag, res.LastModified, tt.wantETag, tt.wantLastMod)
			}
		})
	}
}

func fetchGzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFetchBody(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 2000)
	tests := []struct {
		name     string
		max      int64
		handler  http.HandlerFunc
		wantBody string
		wantErr  string
	}{
		{
			name: "gzip decoded",
			max:  1 << 20,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(fetchGzip(t, []byte(fetchTestFeed)))
			},
			wantBody: fetchTestFeed,
		},
		{
			name: "exactly at the limit",
			max:  2000,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write(big)
			},
			wantBody: string(big),
		},
		{
			name: "over the limit with content-length",
			max:  1024,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(big)))
				w.Write(big)
			},
			wantErr: "response body exceeds 1024 bytes",
		},
		{
			name: "over the limit, chunked",
			max:  1024,
			handler: func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i < 4; i++ {
					w.Write(big[:500])
					w.(http.Flusher).Flush()
				}
			},
			wantErr: "response body exceeds 1024 bytes",
		},
		{
			name: "over the limit once decompressed",
			max:  1024,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(fetchGzip(t, big)) // a few dozen bytes on the wire
			},
			wantErr: "response body exceeds 1024 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			res, err := fetchNewTestFetcher(FetcherOptions{MaxBodyBytes: tt.max}).Fetch(context.Background(), FetchRequest{URL: srv.URL})
			if tt.wantErr != "" {
				want := fmt.Sprintf("fetch %s: %s", srv.URL, tt.wantErr)
				if err == nil || err.Error() != want {
					t.Fatalf("error = %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Body) != tt.wantBody {
				t.Errorf("body = %q, want %q", res.Body, tt.wantBody)
			}
		})
	}
}

// TestFetchGzipBomb serves 100 MiB of zeros as ~100 KB of gzip (100
// gzip members of 1 MiB each, which a gzip reader reads as one stream).
// The fetch must stop at the limit instead of inflating all of it.
func TestFetchGzipBomb(t *testing.T) {
	member := fetchGzip(t, make([]byte, 1<<20))
	bomb := bytes.Repeat(member, 100)
	t.Logf("bomb: %d bytes of gzip, 100 MiB inflated", len(bomb))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(bomb)
	}))
	defer srv.Close()

	const limit = 4 << 20
	f := fetchNewTestFetcher(FetcherOptions{MaxBodyBytes: limit})
	start := time.Now()
	_, err := f.Fetch(context.Background(), FetchRequest{URL: srv.URL})
	elapsed := time.Since(start)
	t.Logf("stopped after %v", elapsed)
	if err == nil || !strings.HasSuffix(err.Error(), fmt.Sprintf("response body exceeds %d bytes", limit)) {
		t.Fatalf("error = %v, want the body limit", err)
	}
	if elapsed > 10*time.Second {
		t.Errorf("took %v to refuse a gzip bomb", elapsed)
	}
}

func TestFetchTimeout(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"no headers", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
		{"trickling body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rss+xml")
			w.WriteHeader(http.StatusOK)
			for {
				if _, err := io.WriteString(w, " "); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			f := NewFetcher(FetcherOptions{Timeout: 300 * time.Millisecond})
			start := time.Now()
			_, err := f.Fetch(context.Background(), FetchRequest{URL: srv.URL})
			elapsed := time.Since(start)
			want := fmt.Sprintf("fetch %s: timed out after 300ms", srv.URL)
			if err == nil || err.Error() != want {
				t.Fatalf("error = %v, want %q", err, want)
			}
			if elapsed > 3*time.Second {
				t.Errorf("timed out after %v, want about 300ms", elapsed)
			}
		})
	}
}

func TestFetchContextCanceled(t *testing.T) {
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	_, err := fetchNewTestFetcher(FetcherOptions{}).Fetch(ctx, FetchRequest{URL: srv.URL})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestFetchHTTPError(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name           string
		status         int
		retryAfter     string
		wantRetryAfter time.Duration
		wantMsg        string
	}{
		{name: "not found", status: 404, wantMsg: "HTTP 404 Not Found"},
		{name: "server error", status: 500, retryAfter: "60", wantMsg: "HTTP 500 Internal Server Error"},
		{name: "gone", status: 410, wantMsg: "HTTP 410 Gone"},
		{
			name: "too many requests, seconds", status: 429, retryAfter: "120",
			wantRetryAfter: 2 * time.Minute, wantMsg: "HTTP 429 Too Many Requests (retry after 2m0s)",
		},
		{
			name: "unavailable, http date", status: 503, retryAfter: now.Add(90 * time.Second).Format(http.TimeFormat),
			wantRetryAfter: 90 * time.Second, wantMsg: "HTTP 503 Service Unavailable (retry after 1m30s)",
		},
		{name: "unavailable, date in the past", status: 503, retryAfter: now.Add(-time.Hour).Format(http.TimeFormat), wantMsg: "HTTP 503 Service Unavailable"},
		{name: "too many requests, garbage", status: 429, retryAfter: "soon", wantMsg: "HTTP 429 Too Many Requests"},
		{name: "too many requests, none", status: 429, wantMsg: "HTTP 429 Too Many Requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				http.Error(w, "nope", tt.status)
			}))
			defer srv.Close()
			f := fetchNewTestFetcher(FetcherOptions{Now: func() time.Time { return now }})
			_, err := f.Fetch(context.Background(), FetchRequest{URL: srv.URL + "/feed"})
			var herr *HTTPError
			if !errors.As(err, &herr) {
				t.Fatalf("error = %v, want an *HTTPError", err)
			}
			if herr.StatusCode != tt.status || herr.RetryAfter != tt.wantRetryAfter || herr.URL != srv.URL+"/feed" {
				t.Errorf("HTTPError = %+v, want status %d, retry after %v", herr, tt.status, tt.wantRetryAfter)
			}
			if herr.Error() != tt.wantMsg {
				t.Errorf("Error() = %q, want %q", herr.Error(), tt.wantMsg)
			}
			if want := fmt.Sprintf("fetch %s/feed: %s", srv.URL, tt.wantMsg); err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
		})
	}
}

// fetchRedirectServer redirects along the status codes in the path and
// serves the feed at /r/: /r/301/302 redirects with a 301 to /r/302, which
// redirects with a 302 to /r/.
func fetchRedirectServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/r/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		rest = strings.Trim(rest, "/")
		if rest == "" {
			io.WriteString(w, fetchTestFeed)
			return
		}
		code, next, _ := strings.Cut(rest, "/")
		status, err := strconv.Atoi(code)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, "/r/"+next, status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchRedirects(t *testing.T) {
	srv := fetchRedirectServer(t)
	tests := []struct {
		name          string
		path          string
		wantFinal     string
		wantPermanent string
		wantErr       string
	}{
		{name: "no redirect", path: "/r/", wantFinal: "/r/"},
		{name: "permanent 301", path: "/r/301/", wantFinal: "/r/", wantPermanent: "/r/"},
		{name: "permanent 308", path: "/r/308/", wantFinal: "/r/", wantPermanent: "/r/"},
		{name: "two permanent hops", path: "/r/301/308/", wantFinal: "/r/", wantPermanent: "/r/"},
		{name: "temporary 302", path: "/r/302/", wantFinal: "/r/"},
		{name: "temporary 307", path: "/r/307/", wantFinal: "/r/"},
		{name: "permanent then temporary", path: "/r/301/302/", wantFinal: "/r/", wantPermanent: "/r/302"},
		{name: "temporary then permanent", path: "/r/302/301/", wantFinal: "/r/"},
		{name: "five redirects are allowed", path: "/r/302/302/302/302/302/", wantFinal: "/r/"},
		{name: "six are too many", path: "/r/302/302/302/302/302/302/", wantErr: "too many redirects (more than 5)"},
	}
	f := fetchNewTestFetcher(FetcherOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.Fetch(context.Background(), FetchRequest{URL: srv.URL + tt.path})
			if tt.wantErr != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.FinalURL != srv.URL+tt.wantFinal {
				t.Errorf("FinalURL = %q, want %q", res.FinalURL, srv.URL+tt.wantFinal)
			}
			wantPermanent := ""
			if tt.wantPermanent != "" {
				wantPermanent = srv.URL + tt.wantPermanent
			}
			if res.PermanentRedirect != wantPermanent {
				t.Errorf("PermanentRedirect = %q, want %q", res.PermanentRedirect, wantPermanent)
			}
		})
	}
}

func TestFetchFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "feed.xml")
	if err := os.WriteFile(path, []byte(fetchTestFeed), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	fileURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
	missingURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, "missing.xml"))}).String()
	lastMod := "Sat, 03 Feb 2024 04:05:06 GMT"

	tests := []struct {
		name        string
		req         FetchRequest
		max         int64
		wantBody    string
		notModified bool
		wantErr     string
	}{
		{name: "read", req: FetchRequest{URL: fileURL}, wantBody: fetchTestFeed},
		{name: "stale validator reads", req: FetchRequest{URL: fileURL, LastModified: "Mon, 01 Jan 2024 00:00:00 GMT"}, wantBody: fetchTestFeed},
		{name: "not modified", req: FetchRequest{URL: fileURL, LastModified: lastMod}, notModified: true},
		{name: "missing", req: FetchRequest{URL: missingURL}, wantErr: "fetch " + missingURL + ": file " + filepath.Join(dir, "missing.xml") + " does not exist"},
		{name: "too big", req: FetchRequest{URL: fileURL}, max: 10, wantErr: "fetch " + fileURL + ": response body exceeds 10 bytes"},
		{name: "directory", req: FetchRequest{URL: "file://" + filepath.ToSlash(dir)}, wantErr: "is a directory"},
		{name: "relative", req: FetchRequest{URL: "file://feeds/x.xml"}, wantErr: "file URL must be file:///absolute/path"},
		{name: "unsupported scheme", req: FetchRequest{URL: "ftp://example.com/feed"}, wantErr: `unsupported URL scheme "ftp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := fetchNewTestFetcher(FetcherOptions{MaxBodyBytes: tt.max}).Fetch(context.Background(), tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != 0 || res.NotModified != tt.notModified || string(res.Body) != tt.wantBody {
				t.Errorf("got status %d, not modified %v, body %q", res.StatusCode, res.NotModified, res.Body)
			}
			if res.LastModified != lastMod {
				t.Errorf("LastModified = %q, want %q", res.LastModified, lastMod)
			}
			if res.FinalURL != tt.req.URL {
				t.Errorf("FinalURL = %q, want %q", res.FinalURL, tt.req.URL)
			}
		})
	}
}

func TestFetchNetworkErrors(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) string // returns the URL to fetch
		want  string
	}{
		{
			name: "connection refused",
			start: func(t *testing.T) string {
				// Take a free loopback port, then close it so nothing listens.
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := ln.Addr().String()
				ln.Close()
				return "http://" + addr + "/feed"
			},
			want: "connection refused",
		},
		{
			name: "untrusted certificate",
			start: func(t *testing.T) string {
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
				srv.Config.ErrorLog = fetchQuietLog()
				srv.StartTLS()
				t.Cleanup(srv.Close)
				return srv.URL + "/feed"
			},
			want: "invalid TLS certificate: x509: certificate signed by unknown authority",
		},
		{
			name: "connection closed without a response",
			start: func(t *testing.T) string {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
				}))
				t.Cleanup(srv.Close)
				return srv.URL + "/feed"
			},
			want: "the server closed the connection unexpectedly",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.start(t)
			_, err := fetchNewTestFetcher(FetcherOptions{}).Fetch(context.Background(), FetchRequest{URL: u})
			if want := "fetch " + u + ": " + tt.want; err == nil || err.Error() != want {
				t.Fatalf("error = %v, want %q", err, want)
			}
		})
	}
}

// fetchQuietLog discards a test server's own log lines (TLS handshake
// errors that the test provokes on purpose).
func fetchQuietLog() *log.Logger { return log.New(io.Discard, "", 0) }

func TestFetchPlainError(t *testing.T) {
	f := NewFetcher(FetcherOptions{Timeout: 30 * time.Second})
	tests := []struct {
		name string
		err  error
		want string
	}{
		{
			name: "no such host",
			err:  &url.Error{Op: "Get", URL: "http://nope.invalid/", Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nope.invalid", IsNotFound: true}}},
			want: "no such host nope.invalid",
		},
		{
			name: "dns failure",
			err:  &url.Error{Op: "Get", URL: "http://x.test/", Err: &net.DNSError{Err: "server misbehaving", Name: "x.test", IsTemporary: true}},
			want: "DNS lookup of x.test failed: server misbehaving",
		},
		{
			name: "timeout",
			err:  &url.Error{Op: "Get", URL: "http://x.test/", Err: fetchTimeoutErr{}},
			want: "timed out after 30s",
		},
		{
			name: "unexpected EOF",
			err:  &url.Error{Op: "Get", URL: "http://x.test/", Err: io.ErrUnexpectedEOF},
			want: "the server closed the connection unexpectedly",
		},
		{
			name: "other errors lose the url.Error prefix",
			err:  &url.Error{Op: "Get", URL: "http://x.test/", Err: errors.New("something odd")},
			want: "something odd",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.fetchPlainError(context.Background(), tt.err)
			if got.Error() != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("the original error is no longer wrapped")
			}
		})
	}
}

type fetchTimeoutErr struct{}

func (fetchTimeoutErr) Error() string   { return "i/o timeout" }
func (fetchTimeoutErr) Timeout() bool   { return true }
func (fetchTimeoutErr) Temporary() bool { return true }

// TestFetchPerHost runs 6 fetches to one host at once: never more than 2
// reach it together, while a fetch to another host goes straight through.
func TestFetchPerHost(t *testing.T) {
	var inFlight, peak, served atomic.Int32
	release := make(chan struct{})
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		served.Add(1)
		io.WriteString(w, fetchTestFeed)
	}))
	defer busy.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, fetchTestFeed)
	}))
	defer other.Close()

	f := fetchNewTestFetcher(FetcherOptions{}) // PerHost defaults to 2
	errs := make(chan error, 6)
	for i := range 6 {
		go func() {
			_, err := f.Fetch(t.Context(), FetchRequest{URL: fmt.Sprintf("%s/feed%d", busy.URL, i)})
			errs <- err
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for inFlight.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests reached the busy host", inFlight.Load())
		}
		time.Sleep(time.Millisecond)
	}

	// The busy host's slots are full; another host is not held up.
	if _, err := f.Fetch(t.Context(), FetchRequest{URL: other.URL}); err != nil {
		t.Fatalf("fetch from the other host: %v", err)
	}
	// A third request to the busy host waits, and gives up with its context.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.Fetch(ctx, FetchRequest{URL: busy.URL + "/impatient"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a slot: error = %v, want context.DeadlineExceeded", err)
	}
	if got := inFlight.Load(); got != 2 {
		t.Errorf("%d requests in flight at the busy host, want 2", got)
	}

	close(release)
	for range 6 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := peak.Load(); got != 2 {
		t.Errorf("peak in flight at one host = %d, want 2", got)
	}
	if got := served.Load(); got != 6 {
		t.Errorf("served %d, want 6", got)
	}
	f.hosts.mu.Lock()
	left := len(f.hosts.hosts)
	f.hosts.mu.Unlock()
	if left != 0 {
		t.Errorf("%d host entries left after every fetch ended", left)
	}
}

// TestFetchReusesConnections runs many fetches to one host, PerHost at a
// time: they share PerHost connections (keep-alive) instead of opening a
// new one for most requests, which costs the publisher a handshake each.
func TestFetchReusesConnections(t *testing.T) {
	const perHost, fetches = 8, 200
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, fetchTestFeed)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	f := fetchNewTestFetcher(FetcherOptions{PerHost: perHost})
	jobs := make(chan int)
	errs := make(chan error, fetches)
	for range perHost {
		go func() {
			for i := range jobs {
				_, err := f.Fetch(t.Context(), FetchRequest{URL: fmt.Sprintf("%s/feed%d", srv.URL, i)})
				errs <- err
			}
		}()
	}
	for i := range fetches {
		jobs <- i
	}
	close(jobs)
	for range fetches {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A connection goes back to the pool just after its response is
	// read, so the next fetch may dial before it is back: allow a few
	// more than perHost (with an idle pool of 2, it was about 90).
	if got := conns.Load(); got > 2*perHost {
		t.Errorf("%d fetches, %d at a time, opened %d connections; want at most %d", fetches, perHost, got, 2*perHost)
	}
}

func TestFetchHostKey(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://Example.COM/feed", "example.com"},
		{"http://example.com:8080/a", "example.com:8080"},
		{"http://[::1]:80/", "[::1]:80"},
	}
	for _, tt := range tests {
		if got, err := fetchHostKey(tt.url); err != nil || got != tt.want {
			t.Errorf("fetchHostKey(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
}

func TestFetchMaxAge(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   time.Duration
	}{
		{"absent", nil, 0},
		{"max-age", []string{"public, max-age=1800"}, 30 * time.Minute},
		{"case and spaces", []string{"Max-Age = 60 "}, time.Minute},
		{"quoted", []string{`max-age="120"`}, 2 * time.Minute},
		{"first one counts", []string{"max-age=60", "max-age=600"}, time.Minute},
		{"no-cache", []string{"max-age=600, no-cache"}, 0},
		{"no-store in another header", []string{"max-age=600", "no-store"}, 0},
		{"garbage", []string{"max-age=soon"}, 0},
		{"negative", []string{"max-age=-5"}, 0},
		{"zero", []string{"max-age=0"}, 0},
		{"huge capped at a year", []string{"max-age=99999999999999"}, 365 * 24 * time.Hour},
		{"s-maxage alone", []string{"s-maxage=60"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fetchParseMaxAge(tt.values); got != tt.want {
				t.Errorf("fetchParseMaxAge(%q) = %v, want %v", tt.values, got, tt.want)
			}
		})
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=900")
		w.Header().Set("ETag", `"v"`)
		if r.Header.Get("If-None-Match") == `"v"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, fetchTestFeed)
	}))
	defer srv.Close()
	f := fetchNewTestFetcher(FetcherOptions{})
	for _, req := range []FetchRequest{{URL: srv.URL}, {URL: srv.URL, ETag: `"v"`}} {
		res, err := f.Fetch(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.MaxAge != 15*time.Minute {
			t.Errorf("status %d: MaxAge = %v, want 15m", res.StatusCode, res.MaxAge)
		}
	}
}

// TestFetchConnectTimeout: a TLS server that accepts but never answers the
// handshake is given up on after ConnectTimeout, well before Timeout.
func TestFetchConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	stop := make(chan struct{})
	accepting := make(chan struct{})
	defer func() {
		close(stop)
		ln.Close()
		<-accepting
		conns.Wait()
	}()
	go func() {
		defer close(accepting)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				<-stop
			})
		}
	}()
	f := NewFetcher(FetcherOptions{Timeout: 10 * time.Second, ConnectTimeout: 200 * time.Millisecond})
	u := "https://" + ln.Addr().String() + "/feed"
	start := time.Now()
	_, err = f.Fetch(t.Context(), FetchRequest{URL: u})
	elapsed := time.Since(start)
	if want := "fetch " + u + ": TLS handshake timed out after 200ms"; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if elapsed > 3*time.Second {
		t.Errorf("gave up after %v, want about 200ms", elapsed)
	}
}
