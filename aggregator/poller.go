package aggregator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-news/tributary/aggregator/cpugate"
)

// futureSlack is how far ahead of now a published date may be before it
// is treated as wrong and replaced by the time the item was first seen.
const futureSlack = 24 * time.Hour

// PollerOptions configures a Poller.
type PollerOptions struct {
	Store   Store
	Fetcher *Fetcher
	Matcher *TopicMatcher
	// Merger assigns new items to stories; nil makes every item a story
	// of its own.
	Merger *StoryMerger
	// Concurrency bounds the fetches running at once across all sources.
	Concurrency int
	// MaxItems bounds the items taken from one feed (0: the default).
	MaxItems int
	// MaxAge drops items published longer ago than this at ingest, as
	// retention would prune them at once; 0 keeps everything.
	MaxAge time.Duration
	// NextPoll tells when a source is next due on its schedule after a time.
	NextPoll func(src Source, after time.Time) time.Time
	// CPU, shared with the store, gives the store's write transaction a
	// core ahead of the polls' parsing and preparing (see cpugate); nil
	// lets them all run at once.
	CPU    *cpugate.Gate
	Logger *slog.Logger
	Now    func() time.Time
}

const (
	// maxBackoff caps the exponential backoff of a failing source, and
	// maxHint the publisher's own polling hint: every source is polled at
	// least once a day.
	maxBackoff = 24 * time.Hour
	maxHint    = 24 * time.Hour
	// maxRetryAfter caps how long a Retry-After can silence a source, so a
	// garbage value cannot disable it for good.
	maxRetryAfter = 7 * 24 * time.Hour
	// savesPerSlot is how many parsed feeds may wait for the store per
	// fetch slot: enough for large group commits, few enough to bound
	// the memory they hold. The store's random-keyed indexes make each
	// commit rewrite much of them, so a cold poll of thousands of
	// sources is faster with more feeds a commit: at 2,000 sources, 8
	// per slot instead of 4 cut the commits from 140 to 82 and the
	// poll's time by a tenth, for a tenth more peak memory (16 saved a
	// fifth of the time for a quarter more memory).
	savesPerSlot = 8

	// stateBatch bounds the unchanged sources whose states PollAll saves
	// in one commit.
	stateBatch = 1024

	// runningPerSlot is how many polls may be under way (reading state,
	// fetching, waiting for the store) per fetch slot; the others wait
	// before doing anything. A poll that has read its state and waits
	// for a slot holds a goroutine stack grown by bbolt and net/http:
	// bounding them took the peak RSS of a warm poll of 2,000 sources
	// from 72-83 MB to 58-63 MB. Enough run to keep the slots busy while
	// a commit syncs the saves of the others.
	runningPerSlot = 32
)

// Poller runs the pipeline for one source at a time: fetch, parse,
// normalise, dedupe, match and store. It is safe for concurrent use.
type Poller struct {
	opts PollerOptions
	// slots bounds the polls fetching, parsing and preparing items
	// (Concurrency); saves bounds the polls that hold a parsed feed for
	// the store. A poll moves from one to the other, so that fetching
	// goes on while the store commits, and the store's group commits
	// take many feeds at a time. running bounds the polls under way
	// (see runningPerSlot).
	slots   chan struct{}
	saves   chan struct{}
	running chan struct{}
	matcher atomic.Pointer[TopicMatcher]
	merger  atomic.Pointer[StoryMerger]
}

// PollResult says what one poll of one source did.
type PollResult struct {
	Source      string
	Status      int  // HTTP status; 0 without an HTTP response
	NotModified bool // 304, or a body identical to the last one
	SaveResult
	// Skipped is set when a scheduled poll found the source not due: it is
	// backing off after failures or honouring the publisher's hint.
	Skipped bool
	// Deferred is set when the publisher asked for a pause (Retry-After)
	// that has not elapsed: nothing was fetched, not even by a manual poll.
	Deferred time.Time
	// Disabled is set for a source that 410 Gone disabled: nothing fetched.
	Disabled bool
	// TooOld counts the feed's items published before retention's
	// max_age (PollerOptions.MaxAge): retention would prune them at once,
	// so they are not stored, nor counted as new or unchanged.
	TooOld int
	// State is the source's state after the poll.
	State    SourceState
	Duration time.Duration
	Err      error

	// stateUnsaved marks, in a round of PollAll, a 304 that changed
	// nothing but the state's poll times: PollAll saves such states
	// together (see stateBatch).
	stateUnsaved bool
}

