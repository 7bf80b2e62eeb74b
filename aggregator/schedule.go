package aggregator

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseSchedule parses a 5-field cron spec or a descriptor (@hourly,
// @every 10m). Times are in UTC.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return s, nil
}

// Schedules maps each source to its parsed schedule.
type Schedules map[string]cron.Schedule

// NewSchedules parses every source's schedule, falling back to the default.
func NewSchedules(sources []Source, defaultSpec string) (Schedules, error) {
	out := make(Schedules, len(sources))
	for _, src := range sources {
		spec := src.Schedule
		if spec == "" {
			spec = defaultSpec
		}
		s, err := ParseSchedule(spec)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", src.Name, err)
		}
		out[src.Name] = s
	}
	return out, nil
}

// Next returns when a source is due after now (zero for an unknown one).
func (s Schedules) Next(src Source, now time.Time) time.Time {
	if sched, ok := s[src.Name]; ok {
		return sched.Next(now.UTC())
	}
	return time.Time{}
}

// SchedulerOptions configures a Scheduler.
type SchedulerOptions struct {
	Poller    *Poller
	Store     Store
	Schedules Schedules
	// MaxJitter bounds the per-source delay that spreads sources sharing
	// a schedule; each source gets a stable share of it.
	MaxJitter time.Duration
	// Retention prunes items older than this every PruneEvery; 0 keeps all.
	Retention  time.Duration
	PruneEvery time.Duration
	// PollContext, when set, is the context polls run under, so that
	// cancelling Run's context stops scheduling but lets the polls in
	// flight finish (a reload); by default polls run under Run's context.
	PollContext context.Context
	// OnPolled and OnPruned are told what each poll (skipped ones too) and
	// each prune did, for cache invalidation and metrics.
	OnPolled func(PollResult)
	OnPruned func(PruneResult)
	Logger   *slog.Logger
	Now      func() time.Time
}

// Scheduler polls every source on its cron schedule (a source never polled
// before, or overdue, is polled at once) and prunes on its own schedule.
type Scheduler struct {
	opts SchedulerOptions
	// beat is when the scheduler's own heartbeat job last ran (Unix
	// nanoseconds): a wedged scheduler stops beating.
	beat atomic.Int64
}

// heartbeatEvery is how often the scheduler proves it is alive.
const heartbeatEvery = 5 * time.Second

// LastHeartbeat is when the scheduler last ran its heartbeat job, a job
// scheduled like any poll; zero before Run. A supervisor (the systemd
// watchdog) pings only while it is recent.
func (s *Scheduler) LastHeartbeat() time.Time {
	if n := s.beat.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// NewScheduler returns a Scheduler; Run starts it.
func NewScheduler(opts SchedulerOptions) *Scheduler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = time.Hour
	}
	return &Scheduler{opts: opts}
}

// cronLogger adapts slog to cron's logger, which would print to stdout.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}

// Run schedules the sources and blocks until ctx is done; it then stops
// scheduling and waits for running polls, which see ctx cancelled.
func (s *Scheduler) Run(ctx context.Context, sources []Source) error {
	logger := cronLogger{s.opts.Logger}
	c := cron.New(
		cron.WithLocation(time.UTC),
		cron.WithLogger(logger),
		cron.WithChain(cron.Recover(logger)),
	)
	// Polls started here, outside cron, are waited for by wg; cron's
	// own runs are waited for by Stop.
	var wg sync.WaitGroup
	for _, src := range sources {
		sched, ok := s.opts.Schedules[src.Name]
		if !ok {
			return fmt.Errorf("scheduler: source %q has no schedule", src.Name)
		}
		job := s.sourceJob(ctx, src)
		c.Schedule(sched, cron.FuncJob(func() { job(s.jitter(src.Name, sched)) }))
		if s.due(ctx, src) {
			wg.Add(1)
			go func() { defer wg.Done(); job(0) }()
		}
	}
	if s.opts.Retention > 0 {
		prune := func() { s.prune(ctx) }
		c.Schedule(cron.Every(s.opts.PruneEvery), cron.FuncJob(prune))
		wg.Add(1)
		go func() { defer wg.Done(); prune() }()
	}
	beat := func() { s.beat.Store(s.opts.Now().UnixNano()) }
	beat()
	c.Schedule(cron.Every(heartbeatEvery), cron.FuncJob(beat))
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
	wg.Wait()
	return nil
}

// sourceJob returns the poll job of src: it waits the given delay (the
// source's jitter), then polls, skipping a run while the previous one of
// the same source is still going.
func (s *Scheduler) sourceJob(ctx context.Context, src Source) func(delay time.Duration) {
	var running sync.Mutex
	return func(delay time.Duration) {
		if !running.TryLock() {
			s.opts.Logger.Debug("poll still running; skipped", "source", src.Name)
			return
		}
		defer running.Unlock()
		if ctx.Err() != nil {
			return
		}
		firedAt := s.opts.Now()
		if delay > 0 {
			timer := time.NewTimer(delay)
			defer timer.Stop()
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		pollCtx := ctx
		if s.opts.PollContext != nil {
			pollCtx = s.opts.PollContext
		}
		res := s.opts.Poller.PollScheduled(pollCtx, src, firedAt)
		if s.opts.OnPolled != nil {
			defer s.opts.OnPolled(res)
		}
		switch {
		case res.Skipped || res.Disabled:
			s.opts.Logger.Debug("poll skipped", "source", src.Name, "next_poll", res.State.NextPoll, "disabled", res.Disabled)
			return
		case !res.Deferred.IsZero():
			s.opts.Logger.Info("poll deferred: the publisher asked for a pause", "source", src.Name, "until", res.Deferred)
			return
		case res.Err != nil:
			s.opts.Logger.Warn("poll failed", "source", src.Name, "status", res.Status, "err", res.Err,
				"failures", res.State.ConsecutiveFailures, "next_poll", res.State.NextPoll)
		default:
			s.opts.Logger.Info("polled", "source", src.Name, "status", res.Status, "new", res.New,
				"updated", res.Updated, "too_old", res.TooOld, "not_modified", res.NotModified, "duration", res.Duration)
		}
	}
}

// due reports whether a source must be polled at once: never polled, or
// its stored next poll time has passed (the daemon was down).
func (s *Scheduler) due(ctx context.Context, src Source) bool {
	state, err := s.opts.Store.SourceState(ctx, src.Name)
	if err != nil {
		s.opts.Logger.Error("read source state", "source", src.Name, "err", err)
		return true
	}
	return state.LastPolled.IsZero() || state.NextPoll.IsZero() || !state.NextPoll.After(s.opts.Now())
}

// jitter gives each source a stable delay in [0, MaxJitter), at most a
// quarter of its schedule's interval so that a short schedule keeps its
// pace (the job holds the source while it waits).
func (s *Scheduler) jitter(name string, sched cron.Schedule) time.Duration {
	window := s.opts.MaxJitter
	if now := s.opts.Now(); sched != nil {
		next := sched.Next(now)
		window = min(window, sched.Next(next).Sub(next)/4)
	}
	if window <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(window))
}

func (s *Scheduler) prune(ctx context.Context) {
	cutoff := s.opts.Now().Add(-s.opts.Retention)
	res, err := s.opts.Store.Prune(ctx, cutoff)
	if err != nil {
		s.opts.Logger.Error("prune", "err", err)
		return
	}
	if res.Items > 0 {
		s.opts.Logger.Info("pruned", "items", res.Items, "topics", res.ChangedTopics)
	}
	if s.opts.OnPruned != nil {
		s.opts.OnPruned(res)
	}
}
