package aggregator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fetcher defaults, used when the matching FetcherOptions field is zero.
const (
	fetchDefaultTimeout      = 30 * time.Second
	fetchDefaultMaxBodyBytes = 10 << 20
	fetchDefaultUserAgent    = "tributary/1.0 (feed aggregator; +https://github.com/tributary-news/tributary)"
	fetchDefaultPerHost      = 2
	fetchDefaultConnect      = 10 * time.Second
	fetchMaxRedirects        = 5
	// fetchMaxIdleConns bounds the idle connections kept to all hosts.
	fetchMaxIdleConns = 50
	// fetchMaxMaxAge caps a Cache-Control max-age so that an absurd value
	// cannot overflow a time.Duration.
	fetchMaxMaxAge = 365 * 24 * time.Hour

	// fetchAccept prefers feed media types, then generic XML/JSON, then
	// anything (an HTML page is still worth reading: it may advertise feeds).
	fetchAccept = "application/rss+xml, application/atom+xml, application/feed+json, " +
		"application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, " +
		"application/json;q=0.8, text/html;q=0.5, */*;q=0.1"
)

// FetcherOptions configures a Fetcher. Zero fields take defaults.
type FetcherOptions struct {
	// Timeout bounds a whole request: connect, headers and body. Default 30s.
	Timeout time.Duration
	// MaxBodyBytes bounds the body after decompression. Default 10 MiB.
	MaxBodyBytes int64
	// UserAgent is sent with every request; a tributary default when empty.
	UserAgent string
	// PerHost bounds the requests in flight to one host (the request URL's
	// host and port, lower-cased), so that many sources on one site do not
	// hammer it. A request waiting for a slot gives up when its context is
	// done. Default 2.
	PerHost int
	// ConnectTimeout bounds the TCP connect and the TLS handshake, each.
	// Default 10s (never more than Timeout).
	ConnectTimeout time.Duration
	// Logger receives per-request debug lines; discarded when nil.
	Logger *slog.Logger
	// Now is the clock used to turn a Retry-After date into a duration;
	// time.Now when nil.
	Now func() time.Time
}

// Fetcher downloads feeds over HTTP(S) with conditional GET, or reads them
// from file:// URLs. It is safe for concurrent use.
type Fetcher struct {
	client         *http.Client
	timeout        time.Duration
	connectTimeout time.Duration
	maxBodyBytes   int64
	userAgent      string
	logger         *slog.Logger
	now            func() time.Time
	hosts          *fetchHostSlots
}

// NewFetcher returns a Fetcher with its own HTTP client: a per-request
// timeout and at most five redirects, so that a slow or hostile server can
// never pin a poll forever.
func NewFetcher(opts FetcherOptions) *Fetcher {
	f := &Fetcher{
		timeout:      opts.Timeout,
		maxBodyBytes: opts.MaxBodyBytes,
		userAgent:    opts.UserAgent,
		logger:       opts.Logger,
		now:          opts.Now,
	}
	if f.timeout <= 0 {
		f.timeout = fetchDefaultTimeout
	}
	if f.maxBodyBytes <= 0 {
		f.maxBodyBytes = fetchDefaultMaxBodyBytes
	}
	if f.userAgent == "" {
		f.userAgent = fetchDefaultUserAgent
	}
	if f.logger == nil {
		f.logger = slog.New(slog.DiscardHandler)
	}
	if f.now == nil {
		f.now = time.Now
	}
	perHost := opts.PerHost
	if perHost <= 0 {
		perHost = fetchDefaultPerHost
	}
	f.hosts = newFetchHostSlots(perHost)
	connect := opts.ConnectTimeout
	if connect <= 0 {
		connect = fetchDefaultConnect
	}
	connect = min(connect, f.timeout)
	f.connectTimeout = connect
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: f.timeout,
		ExpectContinueTimeout: time.Second,
		// Keep a connection for each request a host may have in flight:
		// with fewer, every round of PerHost requests would close some
		// and open new ones (a TCP and TLS handshake each, on both sides).
		MaxIdleConns:           max(fetchMaxIdleConns, perHost),
		MaxIdleConnsPerHost:    perHost,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		// Compression stays enabled: the transport asks for gzip and
		// decompresses transparently, and the body limit is applied to
		// what it hands us, i.e. after decompression.
	}
	f.client = &http.Client{
		Transport:     transport,
		Timeout:       f.timeout,
		CheckRedirect: fetchCheckRedirect,
	}
	return f
}

// FetchRequest names what to fetch and the validators of the last
// successful fetch, if any.
type FetchRequest struct {
	URL          string
	ETag         string
	LastModified string
}

