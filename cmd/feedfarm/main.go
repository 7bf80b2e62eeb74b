// Command feedfarm is a loopback "feed farm" for the end-to-end benchmarks:
// an HTTP server holding N deterministic news feeds (RSS 2.0, Atom 1.0 and
// JSON Feed 1.1, mixed by source number) of realistic items, with strong
// ETags, Last-Modified, 304s and gzip, so a poller can be measured cold
// (every feed 200) and warm (every feed 304) against the same bytes.
//
//	feedfarm -listen 127.0.0.1:0 -sources 2000 -items 30 -seed 1 \
//	    -urls urls.txt -config tributary.yaml -data ./data
//
// The first line on stdout is the base URL. Feeds are /s/N.xml, /s/N.atom
// and /s/N.json (N from 0); /_stats reports how many 200s and 304s were
// served, so a benchmark can check a warm run really was all 304s.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "feedfarm:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("feedfarm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback host:port to listen on")
	sources := fs.Int("sources", 2000, "number of feeds")
	items := fs.Int("items", 30, "items per feed")
	seed := fs.Uint64("seed", 1, "seed of the generated content")
	urlsFile := fs.String("urls", "", "write the feed URLs here, one a line (newsboat's urls file)")
	configFile := fs.String("config", "", "write a tributary config polling every feed here")
	dataDir := fs.String("data", "data", "data_dir written into -config")
	perHost := fs.Int("per-host", 8, "fetch.per_host written into -config (every feed is on one host)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sources < 1 || *items < 1 {
		return errors.New("-sources and -items must be at least 1")
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-listen %q: only loopback addresses are allowed", *listen)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	start := time.Now()
	farm := NewFarm(Options{Sources: *sources, Items: *items, Seed: *seed})
	logger.Info("feeds generated", "sources", *sources, "items", *items,
		"bytes", farm.Size(), "took", time.Since(start).Round(time.Millisecond))

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	if *urlsFile != "" {
		if err := os.WriteFile(*urlsFile, farm.URLList(base), 0o644); err != nil {
			return fmt.Errorf("write urls: %w", err)
		}
	}
	if *configFile != "" {
		cfg := farm.TributaryConfig(base, *dataDir, *perHost)
		if err := os.WriteFile(*configFile, cfg, 0o644); err != nil {
			return fmt.Errorf("write config: %w", err)
		}
	}
	srv := &http.Server{
		Handler:           farm,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 16,
	}
	fmt.Fprintln(stdout, base)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// Options chooses what the farm serves.
type Options struct {
	Sources int    // number of feeds
	Items   int    // items per feed
	Seed    uint64 // seed of the generated content
}

// Farm serves the generated feeds. Every body is rendered and compressed
// once, in NewFarm, so serving costs the farm as little as possible.
type Farm struct {
	opts  Options
	feeds []feedDoc
	n200  atomic.Int64
	n304  atomic.Int64
}

type feedDoc struct {
	ext          string // "xml", "atom" or "json"
	contentType  string
	body, gz     []byte
	etag, etagGz string
	lastModified time.Time
}

// Stats counts the responses served.
type Stats struct {
	OK          int64 `json:"ok"`
	NotModified int64 `json:"not_modified"`
}

// NewFarm generates every feed.
func NewFarm(opts Options) *Farm {
	f := &Farm{opts: opts, feeds: make([]feedDoc, opts.Sources)}
	g := newGenerator(opts)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				n := int(next.Add(1) - 1)
				if n >= opts.Sources {
					return
				}
				f.feeds[n] = g.feed(n)
			}
		})
	}
	wg.Wait()
	return f
}

// Size is the total size of the uncompressed feeds.
func (f *Farm) Size() int {
	total := 0
	for _, d := range f.feeds {
		total += len(d.body)
	}
	return total
}

// Stats returns the counts of responses so far.
func (f *Farm) Stats() Stats {
	return Stats{OK: f.n200.Load(), NotModified: f.n304.Load()}
}

// URLList is every feed URL, one a line.
func (f *Farm) URLList(base string) []byte {
	var b bytes.Buffer
	for n, d := range f.feeds {
		fmt.Fprintf(&b, "%s/s/%d.%s\n", base, n, d.ext)
	}
	return b.Bytes()
}

// ServeHTTP serves /s/N.EXT and /_stats.
func (f *Farm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/_stats" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f.Stats())
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/s/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	num, ext, ok := strings.Cut(name, ".")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 0 || n >= len(f.feeds) || f.feeds[n].ext != ext || strconv.Itoa(n) != num {
		http.NotFound(w, r)
		return
	}
	d := &f.feeds[n]
	h := w.Header()
	h.Set("Vary", "Accept-Encoding")
	h.Set("Cache-Control", "max-age=0")
	h.Set("Last-Modified", d.lastModified.UTC().Format(http.TimeFormat))
	useGzip := acceptsGzip(r.Header.Get("Accept-Encoding"))
	if useGzip {
		h.Set("ETag", d.etagGz)
	} else {
		h.Set("ETag", d.etag)
	}
	if notModified(r, d) {
		f.n304.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := d.body
	if useGzip {
		body = d.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", d.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	f.n200.Add(1)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// notModified applies RFC 9110: If-None-Match, when present, decides
// alone; otherwise If-Modified-Since. Either representation's ETag
// counts, as the content is the same.
func notModified(r *http.Request, d *feedDoc) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for tag := range strings.SplitSeq(inm, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || tag == d.etag || tag == d.etagGz {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !d.lastModified.Truncate(time.Second).After(t)
	}
	return false
}

func acceptsGzip(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

func newDoc(ext string, body []byte, lastModified time.Time) feedDoc {
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	_, _ = zw.Write(body)
	_ = zw.Close()
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:12])
	ctype := map[string]string{
		"xml":  "application/rss+xml; charset=utf-8",
		"atom": "application/atom+xml; charset=utf-8",
		"json": "application/feed+json; charset=utf-8",
	}[ext]
	return feedDoc{
		ext: ext, contentType: ctype, body: body, gz: gz.Bytes(),
		etag: `"` + tag + `"`, etagGz: `"` + tag + `-gz"`,
		lastModified: lastModified.UTC().Truncate(time.Second),
	}
}
