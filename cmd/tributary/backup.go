package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-news/tributary/configs"
	"github.com/tributary-news/tributary/storage"
)

const (
	// adminSocketName is the admin endpoint's unix socket in the data
	// directory. Only the daemon's user can connect (mode 0600): it is
	// never on the public listener.
	adminSocketName = "admin.sock"
	// maxSocketPath is the portable limit of a unix socket path (104 on
	// BSDs and macOS, 108 on Linux, both counting the NUL).
	maxSocketPath = 103
	// backupTimeout bounds one backup over the admin socket; the read
	// transaction it holds stalls writers that must grow the file.
	backupTimeout = 30 * time.Minute
	// backupSizeTrailer carries the byte count of a streamed backup, so
	// the client can tell a complete stream from a cut one.
	backupSizeTrailer = "Tributary-Backup-Bytes"
	// probeLockTimeout is how long `backup` waits for the store before
	// asking the daemon.
	probeLockTimeout = 100 * time.Millisecond
)

// adminSocketPath is where the daemon for cfg serves its admin endpoint.
func adminSocketPath(cfg *configs.Config) string {
	return filepath.Join(cfg.DataDir, adminSocketName)
}

// serveAdmin serves the admin endpoint on DATA_DIR/admin.sock until stop
// is called: GET /backup streams a consistent snapshot of the store. A
// socket left by a crash is replaced (the caller holds the store's lock,
// so no other daemon can be using it). stop shuts the server down, waits
// for backups in flight (cancelled with ctx) and removes the socket.
func (a *App) serveAdmin(ctx context.Context) (stop func(), err error) {
	path := adminSocketPath(a.Config())
	ln, err := listenAdmin(path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	logger := a.Logger.With("socket", path)

	var busy atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		if !busy.CompareAndSwap(false, true) {
			http.Error(w, "a backup is already running", http.StatusConflict)
			return
		}
		defer busy.Store(false)
		start := time.Now()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Trailer", backupSizeTrailer)
		n, err := a.Store.Backup(r.Context(), w)
		if err != nil {
			logger.Error("backup failed", "bytes", n, "err", err)
			if n == 0 {
				http.Error(w, "backup failed", http.StatusInternalServerError)
				return
			}
			// Cut the connection: ending the chunked body cleanly would
			// pass a partial file off as complete.
			panic(http.ErrAbortHandler)
		}
		w.Header().Set(backupSizeTrailer, strconv.FormatInt(n, 10))
		logger.Info("backup streamed", "bytes", n, "took", time.Since(start).Round(time.Millisecond))
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      backupTimeout,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin server stopped", "err", err)
		}
	}()
	logger.Info("admin endpoint listening")

	var once sync.Once
	return func() {
		once.Do(func() {
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdownCtx); err != nil {
				_ = srv.Close() // the handlers' writes now fail and their read transactions end
			}
			<-served
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				logger.Warn("remove admin socket", "err", err)
			}
		})
	}, nil
}

// listenAdmin binds a unix socket at path that only this user can reach.
// It is bound in a private directory, made 0600 and then renamed into
// place, so it is never reachable with the umask's mode.
func listenAdmin(path string) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket; move it away", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	private, err := os.MkdirTemp(dir, ".admin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(private)
	bound := filepath.Join(private, "s")
	if len(path) > maxSocketPath || len(bound) > maxSocketPath {
		return nil, fmt.Errorf("path %s is too long for a unix socket (at most %d bytes with its temporary name %s): use a shorter data_dir",
			path, maxSocketPath, bound)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: bound, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false) // stop removes the socket by its final name
	if err := os.Chmod(bound, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Rename(bound, path); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// errNoDaemon is returned by backupViaDaemon when nothing answers on the
// admin socket.
var errNoDaemon = errors.New("no daemon answers on the admin socket")

// backupViaDaemon asks the daemon on socket for a backup and writes it to w.
func backupViaDaemon(ctx context.Context, socket string, w io.Writer) (int64, error) {
	client := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
			DisableCompression:    true,
			ResponseHeaderTimeout: time.Minute,
		},
		Timeout:       backupTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://tributary-admin/backup", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		if opErr := (*net.OpError)(nil); errors.As(err, &opErr) && opErr.Op == "dial" {
			return 0, fmt.Errorf("%w (%s): %w", errNoDaemon, socket, opErr.Err)
		}
		return 0, fmt.Errorf("backup from the daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("the daemon refused the backup: %s: %s", resp.Status, bytesTrim(msg))
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("backup stream from the daemon broke after %d bytes: %w", n, err)
	}
	if sent := resp.Trailer.Get(backupSizeTrailer); sent != strconv.FormatInt(n, 10) {
		return n, fmt.Errorf("backup stream from the daemon ended after %d bytes, the daemon reports %q", n, sent)
	}
	return n, nil
}

