package publish

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Export writes every topic feed in every format and the OPML list into dir,
// for serving as static files: DIR/topics/NAME.rss, NAME.atom, NAME.json and
// DIR/topics.opml. Each file is replaced atomically, so a web server
// reading dir never sees a half-written feed.
func Export(ctx context.Context, store Store, cfg Config, dir string) error {
	s := newSite(cfg)
	z := newSanitizer()
	topicsDir := filepath.Join(dir, "topics")
	if err := os.MkdirAll(topicsDir, 0o755); err != nil {
		return fmt.Errorf("publish: export: %w", err)
	}
	for _, t := range cfg.Topics {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("publish: export: %w", err)
		}
		v, err := buildView(ctx, store, s, z, t)
		if err != nil {
			return err // names the topic already
		}
		for _, f := range formats() {
			body, err := render(v, s, f)
			if err != nil {
				return fmt.Errorf("publish: export topic %q: %w", t.Name, err)
			}
			if err := writeFileAtomic(filepath.Join(topicsDir, t.Name+"."+f.ext), body); err != nil {
				return fmt.Errorf("publish: export topic %q: %w", t.Name, err)
			}
		}
	}
	body, err := renderOPML(s)
	if err != nil {
		return fmt.Errorf("publish: export: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "topics.opml"), body); err != nil {
		return fmt.Errorf("publish: export: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it over path.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
