package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/publish/metrics"
)

const (
	// feedCacheControl lets readers and proxies reuse a topic feed briefly;
	// after that they revalidate with the ETag.
	feedCacheControl = "public, max-age=60"
	// renderTimeout bounds one render, which runs detached from the
	// request that started it (other requests may be waiting for it).
	renderTimeout = 30 * time.Second
	// indexCSP allows the status page its inline stylesheet and nothing
	// else: it has no scripts, frames or forms.
	indexCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

// errUnknownTopic is returned for a topic that is not configured.
var errUnknownTopic = errors.New("unknown topic")

// errRenderAborted is what waiters see when a render panicked.
var errRenderAborted = errors.New("render aborted")

// Handler serves the topic feeds, the OPML list, /sources.json, the status
// page, /healthz and, after SetMetrics, /metrics. Topic feeds are rendered
// once per change and cached, identity and gzip'd, until Invalidate or
// SetConfig.
type Handler struct {
	// Now is the clock for the status page; nil means time.Now. Set it
	// before serving.
	Now func() time.Time
	// Rendered, if not nil, is called after each render of a topic feed
	// or a story page ends, from the goroutine that rendered it: a render
	// reads stories from the store, which a daemon may want to give back
	// once renders calm down. Set it before serving.
	Rendered func()

	store  Store
	logger *slog.Logger
	san    *sanitizer
	index  *template.Template
	mux    *http.ServeMux
	// slow serves this Handler to fasthttp through its adaptor, for
	// what ServeFastHTTP does not answer itself.
	slow fasthttp.RequestHandler
	// instr is set by SetMetrics; nil serves uninstrumented, /metrics 404.
	instr atomic.Pointer[instrumentation]

	mu    sync.Mutex // guards site and cache
	site  *site
	cache map[cacheKey]*cacheEntry
}

type cacheKey struct {
	topic  string
	format string
}

// cacheEntry is one topic feed in one format: being rendered until done is
// closed, then the result. Requests that find an entry wait for it instead
// of rendering again.
type cacheEntry struct {
	done chan struct{}
	feed *renderedFeed
	err  error
}

// renderedFeed is a rendered topic feed, ready to serve: its bytes and
// the values of its response headers, computed once per render so that
// serving it from the cache formats and allocates nothing. The header
// values are shared by every response and never modified (each slice has
// len == cap, so even an Add elsewhere copies before appending).
//
// The gzip'd bytes are made at render; the identity bytes only when a
// request first asks for them, inflated from the gzip'd ones (see body).
// Feed readers and browsers all accept gzip, and the identity bytes were
// nine tenths of the cache: 7 MB of an idle daemon's heap for 20 topic
// feeds in 3 formats.
type renderedFeed struct {
	identity representation // its body is nil: see inflated
	gzip     representation
	inflated struct {
		once sync.Once
		body []byte
		err  error
	}
	modTime time.Time
	items   int

	contentType  []string
	lastModified []string // nil when modTime is zero: no Last-Modified
	// lastModifiedBytes is lastModified[0] for ServeFastHTTP.
	lastModifiedBytes []byte
}

// representation is a feed in one content coding.
type representation struct {
	body            []byte // nil for identity: see renderedFeed.inflated
	length          int    // of the body, which for identity may not be made yet
	etag            string // strong: sha256 of the identity body, "-gz" suffixed for gzip
	etagHeader      []string
	etagBytes       []byte // for ServeFastHTTP
	contentLength   []string
	contentEncoding []string // nil for identity
}

// Header values shared by every feed response.
var (
	hdrNosniff      = []string{"nosniff"}
	hdrCacheControl = []string{feedCacheControl}
	hdrVary         = []string{"Accept-Encoding"}
	hdrAcceptRanges = []string{"bytes"}
)

// NewHandler returns a Handler serving cfg from store. A nil logger
// discards logs.
func NewHandler(store Store, cfg Config, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		store:  store,
		logger: logger,
		san:    newSanitizer(),
		index:  newIndexTemplate(),
		site:   newSite(cfg),
		cache:  make(map[cacheKey]*cacheEntry),
	}
	mux := http.NewServeMux()
	// A GET pattern also matches HEAD; other methods on these paths get
	// 405 with an Allow header from the mux.
	mux.HandleFunc("GET /{$}", h.serveIndex)
	mux.HandleFunc("GET /topics/{file}", h.serveFeed)
	mux.HandleFunc("GET /topics.opml", h.serveOPML)
	mux.HandleFunc("GET /sources.json", h.serveSources)
	mux.HandleFunc("GET /stories/{file}", h.serveStory)
	mux.HandleFunc("GET /healthz", h.serveHealth)
	mux.HandleFunc("GET /metrics", h.serveMetrics)
	h.mux = mux
	h.slow = newSlowPath(h, logger)
	return h
}

