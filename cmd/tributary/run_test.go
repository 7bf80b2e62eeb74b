package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe to read while the daemon writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRunCommand: `tributary run` on a fresh store polls every source at
// once, serves the topic feeds, and on a stop signal (its context) shuts
// down cleanly and exits 0, releasing the database.
func TestRunCommand(t *testing.T) {
	_, srv := startFeedFarm(t)
	cfgPath := e2eConfig(t, t.TempDir(), srv.URL)

	ctx, stop := context.WithCancel(t.Context())
	var stdout, stderr lockedBuffer
	exit := make(chan int, 1)
	go func() { exit <- Execute(ctx, []string{"run", "--config", cfgPath}, &stdout, &stderr) }()

	addrRE := regexp.MustCompile(`msg=serving addr=(\S+)`)
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == ""; {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			base = "http://" + m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("daemon did not report its address:\n%s", stderr.String())
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Never-polled sources are due at once: the topic fills without waiting
	// for the hourly schedule.
	var body string
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(body, "Human rights forum hears from 100 countries"); {
		if time.Now().After(deadline) {
			t.Fatalf("topic never filled; last body:\n%s\nlog:\n%s", body, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
		resp, err := http.Get(base + "/topics/human-rights-forum.json")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	// Every configured source has its series from the start, at zero for
	// what has not happened to it, so a scrape tells "never" from "not
	// configured".
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, source := range []string{"wire", "un", "outlet", "broken"} {
		series := `tributary_polls_total{result="deferred",source="` + source + `"} 0`
		if !strings.Contains(string(scrape), series) {
			t.Errorf("/metrics has no %s", series)
		}
	}
	for _, path := range []string{"/", "/healthz", "/sources.json", "/topics.opml"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
	}

	stop()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("run exited %d after the stop signal:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop within 15s")
	}
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("no clean-stop log line:\n%s", stderr.String())
	}
	// The database was closed: another command can open it at once.
	if code, out, errOut := execute(t, "poll", "--config", cfgPath, "--source", "wire"); code != 0 {
		t.Errorf("poll after run: exit %d\n%s%s", code, out, errOut)
	}
}
