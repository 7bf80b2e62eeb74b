package aggregator_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// memorySampler records the high-water mark of the heap while it runs:
// the bytes of heap objects, live or not yet swept, which is what a body
// buffer, its copies and their garbage occupy.
type memorySampler struct {
	stop   chan struct{}
	done   chan struct{}
	sample []metrics.Sample
	base   uint64
	peak   uint64
}

func startMemorySampler() *memorySampler {
	s := &memorySampler{
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		sample: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}},
	}
	runtime.GC()
	s.base = s.read()
	s.peak = s.base
	go func() {
		defer close(s.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			s.peak = max(s.peak, s.read())
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *memorySampler) read() uint64 {
	metrics.Read(s.sample)
	return s.sample[0].Value.Uint64()
}

// growth stops sampling and returns how far the heap rose above where it
// started.
func (s *memorySampler) growth() uint64 {
	close(s.stop)
	<-s.done
	return s.peak - min(s.base, s.peak)
}

// TestPollMemoryBounded polls a 1 GiB gzip bomb and a 50 MB plain body
// (chunked, so no Content-Length gives it away) with a 10 MiB body limit,
// together, and checks that the heap never grows by more than four times
// the limit. It is a bound on memory, not on time.
func TestPollMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("inflates a gzip bomb")
	}
	const maxBody = 10 << 20

	// 64 gzip members of 16 MiB of zeros each: 1 GiB inflated, ~1 MB sent.
	var member bytes.Buffer
	zw, err := gzip.NewWriterLevel(&member, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(make([]byte, 16<<20))
	zw.Close()
	bomb := bytes.Repeat(member.Bytes(), 64)
	// The plain body is written from one small chunk, so that the test's
	// own data does not hide the poll's memory in the baseline.
	chunk := []byte(strings.Repeat("<item><title>x</title></item>\n", 64<<10/30))
	const plainSize = 50_000_000

	mux := http.NewServeMux()
	mux.HandleFunc("/bomb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(bomb)
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		for sent := 0; sent < plainSize; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the client stopped reading at the limit
			}
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	poller := newTestPoller(t, openStore(t), nil, func(o *aggregator.PollerOptions) {
		o.Fetcher = aggregator.NewFetcher(aggregator.FetcherOptions{Timeout: time.Minute, MaxBodyBytes: maxBody})
	})

	sampler := startMemorySampler()
	var wg sync.WaitGroup
	results := make([]aggregator.PollResult, 2)
	for i, path := range []string{"/bomb", "/plain"} {
		wg.Go(func() {
			results[i] = poller.Poll(context.Background(), aggregator.Source{Name: fmt.Sprint("mem", i), URL: srv.URL + path})
		})
	}
	wg.Wait()
	heap := sampler.growth()

	for _, res := range results {
		if want := fmt.Sprintf("response body exceeds %d bytes", maxBody); res.Err == nil || !strings.Contains(res.Err.Error(), want) {
			t.Errorf("%s: error = %v, want the body limit", res.Source, res.Err)
		}
	}
	t.Logf("peak heap growth during the two polls: %.1f MiB (max_body_bytes %d MiB, bound %d MiB)",
		float64(heap)/(1<<20), maxBody>>20, 4*maxBody>>20)
	if heap > 4*maxBody {
		t.Errorf("heap grew by %d bytes, more than 4 × max_body_bytes", heap)
	}
}