// ServeHTTP implements http.Handler. A topic feed, the hot path, is
// routed here without the mux when its path leaves the mux nothing to do
// (see topicFile); everything else goes through the mux.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header()["X-Content-Type-Options"] = hdrNosniff
	in := h.instr.Load()
	if file, ok := topicFile(r); ok {
		if in != nil {
			in.topics.ServeHTTP(w, r)
			return
		}
		h.serveTopicFile(w, r, file)
		return
	}
	if in != nil {
		_, pattern := h.mux.Handler(r)
		in.routes[routeOf(pattern)].ServeHTTP(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// topicFile returns the FILE of a GET or HEAD of /topics/FILE that the mux
// would route to serveFeed as it is: one path segment, already clean and
// with no escapes that matter (else the mux may clean, redirect or
// unescape, and it is left to do so).
func topicFile(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead || r.URL.RawPath != "" {
		return "", false
	}
	file, ok := strings.CutPrefix(r.URL.Path, "/topics/")
	if !ok || file == "" || file == "." || file == ".." || strings.IndexByte(file, '/') >= 0 {
		return "", false
	}
	return file, true
}

// instrumentation is the mux wrapped once per route label, the direct
// route to topic feeds wrapped under their label, and the /metrics
// handler.
type instrumentation struct {
	topicsRecorder *metrics.RouteRecorder // for ServeFastHTTP's own requests
	routes         map[string]http.Handler
	topics         http.Handler
	scrape         http.Handler // /metrics
}

// SetMetrics makes the handler count and time every request under its
// route and serve m's registry at /metrics; without it /metrics is 404.
func (h *Handler) SetMetrics(m *metrics.Metrics) {
	in := &instrumentation{topicsRecorder: m.Recorder(metrics.RouteTopics), routes: make(map[string]http.Handler), scrape: m.Handler()}
	for _, route := range metrics.Routes() {
		in.routes[route] = m.Instrument(route, h.mux)
	}
	in.topics = m.Instrument(metrics.RouteTopics, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file, _ := topicFile(r)
		h.serveTopicFile(w, r, file)
	}))
	h.instr.Store(in)
}

// routeOf is the metrics route label of a mux pattern: one per endpoint,
// so that request URLs cannot grow the label set. What the mux answers
// itself is "other" (404, 405), except a redirect to the clean path,
// which the mux reports under the pattern of that path.
func routeOf(pattern string) string {
	switch pattern {
	case "GET /{$}":
		return metrics.RouteIndex
	case "GET /topics/{file}":
		return metrics.RouteTopics
	case "GET /topics.opml":
		return metrics.RouteOPML
	case "GET /sources.json":
		return metrics.RouteSources
	case "GET /stories/{file}":
		return metrics.RouteStories
	case "GET /healthz":
		return metrics.RouteHealth
	case "GET /metrics":
		return metrics.RouteMetrics
	}
	return metrics.RouteOther
}

func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	in := h.instr.Load()
	if in == nil {
		http.NotFound(w, r)
		return
	}
	in.scrape.ServeHTTP(w, r)
}

// Invalidate drops the cached renders of the named topics; naming none
// drops nothing, so a poll that changed no topic can pass its empty list.
// Call it after storing items.
func (h *Handler) Invalidate(topics ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range topics {
		for _, f := range formats() {
			delete(h.cache, cacheKey{topic: t, format: f.name})
		}
	}
}

// InvalidateAll drops the cached renders of every topic.
func (h *Handler) InvalidateAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.cache)
}

// SetConfig swaps the configuration in and drops every cached render.
func (h *Handler) SetConfig(cfg Config) {
	s := newSite(cfg)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.site = s
	// A new map rather than clear: renders still running hold the old
	// entries, and must not be found by requests under the new config.
	h.cache = make(map[cacheKey]*cacheEntry)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) currentSite() *site {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.site
}

