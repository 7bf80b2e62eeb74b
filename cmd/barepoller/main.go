// Command barepoller is the end-to-end benchmark's reference for "what a
// straightforward implementation costs": a fixed pool of workers fetching
// every URL of a list with net/http, parsing with gofeed and storing each
// feed's items in one bbolt transaction — no dedup across feeds, no
// topics, no sanitising. The ETag and Last-Modified of each feed are kept
// in the same bbolt file, so a second run sends conditional GETs; a 304
// writes nothing.
//
//	barepoller -urls urls.txt -db bare.db -workers 8
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mmcdole/gofeed"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketItems = []byte("items")
	bucketState = []byte("state")
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "barepoller:", err)
		os.Exit(1)
	}
}

type state struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

type storedItem struct {
	ID        string     `json:"id"`
	Link      string     `json:"link"`
	Title     string     `json:"title"`
	Content   string     `json:"content"`
	Published *time.Time `json:"published,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("barepoller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	urlsFile := fs.String("urls", "urls.txt", "feed URLs, one a line")
	dbPath := fs.String("db", "barepoller.db", "bbolt file")
	workers := fs.Int("workers", 8, "concurrent fetches")
	if err := fs.Parse(args); err != nil {
		return err
	}
	urls, err := readURLs(*urlsFile)
	if err != nil {
		return err
	}
	start := time.Now()
	db, err := bolt.Open(*dbPath, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("open %s: %w", *dbPath, err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketItems, bucketState} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("create buckets: %w", err)
	}

	client := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: *workers,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	var ok, notModified, failed, items atomic.Int64
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			parser := gofeed.NewParser()
			for u := range jobs {
				n, fresh, err := poll(ctx, client, parser, db, u)
				switch {
				case err != nil:
					failed.Add(1)
					fmt.Fprintf(stderr, "%s: %v\n", u, err)
				case fresh:
					ok.Add(1)
					items.Add(int64(n))
				default:
					notModified.Add(1)
				}
			}
		})
	}
	for _, u := range urls {
		if ctx.Err() != nil {
			break
		}
		jobs <- u
	}
	close(jobs)
	wg.Wait()
	fmt.Fprintf(stdout, "barepoller: %d feeds: %d ok, %d not modified, %d failed; %d items; wall %.3fs\n",
		len(urls), ok.Load(), notModified.Load(), failed.Load(), items.Load(), time.Since(start).Seconds())
	return ctx.Err()
}

func readURLs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read urls: %w", err)
	}
	defer f.Close()
	var urls []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			urls = append(urls, strings.Fields(line)[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read urls: %w", err)
	}
	return urls, nil
}

// poll fetches one feed conditionally and stores its items and validators
// in one transaction. fresh is false for a 304.
func poll(ctx context.Context, client *http.Client, parser *gofeed.Parser, db *bolt.DB, url string) (n int, fresh bool, err error) {
	var st state
	if err := db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketState).Get([]byte(url)); v != nil {
			return json.Unmarshal(v, &st)
		}
		return nil
	}); err != nil {
		return 0, false, fmt.Errorf("read state: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false, err
	}
	if st.ETag != "" {
		req.Header.Set("If-None-Match", st.ETag)
	}
	if st.LastModified != "" {
		req.Header.Set("If-Modified-Since", st.LastModified)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return 0, false, nil
	case resp.StatusCode != http.StatusOK:
		return 0, false, fmt.Errorf("HTTP %s", resp.Status)
	}
	feed, err := parser.Parse(io.LimitReader(resp.Body, 10<<20))
	if err != nil {
		return 0, false, fmt.Errorf("parse: %w", err)
	}
	st = state{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	err = db.Update(func(tx *bolt.Tx) error {
		items, err := tx.Bucket(bucketItems).CreateBucketIfNotExists([]byte(url))
		if err != nil {
			return err
		}
		for _, it := range feed.Items {
			id := it.GUID
			if id == "" {
				id = it.Link
			}
			if id == "" {
				continue
			}
			content := it.Content
			if content == "" {
				content = it.Description
			}
			v, err := json.Marshal(storedItem{ID: id, Link: it.Link, Title: it.Title, Content: content, Published: it.PublishedParsed})
			if err != nil {
				return err
			}
			if err := items.Put([]byte(id), v); err != nil {
				return err
			}
			n++
		}
		v, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketState).Put([]byte(url), v)
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: %w", err)
	}
	return n, true, nil
}
