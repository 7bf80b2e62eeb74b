package main

// The systemd side of `tributary run`: readiness and status notifications
// (sd_notify), socket activation and the watchdog. Hand-written against
// the documented protocol (sd_notify(3), sd_listen_fds(3)) so the daemon
// needs no libsystemd and no extra module; every part is a no-op when the
// service manager did not ask for it.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// Notifier sends state changes to the service manager over the datagram
// socket named by $NOTIFY_SOCKET. A nil *Notifier, or one built without
// that variable, does nothing, so callers never check.
type Notifier struct {
	addr   *net.UnixAddr
	logger *slog.Logger
}

// Systemd is what the service manager handed the process: each part is
// zero when it did not (not run by systemd, no socket unit, no
// WatchdogSec=).
type Systemd struct {
	Notifier         *Notifier
	Listener         net.Listener
	WatchdogInterval time.Duration
}

// SystemdFromEnv reads NOTIFY_SOCKET, LISTEN_FDS/LISTEN_PID and
// WATCHDOG_USEC/WATCHDOG_PID for the process pid.
func SystemdFromEnv(getenv func(string) string, pid int, logger *slog.Logger) (Systemd, error) {
	n, err := NewNotifier(getenv, logger)
	if err != nil {
		return Systemd{}, err
	}
	wd, err := WatchdogInterval(getenv, pid)
	if err != nil {
		return Systemd{}, err
	}
	ln, err := ActivationListener(getenv, pid)
	if err != nil {
		return Systemd{}, err
	}
	return Systemd{Notifier: n, Listener: ln, WatchdogInterval: wd}, nil
}

// NewNotifier returns the notifier that $NOTIFY_SOCKET (read with getenv)
// asks for: nil when it is unset. A path or an abstract name ("@name") is
// accepted; other address kinds (vsock) are an error. Failures of Ready,
// Status, Reloading and Stopping go to logger.
func NewNotifier(getenv func(string) string, logger *slog.Logger) (*Notifier, error) {
	name := getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil, nil
	}
	if name[0] != '/' && name[0] != '@' {
		return nil, fmt.Errorf("systemd: NOTIFY_SOCKET %q: only a path or an abstract @name is supported", name)
	}
	// Go's net package maps a leading '@' to the abstract namespace.
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}, logger: logger}, nil
}

// Notify sends one datagram of newline-separated VAR=value assignments,
// e.g. Notify("READY=1", "STATUS=serving").
func (n *Notifier) Notify(assignments ...string) error {
	if n == nil || len(assignments) == 0 {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("systemd: notify %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	msg := strings.Join(assignments, "\n")
	if _, err := conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("systemd: notify %s: %w", n.addr.Name, err)
	}
	return nil
}

// Ready tells the manager start-up (or a reload) is complete: the store
// is open and the listener bound.
func (n *Notifier) Ready(status string) { n.send("READY=1", statusLine(status)) }

// Status sets the one-line status `systemctl status` shows.
func (n *Notifier) Status(status string) { n.send(statusLine(status)) }

// Reloading tells the manager a reload started; Ready ends it. (Type=
// notify-reload in systemd ≥ 253 would also want MONOTONIC_USEC; the unit
// uses Type=notify with ExecReload, which does not.)
func (n *Notifier) Reloading(status string) { n.send("RELOADING=1", statusLine(status)) }

// Stopping tells the manager the daemon is shutting down.
func (n *Notifier) Stopping(status string) { n.send("STOPPING=1", statusLine(status)) }

// send is Notify for the state changes, whose failure is only logged: the
// daemon serves on without its manager's bookkeeping.
func (n *Notifier) send(assignments ...string) {
	if err := n.Notify(assignments...); err != nil {
		n.logger.Warn("systemd notification not sent", "err", err)
	}
}

// readyStatus is the STATUS= line of READY=1: the address served, and the
// poll summary.
func readyStatus(addr net.Addr, polls *pollSummary) string {
	return fmt.Sprintf("serving on %s; %s", addr, polls)
}

// statusLine is a STATUS= assignment; a newline would end it early.
func statusLine(s string) string {
	return "STATUS=" + strings.ReplaceAll(s, "\n", " ")
}

// listenFDsStart is SD_LISTEN_FDS_START: the first descriptor systemd
// passes.
const listenFDsStart = 3

// ActivationListener returns the listening socket systemd passed (socket
// activation: $LISTEN_FDS descriptors from fd 3, meant for the process
// whose id is $LISTEN_PID), or nil when none was passed to this process.
// Exactly one stream socket is expected (the one ListenStream= in
// tributary.socket).
func ActivationListener(getenv func(string) string, pid int) (net.Listener, error) {
	fdsVar, pidVar := getenv("LISTEN_FDS"), getenv("LISTEN_PID")
	if fdsVar == "" || pidVar == "" {
		return nil, nil
	}
	if p, err := strconv.Atoi(pidVar); err != nil || p != pid {
		return nil, nil // meant for another process (a parent that did not unset it)
	}
	n, err := strconv.Atoi(fdsVar)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("systemd: LISTEN_FDS %q is not a count", fdsVar)
	}
	switch {
	case n == 0:
		return nil, nil
	case n > 1:
		return nil, fmt.Errorf("systemd: %d sockets passed (LISTEN_FDS); tributary takes one", n)
	}
	// Not inherited by anything this process starts.
	syscall.CloseOnExec(listenFDsStart)
	f := os.NewFile(listenFDsStart, "systemd-socket")
	if f == nil {
		return nil, errors.New("systemd: passed socket fd 3 is not valid")
	}
	defer f.Close() // FileListener holds its own duplicate
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("systemd: passed socket fd 3: %w", err)
	}
	return ln, nil
}

