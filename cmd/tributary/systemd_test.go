package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tributary-news/tributary/aggregator"
)

// notifyListener is a service manager's end of $NOTIFY_SOCKET: it
// collects the datagrams the daemon sends.
type notifyListener struct {
	conn *net.UnixConn
	msgs chan string
	mu   sync.Mutex
	seen []string
}

func listenNotify(t *testing.T, name string) *notifyListener {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	l := &notifyListener{conn: conn, msgs: make(chan string, 1024)}
	t.Cleanup(func() { conn.Close() })
	go func() {
		defer close(l.msgs)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			l.msgs <- string(buf[:n])
		}
	}()
	return l
}

// next returns the next datagram, failing after a timeout.
func (l *notifyListener) next(t *testing.T) string {
	t.Helper()
	select {
	case m, ok := <-l.msgs:
		if !ok {
			t.Fatal("notify socket closed")
		}
		l.mu.Lock()
		l.seen = append(l.seen, m)
		l.mu.Unlock()
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5s")
		return ""
	}
}

// await returns the first datagram (from now on) that holds every one of
// the given lines, failing after 15s with everything seen.
func (l *notifyListener) await(t *testing.T, what string, lines ...string) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m, ok := <-l.msgs:
			if !ok {
				t.Fatalf("notify socket closed while waiting for %s", what)
			}
			l.mu.Lock()
			l.seen = append(l.seen, m)
			l.mu.Unlock()
			if hasLines(m, lines...) {
				return m
			}
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no notification with %s (%q) within 15s; got:\n%s", what, lines, strings.Join(l.seen, "\n---\n"))
			return ""
		}
	}
}

