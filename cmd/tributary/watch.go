package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// configDebounce lets an editor finish writing before a reload.
const configDebounce = 300 * time.Millisecond

// watchConfig reports, debounced, each change of the config file's
// content. It watches the file's directory, not the file: editors that
// write a new file and rename it over the old one replace the inode a
// file watch would follow. Without a watcher (no inotify) it logs and
// reports nothing; SIGHUP still reloads.
func (a *App) watchConfig(ctx context.Context, path string) <-chan struct{} {
	changed := make(chan struct{}, 1)
	abs, err := filepath.Abs(path)
	if err != nil {
		a.Logger.Warn("not watching the config file", "err", err)
		return changed
	}
	// A config that is a symlink (a package's alternatives, a ConfigMap's
	// ..data swap) changes in its target's directory: watch both.
	dirs := []string{filepath.Dir(abs)}
	target := abs
	if t, err := filepath.EvalSymlinks(abs); err == nil && t != abs {
		target = t
		if d := filepath.Dir(t); d != dirs[0] {
			dirs = append(dirs, d)
		}
	}
	w, err := fsnotify.NewWatcher()
	for _, d := range dirs {
		if err == nil {
			err = w.Add(d)
		}
	}
	if err != nil {
		if w != nil {
			w.Close()
		}
		a.Logger.Warn("not watching the config file; send SIGHUP to reload", "err", err)
		return changed
	}
	last, _ := os.ReadFile(abs)
	go func() {
		defer w.Close()
		var debounce <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if name := filepath.Clean(ev.Name); (name == abs || name == target || filepath.Dir(target) != filepath.Dir(abs)) &&
					!ev.Has(fsnotify.Chmod) {
					debounce = time.After(configDebounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				a.Logger.Warn("config watcher", "err", err)
			case <-debounce:
				debounce = nil
				data, err := os.ReadFile(abs)
				if err != nil || bytes.Equal(data, last) {
					continue // removed (a rename in progress) or unchanged
				}
				last = data
				select {
				case changed <- struct{}{}:
				default: // a reload is already pending
				}
			}
		}
	}()
	return changed
}
