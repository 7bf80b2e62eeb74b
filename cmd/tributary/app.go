package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/aggregator/cpugate"
	"github.com/tributary-news/tributary/aggregator/query"
	"github.com/tributary-news/tributary/configs"
	"github.com/tributary-news/tributary/publish"
	"github.com/tributary-news/tributary/publish/metrics"
	"github.com/tributary-news/tributary/storage"
)

const (
	// lockTimeout bounds the wait for a database another process holds.
	lockTimeout = 2 * time.Second
	// shutdownTimeout bounds the wait for in-flight requests and polls.
	shutdownTimeout = 10 * time.Second
	// maxJitter spreads sources that share a schedule.
	maxJitter = 30 * time.Second
)

// loadConfig reads and validates a config file the way every command does,
// topic queries included.
func loadConfig(path string) (*configs.Config, error) {
	return configs.Load(path, configOptions())
}

// configOptions are the options every command reads and edits the config
// with: the same checks as `tributary check`, topic queries included.
func configOptions() configs.Options {
	return configs.Options{
		Version: version,
		ValidateQuery: func(q string) error {
			_, err := query.Parse(q)
			return err
		},
	}
}

// App is the wired daemon: the store, the pipeline and the HTTP handler
// for one config, which Reload can replace while it runs. Commands build
// one; the end-to-end tests start one on a loopback port in a temporary
// directory.
type App struct {
	Logger  *slog.Logger
	Store   *storage.DB
	Handler *publish.Handler
	Metrics *metrics.Metrics
	// ReloadRequests, when set, asks Serve to reload the config (SIGHUP).
	ReloadRequests <-chan struct{}
	// Systemd is what the service manager passed: a notify socket, a
	// listening socket, a watchdog interval (all optional).
	Systemd Systemd

	polls *pollSummary // STATUS= lines for systemd
	// cpu is the gate shared by the store and every pipeline.
	cpu *cpugate.Gate

	mu        sync.Mutex
	config    *configs.Config
	pipe      *pipeline
	addr      net.Addr
	scheduler *aggregator.Scheduler

	closeOnce sync.Once
	closeErr  error
	// release gives memory back once polling calms down (see idle.go).
	release *memoryRelease
}

// pipeline is what one config builds for polling: the poller with its
// matcher, merger and fetcher, and the schedules.
type pipeline struct {
	poller      *aggregator.Poller
	schedules   aggregator.Schedules
	memberships []aggregator.TopicMembership
	// sourceMemberships describe the sources to SyncTopics (what of
	// each decides its items' topics), not the sources polled.
	sourceMemberships []aggregator.SourceMembership
}

// newPipeline builds the pipeline of cfg; cpu is the gate the store was
// opened with.
func newPipeline(cfg *configs.Config, db *storage.DB, cpu *cpugate.Gate, logger *slog.Logger) (*pipeline, error) {
	matcher, err := aggregator.NewTopicMatcher(cfg.Topics, cfg.Sources)
	if err != nil {
		return nil, err
	}
	schedules, err := aggregator.NewSchedules(cfg.Sources, cfg.Schedule)
	if err != nil {
		return nil, err
	}
	fetcher := aggregator.NewFetcher(aggregator.FetcherOptions{
		Timeout:      cfg.Fetch.Timeout,
		MaxBodyBytes: cfg.Fetch.MaxBodyBytes,
		UserAgent:    cfg.Fetch.UserAgent,
		PerHost:      cfg.Fetch.PerHost,
		Logger:       logger,
	})
	poller := aggregator.NewPoller(aggregator.PollerOptions{
		Store:       db,
		Fetcher:     fetcher,
		Matcher:     matcher,
		Merger:      aggregator.NewStoryMerger(cfg.Sources),
		Concurrency: cfg.Fetch.Concurrency,
		MaxItems:    cfg.Fetch.MaxItems,
		MaxAge:      cfg.Retention.MaxAge,
		NextPoll:    schedules.Next,
		CPU:         cpu,
		Logger:      logger,
	})
	return &pipeline{poller: poller, schedules: schedules, memberships: matcher.Memberships(), sourceMemberships: matcher.SourceMemberships()}, nil
}

