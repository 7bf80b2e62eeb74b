package aggregator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/publish"
	"github.com/tributary-news/tributary/storage"
)

// fuzzSeeds returns every feed fixture of testdata, with the Content-Type
// it is meant to be served with.
func fuzzSeeds(f *testing.F) (bodies [][]byte, contentTypes []string) {
	f.Helper()
	for _, dir := range []string{"parse", "charset"} {
		entries, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasSuffix(name, ".golden.json") || strings.HasSuffix(name, ".py") {
				continue
			}
			b, err := os.ReadFile(filepath.Join("testdata", dir, name))
			if err != nil {
				f.Fatal(err)
			}
			contentType := ""
			switch {
			case strings.HasPrefix(name, "header-only-koi8-r"):
				contentType = "text/xml; charset=KOI8-R"
			case strings.HasPrefix(name, "header-only-shift_jis"):
				contentType = "text/xml; charset=Shift_JIS"
			}
			bodies = append(bodies, b)
			contentTypes = append(contentTypes, contentType)
		}
	}
	return bodies, contentTypes
}

// fuzzHeaderValue makes a fuzzed Content-Type sendable in a header.
func fuzzHeaderValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7F {
			return -1
		}
		return r
	}, s)
	return s[:min(len(s), 200)]
}

// fuzzCheckXML checks that a rendered feed is well-formed XML.
func fuzzCheckXML(body []byte) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// FuzzIngest runs arbitrary bytes through the whole pipeline: served over
// HTTP with an arbitrary Content-Type, polled by a real Poller (fetch,
// ParseFeed, NormaliseItems, SaveFeed into bbolt), then the topic feed
// rendered in all three formats by publish.Handler. Nothing may panic,
// and every output must parse: RSS and Atom as well-formed XML, JSON Feed
// as JSON with "items".
func FuzzIngest(f *testing.F) {
	bodies, contentTypes := fuzzSeeds(f)
	for i := range bodies {
		f.Add(bodies[i], contentTypes[i])
	}
	f.Add([]byte(`<!DOCTYPE rss [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><rss version="2.0"><channel><title>&b;</title><item><title>&b;</title></item></channel></rss>`), "application/rss+xml")
	f.Add([]byte(`<rss version="2.0"><channel><item><guid>1</guid><title>a&#1;b</title><description><![CDATA[x]]></description></item><item><title>tr`), "text/plain")
	f.Add([]byte(`{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","title":"<b>x</b>\u0000","content_html":"<p>\u0085</p>"}]}`), "application/json")

	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	db, err := storage.Open(filepath.Join(f.TempDir(), "fuzz.db"), storage.Options{Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })

	type response struct {
		body        []byte
		contentType string
	}
	var responses sync.Map // path → response
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := responses.Load(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		resp := v.(response)
		w.Header().Set("Content-Type", resp.contentType)
		w.Write(resp.body)
	}))
	f.Cleanup(srv.Close)
	fetcher := aggregator.NewFetcher(aggregator.FetcherOptions{Timeout: 10 * time.Second, MaxBodyBytes: 1 << 20})
	// One handler for the process (building one compiles the sanitiser);
	// each run gives it its own topic with SetConfig.
	handler := publish.NewHandler(db, publish.Config{BaseURL: "https://fuzz.example"}, nil)

	var runs atomic.Int64
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		// Each run has its own source and topic, so what it renders is
		// what it ingested, whatever ran before in this process.
		n := runs.Add(1)
		source := fmt.Sprintf("fuzz-%d", n)
		topic := fmt.Sprintf("topic-%d", n)
		path := "/" + source
		responses.Store(path, response{body: body, contentType: fuzzHeaderValue(contentType)})
		defer responses.Delete(path)

		sources := []aggregator.Source{{Name: source, URL: srv.URL + path}}
		topics := []aggregator.Topic{{Name: topic, Query: "source:" + source}}
		matcher, err := aggregator.NewTopicMatcher(topics, sources)
		if err != nil {
			t.Fatal(err)
		}
		poller := aggregator.NewPoller(aggregator.PollerOptions{
			Store:   db,
			Fetcher: fetcher,
			Matcher: matcher,
			Now:     func() time.Time { return now },
		})
		res := poller.Poll(ctx, sources[0])
		if res.Err != nil && strings.HasPrefix(res.Err.Error(), "internal error") {
			t.Fatalf("poll panicked: %v", res.Err)
		}

		stored, err := db.TopicItemCount(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if res.Err == nil && stored != res.New {
			t.Errorf("topic holds %d items, the poll stored %d new", stored, res.New)
		}

		handler.SetConfig(publish.Config{BaseURL: "https://fuzz.example", Topics: topics, Sources: sources})
		for _, ext := range []string{"rss", "atom", "json"} {
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/topics/"+topic+"."+ext, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d: %s", ext, rec.Code, rec.Body)
			}
			out := rec.Body.Bytes()
			if ext != "json" {
				if err := fuzzCheckXML(out); err != nil {
					t.Fatalf("%s is not well-formed: %v\n%s", ext, err, out)
				}
				continue
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("json does not parse: %v\n%s", err, out)
			}
			var items []json.RawMessage
			if err := json.Unmarshal(doc["items"], &items); err != nil || items == nil {
				t.Fatalf("json has no items array (%v):\n%s", err, out)
			}
			if want := min(stored, publish.DefaultMaxItems); len(items) != want {
				t.Errorf("json has %d items, want %d", len(items), want)
			}
		}
	})
}
