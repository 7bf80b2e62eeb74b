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
	w, err := fsnotify.NewWatcher()
	if err == nil {
		err = w.Add(filepath.Dir(abs))
	}
	if err != nil {
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
				if filepath.Clean(ev.Name) == abs && !ev.Has(fsnotify.Chmod) {
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