// OpenApp opens the store and builds the pipeline for cfg. Close releases
// the store.
func OpenApp(ctx context.Context, cfg *configs.Config, logger *slog.Logger) (*App, error) {
	// One token per core the Go scheduler uses: the store's writer takes
	// one ahead of the polls (see cpugate).
	cpu := cpugate.New(runtime.GOMAXPROCS(0))
	db, err := storage.Open(cfg.DBPath(), storage.Options{Timeout: lockTimeout, Logger: logger, CPU: cpu})
	if err != nil {
		return nil, err
	}
	pipe, err := newPipeline(cfg, db, cpu, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	rebuilt, err := db.SyncTopics(ctx, pipe.memberships, pipe.sourceMemberships)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(rebuilt) > 0 {
		logger.Info("topic memberships rebuilt", "topics", rebuilt)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg, metrics.Options{StoreSize: fileSize(db.Path()), Logger: logger})
	if err != nil {
		db.Close()
		return nil, err
	}
	handler := publish.NewHandler(db, publishConfig(cfg), logger)
	handler.SetMetrics(m)
	a := &App{Logger: logger, Store: db, Handler: handler, Metrics: m, config: cfg, pipe: pipe, cpu: cpu}
	a.release = newMemoryRelease(releaseQuiet, releaseMaxDelay, a.releaseMemory)
	handler.Rendered = func() { a.release.poke() }
	return a, nil
}

// fileSize reads a file's size for the store-size gauge (NaN when absent).
func fileSize(path string) func() float64 {
	return func() float64 {
		fi, err := os.Stat(path)
		if err != nil {
			return math.NaN()
		}
		return float64(fi.Size())
	}
}

// sourceLabels are the source names, the only values of metrics' source label.
func sourceLabels(sources []aggregator.Source) []string {
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.Name
	}
	return names
}

// Config is the config in force.
func (a *App) Config() *configs.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.config
}

func (a *App) pipeline() *pipeline {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pipe
}

// Reload reads the config file again and, when it is valid, applies it
// without a restart: new topics and topics whose query changed are
// rematched against the stored items at once, and the topic feeds, the
// status page and the pipeline (sources, schedules, fetch settings) switch
// to it. An invalid config is refused with its error and the App keeps the
// one it has. Listen and data_dir need a restart; a change to them is
// logged and ignored. Serve calls it on a reload request or a change of
// the file, then restarts the scheduler with the new sources.
func (a *App) Reload(ctx context.Context) error {
	old := a.Config()
	cfg, err := loadConfig(old.Path)
	if err != nil {
		return err
	}
	if cfg.Listen != old.Listen || cfg.DataDir != old.DataDir {
		a.Logger.Warn("listen and data_dir changes need a restart; keeping the current ones",
			"listen", old.Listen, "data_dir", old.DataDir)
		cfg.Listen, cfg.DataDir = old.Listen, old.DataDir
	}
	pipe, err := newPipeline(cfg, a.Store, a.cpu, a.Logger)
	if err != nil {
		return err
	}
	rebuilt, err := a.Store.SyncTopics(ctx, pipe.memberships, pipe.sourceMemberships)
	if err != nil {
		return fmt.Errorf("rematch topics: %w", err)
	}
	a.mu.Lock()
	a.config, a.pipe = cfg, pipe
	a.mu.Unlock()
	a.Handler.SetConfig(publishConfig(cfg))
	a.Metrics.SetSources(sourceLabels(cfg.Sources))
	a.Logger.Info("config reloaded", "sources", len(cfg.Sources), "topics", len(cfg.Topics), "rematched", rebuilt)
	return nil
}

func publishConfig(cfg *configs.Config) publish.Config {
	return publish.Config{
		BaseURL:  cfg.BaseURL,
		MaxItems: cfg.Publish.MaxItems,
		Topics:   cfg.Topics,
		Sources:  cfg.Sources,
		Version:  version,
	}
}

// Close releases the store; calling it again does nothing.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.release.stop()
		a.closeErr = a.Store.Close()
	})
	return a.closeErr
}

// Addr is the address the HTTP server listens on, once Serve has bound it.
func (a *App) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// PollAll polls the given sources once, at most fetch.concurrency at a
// time, and reports each result as it comes. It is the poll command's: its
// polls are not recorded in Metrics, which no one scrapes in a process
// that exits when they are done (recording them, series by series for the
// first time, cost a warm poll of 2,000 sources 5 ms of CPU). The
// scheduler's polls are recorded. Its error is aggregator.Poller.PollAll's.
func (a *App) PollAll(ctx context.Context, sources []aggregator.Source, report func(aggregator.PollResult)) error {
	return a.pipeline().poller.PollAll(ctx, sources, func(res aggregator.PollResult) {
		a.Handler.Invalidate(res.ChangedTopics...)
		report(res)
	})
}

// SchedulerHeartbeat is when the running scheduler last proved alive
// (zero when none runs): a supervisor's watchdog pings only while it is
// recent.
func (a *App) SchedulerHeartbeat() time.Time {
	a.mu.Lock()
	s := a.scheduler
	a.mu.Unlock()
	if s == nil {
		return time.Time{}
	}
	return s.LastHeartbeat()
}