// WatchdogInterval is the watchdog timeout the manager set for this
// process ($WATCHDOG_USEC, for the process $WATCHDOG_PID when that is
// set), or 0 when there is none.
func WatchdogInterval(getenv func(string) string, pid int) (time.Duration, error) {
	usec := getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, nil
	}
	if p := getenv("WATCHDOG_PID"); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n != pid {
			return 0, nil
		}
	}
	n, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("systemd: WATCHDOG_USEC %q is not a positive number of microseconds", usec)
	}
	return time.Duration(n) * time.Microsecond, nil
}

// heartbeatMaxAge is how long the scheduler may go without beating before
// the watchdog withholds its pings: three of its 5s heartbeats.
const heartbeatMaxAge = 15 * time.Second

// Watchdog pings the service manager's watchdog (WATCHDOG=1) at half its
// interval, but only while the scheduler proves alive: a ticker of its
// own would keep a wedged daemon looking healthy. When the heartbeat goes
// stale the pings stop, the manager's timeout expires and it restarts the
// service (Restart=on-failure).
//
// Staleness is judged by when the heartbeat last changed, measured on the
// watchdog's own (monotonic) clock, not by comparing the heartbeat's wall
// time with now: a wall-clock step then neither hides a wedge nor fakes
// one.
type Watchdog struct {
	// Interval is the manager's watchdog timeout (WatchdogInterval).
	Interval time.Duration
	// Heartbeat returns the scheduler's last heartbeat (App.SchedulerHeartbeat).
	Heartbeat func() time.Time
	// MaxAge is how long the heartbeat may stand still; default 15s.
	MaxAge time.Duration
	// Check is how often the heartbeat is sampled; default 1s (at most
	// half the interval).
	Check time.Duration
	// Notify sends the pings (Notifier.Notify).
	Notify func(assignments ...string) error
	Logger *slog.Logger
	Now    func() time.Time
}

// Run pings until ctx is done. It returns at once when Interval is 0.
func (w *Watchdog) Run(ctx context.Context) {
	if w.Interval <= 0 || w.Notify == nil {
		return
	}
	maxAge, check, now, logger := w.MaxAge, w.Check, w.Now, w.Logger
	if maxAge <= 0 {
		maxAge = heartbeatMaxAge
	}
	pingEvery := w.Interval / 2
	if check <= 0 {
		check = time.Second
	}
	check = min(check, pingEvery)
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	// The scheduler starts alongside: it has maxAge from now to beat.
	last, moved := w.Heartbeat(), now()
	var lastPing time.Time
	stale := false
	ticker := time.NewTicker(check)
	defer ticker.Stop()
	for {
		t := now()
		if hb := w.Heartbeat(); !hb.Equal(last) {
			last, moved = hb, t
		}
		switch still := t.Sub(moved); {
		case still > maxAge:
			if !stale {
				stale = true
				logger.Error("scheduler heartbeat is stale; withholding watchdog pings so systemd restarts the service",
					"last_heartbeat", last, "still_for", still.Round(time.Second), "max_age", maxAge,
					"watchdog", w.Interval)
			}
		default:
			if stale {
				stale = false
				logger.Warn("scheduler heartbeat resumed; watchdog pings resumed", "last_heartbeat", last)
			}
			if lastPing.IsZero() || t.Sub(lastPing) >= pingEvery {
				if err := w.Notify("WATCHDOG=1"); err != nil {
					logger.Warn("watchdog ping", "err", err)
				}
				lastPing = t
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// pollSummary keeps the STATUS= line current: how many sources the
// running daemon polled, and how many of those are failing.
type pollSummary struct {
	mu      sync.Mutex
	sources []string        // configured, sorted
	failing map[string]bool // source → its last poll failed
	polls   int
}

func newPollSummary(sources []aggregator.Source) *pollSummary {
	s := &pollSummary{failing: map[string]bool{}}
	s.SetSources(sources)
	return s
}

// SetSources follows a reload: sources no longer configured are dropped.
func (s *pollSummary) SetSources(sources []aggregator.Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sources = s.sources[:0]
	for _, src := range sources {
		s.sources = append(s.sources, src.Name)
	}
	slices.Sort(s.sources)
	for name := range s.failing {
		if _, ok := slices.BinarySearch(s.sources, name); !ok {
			delete(s.failing, name)
		}
	}
}

// Record notes a poll's outcome and returns the new status line.
func (s *pollSummary) Record(res aggregator.PollResult) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if res.Skipped || !res.Deferred.IsZero() {
		return s.line()
	}
	s.polls++
	s.failing[res.Source] = res.Err != nil || res.Disabled
	return s.line()
}

// String is the current status line.
func (s *pollSummary) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.line()
}

func (s *pollSummary) line() string {
	polled, failing := 0, 0
	for _, name := range s.sources {
		if f, ok := s.failing[name]; ok {
			polled++
			if f {
				failing++
			}
		}
	}
	return fmt.Sprintf("%d sources, %d polled, %d failing; %d polls since start",
		len(s.sources), polled, failing, s.polls)
}
