package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// rssSampleEvery is how often a measured process's memory is sampled. A
// cold poll runs for seconds; a warm one for a tenth of a second, where
// the samples are few and may miss the peak (the total peak from
// /usr/bin/time is exact).
const rssSampleEvery = 10 * time.Millisecond

// rssParts is the peak of each part of a process's resident memory, in
// KiB, as /proc/PID/status reports them. Peak RSS alone hides what it is
// made of: a store read through a shared mapping (bbolt's) shows up in
// RssFile, and the kernel maps up to 64 KiB of the file around each page
// read through such a mapping (fault-around), so a poll that reads a page
// in every 64 KiB of its store counts the whole store in its RSS. Those
// pages are the file's page cache, shared and reclaimable; RssAnon is the
// process's own memory, mostly its heap.
type rssParts struct {
	anonKB, fileKB float64
}

// sampleRSS samples the parts of the resident memory of the process pid
// runs until done is closed, then sends the peaks: pid itself or, when
// wrapped (pid is /usr/bin/time), its child.
func sampleRSS(pid int, wrapped bool, done <-chan struct{}) <-chan rssParts {
	out := make(chan rssParts, 1)
	go func() {
		var peak rssParts
		tick := time.NewTicker(rssSampleEvery)
		defer tick.Stop()
		target := 0
		if !wrapped {
			target = pid
		}
		for {
			if target == 0 {
				target = onlyChild(pid)
			}
			if target != 0 {
				if anon, file, ok := readRSSParts(target); ok {
					peak.anonKB = max(peak.anonKB, anon)
					peak.fileKB = max(peak.fileKB, file)
				}
			}
			select {
			case <-done:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// onlyChild returns the child of pid, a wrapper that runs one command;
// 0 while it has not started it yet.
func onlyChild(pid int) int {
	children, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(children))
	if len(f) == 0 {
		return 0
	}
	child, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return child
}

// readRSSParts reads RssAnon and RssFile (KiB) of pid.
func readRSSParts(pid int) (anonKB, fileKB float64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, false
	}
	return parseRSSParts(b)
}

// parseRSSParts reads RssAnon and RssFile (KiB) from the text of a
// /proc/PID/status file.
func parseRSSParts(status []byte) (anonKB, fileKB float64, ok bool) {
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, value, found := strings.Cut(sc.Text(), ":")
		if !found || (name != "RssAnon" && name != "RssFile") {
			continue
		}
		f := strings.Fields(value)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, false
		}
		n, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, 0, false
		}
		if name == "RssAnon" {
			anonKB = n
		} else {
			fileKB = n
		}
		seen++
	}
	return anonKB, fileKB, seen == 2
}
