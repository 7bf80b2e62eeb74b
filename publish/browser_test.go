package publish

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/tributary-news/tributary/aggregator"
)

// screenshotDir, when set, keeps the status page screenshots there so a
// person can look at them: go test -run TestIndexInBrowser -screenshots DIR
var screenshotDir = flag.String("screenshots", "", "directory to keep the status page screenshots in")

// chromiumTimeout bounds one Chromium run; a cold start on a small machine
// takes a few seconds.
const chromiumTimeout = 90 * time.Second

// browserConfig is testConfig with a source for every kind of health the
// status page shows.
func browserConfig(baseURL string) Config {
	cfg := testConfig(baseURL)
	cfg.Sources = []aggregator.Source{
		{Name: "alpha", Title: "Alpha News", URL: "https://alpha.example/feed.xml", Tags: []string{"tech"}},
		{Name: "beta", URL: "http://beta.example/rss"},
		{Name: "gamma", Title: "Gamma (local file)", URL: "file:///srv/feeds/gamma.xml"},
		{Name: "delta", Title: "Delta", URL: "https://delta.example/atom"},
		{Name: "epsilon", Title: "Epsilon Daily", URL: "https://epsilon.example/index.rss"},
		{Name: "zeta", Title: "Zeta Wire", URL: "https://zeta.example/feeds/world/all-the-news-that-fits-in-a-very-long-url.xml"},
	}
	return cfg
}

// browserStates: alpha is healthy, beta failing, gamma never polled, delta
// disabled by 410 Gone, epsilon healthy at a new address (301), zeta
// paused at the publisher's request.
func browserStates() []aggregator.SourceState {
	return []aggregator.SourceState{
		{
			Source: "alpha", LastPolled: at("2024-05-06T07:05:00Z"), LastStatus: 200,
			NextPoll: at("2024-05-06T07:20:00Z"), ItemCount: 42,
		},
		{
			Source: "beta", LastPolled: at("2024-05-06T07:00:00Z"), LastStatus: 0,
			LastError:           "fetch http://beta.example/rss: connection refused: nothing is listening at beta.example:80",
			ConsecutiveFailures: 3, NextPoll: at("2024-05-06T09:00:00Z"), ItemCount: 12,
		},
		{
			Source: "delta", LastPolled: at("2024-05-01T00:00:00Z"), LastStatus: 410, Disabled: true,
			LastError:           "410 Gone: the publisher removed this feed; disabled until its URL in the config changes",
			ConsecutiveFailures: 1, NextPoll: at("2024-05-02T00:00:00Z"), ItemCount: 7,
		},
		{
			Source: "epsilon", LastPolled: at("2024-05-06T06:50:00Z"), LastStatus: 200,
			PermanentRedirect: "https://news.epsilon.example/feeds/index.rss",
			NextPoll:          at("2024-05-06T07:50:00Z"), ItemCount: 230,
		},
		{
			Source: "zeta", LastPolled: at("2024-05-06T07:02:00Z"), LastStatus: 503,
			LastError:           "fetch https://zeta.example/feeds/world/all-the-news-that-fits-in-a-very-long-url.xml: HTTP 503 Service Unavailable (retry after 2h0m0s)",
			ConsecutiveFailures: 1, RetryAfter: at("2024-05-06T09:02:00Z"), NextPoll: at("2024-05-06T09:02:00Z"), ItemCount: 3,
		},
	}
}

