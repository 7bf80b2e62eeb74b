package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// openTerminal opens a new pseudo-terminal in raw mode (so that "\n"
// reaches the other end as it is written) and returns its terminal end,
// and a function that closes it and returns everything written to it.
func openTerminal(t *testing.T) (*os.File, func() string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		// A machine without pseudo-terminals (a container without
		// /dev/pts) cannot run this part; nothing installs them.
		t.Skipf("skipped: this test needs a pseudo-terminal, and /dev/ptmx cannot be opened: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	var n int
	err = withFd(ptmx, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
			return err
		}
		n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
		return err
	})
	if err != nil {
		t.Fatalf("pseudo-terminal: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := withFd(tty, func(fd int) error { _, err := term.MakeRaw(fd); return err }); err != nil {
		t.Fatalf("raw mode: %v", err)
	}
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		io.Copy(&out, ptmx) // ends with EIO once the terminal end is closed
	}()
	return tty, func() string {
		tty.Close()
		<-read
		return out.String()
	}
}

type unit struct {
	line   string
	failed bool
}

func runProgress(terminal bool, units []unit) string {
	var b bytes.Buffer
	p := newProgress(&b, terminal, "polling", "sources", len(units))
	for _, u := range units {
		p.Done(u.line, u.failed)
	}
	p.Finish()
	b.WriteString("summary\n")
	return b.String()
}

func TestProgress(t *testing.T) {
	units := []unit{{"a: 1 new", false}, {"b: error: HTTP 404 Not Found", true}, {"c: not modified", false}}
	tests := []struct {
		name     string
		terminal bool
		units    []unit
		want     string
	}{
		{
			name:  "not a terminal: the lines and nothing else",
			units: units,
			want:  "a: 1 new\nb: error: HTTP 404 Not Found\nc: not modified\nsummary\n",
		},
		{
			name:     "terminal: status redrawn below each line, cleared at the end",
			terminal: true,
			units:    units,
			want: "\r\x1b[Kpolling 0/3 sources" +
				"\r\x1b[Ka: 1 new\n\r\x1b[Kpolling 1/3 sources" +
				"\r\x1b[Kb: error: HTTP 404 Not Found\n\r\x1b[Kpolling 2/3 sources · 1 failed" +
				"\r\x1b[Kc: not modified\n\r\x1b[Kpolling 3/3 sources · 1 failed" +
				"\r\x1b[Ksummary\n",
		},
		{
			name:     "terminal: a unit without a line only redraws",
			terminal: true,
			units:    []unit{{"", true}},
			want:     "\r\x1b[Kpolling 0/1 sources\r\x1b[Kpolling 1/1 sources · 1 failed\r\x1b[Ksummary\n",
		},
		{
			name:  "not a terminal, nothing to do",
			units: nil,
			want:  "summary\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := runProgress(tc.terminal, tc.units); got != tc.want {
				t.Errorf("output\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestProgressAfterFinish(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, true, "importing", "feeds", 2)
	p.Finish()
	p.Finish()
	p.Println("late")
	p.Done("later", true)
	if got, want := b.String(), "\r\x1b[Kimporting 0/2 feeds\r\x1b[Klate\nlater\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if done, failed := p.Counts(); done != 1 || failed != 1 {
		t.Errorf("Counts() = %d, %d; want 1, 1", done, failed)
	}
}

// TestProgressConcurrent: lines reported from many goroutines come out
// whole, one per line.
func TestProgressConcurrent(t *testing.T) {
	var b bytes.Buffer
	const n = 50
	p := newProgress(&b, false, "polling", "sources", n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { p.Done("source: 1 new, 0 updated, 0 unchanged", false) })
	}
	wg.Wait()
	p.Finish()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for _, l := range lines {
		if l != "source: 1 new, 0 updated, 0 unchanged" {
			t.Fatalf("mangled line %q", l)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	t.Setenv("TERM", "xterm-256color")
	file, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	closed, err := os.Create(t.TempDir() + "/closed")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"buffer", &bytes.Buffer{}, false},
		{"regular file", file, false},
		{"pipe", w, false},
		{"/dev/null, a character device", null, false},
		{"closed file", closed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsTerminal(tc.w); got != tc.want {
				t.Errorf("IsTerminal = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("pseudo-terminal", func(t *testing.T) {
		tty, _ := openTerminal(t)
		if !IsTerminal(tty) {
			t.Error("IsTerminal = false, want true")
		}
		t.Setenv("TERM", "dumb")
		if IsTerminal(tty) {
			t.Error("with TERM=dumb: IsTerminal = true; a dumb terminal cannot redraw a line")
		}
	})
}

// TestPollProgress runs `tributary poll` against the feed farm: into a
// buffer the output is exactly a line per source and the summary; on a
// terminal the same lines come with a status line redrawn and cleared.
func TestPollProgress(t *testing.T) {
	t.Setenv("TERM", "xterm-256color")
	_, srv := startFeedFarm(t)
	cfgPath := e2eConfig(t, t.TempDir(), srv.URL)

	t.Run("not a terminal", func(t *testing.T) {
		code, out, errOut := execute(t, "poll", "--config", cfgPath)
		if code != 0 {
			t.Fatalf("poll: exit %d\n%s%s", code, out, errOut)
		}
		if strings.ContainsFunc(out, func(r rune) bool { return r < ' ' && r != '\n' }) {
			t.Errorf("control characters in output that is not a terminal: %q", out)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 5 {
			t.Fatalf("%d lines, want 4 sources and the summary:\n%s", len(lines), out)
		}
		seen := map[string]bool{}
		for _, l := range lines[:4] {
			name, _, _ := strings.Cut(l, ": ")
			seen[name] = true
		}
		for _, name := range []string{"wire", "un", "outlet", "broken"} {
			if !seen[name] {
				t.Errorf("no line for %s:\n%s", name, out)
			}
		}
		if want := "polled 4 sources: 3 ok, 1 failed"; lines[4] != want {
			t.Errorf("summary %q, want %q", lines[4], want)
		}
	})

	t.Run("terminal", func(t *testing.T) {
		tty, output := openTerminal(t)
		var stderr bytes.Buffer
		code := Execute(t.Context(), []string{"poll", "--config", cfgPath}, tty, &stderr)
		out := output()
		if code != 0 {
			t.Fatalf("poll: exit %d\n%s%s", code, out, stderr.String())
		}
		for _, want := range []string{"\r\x1b[Kpolling 0/4 sources", "\r\x1b[Kpolling 4/4 sources · 1 failed", "broken: error: "} {
			if !strings.Contains(out, want) {
				t.Errorf("terminal output lacks %q:\n%q", want, out)
			}
		}
		// Erased before the summary, which starts a clean line.
		if !strings.Contains(out, "\r\x1b[Kpolled 4 sources: ") || !strings.HasSuffix(out, "\n") {
			t.Errorf("status line not cleared before the summary:\n%q", out)
		}
		// What is left on screen once the redraws are done is the plain output.
		var screen []string
		for _, l := range strings.Split(out, "\n") {
			if i := strings.LastIndex(l, "\r\x1b[K"); i >= 0 {
				l = l[i+len("\r\x1b[K"):]
			}
			screen = append(screen, l)
		}
		if got := strings.Join(screen, "\n"); strings.Count(got, "\n") != 5 || !strings.Contains(got, "\npolled 4 sources: 3 ok, 1 failed\n") {
			t.Errorf("screen after redraws:\n%s", got)
		}
	})
}
