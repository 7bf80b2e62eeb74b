package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestPollCPUProfile checks that poll --cpuprofile writes a profile pprof
// can read (it starts with gzip's magic bytes), and that a path it cannot
// create is an error before anything is polled.
func TestPollCPUProfile(t *testing.T) {
	farm := newFeedFarm()
	farm.set("/wire.rss", farmFeed{contentType: "application/rss+xml", body: wireRSS, validators: "both"})
	srv := httptest.NewServer(farm)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfgPath := e2eConfig(t, dir, srv.URL)

	prof := filepath.Join(dir, "cpu.prof")
	if code, out, errOut := execute(t, "poll", "--config", cfgPath, "--source", "wire", "--cpuprofile", prof); code != 0 {
		t.Fatalf("poll: exit %d\n%s%s", code, out, errOut)
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("profile is not a gzip'd pprof file: % x", b[:min(len(b), 8)])
	}

	requests, _, _ := farm.counts("/wire.rss")
	code, _, errOut := execute(t, "poll", "--config", cfgPath, "--cpuprofile", filepath.Join(dir, "missing", "cpu.prof"))
	if code == 0 {
		t.Fatalf("poll with an uncreatable profile path succeeded")
	}
	if again, _, _ := farm.counts("/wire.rss"); again != requests {
		t.Errorf("poll fetched %d times after failing to create its profile", again-requests)
	}
	t.Log(errOut)
}
