package aggregator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// futureSlack is how far ahead of now a published date may be before it
// is treated as wrong and replaced by the time the item was first seen.
const futureSlack = 24 * time.Hour

// PollerOptions configures a Poller.
type PollerOptions struct {
	Store   Store
	Fetcher *Fetcher
	Matcher *TopicMatcher
	// Concurrency bounds the fetches running at once across all sources.
	Concurrency int
	// MaxAge drops items published longer ago than this at ingest, as
	// retention would prune them at once; 0 keeps everything.
	MaxAge time.Duration
	// NextPoll tells when a source is due next, for its stored state.
	NextPoll func(src Source, now time.Time) time.Time
	Logger   *slog.Logger
	Now      func() time.Time
}

// Poller runs the pipeline for one source at a time: fetch, parse,
// normalise, dedupe, match and store. It is safe for concurrent use.
type Poller struct {
	opts    PollerOptions
	slots   chan struct{}
	matcher atomic.Pointer[TopicMatcher]
}

// PollResult says what one poll of one source did.
type PollResult struct {
	Source      string
	Status      int  // HTTP status; 0 without an HTTP response
	NotModified bool // 304, or a body identical to the last one
	SaveResult
	Duration time.Duration
	Err      error
}

// String is the one-line summary the poll command prints.
func (r PollResult) String() string {
	switch {
	case r.Err != nil:
		return fmt.Sprintf("%s: error: %v", r.Source, r.Err)
	case r.NotModified:
		return fmt.Sprintf("%s: not modified (%s)", r.Source, r.Duration.Round(time.Millisecond))
	default:
		return fmt.Sprintf("%s: %d new, %d updated, %d unchanged (%s)",
			r.Source, r.New, r.Updated, r.Unchanged, r.Duration.Round(time.Millisecond))
	}
}

// NewPoller checks its options and returns a Poller.
func NewPoller(opts PollerOptions) *Poller {
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NextPoll == nil {
		opts.NextPoll = func(Source, time.Time) time.Time { return time.Time{} }
	}
	p := &Poller{opts: opts, slots: make(chan struct{}, opts.Concurrency)}
	p.matcher.Store(opts.Matcher)
	return p
}

// SetMatcher swaps the topic matcher used for items ingested from now on.
func (p *Poller) SetMatcher(m *TopicMatcher) { p.matcher.Store(m) }

// Poll polls one source once and stores what it found. It never panics: a
// panic while handling the source is recovered and recorded as its error.
func (p *Poller) Poll(ctx context.Context, src Source) (res PollResult) {
	res.Source = src.Name
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		res.Err = ctx.Err()
		return res
	}
	start := p.opts.Now()
	logger := p.opts.Logger.With("source", src.Name)
	defer func() {
		if v := recover(); v != nil {
			logger.Error("panic while polling", "panic", v, "stack", string(debug.Stack()))
			res.Err = fmt.Errorf("internal error: %v", v)
			p.recordFailure(context.WithoutCancel(ctx), src, res.Status, res.Err, start)
		}
		res.Duration = p.opts.Now().Sub(start)
	}()
	res = p.poll(ctx, src, start)
	res.Source = src.Name
	return res
}

func (p *Poller) poll(ctx context.Context, src Source, now time.Time) PollResult {
	res := PollResult{Source: src.Name}
	state, err := p.opts.Store.SourceState(ctx, src.Name)
	if err != nil {
		res.Err = fmt.Errorf("read state: %w", err)
		return res
	}
	fetched, err := p.opts.Fetcher.Fetch(ctx, FetchRequest{URL: src.URL, ETag: state.ETag, LastModified: state.LastModified})
	if err != nil {
		var httpErr *HTTPError
		if errors.As(err, &httpErr) {
			res.Status = httpErr.StatusCode
		}
		res.Err = err
		p.recordFailure(ctx, src, res.Status, err, now)
		return res
	}
	res.Status = fetched.StatusCode
	state.LastPolled = now
	state.LastStatus = fetched.StatusCode
	state.LastError = ""
	state.ConsecutiveFailures = 0
	state.NextPoll = p.opts.NextPoll(src, now)
	state.ETag, state.LastModified = fetched.ETag, fetched.LastModified
	if fetched.PermanentRedirect != "" {
		state.PermanentRedirect = fetched.PermanentRedirect
	}

	bodyHash := hashBody(fetched.Body)
	if fetched.NotModified || (state.BodyHash != "" && bodyHash == state.BodyHash) {
		res.NotModified = true
		if err := p.opts.Store.SaveState(ctx, state); err != nil {
			res.Err = fmt.Errorf("save state: %w", err)
		}
		return res
	}

	feed, err := ParseFeed(fetched.Body, fetched.FinalURL)
	if err != nil {
		res.Err = err
		p.recordFailure(ctx, src, res.Status, err, now)
		return res
	}
	state.BodyHash = bodyHash
	update := FeedUpdate{
		Source:    src.Name,
		State:     state,
		Items:     NormaliseItems(src.Name, feed),
		Reconcile: p.reconciler(now, p.matcher.Load()),
	}
	saved, err := p.opts.Store.SaveFeed(ctx, update)
	if err != nil {
		res.Err = fmt.Errorf("store feed: %w", err)
		p.recordFailure(ctx, src, res.Status, res.Err, now)
		return res
	}
	res.SaveResult = saved
	return res
}

// recordFailure stores a failed poll in the source's state; the items it
// already has are kept.
func (p *Poller) recordFailure(ctx context.Context, src Source, status int, cause error, now time.Time) {
	state, err := p.opts.Store.SourceState(ctx, src.Name)
	if err != nil {
		p.opts.Logger.Error("read state after failed poll", "source", src.Name, "err", err)
		return
	}
	state.LastPolled = now
	state.LastStatus = status
	state.LastError = cause.Error()
	state.ConsecutiveFailures++
	state.NextPoll = p.opts.NextPoll(src, now)
	if err := p.opts.Store.SaveState(ctx, state); err != nil {
		p.opts.Logger.Error("save state after failed poll", "source", src.Name, "err", err)
	}
}

// reconciler is the dedup rule applied inside the store's transaction: a
// new item gets its first-seen time and topics; a stored item is rewritten
// only when its source changed it, keeping its id, first-seen and (when
// the feed gives none) published time.
func (p *Poller) reconciler(now time.Time, matcher *TopicMatcher) func(stored, incoming *Item) bool {
	return func(stored, in *Item) bool {
		dateKnown := !in.Published.IsZero() && !in.Published.After(now.Add(futureSlack))
		if stored == nil {
			if !dateKnown {
				p.opts.Logger.Debug("item date missing or in the future; using first-seen time",
					"source", in.Source, "item", in.ID, "published", in.Published)
				in.Published = now
			}
			if p.opts.MaxAge > 0 && in.Published.Before(now.Add(-p.opts.MaxAge)) {
				return false // retention would prune it at once
			}
			in.FirstSeen = now
			if in.Updated.IsZero() || in.Updated.Before(in.Published) || in.Updated.After(now.Add(futureSlack)) {
				in.Updated = in.Published
			}
			in.Topics = matchTopics(matcher, in)
			return true
		}
		if stored.Hash == in.Hash {
			return false
		}
		if !dateKnown {
			in.Published = stored.Published
		}
		in.FirstSeen = stored.FirstSeen
		in.Updated = now
		in.Topics = matchTopics(matcher, in)
		return true
	}
}

func matchTopics(m *TopicMatcher, it *Item) []string {
	if m == nil {
		return nil
	}
	return m.Match(it)
}

func hashBody(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
