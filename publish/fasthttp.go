package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// ServeFastHTTP is ServeHTTP for fasthttp. A GET or HEAD of a topic feed
// that is plain or conditional on If-None-Match or If-Modified-Since —
// nearly every request a feed reader makes — is answered here from the
// render cache, with the status, headers and bytes serveTopicFile would
// send. Every other request (other paths, ranges, other preconditions,
// unusual paths or header lines) goes to ServeHTTP through
// fasthttpadaptor, so it is answered exactly as net/http would.
//
// net/http spends more of the machine on each request than the few
// microseconds of answering from a cache: a bare net/http server holding
// a feed's bytes reaches about half of nginx's requests per second on the
// same machine, and fasthttp about as many as nginx.
func (h *Handler) ServeFastHTTP(ctx *fasthttp.RequestCtx) {
	file, ok := fastTopicFile(ctx)
	if !ok {
		h.slow(ctx)
		return
	}
	var q feedQuery
	if !q.read(&ctx.Request.Header) {
		h.slow(ctx)
		return
	}
	in := h.instr.Load()
	var start time.Time
	if in != nil {
		start = time.Now()
	}
	code := h.serveTopicFast(ctx, file, &q)
	if code == 0 {
		h.slow(ctx)
		return
	}
	if in != nil {
		in.topicsRecorder.Observe(code, time.Since(start))
	}
}

// serveTopicFast answers a GET or HEAD of /topics/FILE over fasthttp and
// returns its status, or 0 to leave the request to the slow path (FILE
// names no topic: the 404 page comes from the mux).
func (h *Handler) serveTopicFast(ctx *fasthttp.RequestCtx, file string, q *feedQuery) int {
	rf, err := h.topicFeed(ctx, file)
	switch {
	case errors.Is(err, errUnknownTopic):
		return 0
	case err != nil:
		h.logger.Error("serve feed", "file", file, "err", err)
		fastInternalError(ctx)
		return http.StatusInternalServerError
	}
	rep := rf.representation(q.acceptEncoding)
	hd := &ctx.Response.Header
	hd.SetCanonical(fastNosniff[0], fastNosniff[1])
	hd.SetCanonical(fastCacheControl[0], fastCacheControl[1])
	hd.SetCanonical(fastVary[0], fastVary[1])
	hd.SetCanonical(fastETag, rep.etagBytes)
	if rf.notModified(q.ifNoneMatch, q.ifModifiedSince, rep.etag) {
		ctx.SetStatusCode(http.StatusNotModified)
		return http.StatusNotModified
	}
	body, err := rf.body(rep)
	if err != nil {
		h.logger.Error("serve feed", "file", file, "err", err)
		fastInternalError(ctx)
		return http.StatusInternalServerError
	}
	hd.SetContentType(rf.contentType[0])
	if rf.lastModified != nil {
		hd.SetCanonical(fastLastModified, rf.lastModifiedBytes)
	}
	if rep.contentEncoding != nil {
		hd.SetContentEncoding(rep.contentEncoding[0])
	}
	hd.SetCanonical(fastAcceptRanges[0], fastAcceptRanges[1])
	// fasthttp sends the length of the body, and no body to a HEAD.
	ctx.Response.SetBodyRaw(body)
	return http.StatusOK
}

// fastInternalError answers 500 as http.Error does, over whatever the
// response held.
func fastInternalError(ctx *fasthttp.RequestCtx) {
	ctx.Error("internal server error\n", http.StatusInternalServerError)
	ctx.Response.Header.SetCanonical(fastNosniff[0], fastNosniff[1])
}

// Header names and values of feed responses, in the form fasthttp takes.
var (
	fastNosniff      = [2][]byte{[]byte("X-Content-Type-Options"), []byte(hdrNosniff[0])}
	fastCacheControl = [2][]byte{[]byte("Cache-Control"), []byte(hdrCacheControl[0])}
	fastVary         = [2][]byte{[]byte("Vary"), []byte(hdrVary[0])}
	fastAcceptRanges = [2][]byte{[]byte("Accept-Ranges"), []byte(hdrAcceptRanges[0])}
	fastETag         = []byte("Etag")
	fastLastModified = []byte("Last-Modified")
)

// fastTopicFile returns FILE when the request is a GET or HEAD of
// /topics/FILE in origin form whose FILE holds only characters that need
// no escaping and is not a dot segment: a path the mux would route to
// serveFeed unchanged. Anything else is left to the mux to clean,
// redirect, unescape or refuse.
func fastTopicFile(ctx *fasthttp.RequestCtx) (string, bool) {
	if !ctx.IsGet() && !ctx.IsHead() {
		return "", false
	}
	const prefix = "/topics/"
	uri := ctx.RequestURI()
	if len(uri) <= len(prefix) || string(uri[:len(prefix)]) != prefix {
		return "", false
	}
	rest := uri[len(prefix):]
	n := 0
	for n < len(rest) && isFileByte(rest[n]) {
		n++
	}
	if n < len(rest) && rest[n] != '?' {
		return "", false
	}
	file := string(rest[:n])
	if file == "" || file == "." || file == ".." {
		return "", false
	}
	return file, true
}

