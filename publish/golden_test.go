package publish

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testBaseURL = "https://news.example.org"

func newTestHandler(t testing.TB, store Store, cfg Config) *Handler {
	t.Helper()
	h := NewHandler(store, cfg, nil)
	h.Now = func() time.Time { return fixedNow }
	return h
}

// get serves one request through h and returns the recorded response.
func get(t testing.TB, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run go test -update if the change is intended)\n--- got ---\n%s", name, path, got)
	}
}

func TestGolden(t *testing.T) {
	h := newTestHandler(t, fixtureStore(), testConfig(testBaseURL))
	tests := []struct {
		golden, path, contentType string
	}{
		{"tech.rss", "/topics/tech.rss", "application/rss+xml; charset=utf-8"},
		{"tech.atom", "/topics/tech.atom", "application/atom+xml; charset=utf-8"},
		{"tech.json", "/topics/tech.json", "application/feed+json; charset=utf-8"},
		{"empty.rss", "/topics/empty.rss", "application/rss+xml; charset=utf-8"},
		{"empty.atom", "/topics/empty.atom", "application/atom+xml; charset=utf-8"},
		{"empty.json", "/topics/empty.json", "application/feed+json; charset=utf-8"},
		{"topics.opml", "/topics.opml", "text/x-opml; charset=utf-8"},
		{"sources.json", "/sources.json", "application/json"},
		{"index.html", "/", "text/html; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			rec := get(t, h, http.MethodGet, tt.path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: status %d, body %q", tt.path, rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("GET %s: Content-Type %q, want %q", tt.path, got, tt.contentType)
			}
			checkGolden(t, tt.golden, rec.Body.Bytes())
		})
	}
}