// FetchResult is a successful fetch: a body (200) or "not modified" (304).
type FetchResult struct {
	StatusCode  int // 200, 304; 0 for file://
	NotModified bool
	Body        []byte
	ContentType string
	// ETag and LastModified are the validators to send next time: the
	// response's on a 200; on a 304 whichever the 304 carries, else the
	// request's.
	ETag         string
	LastModified string
	// FinalURL is the URL the body came from, after redirects.
	FinalURL string
	// PermanentRedirect is the URL the feed has moved to for good: the
	// target of the leading run of 301/308 hops, or "" when the first hop
	// was temporary or there was no redirect.
	PermanentRedirect string
	// MaxAge is the response's Cache-Control max-age (a 200 or a 304):
	// how long the publisher says the feed stays fresh. 0 when absent,
	// no-cache, no-store or unreadable.
	MaxAge time.Duration
}

// HTTPError is a response with a status other than 2xx or 304.
type HTTPError struct {
	StatusCode int
	Status     string // as the server sent it, e.g. "404 Not Found"
	// RetryAfter is the server's Retry-After for a 429 or 503, as a
	// duration from when the response arrived; 0 when absent or invalid.
	RetryAfter time.Duration
	URL        string // the URL that answered, after redirects
}

// Error says what happened in plain words, e.g. "HTTP 404 Not Found".
func (e *HTTPError) Error() string {
	status := e.Status
	if status == "" {
		status = strings.TrimSpace(fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode)))
	}
	msg := "HTTP " + status
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Fetch downloads req.URL. A 304 is a success with NotModified set; any
// other non-2xx status is an *HTTPError. Errors are wrapped with the URL
// and say what went wrong in plain words.
func (f *Fetcher) Fetch(ctx context.Context, req FetchRequest) (*FetchResult, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: invalid URL: %w", req.URL, err)
	}
	start := f.now()
	var res *FetchResult
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		res, err = f.fetchHTTP(ctx, req)
	case "file":
		res, err = f.fetchFile(ctx, req, u)
	default:
		err = fmt.Errorf("unsupported URL scheme %q (want http, https or file)", u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", req.URL, err)
	}
	f.logger.DebugContext(ctx, "fetched feed",
		"url", req.URL,
		"status", res.StatusCode,
		"not_modified", res.NotModified,
		"bytes", len(res.Body),
		"duration", f.now().Sub(start))
	return res, nil
}

func (f *Fetcher) fetchHTTP(ctx context.Context, req FetchRequest) (*FetchResult, error) {
	host, err := fetchHostKey(req.URL)
	if err != nil {
		return nil, err
	}
	release, err := f.hosts.acquire(ctx, host)
	if err != nil {
		return nil, f.fetchPlainError(ctx, err)
	}
	// The slot is held until the body is read: that is when the server is
	// done with us.
	defer release()

	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, req.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	hreq.Header.Set("User-Agent", f.userAgent)
	hreq.Header.Set("Accept", fetchAccept)
	// The validators are independent: many servers send only one of them,
	// and a server that sent both may honour either.
	if req.ETag != "" {
		hreq.Header.Set("If-None-Match", req.ETag)
	}
	if req.LastModified != "" {
		hreq.Header.Set("If-Modified-Since", req.LastModified)
	}

	resp, err := f.client.Do(hreq)
	if err != nil {
		return nil, f.fetchPlainError(ctx, err)
	}
	defer resp.Body.Close()

	finalURL := resp.Request.URL.String()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		res := &FetchResult{
			StatusCode:        resp.StatusCode,
			NotModified:       true,
			ETag:              req.ETag,
			LastModified:      req.LastModified,
			FinalURL:          finalURL,
			PermanentRedirect: fetchPermanentRedirect(resp),
			MaxAge:            fetchParseMaxAge(resp.Header.Values("Cache-Control")),
		}
		if v := resp.Header.Get("ETag"); v != "" {
			res.ETag = v
		}
		if v := resp.Header.Get("Last-Modified"); v != "" {
			res.LastModified = v
		}
		return res, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		herr := &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status, URL: finalURL}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			herr.RetryAfter = fetchParseRetryAfter(resp.Header.Get("Retry-After"), f.now())
		}
		return nil, herr
	}

	// Reject an over-long body up front when the server says how long it
	// is; the transport clears ContentLength when it decompresses.
	if resp.ContentLength > f.maxBodyBytes {
		return nil, fmt.Errorf("response body exceeds %d bytes", f.maxBodyBytes)
	}
	body, err := fetchReadLimited(resp.Body, f.maxBodyBytes, resp.ContentLength)
	if err != nil {
		return nil, f.fetchPlainError(ctx, err)
	}
	return &FetchResult{
		StatusCode:        resp.StatusCode,
		Body:              body,
		ContentType:       resp.Header.Get("Content-Type"),
		ETag:              resp.Header.Get("ETag"),
		LastModified:      resp.Header.Get("Last-Modified"),
		FinalURL:          finalURL,
		PermanentRedirect: fetchPermanentRedirect(resp),
		MaxAge:            fetchParseMaxAge(resp.Header.Values("Cache-Control")),
	}, nil
}