// isFileByte reports whether c may stand unescaped in a topic file name
// on the fast path: RFC 3986's unreserved characters.
func isFileByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// feedQuery is what answering a topic feed reads from a request's header:
// the values of Accept-Encoding, If-None-Match and If-Modified-Since, at
// most maxLines lines of each.
type feedQuery struct {
	acceptEncoding  []string
	ifNoneMatch     []string
	ifModifiedSince []string
	buf             [3 * maxLines]string
}

const maxLines = 2

// read fills q from hd in one pass over the header. It reports false when
// the request needs what only the slow path implements (a Range, If-Range,
// If-Match or If-Unmodified-Since, as needsServeContent) or has more
// header lines than q holds.
func (q *feedQuery) read(hd *fasthttp.RequestHeader) bool {
	ae, inm, ims := q.buf[0:0:maxLines], q.buf[maxLines:maxLines:2*maxLines], q.buf[2*maxLines:2*maxLines:3*maxLines]
	for k, v := range hd.All() {
		var dst *[]string
		switch string(k) {
		case "Accept-Encoding":
			dst = &ae
		case "If-None-Match":
			dst = &inm
		case "If-Modified-Since":
			dst = &ims
		case "Range", "If-Range", "If-Match", "If-Unmodified-Since":
			return false
		default:
			continue
		}
		if len(*dst) == cap(*dst) {
			return false
		}
		*dst = append(*dst, string(v))
	}
	if len(ae) > 0 {
		q.acceptEncoding = ae
	}
	if len(inm) > 0 {
		q.ifNoneMatch = inm
	}
	if len(ims) > 0 {
		q.ifModifiedSince = ims
	}
	return true
}

// ServerOptions are the limits of a Server's connections.
type ServerOptions struct {
	// ReadTimeout bounds reading a request, header and body.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response.
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// connection.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and header; a larger one
	// gets 431. Zero is fasthttp's default, 4 KiB. fasthttp holds a read
	// buffer of this size for each connection.
	MaxHeaderBytes int
}

// Server serves a Handler over HTTP/1.1 with fasthttp (see ServeFastHTTP).
// It has no HTTP/2: feed readers poll with HTTP/1.1, and a TLS front
// (nginx, Caddy) speaks HTTP/2 to clients where wanted.
type Server struct {
	h        *Handler
	logger   *slog.Logger
	srv      *fasthttp.Server
	shutdown atomic.Bool // Shutdown was called
}

// NewServer returns a Server for h. A nil logger discards logs.
func NewServer(h *Handler, opts ServerOptions, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{h: h, logger: logger}
	s.srv = &fasthttp.Server{
		Handler:               s.serve,
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		IdleTimeout:           opts.IdleTimeout,
		ReadBufferSize:        opts.MaxHeaderBytes,
		MaxRequestBodySize:    maxRequestBody,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		Logger:                fastLogger{logger},
	}
	return s
}

// maxRequestBody bounds a request body: nothing served reads one.
const maxRequestBody = 64 << 10

// Serve accepts connections on ln until Shutdown (it returns nil) or an
// error of ln. fasthttp returns nil for a listener that was closed under
// it, too: that is net.ErrClosed here unless Shutdown closed it.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if err == nil && !s.shutdown.Load() {
		err = net.ErrClosed
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections, closes idle ones and waits for
// the requests under way to finish, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Store(true)
	return s.srv.ShutdownWithContext(ctx)
}

// serve is ServeFastHTTP that survives a panic: fasthttp does not recover
// one, and a bug in answering one request must not end the daemon. The
// slow path recovers its own, in fasthttpadaptor.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	defer func() {
		if v := recover(); v != nil {
			s.logger.Error("panic while serving", "uri", string(ctx.RequestURI()), "panic", v, "stack", string(debug.Stack()))
			fastInternalError(ctx)
			ctx.SetConnectionClose()
		}
	}()
	s.h.ServeFastHTTP(ctx)
}

// fastLogger logs what fasthttp reports — the errors of a connection: a
// malformed request, a client that stalls — at debug level: they are the
// client's doing, and net/http answered them without logging.
type fastLogger struct{ logger *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.logger.Debug("http: "+fmt.Sprintf(format, args...), "server", "fasthttp")
}

// newSlowPath is h served through fasthttpadaptor. A panic in h is logged
// here, with its stack, and ends the connection without a response, as
// net/http does: the adaptor would report it only through fasthttp's
// logger, which logs at debug level (see fastLogger).
func newSlowPath(h http.Handler, logger *slog.Logger) fasthttp.RequestHandler {
	return fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler {
					logger.Error("panic while serving", "uri", r.RequestURI, "panic", v, "stack", string(debug.Stack()))
				}
				panic(http.ErrAbortHandler)
			}
		}()
		h.ServeHTTP(w, r)
	}))
}