// String is the one-line summary the poll command prints: what happened,
// then the same health the status page shows.
func (r PollResult) String() string {
	var b strings.Builder
	b.WriteString(r.Source)
	b.WriteString(": ")
	switch {
	case r.Disabled:
		fmt.Fprintf(&b, "disabled: %s", r.State.LastError)
	case !r.Deferred.IsZero():
		fmt.Fprintf(&b, "deferred until %s: the publisher asked for a pause", r.Deferred.UTC().Format(time.RFC3339))
	case r.Skipped:
		b.WriteString("not due")
	case r.Err != nil:
		fmt.Fprintf(&b, "error: %v", r.Err)
	case r.NotModified:
		b.WriteString("not modified")
	default:
		fmt.Fprintf(&b, "%d new, %d updated, %d unchanged", r.New, r.Updated, r.Unchanged)
		if r.TooOld > 0 {
			fmt.Fprintf(&b, ", %d older than retention.max_age (not stored)", r.TooOld)
		}
	}
	if r.Status != 0 {
		fmt.Fprintf(&b, "; HTTP %d", r.Status)
	}
	if r.State.ConsecutiveFailures > 1 {
		fmt.Fprintf(&b, "; %d failures in a row", r.State.ConsecutiveFailures)
	}
	if r.State.PermanentRedirect != "" {
		fmt.Fprintf(&b, "; moved permanently to %s (update the config)", r.State.PermanentRedirect)
	}
	if !r.Disabled && !r.State.NextPoll.IsZero() {
		fmt.Fprintf(&b, "; next poll %s", r.State.NextPoll.UTC().Format(time.RFC3339))
	}
	if r.Duration > 0 {
		fmt.Fprintf(&b, " (%s)", r.Duration.Round(time.Millisecond))
	}
	return b.String()
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
	p := &Poller{
		opts:    opts,
		slots:   make(chan struct{}, opts.Concurrency),
		saves:   make(chan struct{}, savesPerSlot*opts.Concurrency),
		running: make(chan struct{}, runningPerSlot*opts.Concurrency),
	}
	p.matcher.Store(opts.Matcher)
	p.merger.Store(opts.Merger)
	return p
}

// SetMatcher swaps the topic matcher used for items ingested from now on.
func (p *Poller) SetMatcher(m *TopicMatcher) { p.matcher.Store(m) }

// SetMerger swaps the story merger used for items ingested from now on.
func (p *Poller) SetMerger(m *StoryMerger) { p.merger.Store(m) }

// Poll polls one source now, as an admin asks for: it ignores the
// source's backoff, but not a pause its publisher asked for nor a 410.
func (p *Poller) Poll(ctx context.Context, src Source) PollResult {
	return p.run(ctx, src, time.Time{})
}

// PollScheduled polls one source for a schedule that fired at firedAt;
// a source that is backing off or whose publisher asks for less frequent
// polls is skipped until its next poll time.
func (p *Poller) PollScheduled(ctx context.Context, src Source, firedAt time.Time) PollResult {
	return p.run(ctx, src, firedAt)
}

// PollAll polls every source once, as Poll does, and calls report with
// each result as it comes, from the calling goroutine; it returns when all
// are done. The polls run on a pool of goroutines, one per poll that may
// be under way (see runningPerSlot), each taking the next source as it
// finishes one: thousands of sources cost a few hundred goroutines, and a
// goroutine's stack, once grown by bbolt and net/http, serves many polls
// (a goroutine per source spent a tenth of a warm poll's CPU growing
// fresh stacks).
//
// A source that answers 304 (or sends the same body again) and changes
// nothing but when it was polled and is next due has its state saved with the others of the round, in
// one commit at the end (or every stateBatch sources): a warm poll of
// 2,000 sources, whose 304s each waited for one of about 90 commits,
// went from 0.36 to 0.31 s and used a sixth less CPU (medians of 16
// alternating runs). Until then SourceState returns the state from before
// the round; a crash before the commit loses only those times, so the
// sources are polled again, conditionally, at the next start. Any other
// change (new validators, a failure, a redirect, a publisher's hint) is
// saved at once, as a scheduled poll saves everything. PollAll returns
// the error of saving the round's states, which every poll result
// reported so far assumed would land.
func (p *Poller) PollAll(ctx context.Context, sources []Source, report func(PollResult)) error {
	results := make(chan PollResult)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(sources), cap(p.running)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(sources) {
					return
				}
				src := sources[i]
				if err := p.enter(ctx); err != nil {
					results <- PollResult{Source: src.Name, Err: err}
					continue
				}
				res := p.runEntered(ctx, src, time.Time{}, true)
				p.leave()
				results <- res
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	// The states are saved whatever the round's context: what the polls
	// learnt stays learnt.
	saveCtx := context.WithoutCancel(ctx)
	var unsaved []SourceState
	var saveErr error
	save := func() {
		if len(unsaved) == 0 {
			return
		}
		if err := p.opts.Store.SaveStates(saveCtx, unsaved); err != nil && saveErr == nil {
			saveErr = fmt.Errorf("save the state of %d unchanged sources: %w", len(unsaved), err)
		}
		unsaved = unsaved[:0]
	}
	for res := range results {
		if res.stateUnsaved {
			unsaved = append(unsaved, res.State)
			if len(unsaved) >= stateBatch {
				save()
			}
		}
		report(res)
	}
	save()
	return saveErr
}