// feed returns the rendered feed of a topic, rendering it if no render is
// cached or under way.
func (h *Handler) feed(ctx context.Context, topic string, f format) (*renderedFeed, error) {
	key := cacheKey{topic: topic, format: f.name}
	h.mu.Lock()
	s := h.site
	t, ok := s.topics[topic]
	if !ok {
		h.mu.Unlock()
		return nil, errUnknownTopic
	}
	if e, ok := h.cache[key]; ok {
		h.mu.Unlock()
		// Rendered already, the common case: no select on ctx.Done
		// (which would make the request context's channel).
		select {
		case <-e.done:
			return e.feed, e.err
		default:
		}
		select {
		case <-e.done:
			return e.feed, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e := &cacheEntry{done: make(chan struct{}), err: errRenderAborted}
	h.cache[key] = e
	h.mu.Unlock()

	defer func() {
		h.rendered()
		if e.err != nil {
			// Do not cache a failure: the next request tries again.
			h.mu.Lock()
			if h.cache[key] == e {
				delete(h.cache, key)
			}
			h.mu.Unlock()
		}
		close(e.done)
	}()
	// Detached from the request: others may be waiting for this render.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), renderTimeout)
	defer cancel()
	e.feed, e.err = h.renderFeed(rctx, s, t.Name, f)
	return e.feed, e.err
}

func (h *Handler) renderFeed(ctx context.Context, s *site, topic string, f format) (*renderedFeed, error) {
	start := time.Now()
	v, err := buildView(ctx, h.store, s, h.san, s.topics[topic])
	if err != nil {
		return nil, err
	}
	body, err := render(v, s, f)
	if err != nil {
		return nil, fmt.Errorf("publish: render %s of topic %q: %w", f.name, topic, err)
	}
	rf, err := newRenderedFeed(body, f.contentType, v.Updated)
	if err != nil {
		return nil, fmt.Errorf("publish: compress %s of topic %q: %w", f.name, topic, err)
	}
	rf.items = len(v.Entries)
	h.logger.Debug("rendered feed", "topic", topic, "format", f.name, "items", rf.items,
		"bytes", len(body), "gzip_bytes", len(rf.gzip.body), "duration", time.Since(start))
	return rf, nil
}

func newRenderedFeed(body []byte, contentType string, modTime time.Time) (*renderedFeed, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:])
	rf := &renderedFeed{
		identity:    newRepresentation(nil, len(body), `"`+tag+`"`, ""),
		gzip:        newRepresentation(gz.Bytes(), gz.Len(), `"`+tag+`-gz"`, "gzip"),
		modTime:     modTime,
		contentType: []string{contentType},
	}
	// As http.ServeContent: no Last-Modified for a zero or Unix-epoch time.
	if !modTime.IsZero() && !modTime.Equal(time.Unix(0, 0)) {
		rf.lastModified = []string{modTime.UTC().Format(http.TimeFormat)}
		rf.lastModifiedBytes = []byte(rf.lastModified[0])
	}
	return rf, nil
}

func newRepresentation(body []byte, length int, etag, encoding string) representation {
	r := representation{
		body:          body,
		length:        length,
		etag:          etag,
		etagHeader:    []string{etag},
		etagBytes:     []byte(etag),
		contentLength: []string{strconv.Itoa(length)},
	}
	if encoding != "" {
		r.contentEncoding = []string{encoding}
	}
	return r
}

func (h *Handler) serveFeed(w http.ResponseWriter, r *http.Request) {
	h.serveTopicFile(w, r, r.PathValue("file"))
}

// topicFeed returns the rendered feed that /topics/FILE names, or
// errUnknownTopic when FILE names no topic or no format.
func (h *Handler) topicFeed(ctx context.Context, file string) (*renderedFeed, error) {
	dot := strings.LastIndexByte(file, '.')
	if dot <= 0 {
		return nil, errUnknownTopic
	}
	f, ok := formatByExt(file[dot+1:])
	if !ok {
		return nil, errUnknownTopic
	}
	return h.feed(ctx, file[:dot], f)
}

// representation returns the representation an Accept-Encoding asks for.
func (rf *renderedFeed) representation(acceptEncoding []string) *representation {
	if acceptsGzip(acceptEncoding) {
		return &rf.gzip
	}
	return &rf.identity
}

// body returns the bytes of rep, one of rf's representations. The
// identity bytes are inflated from the gzip'd ones by the first request
// for them, and kept.
func (rf *renderedFeed) body(rep *representation) ([]byte, error) {
	if rep.contentEncoding != nil {
		return rep.body, nil
	}
	rf.inflated.once.Do(func() {
		rf.inflated.body, rf.inflated.err = inflate(rf.gzip.body, rep.length)
	})
	return rf.inflated.body, rf.inflated.err
}

