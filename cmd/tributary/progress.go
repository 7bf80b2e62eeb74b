package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/term"
)

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

// Progress reports a long command's progress over a known number of units
// of work (sources to poll, feeds to import). Each unit's result is a line
// of its own; on a terminal a status line such as
// "polling 37/120 sources · 3 failed" stays below the results, redrawn in
// place with \r, and is erased by Finish. When the output is not a terminal
// (a pipe, a file, a journal) only the result lines are written, with no
// control characters at all, so the output stays line-oriented.
//
// Its methods are safe for concurrent use. Write everything that goes to
// the same writer through it while it is active, or the status line and
// other output will overprint each other.
type Progress struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	verb     string // "polling"
	noun     string // "sources"
	total    int
	done     int
	failed   int
	shown    bool // a status line is on screen
	finished bool
}

// NewProgress returns a reporter for total units of work written to w,
// described as verb and noun ("polling", "sources"). It draws the status
// line at once when w is a terminal.
func NewProgress(w io.Writer, verb, noun string, total int) *Progress {
	return newProgress(w, IsTerminal(w), verb, noun, total)
}

func newProgress(w io.Writer, terminal bool, verb, noun string, total int) *Progress {
	p := &Progress{w: w, terminal: terminal, verb: verb, noun: noun, total: total}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	return p
}

// IsTerminal reports whether w is a terminal, like os.Stdout on an
// interactive shell: a file whose descriptor has terminal settings. Being
// a character device is not enough: /dev/null is one, and `poll >
// /dev/null` redrew its status line, three writes a source instead of
// one. Writers without a descriptor are not terminals.
func IsTerminal(w io.Writer) bool {
	conn, ok := w.(syscall.Conn)
	if !ok {
		return false
	}
	terminal := false
	if err := withFd(conn, func(fd int) error { terminal = term.IsTerminal(fd); return nil }); err != nil {
		return false
	}
	// A dumb terminal cannot erase a line.
	return terminal && os.Getenv("TERM") != "dumb"
}

// withFd calls fn with conn's file descriptor, without putting it in
// blocking mode as (*os.File).Fd does.
func withFd(conn syscall.Conn, fn func(fd int) error) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := raw.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}

// Done records one finished unit, failed or not, and prints its result
// line (none when line is empty).
func (p *Progress) Done(line string, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if failed {
		p.failed++
	}
	p.println(line)
}

// Println prints a line that is not a unit's result, such as a warning.
func (p *Progress) Println(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.println(line)
}

// Counts returns how many units are done and how many of them failed.
func (p *Progress) Counts() (done, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done, p.failed
}

// Finish erases the status line, so that what is written to w next
// starts on a clean line. After it, Done and Println still print their
// lines but draw no status; calling it again does nothing.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	p.finished = true
}

// println writes line above the status line; p.mu is held.
func (p *Progress) println(line string) {
	if line != "" {
		p.clear()
		fmt.Fprintln(p.w, line)
	}
	p.draw()
}

// draw (re)draws the status line on a terminal; p.mu is held.
func (p *Progress) draw() {
	if !p.terminal || p.finished {
		return
	}
	status := fmt.Sprintf("%s %d/%d %s", p.verb, p.done, p.total, p.noun)
	if p.failed > 0 {
		status += fmt.Sprintf(" · %d failed", p.failed)
	}
	fmt.Fprint(p.w, clearLine+status)
	p.shown = true
}

// clear erases the status line if one is on screen; p.mu is held.
func (p *Progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, clearLine)
		p.shown = false
	}
}
