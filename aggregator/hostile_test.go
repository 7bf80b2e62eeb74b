package aggregator_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/storage"
)

// hostileNow is the fixed clock of the hostile-web tests.
var hostileNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const (
	hostileTimeout = time.Second
	hostileMaxBody = 4 << 20
)

func hostileRSS(items ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title><link>https://t.example/</link>` +
		strings.Join(items, "") + `</channel></rss>`
}

func hostileItem(guid, title, pubDate string) string {
	date := ""
	if pubDate != "" {
		date = "<pubDate>" + pubDate + "</pubDate>"
	}
	return fmt.Sprintf(`<item><guid>%s</guid><title>%s</title><link>https://t.example/%s</link>%s</item>`, guid, title, guid, date)
}

// hostileGzipBomb is 100 MiB of zeros as ~100 KB of gzip: one member of
// 1 MiB, repeated (a gzip reader reads the members as one stream).
func hostileGzipBomb(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(make([]byte, 1<<20))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(b.Bytes(), 100)
}

// hostileStoredItems returns the stored items of a source by identity.
func hostileStoredItems(t *testing.T, db *storage.DB, source string) map[string]aggregator.Item {
	t.Helper()
	items := make(map[string]aggregator.Item)
	err := db.Items(context.Background(), func(it *aggregator.Item) error {
		if it.Source == source {
			items[it.Identity] = *it
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestHostileWeb polls a table of hostile servers at once through a real
// Poller and bbolt store, next to a good source whose items all arrive.
// Every case says what must happen: the error, in plain words, and how
// many items are stored.
func TestHostileWeb(t *testing.T) {
	var secretRequests atomic.Int32
	secret := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secretRequests.Add(1)
		io.WriteString(w, "SECRET")
	}))
	defer secret.Close()

	bomb := hostileGzipBomb(t)
	manyItems := make([]string, 10000)
	for i := range manyItems {
		manyItems[i] = hostileItem(fmt.Sprint(i), fmt.Sprintf("Item %d", i),
			hostileNow.Add(-time.Duration(i)*time.Minute).Format(time.RFC1123Z))
	}
	categories := strings.Repeat("<category>c</category>", 10) // deduped by the parser
	for i := range 300 {
		categories += fmt.Sprintf("<category>cat %d</category>", i)
	}
	absurd := hostileRSS(`<item><guid>huge</guid><title>` + strings.Repeat("Ж", 600000) + `</title>` +
		`<link>https://t.example/` + strings.Repeat("a", 10000) + `</link>` + categories +
		`<description>` + strings.Repeat("<p>x</p>", 130000) + `</description></item>`)
	truncated := hostileRSS(hostileItem("1", "One", ""), hostileItem("2", "Two", ""), hostileItem("3", "Three", ""))
	truncated = truncated[:strings.Index(truncated, "Three")]
	garbage := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	garbage[0] = 0x89 // a PNG, say

	serve := func(contentType, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if contentType != "" {
				w.Header().Set("Content-Type", contentType)
			}
			io.WriteString(w, body)
		}
	}
	koi8 := []byte(`<?xml version="1.0" encoding="KOI8-R"?><rss version="2.0"><channel><title>T</title>` +
		`<item><guid>ru</guid><title>`)
	koi8 = append(koi8, 0xee, 0xcf, 0xd7, 0xcf, 0xd3, 0xd4, 0xc9) // "Новости" in KOI8-R
	koi8 = append(koi8, `</title></item></channel></rss>`...)

	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantErr   string // contained in the poll's error; "" for success
		wantItems int
		check     func(t *testing.T, items map[string]aggregator.Item)
	}{
		{
			name:    "slow headers",
			handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			wantErr: "timed out after 1s",
		},
		{
			name: "trickling body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/rss+xml")
				io.WriteString(w, `<?xml version="1.0"?><rss version="2.0"><channel>`)
				for {
					if _, err := io.WriteString(w, " "); err != nil {
						return
					}
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
			},
			wantErr: "timed out after 1s",
		},
		{
			name: "huge body, chunked",
			handler: func(w http.ResponseWriter, r *http.Request) {
				chunk := bytes.Repeat([]byte("<item></item>"), 8192)
				for range 50 << 20 / len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			},
			wantErr: fmt.Sprintf("response body exceeds %d bytes", hostileMaxBody),
		},
		{
			name: "huge body, announced",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(50<<20))
				io.WriteString(w, "<rss>") // the announcement alone is refused
			},
			wantErr: fmt.Sprintf("response body exceeds %d bytes", hostileMaxBody),
		},
		{
			name: "gzip bomb",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Content-Type", "application/rss+xml")
				w.Write(bomb)
			},
			wantErr: fmt.Sprintf("response body exceeds %d bytes", hostileMaxBody),
		},
		{
			name:      "wrong content type",
			handler:   serve("text/html; charset=utf-8", hostileRSS(hostileItem("a", "A", ""), hostileItem("b", "B", ""))),
			wantItems: 2,
		},
		{
			name:      "byte order mark",
			handler:   serve("application/rss+xml", "\xEF\xBB\xBF\n"+hostileRSS(hostileItem("a", "Café", ""))),
			wantItems: 1,
			check: func(t *testing.T, items map[string]aggregator.Item) {
				if got := items["a"].Title; got != "Café" {
					t.Errorf("title = %q", got)
				}
			},
		},
		{
			name:      "mis-declared charset",
			handler:   serve("text/xml; charset=utf-8", string(koi8)),
			wantItems: 1,
			check: func(t *testing.T, items map[string]aggregator.Item) {
				if got := items["ru"].Title; got != "Новости" {
					t.Errorf("title = %q, want Новости", got)
				}
			},
		},
		{
			name: "entity bomb",
			handler: serve("application/rss+xml", `<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">`+
				`<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">`+
				`<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>`+
				hostileRSS(hostileItem("bomb", "Boom &g;&g;&g;!", ""))[len(`<?xml version="1.0" encoding="UTF-8"?>`):]),
			wantItems: 1,
			check: func(t *testing.T, items map[string]aggregator.Item) {
				if got := items["bomb"].Title; got != "Boom !" {
					t.Errorf("title = %q, want the entities dropped", got)
				}
			},
		},
		{
			name: "external entities",
			handler: serve("application/rss+xml", `<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY file SYSTEM "file:///etc/passwd">`+
				`<!ENTITY web SYSTEM "`+secret.URL+`/secret"><!ENTITY % dtd SYSTEM "`+secret.URL+`/dtd"> %dtd;]>`+
				`<rss version="2.0"><channel><title>&web;</title>`+hostileItem("xxe", "[&file;][&web;]", "")+`</channel></rss>`),
			wantItems: 1,
			check: func(t *testing.T, items map[string]aggregator.Item) {
				if got := items["xxe"].Title; got != "[][]" {
					t.Errorf("title = %q, want the entities dropped", got)
				}
			},
		},
		{
			name:      "truncated XML",
			handler:   serve("application/rss+xml", truncated),
			wantItems: 2,
		},
		{
			name: "HTML page",
			handler: serve("text/html", `<!doctype html><html><head><title>Blog</title>`+
				`<link rel="alternate" type="application/rss+xml" href="https://blog.example/feed.xml"></head><body>hi</body></html>`),
			wantErr: "this is an HTML page, not a feed; it advertises: https://blog.example/feed.xml",
		},
		{
			name:    "404",
			handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			wantErr: "HTTP 404 Not Found",
		},
		{
			name:    "500",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", http.StatusInternalServerError) },
			wantErr: "HTTP 500 Internal Server Error",
		},
		{
			name: "429 with Retry-After",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			wantErr: "HTTP 429 Too Many Requests (retry after 2m0s)",
		},
		{
			name:    "redirect loop",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) },
			wantErr: "too many redirects (more than 5)",
		},
		{
			name: "six redirects",
			handler: func(w http.ResponseWriter, r *http.Request) {
				var n int
				fmt.Sscanf(r.URL.Path, "/r%d", &n)
				if n < 6 {
					http.Redirect(w, r, fmt.Sprintf("/r%d", n+1), http.StatusMovedPermanently)
					return
				}
				io.WriteString(w, hostileRSS(hostileItem("far", "Far", "")))
			},
			wantErr: "too many redirects (more than 5)",
		},
		{
			name:    "empty 200",
			handler: serve("application/rss+xml", ""),
			wantErr: "empty response body",
		},
		{
			name:    "garbage bytes",
			handler: serve("application/rss+xml", string(garbage)),
			wantErr: "parse feed: failed to detect feed type",
		},
		{
			name:      "10,000 items",
			handler:   serve("application/rss+xml", hostileRSS(manyItems...)),
			wantItems: 1000,
			check: func(t *testing.T, items map[string]aggregator.Item) {
				if _, ok := items["0"]; !ok {
					t.Error("the newest item was not kept")
				}
				if _, ok := items["1000"]; ok {
					t.Error("item 1000 was kept, want only the newest 1000")
				}
			},
		},
		{
			name:      "absurd field lengths",
			handler:   serve("application/rss+xml", absurd),
			wantItems: 1,
			check: func(t *testing.T, items map[string]aggregator.Item) {
				it := items["huge"]
				if n := utf8.RuneCountInString(it.Title); n != 1000 {
					t.Errorf("title: %d runes, want 1000", n)
				}
				if it.Link != "" {
					t.Errorf("a %d-byte link was kept", len(it.Link))
				}
				if len(it.Categories) != 50 {
					t.Errorf("%d categories, want 50", len(it.Categories))
				}
				if len(it.Summary) != 256<<10 {
					t.Errorf("summary: %d bytes, want 256 KiB", len(it.Summary))
				}
			},
		},
		{
			name: "future and garbage dates",
			handler: serve("application/rss+xml", hostileRSS(
				hostileItem("future", "Future", "Mon, 01 Jan 2099 00:00:00 GMT"),
				hostileItem("garbage", "Garbage", "the day after tomorrow"),
				hostileItem("overflow", "Overflow", "Mon, 01 Jan 99999999 00:00:00 GMT"),
				hostileItem("fine", "Fine", "Fri, 10 Dec 2021 14:26:00 GMT"))),
			wantItems: 4,
			check: func(t *testing.T, items map[string]aggregator.Item) {
				for _, id := range []string{"future", "garbage", "overflow"} {
					if got := items[id].Published; !got.Equal(hostileNow) {
						t.Errorf("%s: published = %v, want the first-seen time %v", id, got, hostileNow)
					}
				}
				if got, want := items["fine"].Published, time.Date(2021, 12, 10, 14, 26, 0, 0, time.UTC); !got.Equal(want) {
					t.Errorf("fine: published = %v, want %v", got, want)
				}
			},
		},
		{
			name: "connection reset mid-body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n")
				io.WriteString(conn, hostileRSS(hostileItem("a", "A", ""))[:80])
				time.Sleep(50 * time.Millisecond) // let the client start on the body
				if tcp, ok := conn.(*net.TCPConn); ok {
					tcp.SetLinger(0) // close with a RST
				}
				conn.Close()
			},
			wantErr: "connection reset by the server",
		},
	}

	db := openStore(t)
	poller := newTestPoller(t, db, nil, func(o *aggregator.PollerOptions) {
		o.Fetcher = aggregator.NewFetcher(aggregator.FetcherOptions{Timeout: hostileTimeout, MaxBodyBytes: hostileMaxBody})
		o.Concurrency = len(tests) + 1
		o.Now = func() time.Time { return hostileNow }
	})

	good := httptest.NewServer(serve("application/rss+xml", hostileRSS(
		hostileItem("g1", "Good one", "Fri, 10 Dec 2021 14:26:00 GMT"),
		hostileItem("g2", "Good two", ""),
		hostileItem("g3", "Good three", ""))))
	defer good.Close()

	// Each hostile server has its own port, so the per-host limit does not
	// serialise them; they all run at once, next to the good source.
	results := make([]aggregator.PollResult, len(tests))
	var wg sync.WaitGroup
	start := time.Now()
	for i, tt := range tests {
		srv := httptest.NewUnstartedServer(tt.handler)
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the resets it provokes
		srv.Start()
		defer srv.Close()
		wg.Go(func() {
			results[i] = poller.Poll(context.Background(), aggregator.Source{Name: fmt.Sprintf("hostile-%d", i), URL: srv.URL + "/r0"})
		})
	}
	var goodResult aggregator.PollResult
	wg.Go(func() {
		goodResult = poller.Poll(context.Background(), aggregator.Source{Name: "good", URL: good.URL})
	})
	wg.Wait()
	t.Logf("%d hostile sources and a good one polled in %v", len(tests), time.Since(start).Round(time.Millisecond))

	t.Run("good source", func(t *testing.T) {
		if goodResult.Err != nil || goodResult.New != 3 {
			t.Fatalf("good source: %+v", goodResult)
		}
		if n := len(hostileStoredItems(t, db, "good")); n != 3 {
			t.Errorf("%d items stored, want 3", n)
		}
	})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := results[i]
			switch {
			case tt.wantErr == "" && res.Err != nil:
				t.Errorf("error = %v, want success", res.Err)
			case tt.wantErr != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one saying %q", res.Err, tt.wantErr)
			}
			if tt.wantErr != "" {
				st, err := db.SourceState(context.Background(), res.Source)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(st.LastError, tt.wantErr) || st.ConsecutiveFailures != 1 {
					t.Errorf("stored state: last error %q, %d failures", st.LastError, st.ConsecutiveFailures)
				}
			}
			items := hostileStoredItems(t, db, res.Source)
			if len(items) != tt.wantItems {
				t.Errorf("%d items stored, want %d", len(items), tt.wantItems)
			}
			if tt.check != nil {
				tt.check(t, items)
			}
		})
	}
	if n := secretRequests.Load(); n != 0 {
		t.Errorf("the external entity server was asked %d times", n)
	}
}
