package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestParseRSSParts(t *testing.T) {
	tests := []struct {
		name       string
		status     string
		anon, file float64
		ok         bool
	}{
		{"both", "Name:\tx\nVmRSS:\t  300 kB\nRssAnon:\t  120 kB\nRssFile:\t  170 kB\nRssShmem:\t 10 kB\n", 120, 170, true},
		{"file missing", "RssAnon:\t  120 kB\n", 0, 0, false},
		{"not kB", "RssAnon:\t  120 MB\nRssFile:\t 1 kB\n", 0, 0, false},
		{"not a number", "RssAnon:\t  x kB\nRssFile:\t 1 kB\n", 0, 0, false},
		{"empty", "", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			anon, file, ok := parseRSSParts([]byte(tt.status))
			if ok != tt.ok || (ok && (anon != tt.anon || file != tt.file)) {
				t.Errorf("parseRSSParts = %v, %v, %v; want %v, %v, %v", anon, file, ok, tt.anon, tt.file, tt.ok)
			}
		})
	}
}

// The helper process of TestSampleRSS: it maps a file and reads one byte
// of every page of it (RssFile), allocates and touches a buffer (RssAnon),
// then waits to be sampled.
func TestMain(m *testing.M) {
	if path := os.Getenv("BENCHE2E_RSS_HELPER"); path != "" {
		os.Exit(rssHelper(path))
	}
	os.Exit(m.Run())
}

const (
	helperFileMiB = 32
	helperAnonMiB = 48
)

func rssHelper(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 1
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, helperFileMiB<<20, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return 1
	}
	sum := 0
	for i := 0; i < len(m); i += os.Getpagesize() {
		sum += int(m[i])
	}
	buf := make([]byte, helperAnonMiB<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	time.Sleep(300 * time.Millisecond)
	runtime.KeepAlive(buf)
	return sum % 2 // the file is zeros: 0
}

func TestSampleRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc: the RSS parts are read from /proc/PID/status (Linux)")
	}
	path := filepath.Join(t.TempDir(), "mapped")
	if err := os.WriteFile(path, make([]byte, helperFileMiB<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := []string{os.Args[0], "-test.run=^$"}
	wrapped := false
	if timeBin, err := exec.LookPath("time"); err == nil {
		// Sampled through /usr/bin/time, as measure runs it.
		argv = append([]string{timeBin, "-f", ""}, argv...)
		wrapped = true
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "BENCHE2E_RSS_HELPER="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	peaks := sampleRSS(cmd.Process.Pid, done)
	err := cmd.Wait()
	close(done)
	got := <-peaks
	if err != nil {
		t.Fatalf("helper (wrapped in time: %v): %v", wrapped, err)
	}
	// The helper's own memory, not its wrapper's (a few hundred KiB).
	if got.anonKB < helperAnonMiB*1024 {
		t.Errorf("peak RssAnon %.0f KiB; the helper touched %d MiB of heap", got.anonKB, helperAnonMiB)
	}
	if got.fileKB < helperFileMiB*1024 {
		t.Errorf("peak RssFile %.0f KiB; the helper read every page of a %d MiB mapping", got.fileKB, helperFileMiB)
	}
	t.Logf("wrapped in time: %v; peaks: anon %s KiB, file %s KiB", wrapped,
		strconv.FormatFloat(got.anonKB, 'f', 0, 64), strconv.FormatFloat(got.fileKB, 'f', 0, 64))
}
