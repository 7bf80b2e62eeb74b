package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// replaceFile writes data the way editors do: a new file renamed over the
// old one.
func replaceFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds or 10 seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sourceNames(t *testing.T, base string) []string {
	t.Helper()
	_, body := getBody(t, base+"/sources.json")
	var states []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(body), &states); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range states {
		names = append(names, s.Name)
	}
	return names
}

// TestReloadOnFileChange: an edited config (written as editors write,
// with a rename) is applied while the daemon runs — a new topic is filled
// from the stored items at once, a changed query is rematched, a new
// source is polled, a removed one is dropped — and an invalid edit is
// refused with its line while the daemon keeps the config it has.
func TestReloadOnFileChange(t *testing.T) {
	farm, srv := startFeedFarm(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tributary.yaml")
	head := "listen: \"127.0.0.1:0\"\ndata_dir: \"data\"\nbacklog: 0\nschedule: \"@every 1h\"\nretention: {max_age: 0}\n"
	replaceFile(t, cfgPath, head+`sources:
  - name: wire
    url: "`+srv.URL+`/wire.rss"
  - name: un
    url: "`+srv.URL+`/un.atom"
topics:
  - name: human-rights-forum
    query: '"human rights" AND (forum OR summit)'
`)
	if code, out, errOut := execute(t, "poll", "--config", cfgPath); code != 0 {
		t.Fatalf("poll: %d\n%s%s", code, out, errOut)
	}

	var logs lockedBuffer
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	app, err := OpenApp(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		app.Close()
	}()
	eventually(t, "the listener", func() bool { return app.Addr() != nil })
	base := "http://" + app.Addr().String()
	if code, _ := getBody(t, base+"/topics/climate.atom"); code != http.StatusNotFound {
		t.Fatalf("climate before the reload: %d", code)
	}

	replaceFile(t, cfgPath, head+`sources:
  - name: wire
    url: "`+srv.URL+`/wire.rss"
  - name: outlet
    url: "`+srv.URL+`/outlet.json"
topics:
  - name: human-rights-forum
    query: 'summit'
  - name: climate
    query: 'climate'
`)
	eventually(t, "the new topic", func() bool {
		code, body := getBody(t, base+"/topics/climate.atom")
		return code == http.StatusOK && strings.Contains(body, "Climate talks resume")
	})
	if got := titles(fetchTopic(t, base, "human-rights-forum", "atom")); !slices.Equal(got, []string{"Human rights summit closes in Geneva"}) {
		t.Errorf("rematched human-rights-forum = %q", got)
	}
	if got := sourceNames(t, base); !slices.Equal(got, []string{"wire", "outlet"}) {
		t.Errorf("sources after reload = %v", got)
	}
	eventually(t, "the new source's first poll", func() bool {
		req, _, _ := farm.counts("/outlet.json")
		return req == 1
	})

	// An invalid edit: refused with its line, the running config kept.
	replaceFile(t, cfgPath, head+"sources:\n  - name: Bad Name\n    url: \"https://x.example/\"\n")
	eventually(t, "the refusal", func() bool {
		return regexp.MustCompile(`config not reloaded; keeping the running one.*tributary\.yaml:7: sources\[0\]\.name`).MatchString(logs.String())
	})
	if code, _ := getBody(t, base+"/topics/climate.atom"); code != http.StatusOK {
		t.Errorf("climate after a refused reload: %d", code)
	}
	if got := sourceNames(t, base); !slices.Equal(got, []string{"wire", "outlet"}) {
		t.Errorf("sources after a refused reload = %v", got)
	}
}

// TestReloadOnSIGHUP: `tributary run` reloads on SIGHUP.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tributary.yaml")
	head := "listen: \"127.0.0.1:0\"\ndata_dir: \"data\"\n"
	replaceFile(t, cfgPath, head+"topics:\n  - name: one\n    query: 'a'\n")

	ctx, stop := context.WithCancel(t.Context())
	var stdout, stderr lockedBuffer
	exit := make(chan int, 1)
	go func() { exit <- Execute(ctx, []string{"run", "--config", cfgPath}, &stdout, &stderr) }()
	addrRE := regexp.MustCompile(`msg=serving addr=(\S+)`)
	eventually(t, "the listener", func() bool { return addrRE.MatchString(stderr.String()) })
	base := "http://" + addrRE.FindStringSubmatch(stderr.String())[1]

	// Change the file in place (no rename) and signal at once, before the
	// watcher's debounce: the reload is the signal's.
	if err := os.WriteFile(cfgPath, []byte(head+"topics:\n  - name: one\n    query: 'a'\n  - name: two\n    query: 'b'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reload", func() bool {
		code, _ := getBody(t, base+"/topics/two.json")
		return code == http.StatusOK
	})
	if !strings.Contains(stderr.String(), `why="reload requested"`) {
		t.Errorf("the reload was not the signal's:\n%s", stderr.String())
	}
	stop()
	if code := <-exit; code != 0 {
		t.Fatalf("run exited %d:\n%s", code, stderr.String())
	}
}