func bytesTrim(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return string(b)
}

// cmdBackup is `tributary backup`: a consistent copy of the store, taken
// through the running daemon when it holds the store, else directly.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("backup", stderr, &cf)
	out := fs.String("out", "", "file to write the backup to (replaced atomically)")
	if err := parseFlags(fs, &cf, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "tributary backup: --out FILE is required")
		return errUsage
	}
	logger, cfg, err := cf.load(stderr)
	if err != nil {
		return err
	}
	if err := checkBackupTarget(*out, cfg.DBPath()); err != nil {
		return err
	}
	n, via, err := writeAtomically(ctx, *out, func(w io.Writer) (int64, string, error) {
		return takeBackup(ctx, cfg, logger, w)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %d bytes written to %s (%s)\n", n, *out, via)
	return nil
}

// checkBackupTarget refuses an --out that is a directory or the store.
func checkBackupTarget(out, dbPath string) error {
	fi, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("--out %s is a directory; give the backup's file name", out)
	}
	if db, err := os.Stat(dbPath); err == nil && os.SameFile(fi, db) {
		return fmt.Errorf("--out %s is the store itself", out)
	}
	return nil
}

// takeBackup writes a snapshot of cfg's store to w and says how it got it.
func takeBackup(ctx context.Context, cfg *configs.Config, logger *slog.Logger, w io.Writer) (int64, string, error) {
	open := func(timeout time.Duration) (*storage.DB, error) {
		return storage.Open(cfg.DBPath(), storage.Options{ReadOnly: true, Timeout: timeout, Logger: logger})
	}
	db, err := open(probeLockTimeout)
	if errors.Is(err, storage.ErrLocked) {
		n, derr := backupViaDaemon(ctx, adminSocketPath(cfg), w)
		if !errors.Is(derr, errNoDaemon) {
			return n, "via the running daemon", derr
		}
		// Held by a short-lived command (poll, export): wait for it as
		// long as any command would.
		if db, err = open(lockTimeout); errors.Is(err, storage.ErrLocked) {
			return 0, "", fmt.Errorf("%w, and %v: it is not `tributary run`; try again when it has finished", err, derr)
		}
	}
	if err != nil {
		return 0, "", err
	}
	n, err := db.Backup(ctx, w)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return n, "directly", err
}

// writeAtomically writes path through write into a temporary file beside
// it, syncs it, checks that it is a tributary store, and only then renames
// it into place: a failed or interrupted backup never leaves a partial file
// at path.
func writeAtomically(ctx context.Context, path string, write func(io.Writer) (int64, string, error)) (n int64, via string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return 0, "", fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if n, via, err = write(tmp); err != nil {
		return n, via, err
	}
	if err := tmp.Sync(); err != nil {
		return n, via, fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return n, via, fmt.Errorf("backup: %w", err)
	}
	if _, err := storage.Verify(ctx, tmp.Name()); err != nil {
		return n, via, fmt.Errorf("backup is not usable, not written: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return n, via, fmt.Errorf("backup: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return n, via, fmt.Errorf("backup: %w", err)
	}
	return n, via, nil
}

// syncDir fsyncs a directory so that a rename into it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return d.Close()
}

// cmdCompact is `tributary compact`: rewrites the stopped store without
// its free pages.
func cmdCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("compact", stderr, &cf)
	if err := parseFlags(fs, &cf, args); err != nil {
		return err
	}
	_, cfg, err := cf.load(stderr)
	if err != nil {
		return err
	}
	path := cfg.DBPath()
	before, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("no store to compact: %w", err)
	}
	if err := storage.Compact(ctx, path, path); err != nil {
		if errors.Is(err, storage.ErrLocked) {
			return fmt.Errorf("%w: stop it (tributary run) before compacting; `tributary backup` works while it runs", err)
		}
		return err
	}
	after, err := os.Stat(path)
	if err != nil {
		return err
	}
	saved := 0.0
	if before.Size() > 0 {
		saved = 100 * float64(before.Size()-after.Size()) / float64(before.Size())
	}
	fmt.Fprintf(stdout, "compacted %s: %d → %d bytes (%.0f%% smaller)\n", path, before.Size(), after.Size(), saved)
	return nil
}
