package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/publish"
)

// cmdRun is `tributary run`: the daemon.
func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("run", stderr, &cf)
	if err := parseFlags(fs, &cf, args); err != nil {
		return err
	}
	logger, cfg, err := cf.load(stderr)
	if err != nil {
		return err
	}
	sd, err := SystemdFromEnv(os.Getenv, os.Getpid(), logger)
	if err != nil {
		return err
	}
	app, err := OpenApp(ctx, cfg, logger)
	if err != nil {
		if sd.Listener != nil {
			sd.Listener.Close()
		}
		return err
	}
	app.Systemd = sd
	app.ReloadRequests = reloadSignals(ctx)
	serveErr := app.Serve(ctx)
	if err := app.Close(); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("close store: %w", err)
	}
	if serveErr == nil {
		logger.Info("stopped")
	}
	return serveErr
}

// reloadSignals turns SIGHUP into reload requests until ctx is done.
// Requests that arrive while one is pending are merged.
func reloadSignals(ctx context.Context) <-chan struct{} {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reloads := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reloads <- struct{}{}:
				default:
				}
			}
		}
	}()
	return reloads
}

// cmdPoll is `tributary poll`: every source (or one) once, a line each.
// Failed sources are reported, not fatal.
func cmdPoll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("poll", stderr, &cf)
	only := fs.String("source", "", "poll only the source of this name")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the poll to this `file` (for go tool pprof)")
	memProfile := fs.String("memprofile", "", "write a heap profile at the end of the poll to this `file` (for go tool pprof)")
	if err := parseFlags(fs, &cf, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if *memProfile != "" {
		defer writeHeapProfile(*memProfile, stderr)
	}
	logger, cfg, err := cf.load(stderr)
	if err != nil {
		return err
	}
	sources := cfg.Sources
	if *only != "" {
		sources = nil
		for _, s := range cfg.Sources {
			if s.Name == *only {
				sources = []aggregator.Source{s}
			}
		}
		if sources == nil {
			return fmt.Errorf("no source named %q in %s", *only, cfg.Path)
		}
	}
	app, err := OpenApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer app.Close()
	var ok, failed, deferred, disabled int
	progress := NewProgress(stdout, "polling", "sources", len(sources))
	saveErr := app.PollAll(ctx, sources, func(res aggregator.PollResult) {
		isFailure := false
		switch {
		case res.Disabled:
			disabled++
		case !res.Deferred.IsZero():
			deferred++
		case res.Err != nil:
			failed++
			isFailure = true
		default:
			ok++
		}
		progress.Done(res.String(), isFailure)
	})
	progress.Finish()
	if saveErr != nil {
		return saveErr
	}
	if ctx.Err() != nil {
		return fmt.Errorf("poll interrupted: %w", ctx.Err())
	}
	fmt.Fprintf(stdout, "polled %d sources: %d ok, %d failed", len(sources), ok, failed)
	if deferred > 0 {
		fmt.Fprintf(stdout, ", %d deferred at the publisher's request", deferred)
	}
	if disabled > 0 {
		fmt.Fprintf(stdout, ", %d disabled", disabled)
	}
	fmt.Fprintln(stdout)
	return app.Close()
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeHeapProfile writes the heap profile (what is in use, and every
// allocation since the start) to path; a failure is reported, not fatal.
func writeHeapProfile(path string, stderr io.Writer) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("heap").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "heap profile: %v\n", err)
	}
}

// cmdCheck is `tributary check`: the config is loaded exactly as run loads it.
func cmdCheck(args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("check", stderr, &cf)
	if err := parseFlags(fs, &cf, args); err != nil {
		return err
	}
	cfg, err := loadConfig(cf.config)
	if err != nil {
		return err
	}
	if _, err := aggregator.NewTopicMatcher(cfg.Topics, cfg.Sources); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d sources, %d topics)\n", cfg.Path, len(cfg.Sources), len(cfg.Topics))
	return nil
}

// cmdExport is `tributary export`: the topic feeds as static files.
func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("export", stderr, &cf)
	out := fs.String("out", "", "directory to write topics/NAME.rss|.atom|.json and topics.opml into")
	if err := parseFlags(fs, &cf, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "tributary export: --out DIR is required")
		return errUsage
	}
	logger, cfg, err := cf.load(stderr)
	if err != nil {
		return err
	}
	app, err := OpenApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer app.Close()
	if err := publish.Export(ctx, app.Store, publishConfig(cfg), *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %d topics to %s\n", len(cfg.Topics), *out)
	return app.Close()
}
