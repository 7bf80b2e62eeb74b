package main

// The serving benchmark: `tributary run` serving one topic feed of about
// -serve-size bytes from its cache, against nginx serving the same bytes
// (identity and the same pre-compressed gzip) as static files, each loaded
// by wrk with keep-alive connections, alternating the servers run by run:
// gzip'd 200s, and 304s to If-None-Match with each server's own ETag.
// With -serve-gohttp a third server takes part: a bare net/http handler
// inside this process holding the same bytes, the ceiling of a Go server
// here (it shares the machine's cores with wrk like the others).

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serveOptions are the settings of the serving benchmark.
type serveOptions struct {
	tributary   string // the tributary binary
	config      string // the farm's tributary config (its data_dir already polled)
	farmBase    string // the farm's base URL, for its /_stats
	work        string
	runs        int
	duration    time.Duration // per wrk run
	connections int
	threads     int
	size        int // the feed size to pick the topic by
	nginx       string
	wrk         string
	gohttp      bool // also measure a bare net/http server holding the bytes
}

// serveKind is one measured kind of response.
type serveKind struct {
	name string
	// notModified: the requests carry the server's ETag in If-None-Match.
	notModified bool
}

var serveKinds = []serveKind{{name: "gzip 200"}, {name: "304", notModified: true}}

// server is one side of the serving benchmark, ready to be loaded.
type server struct {
	name string
	url  string // the feed
	etag string // of the gzip'd representation
}

