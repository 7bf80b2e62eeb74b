package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hostileWeb serves good feeds next to every kind of broken, slow, huge,
// mis-encoded or malicious one.
func hostileWeb(t *testing.T, secretHits *atomic.Int32) *httptest.Server {
	t.Helper()
	item := func(guid, title, date string) string {
		return fmt.Sprintf(`<item><guid>%s</guid><title>%s</title><link>https://x.example/%s</link><pubDate>%s</pubDate><description>%s</description></item>`,
			guid, title, guid, date, title)
	}
	rss := func(items ...string) string {
		return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title><link>https://x.example/</link>` +
			`<description>d</description>` + strings.Join(items, "") + `</channel></rss>`
	}
	recent := time.Now().Add(-time.Hour).UTC().Format(time.RFC1123Z)
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 200 { // 200 MiB of zeros
		zw.Write(zeros)
	}
	zw.Close()
	var many []string
	for i := range 5000 {
		many = append(many, item(fmt.Sprintf("m%d", i), fmt.Sprintf("Item %d", i), time.Now().Add(-time.Duration(i)*time.Minute).UTC().Format(time.RFC1123Z)))
	}
	manyBody := rss(many...)
	latin1 := []byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://x.example/</link><description>d</description>` +
		"<item><guid>l1</guid><title>Caf\xe9 cr\xe8me \xe0 Gen\xe8ve</title><pubDate>" + recent + "</pubDate></item></channel></rss>")

	mux := http.NewServeMux()
	serve := func(path, contentType, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			io.WriteString(w, body)
		})
	}
	serve("/good.rss", "application/rss+xml", rss(item("g1", "Good one", recent), item("g2", "Good two", recent)))
	serve("/good.atom", "application/atom+xml", `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>tag:a.example,2026:a</id><updated>`+
		time.Now().UTC().Format(time.RFC3339)+`</updated><entry><title>Good atom</title><id>tag:a.example,2026:1</id><link href="https://a.example/1"/><updated>`+
		time.Now().UTC().Format(time.RFC3339)+`</updated><summary>s</summary></entry></feed>`)
	serve("/moved-target.rss", "application/rss+xml", rss(item("mv1", "Moved item", recent)))
	serve("/text-plain", "text/plain", rss(item("tp1", "Served as text", recent)))
	serve("/served-as-html", "text/html", rss(item("sh1", "Served as HTML", recent)))
	serve("/bom", "application/rss+xml", "\ufeff"+rss(item("b1", "After a BOM", recent)))
	mux.HandleFunc("/latin1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml; charset=ISO-8859-1")
		w.Write(latin1)
	})
	serve("/html-page", "text/html", `<!doctype html><html><head><title>News</title>`+
		`<link rel="alternate" type="application/rss+xml" href="/feeds/world.xml"></head><body>Hello</body></html>`)
	serve("/entity-bomb", "application/rss+xml", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">`+
		`<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">`+
		`<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">`+
		`<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">`+
		`<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>`+
		rss(item("eb1", "Bomb &lol9;", recent))[len(`<?xml version="1.0" encoding="UTF-8"?>`):])
	mux.HandleFunc("/xxe", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprintf(w, `<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "http://%s/secret"><!ENTITY pw SYSTEM "file:///etc/passwd">]>`+
			`<rss version="2.0"><channel><title>T</title><link>https://x.example/</link><description>d</description>`+
			`<item><guid>x1</guid><title>Leak &xxe; &pw;</title><pubDate>%s</pubDate></item></channel></rss>`, r.Host, recent)
	})
	mux.HandleFunc("/secret", func(w http.ResponseWriter, r *http.Request) {
		secretHits.Add(1)
		io.WriteString(w, "root:x:0:0")
	})
	full := rss(item("t1", "Complete one", recent), item("t2", "Complete two", recent), item("t3", "Cut", recent))
	serve("/truncated", "application/rss+xml", full[:strings.Index(full, "<item><guid>t3")+30])
	serve("/empty", "application/rss+xml", "")
	serve("/garbage", "application/rss+xml", "\x00\x01\x02 this is not a feed at all \xff\xfe")
	serve("/many", "application/rss+xml", manyBody)
	serve("/dates", "application/rss+xml", rss(item("d1", "Future", "Mon, 01 Jan 2099 00:00:00 GMT"), item("d2", "Garbage date", "the day after tomorrow")))
	serve("/long-fields", "application/rss+xml", rss(item("lf1", strings.Repeat("Very long title ", 5000), recent)))
	mux.HandleFunc("/slow-headers", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		for i := 0; i < 200; i++ {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		chunk := bytes.Repeat([]byte("<!-- padding -->"), 4096)
		for range 1000 { // 64 MiB, no Content-Length
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/gzip-bomb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(bomb.Bytes())
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, _ := w.(http.Hijacker).Hijack()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n<rss version=\"2.0\"><channel>")
		buf.Flush()
		conn.Close()
	})
	mux.HandleFunc("/not-found", http.NotFound)
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
	mux.HandleFunc("/rate-limited", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/moved-target.rss", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestPollHostileWeb runs one `tributary poll` over good sources and every
// kind of hostile one: each hostile source gets the outcome it deserves,
// in plain words, and every good source's items arrive.
func TestPollHostileWeb(t *testing.T) {
	var secretHits atomic.Int32
	srv := hostileWeb(t, &secretHits)
	// name, path, and what its line of `poll` output must match.
	sources := []struct{ name, path, want string }{
		{"good-rss", "/good.rss", `^good-rss: 2 new, 0 updated, 0 unchanged; HTTP 200;`},
		{"good-atom", "/good.atom", `^good-atom: 1 new,`},
		{"text-plain", "/text-plain", `^text-plain: 1 new,`},
		{"served-as-html", "/served-as-html", `^served-as-html: 1 new,`},
		{"bom", "/bom", `^bom: 1 new,`},
		{"latin1", "/latin1", `^latin1: 1 new,`},
		{"many", "/many", `^many: 100 new,`},
		{"dates", "/dates", `^dates: 2 new,`},
		{"long-fields", "/long-fields", `^long-fields: 1 new,`},
		{"truncated", "/truncated", `^truncated: 2 new,`},
		{"xxe", "/xxe", `^xxe: (1 new,|error: )`},
		{"entity-bomb", "/entity-bomb", `^entity-bomb: (1 new,|error: )`},
		{"moved", "/moved", `^moved: 1 new, .*; moved permanently to http://127\.0\.0\.1:\d+/moved-target\.rss \(update the config\)`},
		{"html-page", "/html-page", `^html-page: error: .*this is an HTML page, not a feed; it advertises: http://127\.0\.0\.1:\d+/feeds/world\.xml`},
		{"empty", "/empty", `^empty: error: .*empty response body`},
		{"garbage", "/garbage", `^garbage: error: `},
		{"not-found", "/not-found", `^not-found: error: .*HTTP 404 Not Found.*; HTTP 404;`},
		{"error", "/error", `^error: error: .*HTTP 500 Internal Server Error`},
		{"rate-limited", "/rate-limited", `^rate-limited: error: .*HTTP 429 Too Many Requests.*; HTTP 429;`},
		{"gone", "/gone", `^gone: error: .*HTTP 410`},
		{"loop", "/loop", `^loop: error: .*redirect`},
		{"slow-headers", "/slow-headers", `^slow-headers: error: .*timed out`},
		{"trickle", "/trickle", `^trickle: error: .*timed out`},
		{"huge", "/huge", `^huge: error: .*exceeds 1048576 bytes`},
		{"gzip-bomb", "/gzip-bomb", `^gzip-bomb: error: .*exceeds 1048576 bytes`},
		{"reset", "/reset", `^reset: error: `},
	}
	var cfg strings.Builder
	dir := t.TempDir()
	fmt.Fprintf(&cfg, "listen: \"127.0.0.1:0\"\ndata_dir: %q\nbacklog: 0\nfetch: {timeout: 2s, concurrency: 8, max_body_bytes: 1MiB, max_items: 100}\n"+
		"topics:\n  - name: all\n    query: 'good OR item OR served OR after OR cafe OR moved OR complete OR future OR garbage OR very'\nsources:\n", filepath.Join(dir, "data"))
	for _, s := range sources {
		fmt.Fprintf(&cfg, "  - name: %s\n    url: %q\n", s.name, srv.URL+s.path)
	}
	cfgPath := filepath.Join(dir, "tributary.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := execute(t, "poll", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("poll: exit %d\n%s\n%s", code, out, errOut)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if name, _, ok := strings.Cut(l, ": "); ok {
			lines[name] = l
		}
	}
	for _, s := range sources {
		if !regexp.MustCompile(s.want).MatchString(lines[s.name]) {
			t.Errorf("%s: got %q\n  want a match for %s", s.name, lines[s.name], s.want)
		}
	}
	if !strings.Contains(out, "polled 26 sources: 13 ok, 13 failed") {
		t.Errorf("summary line missing or wrong:\n%s", out)
	}
	if n := secretHits.Load(); n != 0 {
		t.Errorf("an external entity was fetched %d times", n)
	}

	// The second poll: the paused source is deferred and the gone one
	// disabled, neither fetched; the moved one goes straight to its new URL.
	code, out, _ = execute(t, "poll", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("second poll: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"rate-limited: deferred until ",
		"gone: disabled: 410 Gone: the publisher removed this feed; disabled until its URL in the config changes",
		", 1 deferred at the publisher's request, 1 disabled",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("second poll lacks %q:\n%s", want, out)
		}
	}

	// What the admin sees: /sources.json and the status page.
	d := startDaemon(t, cfgPath)
	resp, err := http.Get(d.url() + "/sources.json")
	if err != nil {
		t.Fatal(err)
	}
	var states []struct {
		Name              string `json:"name"`
		LastStatus        int    `json:"last_status"`
		LastError         string `json:"last_error"`
		Failures          int    `json:"consecutive_failures"`
		Disabled          bool   `json:"disabled"`
		PermanentRedirect string `json:"permanent_redirect"`
		Items             int    `json:"items"`
		NextPoll          string `json:"next_poll"`
	}
	err = json.NewDecoder(resp.Body).Decode(&states)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, s := range states {
		byName[s.Name] = i
	}
	check := func(name string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("/sources.json %s: %+v", name, states[byName[name]])
		}
	}
	check("good-rss", states[byName["good-rss"]].Items == 2 && states[byName["good-rss"]].LastError == "")
	check("many", states[byName["many"]].Items == 100)
	check("gone", states[byName["gone"]].Disabled && states[byName["gone"]].LastStatus == 410)
	check("moved", strings.HasSuffix(states[byName["moved"]].PermanentRedirect, "/moved-target.rss"))
	check("not-found", states[byName["not-found"]].LastStatus == 404 && states[byName["not-found"]].Failures == 2 &&
		strings.Contains(states[byName["not-found"]].LastError, "404"))
	check("slow-headers", states[byName["slow-headers"]].LastStatus == 0 && strings.Contains(states[byName["slow-headers"]].LastError, "timed out"))

	resp, err = http.Get(d.url() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"moved-target.rss", "410 Gone", "HTTP 404 Not Found"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("status page lacks %q", want)
		}
	}
}