// TestIndexInBrowser loads the status page in headless Chromium, as a
// person would: phone and desktop screenshots, and the DOM after rendering.
// Without Chromium it skips, except in CI, where it must run.
func TestIndexInBrowser(t *testing.T) {
	chromium := findChromium(t)

	store := fixtureStore()
	store.states = browserStates()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	h := NewHandler(store, browserConfig(base), nil)
	h.Now = func() time.Time { return fixedNow }
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	page := base + "/"

	t.Run("screenshots", func(t *testing.T) {
		for _, tc := range []struct {
			name          string
			width, height int
		}{
			{"phone", 390, 844},
			{"desktop", 1280, 900},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dir := t.TempDir()
				file := filepath.Join(dir, "index-"+tc.name+".png")
				runChromium(t, chromium, tc.width, tc.height, "--screenshot="+file, page)
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("no screenshot: %v", err)
				}
				cfg, err := png.DecodeConfig(bytes.NewReader(data))
				if err != nil {
					t.Fatalf("screenshot is not a PNG (%d bytes): %v", len(data), err)
				}
				if cfg.Width != tc.width || cfg.Height != tc.height {
					t.Errorf("screenshot is %dx%d, want %dx%d", cfg.Width, cfg.Height, tc.width, tc.height)
				}
				if *screenshotDir != "" {
					if err := os.WriteFile(filepath.Join(*screenshotDir, "index-"+tc.name+".png"), data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	})

	t.Run("dom", func(t *testing.T) {
		out := runChromium(t, chromium, 390, 844, "--dump-dom", page)
		if *screenshotDir != "" {
			if err := os.WriteFile(filepath.Join(*screenshotDir, "index.html"), out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		doc, err := html.Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("parse the rendered DOM: %v", err)
		}
		if n := find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "script" }); n != nil {
			t.Errorf("the page has a <script>")
		}
		if n := find(doc, func(n *html.Node) bool { return hasEventHandler(n) }); n != nil {
			t.Errorf("<%s> has an event handler attribute", n.Data)
		}
		body := find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "body" })
		if body == nil {
			t.Fatalf("no <body> in the rendered DOM:\n%s", out)
		}

		t.Run("topics", func(t *testing.T) {
			for _, tc := range []struct {
				name, title, count string
			}{
				{"tech", "Tech & Science", "5 items"},
				{"everything", "everything", "2 items"},
				{"empty", "Nothing <yet>", "0 items"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					sec := find(body, func(n *html.Node) bool { return attr(n, "id") == "topic-"+tc.name })
					if sec == nil {
						t.Fatalf("no section for the topic")
					}
					text := visibleText(sec)
					for _, want := range []string{tc.title, tc.count} {
						if !strings.Contains(text, want) {
							t.Errorf("topic shows %q, lacking %q", text, want)
						}
					}
					links := map[string]string{}
					for _, a := range findAll(sec, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "a" }) {
						links[visibleText(a)] = attr(a, "href")
					}
					for label, ext := range map[string]string{"RSS": "rss", "Atom": "atom", "JSON Feed": "json"} {
						if want := base + "/topics/" + tc.name + "." + ext; links[label] != want {
							t.Errorf("%s link = %q, want %q (links: %v)", label, links[label], want, links)
						}
					}
				})
			}
		})

		t.Run("sources", func(t *testing.T) {
			for _, tc := range []struct {
				name string
				want []string
				not  []string
			}{
				{"alpha", []string{"Alpha News", "ok", "200 OK", "3 min ago", "in 11 min", "42"}, []string{"failing"}},
				{"beta", []string{"beta", "failing (3 in a row)", "connection refused", "no HTTP response", "in 1 h"}, nil},
				{"gamma", []string{"Gamma (local file)", "not polled yet", "never"}, []string{"/srv/feeds"}},
				{"delta", []string{"Delta", "disabled", "410 Gone", "URL in the config changes"}, []string{"next poll in"}},
				{"epsilon", []string{"Epsilon Daily", "moved", "https://news.epsilon.example/feeds/index.rss", "update the config", "230"}, nil},
				{"zeta", []string{"Zeta Wire", "paused by the publisher", "503 Service Unavailable"}, nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					row := find(body, func(n *html.Node) bool { return attr(n, "id") == "source-"+tc.name })
					if row == nil {
						t.Fatalf("no row for the source")
					}
					text := visibleText(row)
					for _, want := range tc.want {
						if !strings.Contains(text, want) {
							t.Errorf("source shows %q, lacking %q", text, want)
						}
					}
					for _, not := range tc.not {
						if strings.Contains(text, not) {
							t.Errorf("source shows %q, including %q", text, not)
						}
					}
				})
			}
		})
	})
}

// findChromium returns the path of Debian's chromium, or skips the test
// without it (but fails in CI, where it must have been installed).
func findChromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		msg := "chromium is not installed (Debian: apt-get install chromium); the status page is not checked in a browser"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// runChromium runs headless Chromium on url with a window of w×h and its
// own profile, and returns what it wrote to stdout.
func runChromium(t *testing.T, chromium string, w, h int, action, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), chromiumTimeout)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir=" + t.TempDir(),
		"--window-size=" + strconv.Itoa(w) + "," + strconv.Itoa(h),
		action, url,
	}
	cmd := exec.CommandContext(ctx, chromium, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("chromium %s did not finish within %s:\n%s", action, chromiumTimeout, stderr.Bytes())
		}
		t.Fatalf("chromium %s: %v\n%s", action, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// find returns the first node under n (n included), in document order, that
// match accepts.
func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if m := find(c, match); m != nil {
			return m
		}
	}
	return nil
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if match(n) {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, findAll(c, match)...)
	}
	return out
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func hasEventHandler(n *html.Node) bool {
	for _, a := range n.Attr {
		if strings.HasPrefix(strings.ToLower(a.Key), "on") {
			return true
		}
	}
	return false
}

// visibleText is the text of n as a reader sees it: white space collapsed,
// elements that never render (style, head, hidden) left out.
func visibleText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
			b.WriteByte(' ')
			return
		case html.ElementNode:
			switch n.Data {
			case "style", "script", "head", "template":
				return
			}
			if _, hidden := attrOK(n, "hidden"); hidden {
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}
