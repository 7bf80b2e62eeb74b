// Package metrics owns tributary's Prometheus metrics: polls, ingestion,
// story merges, retention, HTTP requests and the store's size, registered
// on a registry the caller owns (no global registry, no promauto) and
// served by Handler.
//
// Label cardinality is bounded by construction: "source" takes the names
// of configured sources (SetSources drops the series of sources no longer
// configured), "result" a fixed set of poll outcomes, "route" the fixed
// set of Routes whatever URL a client asks for, and "code" the HTTP status
// codes the handlers write.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tributary-news/tributary/aggregator"
)

// Poll results, the values of the "result" label of
// tributary_polls_total: what one poll of one source did.
const (
	ResultOK          = "ok"           // fetched and stored
	ResultNotModified = "not_modified" // 304, or the same body as last time
	ResultError       = "error"        // failed: fetch, parse or store
	ResultDeferred    = "deferred"     // the publisher asked for a pause (Retry-After)
	ResultDisabled    = "disabled"     // 410 Gone disabled the source
	ResultSkipped     = "skipped"      // not due: backing off or the feed's hint
)

// Route labels of the HTTP metrics: one per endpoint, whatever its
// parameters, and RouteOther for everything else (unknown paths, wrong
// methods).
const (
	RouteIndex   = "/"
	RouteTopics  = "/topics" // every topic feed, in every format
	RouteStories = "/stories"
	RouteSources = "/sources.json"
	RouteOPML    = "/topics.opml"
	RouteHealth  = "/healthz"
	RouteMetrics = "/metrics"
	RouteOther   = "other"
)

// Routes returns every route label, RouteOther last.
func Routes() []string {
	return []string{RouteIndex, RouteTopics, RouteStories, RouteSources, RouteOPML, RouteHealth, RouteMetrics, RouteOther}
}

// pollResults are the "result" values, in the order Result decides them.
func pollResults() []string {
	return []string{ResultDisabled, ResultDeferred, ResultSkipped, ResultError, ResultNotModified, ResultOK}
}

const (
	// scrapeTimeout bounds one /metrics response, and maxScrapes the
	// scrapes served at once: a slow or hostile scraper cannot pile up
	// goroutines.
	scrapeTimeout = 10 * time.Second
	maxScrapes    = 4
)

// Options configures Metrics.
type Options struct {
	// StoreSize reports the size of the store in bytes when scraped; nil
	// leaves tributary_store_size_bytes out.
	StoreSize func() float64
	// Logger receives errors met while serving a scrape; nil discards them.
	Logger *slog.Logger
	// Now is the clock for a poll result without a poll time; nil means
	// time.Now.
	Now func() time.Time
}

// Metrics records what tributary does. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg    *prometheus.Registry
	logger *slog.Logger
	now    func() time.Time

	polls         *prometheus.CounterVec   // source, result
	pollDuration  *prometheus.HistogramVec // result
	itemsIngested *prometheus.CounterVec   // source
	itemsUpdated  *prometheus.CounterVec   // source
	lastSuccess   *prometheus.GaugeVec     // source
	storiesMerged prometheus.Counter
	itemsPruned   prometheus.Counter
	requests      *prometheus.CounterVec   // route, code
	reqDuration   *prometheus.HistogramVec // route

	mu      sync.Mutex // guards sources
	sources map[string]bool
}

// New creates tributary's metrics and registers them on reg, which Handler
// serves. It fails when reg already holds metrics of the same names.
func New(reg *prometheus.Registry, opts Options) (*Metrics, error) {
	if reg == nil {
		return nil, fmt.Errorf("metrics: nil registry")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Metrics{
		reg:    reg,
		logger: opts.Logger,
		now:    opts.Now,
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_polls_total",
			Help: "Polls of a source, by what they did (ok, not_modified, error, deferred, disabled, skipped).",
		}, []string{"source", "result"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tributary_poll_duration_seconds",
			Help: "How long polls that reached out to a source took: fetch, parse and store.",
			// Polls range from a quick 304 to the fetch timeout.
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"result"}),
		itemsIngested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_items_ingested_total",
			Help: "New items stored, by source.",
		}, []string{"source"}),
		itemsUpdated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_items_updated_total",
			Help: "Stored items rewritten because their source changed them, by source.",
		}, []string{"source"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tributary_last_success_timestamp_seconds",
			Help: "When a source was last polled successfully (ok or not_modified), as a Unix time.",
		}, []string{"source"}),
		storiesMerged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_stories_merged_total",
			Help: "Story unions: a new item joining an existing story, or a story absorbed into another.",
		}),
		itemsPruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_items_pruned_total",
			Help: "Items removed by retention.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_http_requests_total",
			Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "code"}),
		reqDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tributary_http_request_duration_seconds",
			Help:    "How long HTTP requests took to serve, by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		sources: map[string]bool{},
	}
	cs := []prometheus.Collector{
		m.polls, m.pollDuration, m.itemsIngested, m.itemsUpdated, m.lastSuccess,
		m.storiesMerged, m.itemsPruned, m.requests, m.reqDuration,
	}
	if opts.StoreSize != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_store_size_bytes",
			Help: "Size of the store's database file.",
		}, opts.StoreSize))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	// Series that exist from the start, so rate() sees their first
	// increase and dashboards show zeros rather than gaps.
	for _, r := range []string{ResultOK, ResultNotModified, ResultError} {
		m.pollDuration.WithLabelValues(r)
	}
	m.storiesMerged.Add(0)
	m.itemsPruned.Add(0)
	return m, nil
}