// enter waits until one more poll may run; leave ends it.
func (p *Poller) enter(ctx context.Context) error {
	select {
	case p.running <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Poller) leave() { <-p.running }

// run is Poll and PollScheduled (firedAt non-zero).
func (p *Poller) run(ctx context.Context, src Source, firedAt time.Time) PollResult {
	if err := p.enter(ctx); err != nil {
		return PollResult{Source: src.Name, Err: err}
	}
	defer p.leave()
	return p.runEntered(ctx, src, firedAt, false)
}

// runEntered is run once the poll has entered. It never panics: a panic
// while handling the source is recovered and recorded as its error. With
// inRound (PollAll), a 304 that changes only the state's poll times is
// not saved but marked stateUnsaved for PollAll to save.
func (p *Poller) runEntered(ctx context.Context, src Source, firedAt time.Time, inRound bool) (res PollResult) {
	res.Source = src.Name
	start := p.opts.Now()
	defer func() {
		if v := recover(); v != nil {
			p.opts.Logger.Error("panic while polling", "source", src.Name, "panic", v, "stack", string(debug.Stack()))
			res.Err = fmt.Errorf("internal error: %v", v)
			ctx := context.WithoutCancel(ctx)
			if state, err := p.opts.Store.SourceState(ctx, src.Name); err == nil {
				res.State = p.fail(ctx, src, state, res.Status, res.Err, start)
			}
		}
		res.Duration = p.opts.Now().Sub(start)
		res.Source = src.Name
	}()
	return p.poll(ctx, src, start, firedAt, inRound)
}

func (p *Poller) poll(ctx context.Context, src Source, now, firedAt time.Time, inRound bool) PollResult {
	res := PollResult{Source: src.Name}
	state, err := p.opts.Store.SourceState(ctx, src.Name)
	if err != nil {
		res.Err = fmt.Errorf("read state: %w", err)
		return res
	}
	stored := state
	if state.ConfigURL != src.URL {
		// A new URL in the config: what was learnt about the old one
		// (a redirect, a 410, a pause, its validators) no longer applies.
		if state.ConfigURL != "" {
			state.PermanentRedirect, state.Disabled, state.RetryAfter = "", false, time.Time{}
			state.ETag, state.LastModified, state.BodyHash = "", "", ""
		}
		state.ConfigURL = src.URL
	}
	res.State = state
	switch {
	case state.Disabled:
		res.Disabled = true
		return res
	case now.Before(state.RetryAfter):
		res.Deferred = state.RetryAfter
		return res
	case !firedAt.IsZero() && state.NextPoll.After(firedAt):
		res.Skipped = true
		return res
	}
	base := now
	if !firedAt.IsZero() {
		base = firedAt
	}

	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		res.Err = ctx.Err()
		return res
	}
	fetching := true
	defer func() {
		if fetching {
			<-p.slots
		}
	}()

	url := src.URL
	if state.PermanentRedirect != "" {
		url = state.PermanentRedirect
	}
	fetched, err := p.opts.Fetcher.Fetch(ctx, FetchRequest{URL: url, ETag: state.ETag, LastModified: state.LastModified})
	if err != nil {
		var httpErr *HTTPError
		if errors.As(err, &httpErr) {
			res.Status = httpErr.StatusCode
		}
		res.Err = err
		res.State = p.fail(ctx, src, state, res.Status, err, now)
		return res
	}
	res.Status = fetched.StatusCode
	// A failure after this point is recorded on the state as it was: the
	// validators of a body that could not be used must not be kept, or
	// the next poll would get a 304 for it.
	before := state
	state.LastPolled = now
	state.LastStatus = fetched.StatusCode
	state.LastError = ""
	state.ConsecutiveFailures = 0
	state.RetryAfter = time.Time{}
	state.ETag, state.LastModified = fetched.ETag, fetched.LastModified
	if fetched.PermanentRedirect != "" && fetched.PermanentRedirect != state.PermanentRedirect {
		p.opts.Logger.Warn("source moved permanently; following the new URL (update the config)",
			"source", src.Name, "from", url, "to", fetched.PermanentRedirect)
		state.PermanentRedirect = fetched.PermanentRedirect
	}

	bodyHash := hashBody(fetched.Body)
	if fetched.NotModified || (state.BodyHash != "" && bodyHash == state.BodyHash) {
		res.NotModified = true
		// The stored interval is the larger of the last body's own hint
		// (ttl, sy:updatePeriod) and the last max-age. The body is the
		// same, so its hint still holds: this answer's max-age may
		// lengthen the interval, not shorten it, until a new body is
		// parsed and the interval is worked out afresh.
		if fetched.MaxAge > 0 {
			state.MinInterval = max(state.MinInterval, min(fetched.MaxAge, maxHint))
		}
		state.NextPoll = p.nextPoll(src, base, state.MinInterval)
		res.State = state
		// Only the state is saved: it needs no save slot, which bounds
		// the parsed feeds held for the store, so the store's group
		// commits take as many unchanged sources as are waiting.
		<-p.slots
		fetching = false
		if inRound && pollTimesOnly(stored, state) {
			res.stateUnsaved = true
			return res
		}
		if err := p.opts.Store.SaveState(ctx, state); err != nil {
			res.Err = fmt.Errorf("save state: %w", err)
		}
		return res
	}

	matcher, merger := p.matcher.Load(), p.merger.Load()
	if err := p.opts.CPU.Enter(ctx); err != nil {
		res.Err = err
		return res
	}
	feed, items, tooOld, err := p.prepare(ctx, src.Name, fetched, matcher, merger, now)
	p.opts.CPU.Leave()
	if err != nil {
		res.Err = err
		if ctx.Err() == nil {
			res.State = p.fail(ctx, src, before, res.Status, err, now)
		}
		return res
	}
	state.BodyHash = bodyHash
	state.MinInterval = min(max(feed.PollHint, fetched.MaxAge), maxHint)
	state.NextPoll = p.nextPoll(src, base, state.MinInterval)
	update := FeedUpdate{
		Source:    src.Name,
		State:     state,
		Items:     items,
		Reconcile: p.reconciler(now, matcher),
	}
	if merger != nil {
		update.Cluster = merger.Cluster
	}
	if err := p.toStore(ctx, &fetching); err != nil {
		res.Err = err
		return res
	}
	defer func() { <-p.saves }()
	saved, err := p.opts.Store.SaveFeed(ctx, update)
	if err != nil {
		res.Err = fmt.Errorf("store feed: %w", err)
		res.State = p.fail(ctx, src, before, res.Status, res.Err, now)
		return res
	}
	res.SaveResult = saved
	res.TooOld = tooOld
	res.State = state
	return res
}