// inflate returns the bytes gzip'd in gz, length long.
func inflate(gz []byte, length int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("publish: inflate the cached feed: %w", err)
	}
	buf := bytes.NewBuffer(make([]byte, 0, length))
	if _, err := buf.ReadFrom(zr); err != nil {
		return nil, fmt.Errorf("publish: inflate the cached feed: %w", err)
	}
	return buf.Bytes(), nil
}

// serveTopicFile serves /topics/FILE from the cache. The common requests
// (GET or HEAD, unconditional or with If-None-Match or If-Modified-Since)
// are answered with the precomputed header values and one Write; requests
// with a Range or with If-Match, If-Unmodified-Since or If-Range go to
// http.ServeContent, which implements those. ServeFastHTTP answers the
// common requests the same way over fasthttp.
func (h *Handler) serveTopicFile(w http.ResponseWriter, r *http.Request, file string) {
	rf, err := h.topicFeed(r.Context(), file)
	switch {
	case errors.Is(err, errUnknownTopic):
		http.NotFound(w, r)
		return
	case err != nil && r.Context().Err() != nil:
		return // the client went away while waiting
	case err != nil:
		h.logger.Error("serve feed", "file", file, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	rep := rf.representation(r.Header["Accept-Encoding"])
	hd := w.Header()
	hd["Cache-Control"] = hdrCacheControl
	if vary := hd["Vary"]; vary != nil {
		hd["Vary"] = append(vary, hdrVary[0])
	} else {
		hd["Vary"] = hdrVary
	}
	hd["Etag"] = rep.etagHeader
	if needsServeContent(r.Header) {
		body, ok := h.feedBody(w, file, rf, rep)
		if !ok {
			return
		}
		hd["Content-Type"] = rf.contentType
		if rep.contentEncoding != nil {
			hd["Content-Encoding"] = rep.contentEncoding
		}
		http.ServeContent(w, r, "", rf.modTime, bytes.NewReader(body))
		return
	}
	if rf.notModified(r.Header["If-None-Match"], r.Header["If-Modified-Since"], rep.etag) {
		// As http.ServeContent: no Content-* headers, and no
		// Last-Modified beside the ETag.
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var body []byte
	if r.Method != http.MethodHead {
		var ok bool
		if body, ok = h.feedBody(w, file, rf, rep); !ok {
			return
		}
	}
	hd["Content-Type"] = rf.contentType
	if rf.lastModified != nil {
		hd["Last-Modified"] = rf.lastModified
	}
	if rep.contentEncoding != nil {
		hd["Content-Encoding"] = rep.contentEncoding
	}
	hd["Accept-Ranges"] = hdrAcceptRanges
	hd["Content-Length"] = rep.contentLength
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// feedBody returns rf.body(rep), or answers 500, without the feed's
// validators, and reports false.
func (h *Handler) feedBody(w http.ResponseWriter, file string, rf *renderedFeed, rep *representation) ([]byte, bool) {
	body, err := rf.body(rep)
	if err != nil {
		h.logger.Error("serve feed", "file", file, "err", err)
		delete(w.Header(), "Etag")
		delete(w.Header(), "Cache-Control")
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return nil, false
	}
	return body, true
}

// needsServeContent reports whether a request asks for what only
// http.ServeContent implements: a range, or a precondition other than
// If-None-Match and If-Modified-Since.
func needsServeContent(hd http.Header) bool {
	return hd["Range"] != nil || hd["If-Range"] != nil || hd["If-Match"] != nil || hd["If-Unmodified-Since"] != nil
}

// notModified evaluates the values of If-None-Match (inm) and
// If-Modified-Since (ims) for a GET or HEAD of the representation tagged
// etag, as http.ServeContent does: an If-None-Match matching by weak
// comparison, "*" included, means 304; an If-Modified-Since counts only
// without If-None-Match, and means 304 when the feed has not changed since
// (to the second).
func (rf *renderedFeed) notModified(inm, ims []string, etag string) bool {
	if !allBlank(inm) {
		for _, list := range inm {
			if list == etag || etagListMatches(list, etag) {
				return true
			}
		}
		return false
	}
	if len(ims) == 0 || ims[0] == "" || rf.lastModified == nil {
		return false
	}
	if ims[0] == rf.lastModified[0] {
		return true
	}
	t, err := http.ParseTime(ims[0])
	if err != nil {
		return false
	}
	return !rf.modTime.Truncate(time.Second).After(t)
}

func allBlank(values []string) bool {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// etagListMatches reports whether an If-None-Match list (one header line)
// holds "*" or an entity tag weakly equal to etag. Like net/http, it stops
// at the first malformed element.
func etagListMatches(list, etag string) bool {
	for {
		list = strings.TrimLeft(list, " \t")
		switch {
		case list == "":
			return false
		case list[0] == ',':
			list = list[1:]
			continue
		case list[0] == '*':
			return true
		}
		tag, rest, ok := scanETag(list)
		if !ok {
			return false
		}
		if strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
		list = rest
	}
}

// scanETag reads the entity tag (W/"..." or "...") at the start of s.
func scanETag(s string) (tag, rest string, ok bool) {
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s)-start < 2 || s[start] != '"' {
		return "", "", false
	}
	for i := start + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[:i+1], s[i+1:], true
		case c == 0x21 || c >= 0x23 && c <= 0x7e || c >= 0x80: // etagc
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: named
// (or x-gzip) with a q-value above zero, or covered by "*" when not named.
func acceptsGzip(values []string) bool {
	if len(values) == 1 && strings.IndexByte(values[0], ';') < 0 {
		// No parameters, so no q-values: every coding named is
		// acceptable. The common case, read without allocating.
		for v := values[0]; v != ""; {
			var coding string
			coding, v, _ = strings.Cut(v, ",")
			coding = strings.TrimSpace(coding)
			if coding == "*" || strings.EqualFold(coding, "gzip") || strings.EqualFold(coding, "x-gzip") {
				return true
			}
		}
		return false
	}
	gzipQ, anyQ := -1.0, -1.0
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := qValue(params)
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
			case "*":
				anyQ = max(anyQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}

// qValue reads the q parameter of one Accept-Encoding element: 1 when
// absent, 0 when malformed or out of range.
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}

func (h *Handler) serveOPML(w http.ResponseWriter, r *http.Request) {
	body, err := renderOPML(h.currentSite())
	if err != nil {
		h.logger.Error("serve opml", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	serveTagged(w, r, contentTypeOPML, feedCacheControl, body)
}

func (h *Handler) serveSources(w http.ResponseWriter, r *http.Request) {
	health, err := loadSourceHealth(r.Context(), h.store, h.currentSite())
	if err == nil {
		var body []byte
		if body, err = renderSources(health); err == nil {
			serveTagged(w, r, contentTypeJSON, "no-cache", body)
			return
		}
	}
	if r.Context().Err() == nil {
		h.logger.Error("serve sources", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
	}
}

// serveStory serves /stories/ID.json: one story and all its members. The
// id of a story merged into another answers with the surviving story (its
// document's id says which), and Content-Location names its own URL.
func (h *Handler) serveStory(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	if !ok || id == "" {
		http.NotFound(w, r)
		return
	}
	body, storyID, err := renderStory(r.Context(), h.store, h.currentSite(), id)
	h.rendered()
	if err == nil && storyID != id {
		w.Header().Set("Content-Location", "/stories/"+url.PathEscape(storyID)+".json")
	}
	switch {
	case errors.Is(err, aggregator.ErrNotFound):
		http.NotFound(w, r)
	case err != nil && r.Context().Err() != nil:
	case err != nil:
		h.logger.Error("serve story", "story", id, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
	default:
		serveTagged(w, r, contentTypeJSON, "no-cache", body)
	}
}

// rendered calls Rendered, if set.
func (h *Handler) rendered() {
	if h.Rendered != nil {
		h.Rendered()
	}
}

func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	p, err := buildIndex(r.Context(), h.store, h.currentSite(), h.now())
	if err == nil {
		var body []byte
		if body, err = renderIndex(h.index, p); err == nil {
			hd := w.Header()
			hd.Set("Content-Type", contentTypeHTML)
			hd.Set("Cache-Control", "no-cache")
			hd.Set("Content-Security-Policy", indexCSP)
			hd.Set("Referrer-Policy", "no-referrer")
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
			return
		}
	}
	if r.Context().Err() == nil {
		h.logger.Error("serve index", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
	}
}

func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte("ok"))
	}
}

// serveTagged serves a small document with a strong ETag of its bytes, so
// clients can revalidate it.
func serveTagged(w http.ResponseWriter, r *http.Request, contentType, cacheControl string, body []byte) {
	sum := sha256.Sum256(body)
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", cacheControl)
	hd.Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
