package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tributary-news/tributary/aggregator/cpugate"
	bolt "go.etcd.io/bbolt"
)

// stateLinger is how long a commit of state saves alone (see
// pendingSave.light) waits for more before it starts. A round of polls
// that answer 304 saves a state every few hundred microseconds, and each
// commit costs a page write, a freelist write and two fsyncs whatever its
// size: at 2,000 sources, waiting 5 ms took a warm poll from 336 commits
// to 46 and its time by a fifth. A save of items never waits for it.
const stateLinger = 5 * time.Millisecond

// maxGroup bounds the saves one commit takes. A poller bounds the parsed
// feeds waiting for the store (64 with the default concurrency of 8);
// state-only saves come on top.
const maxGroup = 128

// groupCommit runs concurrent saves in shared write transactions (a group
// commit). A commit writes every B+tree page it dirtied and syncs the
// file; the story and topic indexes are keyed at random, so each save
// dirties pages all over the file and a commit of several saves writes
// and syncs far less than one commit each. The first save to arrive while
// no commit runs leads: it commits everything queued, then what queued
// meanwhile, until the queue is empty. So a save of items never waits for
// a timer, and under load each commit takes all the saves that arrived
// during the last one; only a queue of state saves alone waits up to
// stateLinger for company.
//
// If a save fails, the group is rolled back, the failing save is run
// alone to report its own error, and the others are queued again: a save
// function may run more than once and must start from its input each time.
type groupCommit struct {
	db     *bolt.DB
	recent *recentIndex
	// cpu is held, ahead of the polls, while the saves run (not while the
	// commit writes and syncs): every poll waits for this one writer.
	cpu *cpugate.Gate

	// linger is how long a commit of light saves alone waits for more
	// (stateLinger; zero turns the wait off).
	linger time.Duration

	mu      sync.Mutex
	queue   []*pendingSave
	leading bool
	// wake, while a leader lingers, is closed to end the wait: a save
	// that is not light arrived, or the queue is a full group.
	wake chan struct{}
}

type pendingSave struct {
	fn func(*bolt.Tx, *recentTx) error
	// light marks a save of a source's state alone (a 304, a failure):
	// one B+tree put, which a commit may wait a little to share.
	light bool
	done  chan error
}

// panicked is a panic in a save function, carried to its caller's
// goroutine to be raised there.
type panicked struct{ reason any }

func (p panicked) Error() string { return fmt.Sprintf("panic: %v", p.reason) }

// update runs fn in a write transaction shared with concurrent saves and
// returns once that transaction is committed (or fn's error).
func (g *groupCommit) update(fn func(*bolt.Tx, *recentTx) error) error {
	return g.save(&pendingSave{fn: fn, done: make(chan error, 1)})
}

// updateLight is update for a light save (see pendingSave.light).
func (g *groupCommit) updateLight(fn func(*bolt.Tx, *recentTx) error) error {
	return g.save(&pendingSave{fn: fn, light: true, done: make(chan error, 1)})
}

func (g *groupCommit) save(s *pendingSave) error {
	g.mu.Lock()
	g.queue = append(g.queue, s)
	lead := !g.leading
	g.leading = true
	if g.wake != nil && (!s.light || len(g.queue) >= maxGroup) {
		close(g.wake)
		g.wake = nil
	}
	g.mu.Unlock()
	if lead {
		g.lead()
	}
	err := <-s.done
	if p, ok := err.(panicked); ok {
		panic(p.reason)
	}
	return err
}

// lead commits the queued saves (up to maxGroup) in one transaction;
// if more are queued by then, a new goroutine leads the next commit, so
// the caller returns as soon as its own save is done.
func (g *groupCommit) lead() {
	g.lingerForLight()
	g.mu.Lock()
	group := g.queue[:min(len(g.queue), maxGroup)]
	g.queue = g.queue[len(group):]
	g.mu.Unlock()

	failed := -1
	err := update(g.db, g.recent, func(tx *bolt.Tx, recent *recentTx) error {
		// The leader finishes its group whatever its callers' contexts:
		// each save checks its own.
		if err := g.cpu.EnterFirst(context.Background()); err != nil {
			return err
		}
		defer g.cpu.Leave()
		for i, s := range group {
			if err := safeCall(s.fn, tx, recent); err != nil {
				failed = i
				return err
			}
		}
		return nil
	})
	var retry []*pendingSave
	switch {
	case err == nil:
		for _, s := range group {
			s.done <- nil
		}
	case failed < 0 || len(group) == 1:
		// The commit itself failed, or the only save did: every save of
		// the group gets the error.
		for _, s := range group {
			s.done <- err
		}
	default:
		s := group[failed]
		s.done <- update(g.db, g.recent, func(tx *bolt.Tx, recent *recentTx) error { return safeCall(s.fn, tx, recent) })
		retry = append(retry, group[:failed]...)
		retry = append(retry, group[failed+1:]...)
	}

	g.mu.Lock()
	g.queue = append(retry, g.queue...)
	more := len(g.queue) > 0
	g.leading = more
	g.mu.Unlock()
	if more {
		go g.lead()
	}
}

// lingerForLight waits up to g.linger before a commit whose queued saves
// are all light and fewer than a group, or until a save that is not light
// arrives or the group fills.
func (g *groupCommit) lingerForLight() {
	if g.linger <= 0 {
		return
	}
	g.mu.Lock()
	light := len(g.queue) < maxGroup
	for _, s := range g.queue {
		light = light && s.light
	}
	if !light {
		g.mu.Unlock()
		return
	}
	wake := make(chan struct{})
	g.wake = wake
	g.mu.Unlock()
	timer := time.NewTimer(g.linger)
	select {
	case <-timer.C:
	case <-wake:
	}
	timer.Stop()
	g.mu.Lock()
	if g.wake == wake {
		g.wake = nil
	}
	g.mu.Unlock()
}

// safeCall runs fn, returning a panic as a panicked error so that the
// transaction is rolled back and the leader goes on.
func safeCall(fn func(*bolt.Tx, *recentTx) error, tx *bolt.Tx, recent *recentTx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicked{r}
		}
	}()
	return fn(tx, recent)
}

// update runs fn in a write transaction of db with the recent index,
// which keeps fn's changes if the transaction commits and loses them
// otherwise (a panic included).
func update(db *bolt.DB, recent *recentIndex, fn func(*bolt.Tx, *recentTx) error) (err error) {
	var rt *recentTx
	defer func() {
		if rt == nil {
			return
		}
		if r := recover(); r != nil {
			rt.settle(panicked{r})
			panic(r)
		}
		rt.settle(err)
	}()
	return db.Update(func(tx *bolt.Tx) error {
		rt = recent.begin(tx)
		return fn(tx, rt)
	})
}

// update runs fn in a write transaction of its own, with the recent index.
func (db *DB) update(fn func(*bolt.Tx, *recentTx) error) error {
	return update(db.bolt, db.recent, fn)
}
