package aggregator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestDiscoverFeeds(t *testing.T) {
	tests := []struct {
		name, page, url string
		want            []string
	}{
		{
			name: "rss, atom and json feed links, relative and absolute",
			url:  "https://blog.example/posts/",
			page: `<!doctype html><html><head><title>Blog</title>
<link rel="stylesheet" href="/s.css">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
<link rel="alternate" type="application/atom+xml" href="atom.xml">
<LINK REL="Alternate" TYPE="application/feed+json; charset=utf-8" HREF="https://cdn.example/feed.json">
<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
</head><body><link rel="alternate" type="application/rss+xml" href="/in-body.xml"></body></html>`,
			want: []string{"https://blog.example/feed.xml", "https://blog.example/posts/atom.xml", "https://cdn.example/feed.json"},
		},
		{
			name: "base href and duplicates",
			url:  "https://a.example/x/y",
			page: `<html><head><base href="https://static.example/b/">
<link rel="alternate" type="application/rss+xml" href="a.xml">
<link rel="alternate" type="application/rss+xml" href="https://static.example/b/a.xml"></head></html>`,
			want: []string{"https://static.example/b/a.xml"},
		},
		{
			name: "no local files or scripts",
			url:  "https://evil.example/",
			page: `<html><head>
<link rel="alternate" type="application/rss+xml" href="file:///etc/passwd">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/atom+xml" href="//other.example/feed"></head></html>`,
			want: []string{"https://other.example/feed"},
		},
		{name: "none advertised", url: "https://a.example/", page: `<html><head><title>x</title></head><body>hi</body></html>`},
		{name: "not HTML", url: "https://a.example/", page: `{"version": "https://jsonfeed.org/version/1.1"}`},
		{name: "empty", url: "https://a.example/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DiscoverFeeds([]byte(tt.page), tt.url); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// A page served over HTTP: fetch it, see it is not a feed, discover its
// feed, fetch and parse that.
func TestDiscoverFeedsOverHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html><head><title>Site</title>
<link rel="alternate" type="application/atom+xml" title="Atom" href="/feeds/all.atom"></head><body>x</body></html>`))
	})
	mux.HandleFunc("/feeds/all.atom", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/atom+xml")
		w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>The Site</title><id>urn:x</id><updated>2024-01-01T00:00:00Z</updated>
<entry><title>One</title><id>urn:1</id><link href="/1"/><updated>2024-01-01T00:00:00Z</updated></entry></feed>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	f := NewFetcher(FetcherOptions{})
	ctx := context.Background()
	page, err := f.Fetch(ctx, FetchRequest{URL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFeed(page.Body, page.ContentType, page.FinalURL); err == nil {
		t.Fatal("the page parsed as a feed")
	}
	links := DiscoverFeeds(page.Body, page.FinalURL)
	if want := []string{srv.URL + "/feeds/all.atom"}; !slices.Equal(links, want) {
		t.Fatalf("links %q, want %q", links, want)
	}
	res, err := f.Fetch(ctx, FetchRequest{URL: links[0]})
	if err != nil {
		t.Fatal(err)
	}
	feed, err := ParseFeed(res.Body, res.ContentType, res.FinalURL)
	if err != nil {
		t.Fatal(err)
	}
	if feed.Title != "The Site" || len(feed.Items) != 1 || feed.Items[0].Link != srv.URL+"/1" {
		t.Errorf("feed %+v", feed)
	}
}