// fetchFile reads a file:// URL. The file's modification time plays the
// part of Last-Modified.
func (f *Fetcher) fetchFile(ctx context.Context, req FetchRequest, u *url.URL) (*FetchResult, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("file URL must be file:///absolute/path, not a host %q", u.Host)
	}
	path := u.Path
	if path == "" || !strings.HasPrefix(path, "/") {
		return nil, errors.New("file URL must have an absolute path")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fetchFileError(path, err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, fetchFileError(path, err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a file", path)
	}
	lastModified := info.ModTime().UTC().Format(http.TimeFormat)
	res := &FetchResult{LastModified: lastModified, FinalURL: req.URL}
	if req.LastModified == lastModified {
		res.NotModified = true
		return res, nil
	}
	if info.Size() > f.maxBodyBytes {
		return nil, fmt.Errorf("response body exceeds %d bytes", f.maxBodyBytes)
	}
	body, err := fetchReadLimited(&fetchCtxReader{ctx: ctx, r: file}, f.maxBodyBytes, -1)
	if err != nil {
		return nil, fetchFileError(path, err)
	}
	res.Body = body
	return res, nil
}

// fetchReadLimited reads all of r but fails once it has seen more than max
// bytes, without reading further: a gzip bomb stops at the limit. size is
// the length the server announced, or -1. Memory stays near the size of
// the body: an announced body is read into one buffer of its size; any
// other into chunks of growing size, copied once into a buffer of the
// final size (so no buffer is ever reallocated twice its contents, and a
// body over the limit never gets the final copy).
func fetchReadLimited(r io.Reader, max, size int64) ([]byte, error) {
	exceeds := fmt.Errorf("response body exceeds %d bytes", max)
	if size >= 0 && size <= max {
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			if errors.Is(err, io.EOF) {
				// Shorter than announced: the connection was cut.
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		var one [1]byte
		if n, _ := io.ReadFull(r, one[:]); n > 0 {
			return nil, exceeds
		}
		return body, nil
	}
	const (
		firstChunk = 32 << 10
		maxChunk   = 1 << 20
	)
	var (
		chunks [][]byte
		total  int64
		next   int64 = firstChunk
	)
	for {
		chunk := make([]byte, min(next, max+1-total))
		n, err := io.ReadFull(r, chunk)
		total += int64(n)
		chunks = append(chunks, chunk[:n])
		if total > max {
			return nil, exceeds
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		next = min(next*2, maxChunk)
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	body := make([]byte, 0, total)
	for _, c := range chunks {
		body = append(body, c...)
	}
	return body, nil
}

// fetchCtxReader stops a long local read when ctx is done.
type fetchCtxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *fetchCtxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// fetchCheckRedirect allows at most fetchMaxRedirects hops.
func fetchCheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > fetchMaxRedirects {
		return fmt.Errorf("too many redirects (more than %d)", fetchMaxRedirects)
	}
	return nil
}

// fetchPermanentRedirect walks the redirect chain that led to resp and
// returns the target of the leading run of permanent (301/308) hops: that
// is the URL the feed has moved to for good. A temporary first hop means
// the original URL stays.
func fetchPermanentRedirect(resp *http.Response) string {
	// resp.Request.Response is the redirect that caused the final request,
	// its Request the one before, and so on back to the first request.
	type hop struct {
		status int
		target string
	}
	var hops []hop
	for req := resp.Request; req != nil && req.Response != nil; req = req.Response.Request {
		hops = append(hops, hop{status: req.Response.StatusCode, target: req.URL.String()})
	}
	permanent := ""
	for i := len(hops) - 1; i >= 0; i-- {
		if s := hops[i].status; s != http.StatusMovedPermanently && s != http.StatusPermanentRedirect {
			break
		}
		permanent = hops[i].target
	}
	return permanent
}

// fetchParseRetryAfter reads Retry-After as delay-seconds or an HTTP date.
// It returns 0 when the header is absent, invalid or in the past.
func fetchParseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		// Cap absurd values instead of overflowing the duration.
		const maxSecs = int64(365 * 24 * 60 * 60)
		return time.Duration(min(secs, maxSecs)) * time.Second
	}
	if when, err := http.ParseTime(value); err == nil {
		if d := when.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// fetchParseMaxAge reads max-age from Cache-Control header values. It
// returns 0 when there is none, when the response must not be reused
// (no-cache, no-store) or when the value is not a number of seconds.
func fetchParseMaxAge(values []string) time.Duration {
	var maxAge time.Duration
	found := false
	for _, v := range values {
		for directive := range strings.SplitSeq(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(directive), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-cache", "no-store":
				return 0
			case "max-age":
				if found {
					continue // the first one counts (RFC 9111 4.2.1)
				}
				found = true
				secs, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(arg), `"`), 10, 64)
				if err != nil || secs <= 0 {
					continue
				}
				maxAge = time.Duration(min(secs, int64(fetchMaxMaxAge/time.Second))) * time.Second
			}
		}
	}
	return maxAge
}

