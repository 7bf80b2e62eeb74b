package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mmcdole/gofeed"
)

func get(t *testing.T, client *http.Client, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestFarm(t *testing.T) {
	farm := NewFarm(Options{Sources: 6, Items: 30, Seed: 1})
	srv := httptest.NewServer(farm)
	t.Cleanup(srv.Close)
	// Compression is handled by hand so the test sees the raw bytes.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}

	for _, path := range []string{"/s/0.xml", "/s/1.atom", "/s/2.json"} {
		t.Run(path, func(t *testing.T) {
			resp, plain := get(t, client, srv.URL+path, nil)
			etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
			if resp.StatusCode != http.StatusOK || etag == "" || etag[0] != '"' || lastMod == "" {
				t.Fatalf("status %d, ETag %q, Last-Modified %q", resp.StatusCode, etag, lastMod)
			}
			feed, err := gofeed.NewParser().ParseString(string(plain))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(feed.Items) != 30 {
				t.Errorf("%d items, want 30", len(feed.Items))
			}

			resp, gz := get(t, client, srv.URL+path, map[string]string{"Accept-Encoding": "gzip"})
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				t.Fatal(err)
			}
			unzipped, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(unzipped, plain) {
				t.Errorf("gzip body differs from the plain one (err %v)", err)
			}
			gzETag := resp.Header.Get("ETag")
			if gzETag == etag {
				t.Errorf("gzip and identity share the strong ETag %s", etag)
			}

			for name, h := range map[string]map[string]string{
				"If-None-Match":           {"If-None-Match": etag},
				"If-None-Match gzip":      {"If-None-Match": `"other", ` + gzETag, "Accept-Encoding": "gzip"},
				"If-Modified-Since":       {"If-Modified-Since": lastMod},
				"INM wins over IMS":       {"If-None-Match": `"stale"`, "If-Modified-Since": lastMod},
				"older If-Modified-Since": {"If-Modified-Since": "Mon, 02 Jan 2006 15:04:05 GMT"},
			} {
				want := http.StatusNotModified
				if name == "INM wins over IMS" || name == "older If-Modified-Since" {
					want = http.StatusOK
				}
				resp, body := get(t, client, srv.URL+path, h)
				if resp.StatusCode != want {
					t.Errorf("%s: status %d, want %d", name, resp.StatusCode, want)
				}
				if want == http.StatusNotModified && len(body) != 0 {
					t.Errorf("%s: 304 with a body", name)
				}
			}
		})
	}

	t.Run("deterministic", func(t *testing.T) {
		again := NewFarm(Options{Sources: 6, Items: 30, Seed: 1})
		other := NewFarm(Options{Sources: 6, Items: 30, Seed: 2})
		if again.feeds[4].etag != farm.feeds[4].etag {
			t.Error("same seed, different feed")
		}
		if other.feeds[4].etag == farm.feeds[4].etag {
			t.Error("different seed, same feed")
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, path := range []string{"/s/0.atom", "/s/6.xml", "/s/00.xml", "/x"} {
			if resp, _ := get(t, client, srv.URL+path, nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", path, resp.StatusCode)
			}
		}
	})

	if s := farm.Stats(); s.OK == 0 || s.NotModified == 0 {
		t.Errorf("stats %+v: want both counted", s)
	}
}