// runServe runs the serving benchmark and prints its table; a missing
// nginx or wrk skips it with a message.
func runServe(ctx context.Context, stdout io.Writer, o serveOptions) error {
	for _, tool := range []struct{ name, path, pkg string }{
		{"nginx", o.nginx, "nginx-light"}, {"wrk", o.wrk, "wrk"},
	} {
		if _, err := exec.LookPath(tool.path); err != nil {
			fmt.Fprintf(stdout, "\nskipping serving: %s not found at %s (apt install %s)\n", tool.name, tool.path, tool.pkg)
			return nil
		}
	}
	client := &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{DisableCompression: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	// tributary, with a schedule that cannot fire during the test.
	trAddr, err := freeAddr()
	if err != nil {
		return err
	}
	cfg, err := servingConfig(o.config, trAddr, filepath.Join(o.work, "tributary-serve.yaml"))
	if err != nil {
		return err
	}
	before, err := farmStats(ctx, o.farmBase)
	if err != nil {
		return fmt.Errorf("farm stats: %w", err)
	}
	trLog := filepath.Join(o.work, "tributary-serve.log")
	stopTr, err := startDaemon(ctx, trLog, o.tributary, "run", "--config", cfg, "--log-level", "error")
	if err != nil {
		return fmt.Errorf("start tributary run: %w", err)
	}
	defer stopTr()
	trBase := "http://" + trAddr
	if err := waitReady(ctx, client, trBase+"/healthz"); err != nil {
		return fmt.Errorf("tributary run (log in %s): %w", trLog, err)
	}

	feedPath, body, gz, modTime, err := pickFeed(ctx, client, trBase, o.size)
	if err != nil {
		return err
	}

	// nginx, serving the same bytes. Its own directory, readable by the
	// unprivileged workers nginx switches to when started as root.
	ngDir, err := os.MkdirTemp("", "benche2e-nginx-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ngDir)
	ngAddr, err := freeAddr()
	if err != nil {
		return err
	}
	if err := writeNginx(ngDir, ngAddr, feedPath, body, gz, modTime); err != nil {
		return err
	}
	stopNg, err := startDaemon(ctx, filepath.Join(ngDir, "stderr.log"), o.nginx,
		"-p", ngDir, "-c", "nginx.conf", "-g", "daemon off;")
	if err != nil {
		return fmt.Errorf("start nginx: %w", err)
	}
	defer stopNg()
	ngBase := "http://" + ngAddr
	if err := waitReady(ctx, client, ngBase+feedPath); err != nil {
		return fmt.Errorf("nginx (logs in %s): %w", ngDir, err)
	}

	// One request of each kind first: a wrong setup (no gzip, no 304,
	// different bytes) would make the ratios meaningless.
	servers := []server{{name: "tributary", url: trBase + feedPath}, {name: "nginx", url: ngBase + feedPath}}
	if o.gohttp {
		goBase, stopGo, err := startGoHTTP(feedPath, body, gz, modTime)
		if err != nil {
			return fmt.Errorf("bare net/http server: %w", err)
		}
		defer stopGo()
		servers = append(servers, server{name: "gohttp", url: goBase + feedPath})
	}
	for i := range servers {
		if servers[i].etag, err = checkServer(ctx, client, servers[i].url, gz); err != nil {
			return fmt.Errorf("%s: %w", servers[i].name, err)
		}
	}
	fmt.Fprintf(stdout, "\nserving %s: %d bytes, %d gzip'd; wrk -t%d -c%d -d%s; alternating runs\n",
		feedPath, len(body), len(gz), o.threads, o.connections, wrkDuration(o.duration))

	res := map[string]map[string][]float64{} // server -> kind -> req/s
	for i := range o.runs {
		for _, k := range serveKinds {
			order := slices.Clone(servers)
			rot := i % len(order)
			order = append(order[rot:], order[:rot]...)
			for _, s := range order {
				r, err := runWrk(ctx, o, s, k, len(gz))
				if err != nil {
					return fmt.Errorf("run %d, %s %s: %w", i+1, s.name, k.name, err)
				}
				fmt.Fprintf(stdout, "run %d %-9s %-8s: %9.0f req/s  %6.0f B/resp%s\n",
					i+1, s.name, k.name, r.reqPerSec, r.bytesPerReq, r.note)
				if res[s.name] == nil {
					res[s.name] = map[string][]float64{}
				}
				res[s.name][k.name] = append(res[s.name][k.name], r.reqPerSec)
			}
		}
	}

	after, err := farmStats(ctx, o.farmBase)
	if err != nil {
		return fmt.Errorf("farm stats: %w", err)
	}
	if after != before {
		return fmt.Errorf("tributary run polled the farm while serving (%d x 200, %d x 304): the figures are not of serving alone",
			after.OK-before.OK, after.NotModified-before.NotModified)
	}
	printServeTable(stdout, o.runs, servers, res)
	return nil
}

// servingConfig writes a copy of the farm's config that listens on addr
// and whose schedule does not fire during the benchmark (every source has
// been polled, so `run` has nothing due at start either).
func servingConfig(src, addr, dst string) (string, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	listen := fmt.Sprintf("listen: %q", addr)
	schedule := `schedule: "@every 24h"`
	for _, kv := range []struct {
		re   *regexp.Regexp
		line string
	}{
		{regexp.MustCompile(`(?m)^listen:.*$`), listen},
		{regexp.MustCompile(`(?m)^schedule:.*$`), schedule},
	} {
		if kv.re.Match(b) {
			b = kv.re.ReplaceAllLiteral(b, []byte(kv.line))
		} else {
			b = append([]byte(kv.line+"\n"), b...)
		}
	}
	return dst, os.WriteFile(dst, b, 0o644)
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startDaemon starts a server in the background, its output in logPath;
// stop interrupts it and waits (killing it after 10 seconds).
func startDaemon(ctx context.Context, logPath, name string, args ...string) (stop func(), err error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(done) }()
	return func() {
		select {
		case <-done:
			return
		default:
		}
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}, nil
}

// waitReady polls u until it answers 200, for up to 15 seconds.
func waitReady(ctx context.Context, client *http.Client, u string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := get(ctx, client, u, nil)
		if err == nil && resp.status == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status %d", resp.status)
			}
			return fmt.Errorf("%s not ready after 15s: %w", u, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func get(ctx context.Context, client *http.Client, u string, header http.Header) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return response{}, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("GET %s: %w", u, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// pickFeed finds the RSS feed of the topic (from /topics.opml) whose size
// is closest to size, and returns its path, its identity and gzip'd bytes
// and its Last-Modified time.
func pickFeed(ctx context.Context, client *http.Client, base string, size int) (feedPath string, body, gz []byte, modTime time.Time, err error) {
	opml, err := get(ctx, client, base+"/topics.opml", nil)
	if err != nil || opml.status != http.StatusOK {
		return "", nil, nil, time.Time{}, fmt.Errorf("GET /topics.opml: status %d, %v", opml.status, err)
	}
	var doc struct {
		Outlines []struct {
			XMLURL string `xml:"xmlUrl,attr"`
		} `xml:"body>outline"`
	}
	if err := xml.Unmarshal(opml.body, &doc); err != nil {
		return "", nil, nil, time.Time{}, fmt.Errorf("parse /topics.opml: %w", err)
	}
	identity := http.Header{"Accept-Encoding": {"identity"}}
	best := math.MaxInt
	for _, o := range doc.Outlines {
		u, err := url.Parse(o.XMLURL)
		if err != nil {
			return "", nil, nil, time.Time{}, fmt.Errorf("topics.opml: %w", err)
		}
		r, err := get(ctx, client, base+u.EscapedPath(), identity)
		if err != nil || r.status != http.StatusOK {
			return "", nil, nil, time.Time{}, fmt.Errorf("GET %s: status %d, %v", u.Path, r.status, err)
		}
		if d := abs(len(r.body) - size); d < best {
			best, feedPath, body = d, u.EscapedPath(), r.body
			modTime, _ = http.ParseTime(r.header.Get("Last-Modified"))
		}
	}
	if feedPath == "" {
		return "", nil, nil, time.Time{}, errors.New("/topics.opml lists no topic")
	}
	r, err := get(ctx, client, base+feedPath, http.Header{"Accept-Encoding": {"gzip"}})
	if err != nil || r.status != http.StatusOK || r.header.Get("Content-Encoding") != "gzip" {
		return "", nil, nil, time.Time{}, fmt.Errorf("GET %s gzip'd: status %d, Content-Encoding %q, %v",
			feedPath, r.status, r.header.Get("Content-Encoding"), err)
	}
	return feedPath, body, r.body, modTime, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// writeNginx lays out a minimal nginx prefix in dir serving feedPath (and
// feedPath.gz through gzip_static) on addr, everything it writes inside
// dir.
func writeNginx(dir, addr, feedPath string, body, gz []byte, modTime time.Time) error {
	www := filepath.Join(dir, "www")
	file := filepath.Join(www, filepath.FromSlash(path.Clean(feedPath)))
	for _, d := range []string{dir, filepath.Dir(file), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	if modTime.IsZero() {
		modTime = time.Now()
	}
	for name, b := range map[string][]byte{file: body, file + ".gz": gz} {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			return err
		}
		if err := os.Chtimes(name, modTime, modTime); err != nil {
			return err
		}
	}
	tmp := filepath.Join(dir, "tmp")
	// keepalive_requests is raised so nginx, like Go's server, keeps a
	// connection for the whole run (its default closes after 1000).
	conf := fmt.Sprintf(`worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    types { application/rss+xml rss; application/atom+xml atom; application/feed+json json; }
    default_type application/octet-stream;
    charset utf-8;
    charset_types application/rss+xml application/atom+xml application/feed+json;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server {
        listen %[3]s;
        root %[4]s;
        gzip_static on;
        gzip_vary on;
        etag on;
        location / { add_header Cache-Control "public, max-age=60"; }
    }
}
`, dir, tmp, addr, www)
	return os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
}

// checkServer makes sure u answers a gzip-accepting GET with 200, gzip
// and exactly the bytes gz, and then that GET with its ETag with 304; it
// returns that ETag.
func checkServer(ctx context.Context, client *http.Client, u string, gz []byte) (string, error) {
	ae := http.Header{"Accept-Encoding": {"gzip"}}
	r, err := get(ctx, client, u, ae)
	switch {
	case err != nil:
		return "", err
	case r.status != http.StatusOK:
		return "", fmt.Errorf("GET %s with gzip: status %d, want 200", u, r.status)
	case r.header.Get("Content-Encoding") != "gzip":
		return "", fmt.Errorf("GET %s with gzip: Content-Encoding %q, want gzip", u, r.header.Get("Content-Encoding"))
	case !bytes.Equal(r.body, gz):
		return "", fmt.Errorf("GET %s with gzip: %d bytes, not the %d gzip'd bytes of the feed", u, len(r.body), len(gz))
	case r.header.Get("ETag") == "":
		return "", fmt.Errorf("GET %s: no ETag", u)
	}
	etag := r.header.Get("ETag")
	r, err = get(ctx, client, u, http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {etag}})
	switch {
	case err != nil:
		return "", err
	case r.status != http.StatusNotModified:
		return "", fmt.Errorf("GET %s with If-None-Match %s: status %d, want 304", u, etag, r.status)
	case len(r.body) != 0:
		return "", fmt.Errorf("GET %s: 304 with a body of %d bytes", u, len(r.body))
	}
	return etag, nil
}

// wrkResult is what one wrk run measured.
type wrkResult struct {
	reqPerSec   float64
	bytesPerReq float64
	note        string // socket errors, if any
}

var (
	wrkRate   = regexp.MustCompile(`Requests/sec:\s*([\d.]+)`)
	wrkTotals = regexp.MustCompile(`(\d+) requests in [\d.]+\w+, ([\d.]+)([KMGT]?B) read`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket = regexp.MustCompile(`Socket errors: [^\n]*`)
)

// wrkDuration is d as wrk's -d wants it: whole seconds, at least one.
func wrkDuration(d time.Duration) string {
	return fmt.Sprintf("%ds", max(1, int(d.Round(time.Second).Seconds())))
}

// runWrk loads s with wrk and checks, from the bytes read per request,
// that the responses were what the kind asks for: the gzip'd body for
// 200s, headers only for 304s.
func runWrk(ctx context.Context, o serveOptions, s server, k serveKind, gzLen int) (wrkResult, error) {
	args := []string{"-t" + strconv.Itoa(o.threads), "-c" + strconv.Itoa(o.connections),
		"-d" + wrkDuration(o.duration), "-H", "Accept-Encoding: gzip"}
	if k.notModified {
		args = append(args, "-H", "If-None-Match: "+s.etag)
	}
	args = append(args, s.url)
	out, err := exec.CommandContext(ctx, o.wrk, args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	return parseWrk(out, k, gzLen)
}

func parseWrk(out []byte, k serveKind, gzLen int) (wrkResult, error) {
	var r wrkResult
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk's output:\n%s", out)
	}
	r.reqPerSec, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		return r, fmt.Errorf("%s non-2xx/3xx responses:\n%s", m[1], out)
	}
	t := wrkTotals.FindSubmatch(out)
	if t == nil {
		return r, fmt.Errorf("no request count in wrk's output:\n%s", out)
	}
	n, _ := strconv.ParseFloat(string(t[1]), 64)
	read, _ := strconv.ParseFloat(string(t[2]), 64)
	read *= map[string]float64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[string(t[3])]
	if n == 0 {
		return r, fmt.Errorf("no request completed:\n%s", out)
	}
	r.bytesPerReq = read / n
	// wrk rounds what it read to two decimals of its unit: 1% slack.
	switch {
	case !k.notModified && r.bytesPerReq < float64(gzLen)*0.99:
		return r, fmt.Errorf("%.0f bytes read per response, less than the %d gzip'd bytes: not the feed", r.bytesPerReq, gzLen)
	case k.notModified && r.bytesPerReq > min(2048, float64(gzLen)/2):
		return r, fmt.Errorf("%.0f bytes read per response: not 304s", r.bytesPerReq)
	}
	if s := wrkSocket.Find(out); s != nil {
		r.note = "  (" + string(s) + ")"
	}
	return r, nil
}

func printServeTable(w io.Writer, runs int, servers []server, res map[string]map[string][]float64) {
	fmt.Fprintf(w, "\nserving medians (%d runs)\n%-16s", runs, "")
	for _, s := range servers {
		fmt.Fprintf(w, " %12s", s.name)
	}
	for _, s := range servers[1:] {
		fmt.Fprintf(w, " %14s", "trib/"+s.name)
	}
	fmt.Fprintln(w)
	for _, k := range serveKinds {
		fmt.Fprintf(w, "%-16s", k.name+" req/s")
		med := map[string]float64{}
		for _, s := range servers {
			med[s.name] = median(res[s.name][k.name])
			fmt.Fprintf(w, " %12.0f", med[s.name])
		}
		for _, s := range servers[1:] {
			ratio := 0.0
			if med[s.name] > 0 {
				ratio = med["tributary"] / med[s.name]
			}
			fmt.Fprintf(w, " %13.2fx", ratio)
		}
		fmt.Fprintln(w)
	}
}

// startGoHTTP serves feedPath from memory with a bare net/http handler:
// gzip when the request mentions it, 304 to its exact ETag, nothing else.
// The reference for what a Go server costs here.
func startGoHTTP(feedPath string, body, gz []byte, modTime time.Time) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	const etag = `"bare-gz"`
	lastMod := []string{modTime.UTC().Format(http.TimeFormat)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+feedPath, func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["Cache-Control"] = []string{"public, max-age=60"}
		hd["Vary"] = []string{"Accept-Encoding"}
		b := body
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			b = gz
			hd["Etag"] = []string{etag}
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			hd["Content-Encoding"] = []string{"gzip"}
		}
		hd["Content-Type"] = []string{"application/rss+xml; charset=utf-8"}
		hd["Last-Modified"] = lastMod
		hd["Content-Length"] = []string{strconv.Itoa(len(b))}
		_, _ = w.Write(b)
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}
