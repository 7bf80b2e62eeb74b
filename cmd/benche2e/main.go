// Command benche2e runs the end-to-end benchmark: it starts a feedfarm,
// then, alternating the sides run by run, measures a cold and a warm poll
// of every feed by `tributary poll`, by barepoller (the straightforward
// reference) and by `newsboat -x reload`, each under /usr/bin/time -v for
// its peak RSS, and prints the medians and the ratios tributary / peer.
// A side whose tool is missing is skipped with a message.
//
// The "serve" side then measures serving: `tributary run` on the polled
// store serving the topic feed closest to -serve-size bytes, against nginx
// serving the same bytes as static files (gzip_static), both loaded by wrk
// for gzip'd 200s and for 304s, alternating run by run, with a bare
// net/http server holding the same bytes as a third (see serve.go).
//
//	benche2e -bin bin -sources 2000 -items 30 -runs 5
//	benche2e -bin bin -sources 300 -runs 5 -sides tributary,serve
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
	// primes is how many untimed polls run between the cold and the warm
	// one: newsboat 2.21 sends its stored ETag and Last-Modified only
	// from its third reload of a feed on (newsboat issue #2734), so its
	// second reload would be measured as unconditional.
	primes int
}

// sample is one measured poll: its wall time, its peak RSS and the peak of
// each part of it (see rssParts).
type sample struct {
	wall, rssKB float64
	parts       rssParts
}

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
	only := fs.String("sides", "tributary,bare,newsboat,serve",
		"sides to run, comma-separated: the pollers tributary, bare, newsboat, and serve (tributary against nginx serving a topic feed)")
	serveDuration := fs.Duration("serve-duration", 10*time.Second, "length of one wrk run when serving (whole seconds)")
	serveConns := fs.Int("serve-connections", 50, "wrk connections when serving")
	serveThreads := fs.Int("serve-threads", 2, "wrk threads when serving")
	serveSize := fs.Int("serve-size", 150<<10, "serve the topic feed whose RSS is closest to this many bytes")
	nginxBin := fs.String("nginx", "/usr/sbin/nginx", "nginx binary, the serving peer")
	wrkBin := fs.String("wrk", "/usr/bin/wrk", "wrk binary, the serving load")
	serveGo := fs.Bool("serve-gohttp", true, "when serving, also measure a bare net/http server holding the same bytes (the Go ceiling)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	if *serveConns < 1 || *serveThreads < 1 || *serveThreads > *serveConns {
		return errors.New("-serve-connections and -serve-threads must be at least 1, threads at most connections")
	}
	wanted := strings.Split(*only, ",")
	for _, name := range wanted {
		if !slices.Contains([]string{"tributary", "bare", "newsboat", "serve"}, name) {
			return fmt.Errorf("-sides: unknown side %q (want tributary, bare, newsboat or serve)", name)
		}
	}
	serve := slices.Contains(wanted, "serve")
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
			state: []string{filepath.Join(nbDir, "cache.db"), filepath.Join(nbDir, "cache.db.lock")}, primes: 1},
	}
	var sides []side
	for _, s := range all {
		if !slices.Contains(wanted, s.name) {
			continue
		}
		if _, err := exec.LookPath(s.cmd()[0]); err != nil {
			fmt.Fprintf(stdout, "skipping %s: %s not found (%v)\n", s.name, s.cmd()[0], err)
			continue
		}
		sides = append(sides, s)
	}
	if len(sides) == 0 && !serve {
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
		if len(sides) == 0 {
			break
		}
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
				if phase == "warm" {
					for range s.primes {
						if _, err := measure(ctx, "", work, s, io.Discard); err != nil {
							return fmt.Errorf("run %d, %s priming: %w", i+1, s.name, err)
						}
					}
				}
				before, _ := farmStats(ctx, base)
				smp, err := measure(ctx, timeBin, work, s, stdout)
				if err != nil {
					return fmt.Errorf("run %d, %s %s: %w", i+1, s.name, phase, err)
				}
				after, _ := farmStats(ctx, base)
				fmt.Fprintf(stdout, "run %d %-9s %s: %7.3fs  peak RSS %7.1f MiB (anon %.1f, file %.1f)  (farm: %d x 200, %d x 304)\n",
					i+1, s.name, phase, smp.wall, smp.rssKB/1024, smp.parts.anonKB/1024, smp.parts.fileKB/1024,
					after.OK-before.OK, after.NotModified-before.NotModified)
				if results[s.name] == nil {
					results[s.name] = map[string][]sample{}
				}
				results[s.name][phase] = append(results[s.name][phase], smp)
			}
		}
	}

	if len(sides) > 0 {
		printTable(stdout, sides, results)
	}
	if !serve {
		return nil
	}
	trBin := filepath.Join(binDir, "tributary")
	if !slices.ContainsFunc(sides, func(s side) bool { return s.name == "tributary" }) {
		// Serving needs a polled store: one poll, not measured.
		fmt.Fprintln(stdout, "polling once with tributary to fill the store for serving")
		fill := all[0]
		if _, err := measure(ctx, "", work, fill, stdout); err != nil {
			return fmt.Errorf("fill the store for serving: %w", err)
		}
	}
	return runServe(ctx, stdout, serveOptions{
		tributary: trBin, config: cfg, farmBase: base, work: work,
		runs: *runs, duration: *serveDuration, connections: *serveConns, threads: *serveThreads,
		size: *serveSize, nginx: *nginxBin, wrk: *wrkBin, gohttp: *serveGo,
	})
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
	if err := cmd.Start(); err != nil {
		return sample{}, fmt.Errorf("%s: %w", strings.Join(s.cmd(), " "), err)
	}
	done := make(chan struct{})
	peaks := sampleRSS(cmd.Process.Pid, timeBin != "", done)
	err = cmd.Wait()
	wall := time.Since(start).Seconds()
	close(done)
	parts := <-peaks
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w (output in %s)", strings.Join(s.cmd(), " "), err, logPath)
	}
	if line := lastLine(logPath); line != "" && strings.Contains(line, "failed") {
		fmt.Fprintf(stdout, "    %s: %s\n", s.name, line)
	}
	smp := sample{wall: wall, parts: parts}
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
		{"cold peak RSS", "cold", func(s sample) float64 { return s.rssKB / 1024 }, "MiB"},
		// The parts are sampled (see rssParts): the peak of each.
		{"  peak anon", "cold", func(s sample) float64 { return s.parts.anonKB / 1024 }, "MiB"},
		{"  peak file", "cold", func(s sample) float64 { return s.parts.fileKB / 1024 }, "MiB"},
		{"warm peak RSS", "warm", func(s sample) float64 { return s.rssKB / 1024 }, "MiB"},
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
			fmt.Fprintf(w, " %9.3f%-3s", med[s.name], m.unit)
		}
		for _, s := range sides {
			if s.name != "tributary" && res["tributary"] != nil {
				ratio := 0.0
				if med[s.name] > 0 {
					ratio = med["tributary"] / med[s.name]
				}
				fmt.Fprintf(w, " %14s", formatRatio(ratio))
			}
		}
		fmt.Fprintln(w)
	}
}

// formatRatio prints a ratio tributary / peer: "6.72x", or for a small
// one the fraction it is, "1/202x", which two decimals would show as
// "0.00x".
func formatRatio(r float64) string {
	if r > 0 && r < 0.1 {
		return fmt.Sprintf("1/%.0fx", 1/r)
	}
	return fmt.Sprintf("%.2fx", r)
}