// prepare parses a fetched feed and does to its items what needs no
// stored data — normalising, topic matching, story tokens — concurrently
// with other polls, so that the store's write transaction (one at a time)
// holds only lookups, comparisons and writes. It leaves out, and counts,
// the items published before retention's max_age as of now: retention
// would prune them at once. (An item without a date is dated when first
// seen, so it is never too old.) Its error is the parse's, or ctx's.
func (p *Poller) prepare(ctx context.Context, source string, fetched *FetchResult, matcher *TopicMatcher, merger *StoryMerger, now time.Time) (*ParsedFeed, []Item, int, error) {
	feed, err := ParseFeed(fetched.Body, fetched.ContentType, fetched.FinalURL)
	if err != nil {
		return nil, nil, 0, err
	}
	items := NormaliseItems(source, feed, p.opts.MaxItems)
	tooOld := 0
	if p.opts.MaxAge > 0 {
		cutoff := now.Add(-p.opts.MaxAge)
		items = slices.DeleteFunc(items, func(it Item) bool {
			old := !it.Published.IsZero() && it.Published.Before(cutoff)
			if old {
				tooOld++
			}
			return old
		})
	}
	for i := range items {
		if err := ctx.Err(); err != nil {
			return nil, nil, 0, err
		}
		if matcher != nil {
			items[i].Topics = matcher.MatchText(&items[i])
		}
		if merger != nil {
			merger.Prepare(&items[i])
		}
	}
	return feed, items, tooOld, nil
}