// hasLines reports whether a notification carries every wanted line; a
// wanted line ending in "=" (like "STATUS=") matches any value.
func hasLines(msg string, want ...string) bool {
	got := strings.Split(msg, "\n")
	for _, w := range want {
		found := false
		for _, g := range got {
			if g == w || strings.HasSuffix(w, "=") && strings.HasPrefix(g, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestNotifier(t *testing.T) {
	tests := []struct {
		name   string
		socket func(t *testing.T) string // "" leaves NOTIFY_SOCKET unset
		send   func(n *Notifier)
		want   string
	}{
		{
			name:   "path socket, ready with status",
			socket: func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify.sock") },
			send:   func(n *Notifier) { n.Ready("serving on 127.0.0.1:8080") },
			want:   "READY=1\nSTATUS=serving on 127.0.0.1:8080",
		},
		{
			name: "abstract socket",
			socket: func(t *testing.T) string {
				return fmt.Sprintf("@tributary-test-%d-%d", os.Getpid(), time.Now().UnixNano())
			},
			send: func(n *Notifier) { n.Stopping("shutting down") },
			want: "STOPPING=1\nSTATUS=shutting down",
		},
		{
			name:   "a newline cannot start another assignment",
			socket: func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify.sock") },
			send:   func(n *Notifier) { n.Status("3 sources\nREADY=1") },
			want:   "STATUS=3 sources READY=1",
		},
		{
			name:   "reloading",
			socket: func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify.sock") },
			send:   func(n *Notifier) { n.Reloading("reloading config") },
			want:   "RELOADING=1\nSTATUS=reloading config",
		},
		{
			name:   "watchdog ping",
			socket: func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify.sock") },
			send:   func(n *Notifier) { _ = n.Notify("WATCHDOG=1") },
			want:   "WATCHDOG=1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.socket(t)
			l := listenNotify(t, name)
			n, err := NewNotifier(envMap(map[string]string{"NOTIFY_SOCKET": name}), nil)
			if err != nil || n == nil {
				t.Fatalf("NewNotifier: %v, %v", n, err)
			}
			tt.send(n)
			if got := l.next(t); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("unset is a no-op", func(t *testing.T) {
		n, err := NewNotifier(envMap(nil), nil)
		if err != nil || n != nil {
			t.Fatalf("NewNotifier without NOTIFY_SOCKET = %v, %v; want nil, nil", n, err)
		}
		n.Ready("x")
		if err := n.Notify("READY=1"); err != nil {
			t.Errorf("nil notifier: %v", err)
		}
	})
	t.Run("unsupported address", func(t *testing.T) {
		if _, err := NewNotifier(envMap(map[string]string{"NOTIFY_SOCKET": "vsock:2:1234"}), nil); err == nil {
			t.Error("vsock address accepted")
		}
	})
	t.Run("gone socket is an error, logged by the state changes", func(t *testing.T) {
		var logs lockedBuffer
		n, err := NewNotifier(envMap(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "none.sock")}),
			slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Notify("READY=1"); err == nil {
			t.Error("no error for a missing socket")
		}
		n.Ready("x")
		if !strings.Contains(logs.String(), "systemd notification not sent") {
			t.Errorf("failure not logged: %q", logs.String())
		}
	})
}

func TestActivationListenerEnv(t *testing.T) {
	pid := os.Getpid()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "not activated", env: nil},
		{name: "meant for another process", env: map[string]string{"LISTEN_FDS": "1", "LISTEN_PID": strconv.Itoa(pid + 1)}},
		{name: "no pid", env: map[string]string{"LISTEN_FDS": "1"}},
		{name: "zero sockets", env: map[string]string{"LISTEN_FDS": "0", "LISTEN_PID": strconv.Itoa(pid)}},
		{name: "bad count", env: map[string]string{"LISTEN_FDS": "x", "LISTEN_PID": strconv.Itoa(pid)}, wantErr: "not a count"},
		{name: "two sockets", env: map[string]string{"LISTEN_FDS": "2", "LISTEN_PID": strconv.Itoa(pid)}, wantErr: "takes one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := ActivationListener(envMap(tt.env), pid)
			if ln != nil {
				ln.Close()
				t.Fatal("got a listener")
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// activationHelperEnv makes the test binary act as a socket-activated
// child (TestActivationHelperProcess).
const activationHelperEnv = "TRIBUTARY_ACTIVATION_HELPER"

// TestActivationHelperProcess is not a test: run as a child with a socket
// on fd 3, it takes the socket the way `run` does and answers one
// connection with its pid.
func TestActivationHelperProcess(t *testing.T) {
	if os.Getenv(activationHelperEnv) != "1" {
		t.Skip("helper process for TestActivationListener")
	}
	ln, err := ActivationListener(os.Getenv, os.Getpid())
	if err != nil || ln == nil {
		fmt.Fprintf(os.Stderr, "helper: listener %v, err %v\n", ln, err)
		os.Exit(3)
	}
	conn, err := ln.Accept()
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: accept:", err)
		os.Exit(4)
	}
	fmt.Fprintf(conn, "pid=%d addr=%s\n", os.Getpid(), ln.Addr())
	conn.Close()
	ln.Close()
	os.Exit(0)
}

// TestActivationListener passes a bound socket to a child process as
// systemd does — fd 3, LISTEN_FDS=1, LISTEN_PID set to the child's own
// pid (a shell sets it to $$ and execs, keeping the pid) — and checks the
// child serves on it.
func TestActivationListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`,
		os.Args[0], "-test.run=^TestActivationHelperProcess$")
	cmd.Env = append(os.Environ(), activationHelperEnv+"=1", "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f} // fd 3
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer from the activated child: %v\n%s", err, stderr.String())
	}
	want := fmt.Sprintf("pid=%d addr=%s\n", cmd.Process.Pid, ln.Addr())
	if line != want {
		t.Errorf("child answered %q, want %q", line, want)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("child: %v\n%s", err, stderr.String())
	}
}

func TestWatchdogInterval(t *testing.T) {
	pid := os.Getpid()
	tests := []struct {
		name    string
		env     map[string]string
		want    time.Duration
		wantErr bool
	}{
		{name: "no watchdog", env: nil, want: 0},
		{name: "30s", env: map[string]string{"WATCHDOG_USEC": "30000000"}, want: 30 * time.Second},
		{name: "for this pid", env: map[string]string{"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": strconv.Itoa(pid)}, want: time.Second},
		{name: "for another pid", env: map[string]string{"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": strconv.Itoa(pid + 1)}, want: 0},
		{name: "garbage", env: map[string]string{"WATCHDOG_USEC": "soon"}, wantErr: true},
		{name: "zero", env: map[string]string{"WATCHDOG_USEC": "0"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WatchdogInterval(envMap(tt.env), pid)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestWatchdog runs the watchdog against a fake scheduler in a synctest
// bubble (fake time): pings every half interval while the heartbeat
// moves, none once it has stood still for 15s — so systemd's timeout
// expires — and again when it moves.
func TestWatchdog(t *testing.T) {
	const interval = 30 * time.Second
	type phase struct {
		beat     func(now time.Time) (time.Time, bool) // heartbeat for now; false: no beat
		duration time.Duration
	}
	alive := func(now time.Time) (time.Time, bool) { return now, true }
	wedged := func(time.Time) (time.Time, bool) { return time.Time{}, false }
	hourAgo := func(now time.Time) (time.Time, bool) { return now.Add(-time.Hour), true }
	tests := []struct {
		name   string
		phases []phase
		// wantPings are the ping times, relative to the start.
		wantPings []time.Duration
		wantLog   []string
	}{
		{
			name:      "healthy scheduler",
			phases:    []phase{{alive, 70 * time.Second}},
			wantPings: []time.Duration{0, 15 * time.Second, 30 * time.Second, 45 * time.Second, 60 * time.Second},
		},
		{
			name:      "scheduler never starts",
			phases:    []phase{{wedged, 60 * time.Second}},
			wantPings: []time.Duration{0, 15 * time.Second},
			wantLog:   []string{"scheduler heartbeat is stale"},
		},
		{
			// Last beat at 20.5s, seen at 21s: pings while that is at most
			// 15s ago (the last at 30s), then none until the beat at
			// 120.5s is seen at 121s.
			name:      "wedged, then recovers",
			phases:    []phase{{alive, 21 * time.Second}, {wedged, 99 * time.Second}, {alive, 31 * time.Second}},
			wantPings: []time.Duration{0, 15 * time.Second, 30 * time.Second, 121 * time.Second, 136 * time.Second, 151 * time.Second},
			wantLog:   []string{"scheduler heartbeat is stale", "scheduler heartbeat resumed"},
		},
		{
			// The heartbeat is wall time; a clock step does not matter
			// while it keeps moving.
			name:      "wall clock stepped back",
			phases:    []phase{{hourAgo, 50 * time.Second}},
			wantPings: []time.Duration{0, 15 * time.Second, 30 * time.Second, 45 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var heartbeat atomic.Int64
				var mu sync.Mutex
				var pings []time.Duration
				var logs lockedBuffer
				w := &Watchdog{
					Interval: interval,
					Heartbeat: func() time.Time {
						if n := heartbeat.Load(); n != 0 {
							return time.Unix(0, n)
						}
						return time.Time{}
					},
					Notify: func(a ...string) error {
						if len(a) != 1 || a[0] != "WATCHDOG=1" {
							t.Errorf("unexpected notification %q", a)
						}
						mu.Lock()
						pings = append(pings, time.Since(start))
						mu.Unlock()
						return nil
					},
					Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				}
				// The fake scheduler beats once before the watchdog starts, then
				// every 5s at half-second offsets (0.5s, 5.5s…) so that the
				// watchdog's whole-second checks never race a beat.
				if hb, ok := tt.phases[0].beat(start); ok {
					heartbeat.Store(hb.UnixNano())
				}
				ctx, cancel := context.WithCancel(t.Context())
				wdDone := make(chan struct{})
				go func() { defer close(wdDone); w.Run(ctx) }()
				done := make(chan struct{})
				go func() {
					defer close(done)
					time.Sleep(500 * time.Millisecond)
					for _, p := range tt.phases {
						end := time.Now().Add(p.duration)
						for time.Now().Before(end) {
							if hb, ok := p.beat(time.Now()); ok {
								heartbeat.Store(hb.UnixNano())
							}
							time.Sleep(min(5*time.Second, time.Until(end)))
						}
					}
				}()
				<-done
				cancel()
				<-wdDone

				mu.Lock()
				defer mu.Unlock()
				if fmt.Sprint(pings) != fmt.Sprint(tt.wantPings) {
					t.Errorf("pings at %v, want %v", pings, tt.wantPings)
				}
				for _, want := range tt.wantLog {
					if strings.Count(logs.String(), want) != 1 {
						t.Errorf("log has not exactly one %q:\n%s", want, logs.String())
					}
				}
				if len(tt.wantLog) == 0 && logs.String() != "" {
					t.Errorf("unexpected log:\n%s", logs.String())
				}
			})
		})
	}

	t.Run("no watchdog, no pings", func(t *testing.T) {
		w := &Watchdog{Heartbeat: time.Now, Notify: func(...string) error { return errors.New("pinged") }}
		w.Run(t.Context()) // returns at once
	})
}

func TestPollSummary(t *testing.T) {
	s := newPollSummary([]aggregator.Source{{Name: "a"}, {Name: "b"}, {Name: "c"}})
	steps := []struct {
		name string
		res  aggregator.PollResult
		want string
	}{
		{"ok", aggregator.PollResult{Source: "a"}, "3 sources, 1 polled, 0 failing; 1 polls since start"},
		{"failed", aggregator.PollResult{Source: "b", Err: errors.New("404")}, "3 sources, 2 polled, 1 failing; 2 polls since start"},
		{"skipped is not a poll", aggregator.PollResult{Source: "c", Skipped: true}, "3 sources, 2 polled, 1 failing; 2 polls since start"},
		{"recovered", aggregator.PollResult{Source: "b"}, "3 sources, 2 polled, 0 failing; 3 polls since start"},
		{"failed again", aggregator.PollResult{Source: "a", Err: errors.New("timeout")}, "3 sources, 2 polled, 1 failing; 4 polls since start"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := s.Record(st.res); got != st.want {
				t.Errorf("got %q, want %q", got, st.want)
			}
		})
	}
	t.Run("reload drops removed sources", func(t *testing.T) {
		s.SetSources([]aggregator.Source{{Name: "b"}, {Name: "c"}, {Name: "d"}})
		if got, want := s.String(), "3 sources, 1 polled, 0 failing; 4 polls since start"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// buildTributary builds the command into a temporary directory.
func buildTributary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "tributary")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// sdProcess is the built daemon running under a fake service manager.
type sdProcess struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exit   chan error
}

func startUnderSystemd(t *testing.T, cmd *exec.Cmd) *sdProcess {
	t.Helper()
	p := &sdProcess{cmd: cmd, stderr: &lockedBuffer{}, exit: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exit <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exit
		if t.Failed() {
			t.Logf("daemon log:\n%s", p.stderr.String())
		}
	})
	return p
}

// servingAddr takes the address from the READY status line.
var servingAddrRE = regexp.MustCompile(`(?m)^STATUS=serving on (\S+);`)

// TestSystemdProcess runs the built binary the way systemd does, with
// NOTIFY_SOCKET pointing at a socket the test owns: READY=1 comes only
// once the listener answers; STATUS follows the polls; the watchdog
// pings; SIGHUP brackets a reload with RELOADING=1 … READY=1; SIGTERM
// sends STOPPING=1 and exits 0 with the store closed — the next open is
// instant and the database passes bbolt's consistency check. A second
// run takes its listener from socket activation.
func TestSystemdProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildTributary(t)
	_, srv := startFeedFarm(t)
	dir := t.TempDir()
	cfgPath := e2eConfig(t, dir, srv.URL)
	dbPath := filepath.Join(dir, "data", "tributary.db")

	t.Run("notify, watchdog, reload, stop", func(t *testing.T) {
		notify := listenNotify(t, filepath.Join(t.TempDir(), "notify.sock"))
		cmd := exec.Command(bin, "run", "--config", cfgPath)
		cmd.Env = append(os.Environ(),
			"NOTIFY_SOCKET="+notify.conn.LocalAddr().String(),
			"WATCHDOG_USEC=2000000", // pings every second
			"WATCHDOG_PID=")
		p := startUnderSystemd(t, cmd)

		ready := notify.await(t, "READY=1", "READY=1", "STATUS=")
		m := servingAddrRE.FindStringSubmatch(ready)
		if m == nil {
			t.Fatalf("READY=1 without a 'serving on ADDR;' status: %q", ready)
		}
		// The listener was bound before READY=1: it answers at once.
		resp, err := http.Get("http://" + m[1] + "/healthz")
		if err != nil {
			t.Fatalf("READY=1 sent but the listener does not answer: %v", err)
		}
		resp.Body.Close()

		// wire, un and outlet succeed; broken is a 404.
		notify.await(t, "a poll summary", "STATUS=4 sources, 4 polled, 1 failing; 4 polls since start")
		notify.await(t, "a watchdog ping", "WATCHDOG=1")

		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		notify.await(t, "RELOADING=1", "RELOADING=1")
		notify.await(t, "READY=1 after the reload", "READY=1")

		start := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		notify.await(t, "STOPPING=1", "STOPPING=1")
		select {
		case err := <-p.exit:
			p.exit <- err // for the cleanup
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no exit within 20s of SIGTERM")
		}
		t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
		if !strings.Contains(p.stderr.String(), "msg=stopped") {
			t.Error("no clean-stop log line")
		}
		checkStoreClosed(t, dbPath)
	})

	t.Run("socket activation", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		notify := listenNotify(t, filepath.Join(t.TempDir(), "notify.sock"))
		cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin, "run", "--config", cfgPath)
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify.conn.LocalAddr().String(), "LISTEN_FDS=1")
		cmd.ExtraFiles = []*os.File{f}
		p := startUnderSystemd(t, cmd)
		f.Close()
		ln.Close() // the daemon holds its own copy

		ready := notify.await(t, "READY=1", "READY=1", "STATUS=")
		m := servingAddrRE.FindStringSubmatch(ready)
		if m == nil || m[1] != ln.Addr().String() {
			t.Fatalf("READY status %q: want it serving on the passed socket %s", ready, ln.Addr())
		}
		resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
		if err != nil {
			t.Fatalf("GET /healthz on the passed socket: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz: %s %s", resp.Status, body)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-p.exit:
			p.exit <- err
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no exit within 20s of SIGTERM")
		}
		checkStoreClosed(t, dbPath)
	})
}

// checkStoreClosed opens the database the daemon left: the lock must be
// free at once and the file consistent.
func checkStoreClosed(t *testing.T, path string) {
	t.Helper()
	start := time.Now()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("open the store after stop: %v", err)
	}
	defer db.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("opening the store took %v", d)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}); err != nil {
		t.Errorf("store inconsistent after stop: %v", err)
	}
}

func TestSystemdFromEnv(t *testing.T) {
	sd, err := SystemdFromEnv(envMap(nil), os.Getpid(), nil)
	if err != nil || sd.Notifier != nil || sd.Listener != nil || sd.WatchdogInterval != 0 {
		t.Errorf("outside systemd: %+v, %v; want nothing", sd, err)
	}
	name := filepath.Join(t.TempDir(), "notify.sock")
	sd, err = SystemdFromEnv(envMap(map[string]string{"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "30000000"}), os.Getpid(), nil)
	if err != nil || sd.Notifier == nil || sd.Listener != nil || sd.WatchdogInterval != 30*time.Second {
		t.Errorf("under systemd: %+v, %v", sd, err)
	}
	if _, err := SystemdFromEnv(envMap(map[string]string{"WATCHDOG_USEC": "x"}), os.Getpid(), nil); err == nil {
		t.Error("bad WATCHDOG_USEC accepted")
	}
}

// TestSystemConfig: the config the package installs is the example config
// with only its paths changed for /etc, /var/lib and /usr/share — so the
// two never drift — and it loads.
func TestSystemConfig(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "configs", "tributary.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	systemPath := filepath.Join("..", "..", "configs", "tributary.system.yaml")
	system, err := os.ReadFile(systemPath)
	if err != nil {
		t.Fatal(err)
	}
	want := string(example)
	for _, r := range [][2]string{
		{"# tributary example configuration — also the reference for every key.\n",
			"# tributary configuration for the system service (tributary.service reads\n" +
				"# /etc/tributary/tributary.yaml). Edit it, then `systemctl reload tributary`;\n" +
				"# the package keeps your edits on upgrade. The reference for every key.\n"},
		{"# directory, so \"data\" here means configs/data.\ndata_dir: \"data\"\n",
			"# directory. The service's state directory:\ndata_dir: \"/var/lib/tributary\"\n"},
		{"  # Offline samples (configs/samples/)", "  # Offline samples (/usr/share/tributary/samples/)"},
		{`url: "file:samples/`, `url: "file:///usr/share/tributary/samples/`},
	} {
		if !strings.Contains(want, r[0]) {
			t.Fatalf("the example config no longer has %q; update this test and configs/tributary.system.yaml", r[0])
		}
		want = strings.ReplaceAll(want, r[0], r[1])
	}
	if string(system) != want {
		t.Errorf("configs/tributary.system.yaml is not the example config with the system paths; regenerate it")
	}
	cfg, err := loadConfig(systemPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.DBPath(); got != "/var/lib/tributary/tributary.db" {
		t.Errorf("database at %s", got)
	}
	for _, src := range cfg.Sources {
		if strings.HasPrefix(src.URL, "file:") && !strings.HasPrefix(src.URL, "file:///usr/share/tributary/samples/") {
			t.Errorf("source %s reads %s", src.Name, src.URL)
		}
	}
}
