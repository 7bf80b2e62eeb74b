package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestPollProfiles checks that poll --cpuprofile and --memprofile write
// profiles pprof can read (they start with gzip's magic bytes), and that a
// CPU profile path it cannot create is an error before anything is polled.
func TestPollProfiles(t *testing.T) {
	farm := newFeedFarm()
	farm.set("/wire.rss", farmFeed{contentType: "application/rss+xml", body: wireRSS, validators: "both"})
	srv := httptest.NewServer(farm)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfgPath := e2eConfig(t, dir, srv.URL)

	cpu, heap := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "heap.prof")
	if code, out, errOut := execute(t, "poll", "--config", cfgPath, "--source", "wire", "--cpuprofile", cpu, "--memprofile", heap); code != 0 {
		t.Fatalf("poll: exit %d\n%s%s", code, out, errOut)
	}
	for _, prof := range []string{cpu, heap} {
		b, err := os.ReadFile(prof)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s is not a gzip'd pprof file: % x", prof, b[:min(len(b), 8)])
		}
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