// Result classifies a poll for the "result" label, in the same order as
// PollResult.String decides what to print.
func Result(res aggregator.PollResult) string {
	switch {
	case res.Disabled:
		return ResultDisabled
	case !res.Deferred.IsZero():
		return ResultDeferred
	case res.Skipped:
		return ResultSkipped
	case res.Err != nil:
		return ResultError
	case res.NotModified:
		return ResultNotModified
	default:
		return ResultOK
	}
}

// ObservePoll records one poll of one source. Only polls that reached out
// to the source (ok, not_modified, error) are timed; the others did
// nothing worth timing.
func (m *Metrics) ObservePoll(res aggregator.PollResult) {
	result := Result(res)
	m.polls.WithLabelValues(res.Source, result).Inc()
	switch result {
	case ResultOK, ResultNotModified, ResultError:
		m.pollDuration.WithLabelValues(result).Observe(res.Duration.Seconds())
	}
	if result != ResultOK && result != ResultNotModified {
		return
	}
	at := res.State.LastPolled
	if at.IsZero() {
		at = m.now()
	}
	m.lastSuccess.WithLabelValues(res.Source).Set(float64(at.UnixNano()) / 1e9)
	if result == ResultOK {
		m.itemsIngested.WithLabelValues(res.Source).Add(float64(res.New))
		m.itemsUpdated.WithLabelValues(res.Source).Add(float64(res.Updated))
		m.storiesMerged.Add(float64(res.Merged))
	}
}

// ObservePrune records a retention pass.
func (m *Metrics) ObservePrune(res aggregator.PruneResult) {
	m.itemsPruned.Add(float64(res.Items))
}

// SetSources names the configured sources: their per-source series start
// at zero, and the series of sources no longer named are dropped, so a
// config reload does not leave stale series behind. Call it at start and
// after every reload.
func (m *Metrics) SetSources(names []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := make(map[string]bool, len(names))
	for _, name := range names {
		next[name] = true
	}
	for name := range m.sources {
		if next[name] {
			continue
		}
		l := prometheus.Labels{"source": name}
		m.polls.DeletePartialMatch(l)
		m.itemsIngested.Delete(l)
		m.itemsUpdated.Delete(l)
		m.lastSuccess.Delete(l)
	}
	for name := range next {
		for _, r := range pollResults() {
			m.polls.WithLabelValues(name, r)
		}
		m.itemsIngested.WithLabelValues(name)
		m.itemsUpdated.WithLabelValues(name)
	}
	m.sources = next
}

// Instrument wraps h so that its requests are counted by status code and
// timed under route. A route that is not one of Routes is recorded as
// RouteOther, so no caller can grow the label set.
func (m *Metrics) Instrument(route string, h http.Handler) http.Handler {
	if !knownRoute(route) {
		route = RouteOther
	}
	l := prometheus.Labels{"route": route}
	return promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(l),
		promhttp.InstrumentHandlerDuration(m.reqDuration.MustCurryWith(l), h))
}

// RouteRecorder counts and times the requests of one route that are
// served without an Instrument'ed handler, as Instrument would have. It
// keeps the series of the commonest codes once they exist, so recording
// one of those looks nothing up; like Instrument, it makes no series
// before its first request.
type RouteRecorder struct {
	m        *Metrics
	route    string
	duration atomic.Pointer[prometheus.Observer]
	ok       atomic.Pointer[prometheus.Counter] // 200
	notMod   atomic.Pointer[prometheus.Counter] // 304
}

// Recorder returns a RouteRecorder for route (RouteOther if it is not one
// of Routes).
func (m *Metrics) Recorder(route string) *RouteRecorder {
	if !knownRoute(route) {
		route = RouteOther
	}
	return &RouteRecorder{m: m, route: route}
}

// Observe records one request answered with code after d.
func (r *RouteRecorder) Observe(code int, d time.Duration) {
	switch code {
	case http.StatusOK:
		r.counter(&r.ok, code).Inc()
	case http.StatusNotModified:
		r.counter(&r.notMod, code).Inc()
	default:
		r.m.requests.WithLabelValues(r.route, strconv.Itoa(code)).Inc()
	}
	o := r.duration.Load()
	if o == nil {
		obs := r.m.reqDuration.WithLabelValues(r.route)
		o = &obs
		r.duration.Store(o)
	}
	(*o).Observe(d.Seconds())
}

// counter returns the series of code, kept in slot.
func (r *RouteRecorder) counter(slot *atomic.Pointer[prometheus.Counter], code int) prometheus.Counter {
	if c := slot.Load(); c != nil {
		return *c
	}
	c := r.m.requests.WithLabelValues(r.route, strconv.Itoa(code))
	slot.Store(&c)
	return c
}

// Handler serves the registry New was given in the Prometheus text (or
// negotiated OpenMetrics) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.logger.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapes,
		Timeout:             scrapeTimeout,
	})
}

func knownRoute(route string) bool {
	for _, r := range Routes() {
		if r == route {
			return true
		}
	}
	return false
}
