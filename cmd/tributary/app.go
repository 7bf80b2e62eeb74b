package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/aggregator/query"
	"github.com/tributary-news/tributary/configs"
	"github.com/tributary-news/tributary/publish"
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
	return configs.Load(path, configs.Options{
		Version: version,
		ValidateQuery: func(q string) error {
			_, err := query.Parse(q)
			return err
		},
	})
}

// App is the wired daemon: the store, the pipeline and the HTTP handler
// for one config. Commands build one; the end-to-end test starts one on a
// loopback port in a temporary directory.
type App struct {
	Config  *configs.Config
	Logger  *slog.Logger
	Store   *storage.DB
	Poller  *aggregator.Poller
	Handler *publish.Handler

	schedules aggregator.Schedules

	mu   sync.Mutex
	addr net.Addr

	closeOnce sync.Once
	closeErr  error
}

// OpenApp opens the store and builds the pipeline for cfg. Close releases
// the store.
func OpenApp(ctx context.Context, cfg *configs.Config, logger *slog.Logger) (*App, error) {
	matcher, err := aggregator.NewTopicMatcher(cfg.Topics, cfg.Sources)
	if err != nil {
		return nil, err
	}
	schedules, err := aggregator.NewSchedules(cfg.Sources, cfg.Schedule)
	if err != nil {
		return nil, err
	}
	db, err := storage.Open(cfg.DBPath(), storage.Options{Timeout: lockTimeout, Logger: logger})
	if err != nil {
		return nil, err
	}
	rebuilt, err := db.SyncTopics(ctx, matcher.Memberships())
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(rebuilt) > 0 {
		logger.Info("topic memberships rebuilt", "topics", rebuilt)
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
		Logger:      logger,
	})
	handler := publish.NewHandler(db, publishConfig(cfg), logger)
	return &App{
		Config:    cfg,
		Logger:    logger,
		Store:     db,
		Poller:    poller,
		Handler:   handler,
		schedules: schedules,
	}, nil
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
	a.closeOnce.Do(func() { a.closeErr = a.Store.Close() })
	return a.closeErr
}

// Addr is the address the HTTP server listens on, once Serve has bound it.
func (a *App) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// PollAll polls the given sources once, at most fetch.concurrency at a
// time, and reports each result as it comes.
func (a *App) PollAll(ctx context.Context, sources []aggregator.Source, report func(aggregator.PollResult)) {
	results := make(chan aggregator.PollResult)
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Go(func() { results <- a.Poller.Poll(ctx, src) })
	}
	go func() { wg.Wait(); close(results) }()
	for res := range results {
		a.Handler.Invalidate(res.ChangedTopics...)
		report(res)
	}
}

// Serve runs the daemon until ctx is done: it binds the listener, polls on
// schedule and serves HTTP, then stops in order — scheduler (in-flight
// polls cancelled and waited for), HTTP server — and returns. The caller
// closes the store.
func (a *App) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.Listen, err)
	}
	a.mu.Lock()
	a.addr = ln.Addr()
	a.mu.Unlock()
	a.Logger.Info("serving", "addr", ln.Addr().String(), "base_url", a.Config.BaseURL,
		"sources", len(a.Config.Sources), "topics", len(a.Config.Topics))

	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	scheduler := aggregator.NewScheduler(aggregator.SchedulerOptions{
		Poller:     a.Poller,
		Store:      a.Store,
		Schedules:  a.schedules,
		MaxJitter:  maxJitter,
		Retention:  a.Config.Retention.MaxAge,
		PruneEvery: time.Hour,
		OnPolled:   func(res aggregator.PollResult) { a.Handler.Invalidate(res.ChangedTopics...) },
		OnPruned:   func(res aggregator.PruneResult) { a.Handler.Invalidate(res.ChangedTopics...) },
		Logger:     a.Logger,
	})
	schedCtx, stopScheduler := context.WithCancel(ctx)
	schedDone := make(chan error, 1)
	go func() { schedDone <- scheduler.Run(schedCtx, a.Config.Sources) }()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
	case err := <-schedDone:
		runErr = err
		schedDone <- err
	}
	a.Logger.Info("shutting down")
	stopScheduler()
	select {
	case err := <-schedDone:
		if err != nil && runErr == nil {
			runErr = err
		}
	case <-time.After(shutdownTimeout):
		a.Logger.Warn("polls still running after shutdown timeout; leaving them")
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.Logger.Warn("http shutdown", "err", err)
	}
	return runErr
}
