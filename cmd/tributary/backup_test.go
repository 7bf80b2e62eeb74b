package main

import (
	"context"
	"io/fs"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/configs"
	"github.com/tributary-news/tributary/storage"
)

// wireRSSLater is wireRSS after the wire published one more item.
var wireRSSLater = strings.Replace(wireRSS, "<item>", `<item><title>Ceasefire talks open</title>
<link>https://wire.example/2021/12/11/talks</link><guid>wire-talks-1</guid>
<pubDate>Sat, 11 Dec 2021 09:00:00 GMT</pubDate><description>Envoys met.</description></item>
<item>`, 1)

// backupFixture is a config whose store was polled once from a feed farm.
func backupFixture(t *testing.T) (farm *feedFarm, cfgPath string, cfg *configs.Config) {
	t.Helper()
	farm = newFeedFarm()
	farm.set("/wire.rss", farmFeed{contentType: "application/rss+xml", body: wireRSS, validators: "both"})
	farm.set("/un.atom", farmFeed{contentType: "application/atom+xml", body: unAtom, validators: "etag"})
	farm.set("/outlet.json", farmFeed{contentType: "application/feed+json", body: outletJSON, validators: "lastmod"})
	srv := httptest.NewServer(farm)
	t.Cleanup(srv.Close)
	cfgPath = e2eConfig(t, t.TempDir(), srv.URL)
	if code, out, errOut := execute(t, "poll", "--config", cfgPath); code != 0 {
		t.Fatalf("poll: exit %d\n%s%s", code, out, errOut)
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return farm, cfgPath, cfg
}

// itemKeys lists "source/title" of every item in the store at path,
// sorted; the file must open and pass storage.Verify.
func itemKeys(t *testing.T, path string) []string {
	t.Helper()
	if _, err := storage.Verify(t.Context(), path); err != nil {
		t.Fatalf("Verify %s: %v", path, err)
	}
	db, err := storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	err = db.Items(t.Context(), func(it *aggregator.Item) error {
		out = append(out, it.Source+"/"+it.Title)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestBackupAndRestore: with the daemon stopped, backup copies the store
// directly; after the store changed, the documented restore (copy the
// backup over DATA_DIR/tributary.db) brings back exactly the backed-up
// items.
func TestBackupAndRestore(t *testing.T) {
	farm, cfgPath, cfg := backupFixture(t)
	want := itemKeys(t, cfg.DBPath())
	if len(want) < 5 {
		t.Fatalf("store holds %d items, want the farm's", len(want))
	}
	out := filepath.Join(t.TempDir(), "tributary-backup.db")
	code, stdout, stderr := execute(t, "backup", "--config", cfgPath, "--out", out)
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "backup of ") || !strings.HasSuffix(stdout, " bytes written to "+out+" (directly)\n") {
		t.Errorf("output %q", stdout)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if got := itemKeys(t, out); !slices.Equal(got, want) {
		t.Fatalf("backup holds %v, want %v", got, want)
	}

	// The store changes: a new item.
	farm.set("/wire.rss", farmFeed{contentType: "application/rss+xml", body: wireRSSLater, validators: "both"})
	if code, o, e := execute(t, "poll", "--config", cfgPath); code != 0 {
		t.Fatalf("poll: exit %d\n%s%s", code, o, e)
	}
	if got := itemKeys(t, cfg.DBPath()); len(got) != len(want)+1 {
		t.Fatalf("store after the second poll: %v", got)
	}

	// Restore, as the README says: daemon stopped, copy over the store.
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.DBPath(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := itemKeys(t, cfg.DBPath()); !slices.Equal(got, want) {
		t.Errorf("restored store holds %v, want %v", got, want)
	}
	// And the daemon's commands work on it.
	if code, o, e := execute(t, "poll", "--config", cfgPath, "--source", "wire"); code != 0 {
		t.Errorf("poll after restore: exit %d\n%s%s", code, o, e)
	}

	// A second backup to the same file replaces it atomically.
	if code, o, e := execute(t, "backup", "--config", cfgPath, "--out", out); code != 0 {
		t.Fatalf("second backup: exit %d\n%s%s", code, o, e)
	}
	if got := itemKeys(t, out); len(got) != len(want)+1 {
		t.Errorf("second backup holds %v", got)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestAdminSocketBackup: an App serving its admin socket answers
// `tributary backup` while it holds the store, with a 0600 socket that
// stop removes; a socket left by a crash is replaced; a file that is not a
// socket is left alone.
func TestAdminSocketBackup(t *testing.T) {
	_, cfgPath, cfg := backupFixture(t)
	want := itemKeys(t, cfg.DBPath())
	sock := adminSocketPath(cfg)

	// A crashed daemon's socket: bound, never removed.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()

	app, err := OpenApp(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stop, err := app.serveAdmin(ctx)
	if err != nil {
		t.Fatalf("serveAdmin over a stale socket: %v", err)
	}
	defer stop()
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v, mode %v; want a socket, 0600", err, fi.Mode())
	}

	out := filepath.Join(t.TempDir(), "backup.db")
	code, stdout, stderr := execute(t, "backup", "--config", cfgPath, "--out", out)
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.HasSuffix(stdout, " bytes written to "+out+" (via the running daemon)\n") {
		t.Errorf("output %q", stdout)
	}
	if got := itemKeys(t, out); !slices.Equal(got, want) {
		t.Errorf("backup holds %v, want %v", got, want)
	}

	// Compact refuses while the daemon holds the store.
	code, _, stderr = execute(t, "compact", "--config", cfgPath)
	if code != 1 || !strings.Contains(stderr, "is in use by another tributary process") || !strings.Contains(stderr, "stop it (tributary run) before compacting") {
		t.Errorf("compact while running: exit %d, %q", code, stderr)
	}

	stop()
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after stop: %v", err)
	}
	if entries, _ := filepath.Glob(filepath.Join(cfg.DataDir, ".admin-*")); len(entries) > 0 {
		t.Errorf("temporary directories left: %v", entries)
	}

	// A regular file where the socket goes is not removed.
	if err := os.WriteFile(sock, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := app.serveAdmin(ctx); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("serveAdmin over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(sock); string(b) != "mine" {
		t.Error("the regular file was changed")
	}
}

// TestBackupWhileDaemonRuns: `tributary backup` against a running daemon
// goes through its admin socket, which the daemon removes when it stops.
// It needs App.Serve to start the admin endpoint (serveAdmin).
func TestBackupWhileDaemonRuns(t *testing.T) {
	_, cfgPath, cfg := backupFixture(t)
	want := itemKeys(t, cfg.DBPath())
	d := startDaemon(t, cfgPath)
	sock := adminSocketPath(cfg)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := os.Lstat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running daemon has no admin socket at %s: is serveAdmin wired into App.Serve?", sock)
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	code, stdout, stderr := execute(t, "backup", "--config", cfgPath, "--out", out)
	if code != 0 || !strings.Contains(stdout, "(via the running daemon)") {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	// The daemon polled at start; the backup holds at least what was
	// committed before it.
	got := itemKeys(t, out)
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("backup lacks %s", k)
		}
	}
	d.stop(t)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after the daemon stopped: %v", err)
	}
}

// TestBackupErrors: a store held by a command that is not the daemon, and
// bad targets.
func TestBackupErrors(t *testing.T) {
	_, cfgPath, cfg := backupFixture(t)
	dir := t.TempDir()

	t.Run("locked without a daemon", func(t *testing.T) {
		held, err := storage.Open(cfg.DBPath(), storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		out := filepath.Join(dir, "locked.db")
		code, _, stderr := execute(t, "backup", "--config", cfgPath, "--out", out)
		if code != 1 || !strings.Contains(stderr, "is in use by another tributary process") || !strings.Contains(stderr, "no daemon answers") {
			t.Errorf("exit %d, %q", code, stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("a failed backup left %s", out)
		}
	})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no out", []string{"backup", "--config", cfgPath}, 2, "--out FILE is required"},
		{"out is a directory", []string{"backup", "--config", cfgPath, "--out", dir}, 1, "is a directory"},
		{"out is the store", []string{"backup", "--config", cfgPath, "--out", cfg.DBPath()}, 1, "is the store itself"},
		{"compact stray argument", []string{"compact", "--config", cfgPath, "now"}, 2, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := execute(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, %q; want exit %d containing %q", code, stderr, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestCompactCommand: compact on a stopped store keeps every item and
// says how the size changed.
func TestCompactCommand(t *testing.T) {
	farm, cfgPath, cfg := backupFixture(t)
	farm.set("/wire.rss", farmFeed{contentType: "application/rss+xml", body: wireRSSLater, validators: "both"})
	if code, o, e := execute(t, "poll", "--config", cfgPath); code != 0 {
		t.Fatalf("poll: exit %d\n%s%s", code, o, e)
	}
	want := itemKeys(t, cfg.DBPath())
	code, stdout, stderr := execute(t, "compact", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("compact: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "compacted "+cfg.DBPath()+": ") || !strings.Contains(stdout, " bytes (") {
		t.Errorf("output %q", stdout)
	}
	t.Log(strings.TrimSpace(stdout))
	if got := itemKeys(t, cfg.DBPath()); !slices.Equal(got, want) {
		t.Errorf("after compact %v, want %v", got, want)
	}
	if code, o, e := execute(t, "poll", "--config", cfgPath); code != 0 {
		t.Errorf("poll after compact: exit %d\n%s%s", code, o, e)
	}
}