// startScheduler runs a scheduler for the pipeline in force. Its stop
// function ends scheduling and waits for it; polls in flight run under
// pollCtx and finish (bounded by shutdownTimeout).
func (a *App) startScheduler(pollCtx context.Context) (stop func() error) {
	cfg, pipe := a.Config(), a.pipeline()
	scheduler := aggregator.NewScheduler(aggregator.SchedulerOptions{
		Poller:      pipe.poller,
		Store:       a.Store,
		Schedules:   pipe.schedules,
		MaxJitter:   maxJitter,
		Retention:   cfg.Retention.MaxAge,
		PruneEvery:  time.Hour,
		PollContext: pollCtx,
		OnPolled: func(res aggregator.PollResult) {
			a.release.poke()
			a.Metrics.ObservePoll(res)
			a.Handler.Invalidate(res.ChangedTopics...)
			if a.polls != nil {
				a.Systemd.Notifier.Status(a.polls.Record(res))
			}
		},
		OnPruned: func(res aggregator.PruneResult) {
			a.release.poke()
			a.Metrics.ObservePrune(res)
			a.Handler.Invalidate(res.ChangedTopics...)
		},
		Logger: a.Logger,
	})
	a.mu.Lock()
	a.scheduler = scheduler
	a.mu.Unlock()
	schedCtx, cancel := context.WithCancel(pollCtx)
	done := make(chan error, 1)
	go func() { done <- scheduler.Run(schedCtx, cfg.Sources) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(shutdownTimeout):
			a.Logger.Warn("polls still running after the shutdown timeout; leaving them")
			return nil
		}
	}
}

// Serve runs the daemon until ctx is done: it binds the listener, polls on
// schedule and serves HTTP, reloading the config on request or when its
// file changes; then it stops in order — scheduler (in-flight polls
// cancelled and waited for), HTTP server — and returns. The caller closes
// the store.
func (a *App) Serve(ctx context.Context) error {
	cfg := a.Config()
	// Every source's series exist from the start, at zero, so a scrape
	// tells a source never polled from one that is not configured. Only
	// a serving daemon has scrapes: a one-off poll of thousands of
	// sources does not make its tens of thousands of series.
	a.Metrics.SetSources(sourceLabels(cfg.Sources))
	ln := a.Systemd.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	} else {
		a.Logger.Info("listening on the socket systemd passed; listen is not used", "listen", cfg.Listen)
	}
	a.mu.Lock()
	a.addr = ln.Addr()
	a.mu.Unlock()
	a.Logger.Info("serving", "addr", ln.Addr().String(), "base_url", cfg.BaseURL,
		"sources", len(cfg.Sources), "topics", len(cfg.Topics))
	stopAdmin, err := a.serveAdmin(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopAdmin()

	srv := publish.NewServer(a.Handler, publish.ServerOptions{
		ReadTimeout:    10 * time.Second,
		WriteTimeout:   60 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 16 << 10,
	}, a.Logger)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	fileChanged := a.watchConfig(ctx, cfg.Path)
	a.polls = newPollSummary(cfg.Sources)
	stopScheduler := a.startScheduler(ctx)
	go (&Watchdog{
		Interval:  a.Systemd.WatchdogInterval,
		Heartbeat: a.SchedulerHeartbeat,
		Notify:    a.Systemd.Notifier.Notify,
		Logger:    a.Logger,
	}).Run(ctx)
	a.Systemd.Notifier.Ready(readyStatus(ln.Addr(), a.polls))
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-serveErr:
			runErr = fmt.Errorf("http server: %w", err)
			break loop
		case <-a.ReloadRequests:
			a.reload(ctx, &stopScheduler, "reload requested")
		case <-fileChanged:
			a.reload(ctx, &stopScheduler, "config file changed")
		}
	}
	a.Logger.Info("shutting down")
	a.Systemd.Notifier.Stopping("shutting down")
	if err := stopScheduler(); err != nil && runErr == nil {
		runErr = err
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		a.Logger.Warn("http shutdown", "err", err)
	}
	return runErr
}

// reload applies a new config and restarts the scheduler on it; polls in
// flight finish on the old pipeline. A config that fails is logged with
// its error (and line) and the daemon keeps running on the old one.
func (a *App) reload(ctx context.Context, stopScheduler *func() error, why string) {
	a.Logger.Info("reloading config", "why", why)
	a.Systemd.Notifier.Reloading("reloading the config: " + why)
	defer func() { a.Systemd.Notifier.Ready(readyStatus(a.Addr(), a.polls)) }()
	if err := a.Reload(ctx); err != nil {
		a.Logger.Error("config not reloaded; keeping the running one", "err", err)
		return
	}
	if err := (*stopScheduler)(); err != nil {
		a.Logger.Error("stop scheduler for reload", "err", err)
	}
	a.polls.SetSources(a.Config().Sources)
	*stopScheduler = a.startScheduler(ctx)
}