// fetchHostKey is the politeness key of a URL: its host and port,
// lower-cased.
func fetchHostKey(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("invalid URL: %w", err)
	}
	if u.Host == "" {
		return "", errors.New("URL has no host")
	}
	return strings.ToLower(u.Host), nil
}

// fetchHostSlots bounds the requests in flight per host. A host's entry
// lives only while someone holds or awaits one of its slots, so the map
// does not grow with every host ever fetched.
type fetchHostSlots struct {
	perHost int
	mu      sync.Mutex
	hosts   map[string]*fetchHostSlot
}

type fetchHostSlot struct {
	slots chan struct{}
	users int // holders and waiters; guarded by fetchHostSlots.mu
}

func newFetchHostSlots(perHost int) *fetchHostSlots {
	return &fetchHostSlots{perHost: perHost, hosts: make(map[string]*fetchHostSlot)}
}

// acquire waits for a slot of host, or for ctx to be done. The returned
// func gives the slot back; it must be called exactly once.
func (h *fetchHostSlots) acquire(ctx context.Context, host string) (func(), error) {
	h.mu.Lock()
	s := h.hosts[host]
	if s == nil {
		s = &fetchHostSlot{slots: make(chan struct{}, h.perHost)}
		h.hosts[host] = s
	}
	s.users++
	h.mu.Unlock()

	done := func() {
		h.mu.Lock()
		s.users--
		if s.users == 0 {
			delete(h.hosts, host)
		}
		h.mu.Unlock()
	}
	select {
	case s.slots <- struct{}{}:
		return func() {
			<-s.slots
			done()
		}, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}

// fetchNetError replaces a transport error's message with plain words
// while keeping the original for errors.Is and errors.As.
type fetchNetError struct {
	msg string
	err error
}

func (e *fetchNetError) Error() string { return e.msg }
func (e *fetchNetError) Unwrap() error { return e.err }

// fetchPlainError turns a client or body-read error into plain words where
// the cause is well known.
func (f *Fetcher) fetchPlainError(ctx context.Context, err error) error {
	// The caller gave up: say so, and keep the context error matchable.
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &fetchNetError{msg: ctxErr.Error(), err: ctxErr}
	}
	var (
		dnsErr     *net.DNSError
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		opErr      *net.OpError
		netErr     net.Error
	)
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return &fetchNetError{msg: "no such host " + dnsErr.Name, err: err}
	case errors.As(err, &dnsErr):
		return &fetchNetError{msg: fmt.Sprintf("DNS lookup of %s failed: %s", dnsErr.Name, dnsErr.Err), err: err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &fetchNetError{msg: "connection refused", err: err}
	case errors.Is(err, syscall.ECONNRESET):
		return &fetchNetError{msg: "connection reset by the server", err: err}
	case errors.As(err, &hostErr), errors.As(err, &unknownCA), errors.As(err, &invalidErr), errors.As(err, &certErr):
		return &fetchNetError{msg: "invalid TLS certificate: " + fetchInnermost(err).Error(), err: err}
	case errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Timeout():
		return &fetchNetError{msg: fmt.Sprintf("could not connect within %s", f.connectTimeout), err: err}
	case errors.As(err, &netErr) && netErr.Timeout() && strings.Contains(err.Error(), "TLS handshake timeout"):
		return &fetchNetError{msg: fmt.Sprintf("TLS handshake timed out after %s", f.connectTimeout), err: err}
	case errors.As(err, &netErr) && netErr.Timeout():
		return &fetchNetError{msg: fmt.Sprintf("timed out after %s", f.timeout), err: err}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &fetchNetError{msg: "the server closed the connection unexpectedly", err: err}
	}
	// Drop url.Error's `Get "URL":` prefix; the caller adds the URL once.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return &fetchNetError{msg: urlErr.Err.Error(), err: err}
	}
	return err
}

// fetchInnermost returns the deepest error of a single-wrap chain.
func fetchInnermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// fetchFileError words a file error plainly.
func fetchFileError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &fetchNetError{msg: fmt.Sprintf("file %s does not exist", path), err: err}
	case errors.Is(err, fs.ErrPermission):
		return &fetchNetError{msg: fmt.Sprintf("permission denied reading %s", path), err: err}
	}
	return err
}
