package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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
	peaks := sampleRSS(cmd.Process.Pid, wrapped, done)
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

// TestMeasure runs the helper process as a measured poll, under
// /usr/bin/time when there is one (as run does) and without: the sample
// has the helper's peak RSS and its parts. A command that cannot start
// is an error that names it.
func TestMeasure(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc: the RSS parts are read from /proc/PID/status (Linux)")
	}
	work := t.TempDir()
	path := filepath.Join(work, "mapped")
	if err := os.WriteFile(path, make([]byte, helperFileMiB<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	helper := side{
		name: "helper",
		cmd:  func() []string { return []string{os.Args[0], "-test.run=^$"} },
		env:  []string{"BENCHE2E_RSS_HELPER=" + path},
	}
	timeBins := []string{""}
	if timeBin, err := exec.LookPath("/usr/bin/time"); err == nil {
		timeBins = append(timeBins, timeBin)
	}
	for _, timeBin := range timeBins {
		smp, err := measure(context.Background(), timeBin, work, helper, io.Discard)
		if err != nil {
			t.Fatalf("time %q: %v", timeBin, err)
		}
		if smp.parts.anonKB < helperAnonMiB*1024 || smp.parts.fileKB < helperFileMiB*1024 {
			t.Errorf("time %q: peak parts %+v KiB; the helper touched %d MiB of heap and %d MiB of a mapping",
				timeBin, smp.parts, helperAnonMiB, helperFileMiB)
		}
		if smp.rssKB < (helperAnonMiB+helperFileMiB)*1024 || smp.wall <= 0 {
			t.Errorf("time %q: peak RSS %.0f KiB, wall %.3fs", timeBin, smp.rssKB, smp.wall)
		}
	}

	missing := side{name: "missing", cmd: func() []string { return []string{filepath.Join(work, "no-such-poller")} }}
	_, err := measure(context.Background(), "", work, missing, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no-such-poller") {
		t.Errorf("measure of a missing command: %v, want an error naming it", err)
	}
}
