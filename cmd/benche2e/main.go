// Command benche2e runs the end-to-end benchmark: it starts a feedfarm,
// then, alternating the sides run by run, measures a cold and a warm poll
// of every feed by `tributary poll`, by barepoller (the straightforward
// reference) and by `newsboat -x reload`, each under /usr/bin/time -v for
// its peak RSS, and prints the medians and the ratios tributary / peer.
// A side whose tool is missing is skipped with a message.
//
//	benche2e -bin bin -sources 2000 -items 30 -runs 5
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benche2e:", err)
		os.Exit(1)
	}
}

type side struct {
	name string
	// cmd returns the command of one poll; cold says to start afresh
	// (the caller has already removed the side's state).
	cmd   func() []string
	env   []string
	state []string // files and directories removed before a cold run
}

type sample struct{ wall, rssKB float64 }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benche2e", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin", "directory holding tributary, feedfarm and barepoller")
	sources := fs.Int("sources", 2000, "feeds in the farm")
	items := fs.Int("items", 30, "items per feed")
	seed := fs.Int("seed", 1, "farm content seed")
	runs := fs.Int("runs", 5, "alternating runs per side (medians are reported)")
	threads := fs.Int("newsboat-threads", 8, "newsboat reload-threads")
	workDir := fs.String("work", "", "working directory (default: a new temporary one, removed afterwards)")
	only := fs.String("sides", "tributary,bare,newsboat", "sides to run, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	work := *workDir
	if work == "" {
		d, err := os.MkdirTemp("", "benche2e-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	binDir := abs(*bin)
	timeBin, _ := exec.LookPath("/usr/bin/time")
	if timeBin == "" {
		fmt.Fprintln(stdout, "note: /usr/bin/time not found (apt install time): peak RSS taken from rusage instead")
	}

	// The farm.
	urls, cfg, trData := filepath.Join(work, "urls.txt"), filepath.Join(work, "tributary.yaml"), filepath.Join(work, "tributary-data")
	farmCtx, stopFarm := context.WithCancel(ctx)
	defer stopFarm()
	farm := exec.CommandContext(farmCtx, filepath.Join(binDir, "feedfarm"), "-listen", "127.0.0.1:0",
		"-sources", strconv.Itoa(*sources), "-items", strconv.Itoa(*items), "-seed", strconv.Itoa(*seed),
		"-urls", urls, "-config", cfg, "-data", trData)
	farm.Cancel = func() error { return farm.Process.Signal(os.Interrupt) }
	farm.Stderr = stderr
	farmOut, err := farm.StdoutPipe()
	if err != nil {
		return err
	}
	if err := farm.Start(); err != nil {
		return fmt.Errorf("start feedfarm (run make bench-e2e, or build it into -bin): %w", err)
	}
	defer func() { stopFarm(); _ = farm.Wait() }()
	base, err := bufio.NewReader(farmOut).ReadString('\n')
	if err != nil {
		return fmt.Errorf("feedfarm: no base URL: %w", err)
	}
	base = strings.TrimSpace(base)
	go func() { _, _ = io.Copy(io.Discard, farmOut) }()
	fmt.Fprintf(stdout, "feed farm at %s: %d sources x %d items; %d alternating runs per side\n", base, *sources, *items, *runs)

	// The sides.
	nbDir := filepath.Join(work, "newsboat")
	bareDB := filepath.Join(work, "bare.db")
	all := []side{
		{name: "tributary", cmd: func() []string {
			return []string{filepath.Join(binDir, "tributary"), "poll", "--config", cfg, "--log-level", "error"}
		}, state: []string{trData}},
		{name: "bare", cmd: func() []string {
			return []string{filepath.Join(binDir, "barepoller"), "-urls", urls, "-db", bareDB, "-workers", "8"}
		}, state: []string{bareDB}},
		{name: "newsboat", cmd: func() []string {
			return []string{"newsboat", "-x", "reload", "-u", urls, "-C", filepath.Join(nbDir, "config"),
				"-c", filepath.Join(nbDir, "cache.db")}
		}, env: []string{"HOME=" + nbDir, "XDG_CONFIG_HOME=" + nbDir, "XDG_DATA_HOME=" + nbDir, "XDG_CACHE_HOME=" + nbDir},
			state: []string{filepath.Join(nbDir, "cache.db"), filepath.Join(nbDir, "cache.db.lock")}},
	}
	var sides []side
	for _, s := range all {
		if !slices.Contains(strings.Split(*only, ","), s.name) {
			continue
		}
		if _, err := exec.LookPath(s.cmd()[0]); err != nil {
			fmt.Fprintf(stdout, "skipping %s: %s not found (%v)\n", s.name, s.cmd()[0], err)
			continue
		}
		sides = append(sides, s)
	}
	if len(sides) == 0 {
		return errors.New("no side to run")
	}
	if err := os.MkdirAll(nbDir, 0o755); err != nil {
		return err
	}
	nbConf := fmt.Sprintf("reload-threads %d\n", *threads)
	if err := os.WriteFile(filepath.Join(nbDir, "config"), []byte(nbConf), 0o644); err != nil {
		return err
	}

	results := map[string]map[string][]sample{} // side -> "cold"/"warm" -> samples
	for i := range *runs {
		order := slices.Clone(sides)
		rot := i % len(order)
		order = append(order[rot:], order[:rot]...)
		for _, s := range order {
			for _, st := range s.state {
				if err := os.RemoveAll(st); err != nil {
					return err
				}
			}
			for _, phase := range []string{"cold", "warm"} {
				before, _ := farmStats(ctx, base)
				smp, err := measure(ctx, timeBin, work, s, stdout)
				if err != nil {
					return fmt.Errorf("run %d, %s %s: %w", i+1, s.name, phase, err)
				}
				after, _ := farmStats(ctx, base)
				fmt.Fprintf(stdout, "run %d %-9s %s: %7.3fs  peak RSS %7.1f MB  (farm: %d x 200, %d x 304)\n",
					i+1, s.name, phase, smp.wall, smp.rssKB/1024, after.OK-before.OK, after.NotModified-before.NotModified)
				if results[s.name] == nil {
					results[s.name] = map[string][]sample{}
				}
				results[s.name][phase] = append(results[s.name][phase], smp)
			}
		}
	}

	printTable(stdout, sides, results)
	fmt.Fprintln(stdout, "\nTODO: serving one topic feed under load (wrk, 50 connections) against nginx serving the same")
	fmt.Fprintln(stdout, "bytes as a static file (gzip'd 200s and 304s) is not measured by this program yet.")
	return nil
}

type farmCounts struct {
	OK          int64 `json:"ok"`
	NotModified int64 `json:"not_modified"`
}

func farmStats(ctx context.Context, base string) (farmCounts, error) {
	var c farmCounts
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_stats", nil)
	if err != nil {
		return c, err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	return c, json.NewDecoder(resp.Body).Decode(&c)
}

var maxRSS = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

// measure runs one poll and returns its wall time and peak RSS.
func measure(ctx context.Context, timeBin, work string, s side, stdout io.Writer) (sample, error) {
	argv := s.cmd()
	timeOut := filepath.Join(work, "time.out")
	if timeBin != "" {
		argv = append([]string{timeBin, "-v", "-o", timeOut}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), s.env...)
	logPath := filepath.Join(work, s.name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return sample{}, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start).Seconds()
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w (output in %s)", strings.Join(s.cmd(), " "), err, logPath)
	}
	if line := lastLine(logPath); line != "" && strings.Contains(line, "failed") {
		fmt.Fprintf(stdout, "    %s: %s\n", s.name, line)
	}
	smp := sample{wall: wall}
	if timeBin != "" {
		b, err := os.ReadFile(timeOut)
		if err != nil {
			return sample{}, err
		}
		if m := maxRSS.FindSubmatch(b); m != nil {
			smp.rssKB, _ = strconv.ParseFloat(string(m[1]), 64)
		}
	} else if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		smp.rssKB = float64(ru.Maxrss)
	}
	return smp, nil
}

// lastLine is the last line of a small file, for the summary a poller
// prints ("polled N sources: X ok, Y failed").
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(w io.Writer, sides []side, res map[string]map[string][]sample) {
	type metric struct {
		label, phase string
		get          func(sample) float64
		unit         string
	}
	metrics := []metric{
		{"cold poll wall", "cold", func(s sample) float64 { return s.wall }, "s"},
		{"warm poll wall", "warm", func(s sample) float64 { return s.wall }, "s"},
		{"cold peak RSS", "cold", func(s sample) float64 { return s.rssKB / 1024 }, "MB"},
		{"warm peak RSS", "warm", func(s sample) float64 { return s.rssKB / 1024 }, "MB"},
	}
	fmt.Fprintf(w, "\nmedians (%d runs)\n%-16s", len(res[sides[0].name]["cold"]), "")
	for _, s := range sides {
		fmt.Fprintf(w, " %12s", s.name)
	}
	for _, s := range sides {
		if s.name != "tributary" && res["tributary"] != nil {
			fmt.Fprintf(w, " %14s", "trib/"+s.name)
		}
	}
	fmt.Fprintln(w)
	for _, m := range metrics {
		fmt.Fprintf(w, "%-16s", m.label)
		med := map[string]float64{}
		for _, s := range sides {
			var xs []float64
			for _, smp := range res[s.name][m.phase] {
				xs = append(xs, m.get(smp))
			}
			med[s.name] = median(xs)
			fmt.Fprintf(w, " %10.3f%-2s", med[s.name], m.unit)
		}
		for _, s := range sides {
			if s.name != "tributary" && res["tributary"] != nil {
				ratio := 0.0
				if med[s.name] > 0 {
					ratio = med["tributary"] / med[s.name]
				}
				fmt.Fprintf(w, " %13.2fx", ratio)
			}
		}
		fmt.Fprintln(w)
	}
}