// toStore moves a poll from its fetch slot to a save slot: from here on it
// needs the store, not the network. On success the caller must release
// the save slot.
func (p *Poller) toStore(ctx context.Context, fetching *bool) error {
	select {
	case p.saves <- struct{}{}:
		<-p.slots
		*fetching = false
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nextPoll is the source's next scheduled time after base, but no sooner
// than the publisher's hint allows.
func (p *Poller) nextPoll(src Source, base time.Time, hint time.Duration) time.Time {
	next := p.opts.NextPoll(src, base)
	if next.IsZero() {
		return next
	}
	return maxTime(next, base.Add(hint))
}

// backoff is when a source that failed n times in a row is polled next:
// its schedule's interval doubled per failure, at most a day later.
func (p *Poller) backoff(src Source, now time.Time, n int) time.Time {
	next := p.opts.NextPoll(src, now)
	if next.IsZero() {
		return next
	}
	interval := p.opts.NextPoll(src, next).Sub(next)
	delay := maxBackoff
	if n < 32 && interval > 0 && interval<<n > 0 && interval<<n < maxBackoff {
		delay = interval << n
	}
	return now.Add(delay)
}

// pollTimesOnly reports whether after differs from before only in when
// the source was polled, with what status, and when it is next due.
func pollTimesOnly(before, after SourceState) bool {
	before.LastPolled, before.LastStatus, before.NextPoll = after.LastPolled, after.LastStatus, after.NextPoll
	return before == after
}

// fail records a failed poll in the source's state and stores it; the
// items the source has are kept. It returns the state stored.
func (p *Poller) fail(ctx context.Context, src Source, state SourceState, status int, cause error, now time.Time) SourceState {
	state.LastPolled = now
	state.LastStatus = status
	state.LastError = cause.Error()
	state.ConsecutiveFailures++
	state.NextPoll = p.backoff(src, now, state.ConsecutiveFailures)
	var httpErr *HTTPError
	if errors.As(cause, &httpErr) {
		switch {
		case httpErr.StatusCode == http.StatusGone:
			state.Disabled = true
			state.LastError = "410 Gone: the publisher removed this feed; disabled until its URL in the config changes"
			p.opts.Logger.Warn("source disabled: 410 Gone", "source", src.Name, "url", httpErr.URL)
		case httpErr.RetryAfter > 0:
			state.RetryAfter = now.Add(min(httpErr.RetryAfter, maxRetryAfter))
			state.NextPoll = maxTime(state.NextPoll, state.RetryAfter)
		}
	}
	if err := p.opts.Store.SaveState(ctx, state); err != nil {
		p.opts.Logger.Error("save state after failed poll", "source", src.Name, "err", err)
	}
	return state
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// reconciler is the dedup rule applied inside the store's transaction: a
// new item gets its first-seen time and enters the topics its text
// matched (incoming Topics, from MatchText) unless it is backlog; a stored
// item is rewritten only when its source changed it, keeping its id,
// first-seen and (when the feed gives none) published time.
func (p *Poller) reconciler(now time.Time, matcher *TopicMatcher) func(stored, incoming *Item) bool {
	return func(stored, in *Item) bool {
		dateKnown := !in.Published.IsZero() && !in.Published.After(now.Add(futureSlack))
		if stored == nil {
			if !dateKnown {
				p.opts.Logger.Debug("item date missing or in the future; using first-seen time",
					"source", in.Source, "item", in.ID, "published", in.Published)
				in.Published = now
			}
			in.FirstSeen = now
			if in.Updated.IsZero() || in.Updated.Before(in.Published) || in.Updated.After(now.Add(futureSlack)) {
				in.Updated = in.Published
			}
			in.Topics = admitTopics(matcher, in)
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
		in.Topics = admitTopics(matcher, in)
		return true
	}
}

func admitTopics(m *TopicMatcher, it *Item) []string {
	if m == nil {
		return nil
	}
	return m.Admit(it, it.Topics)
}

func hashBody(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
