package storage

import (
	"context"
	"fmt"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
)

// SourceState returns the stored state of source, or a zero state with
// Source set when it was never stored. ItemCount is always filled.
func (db *DB) SourceState(ctx context.Context, source string) (aggregator.SourceState, error) {
	if err := ctx.Err(); err != nil {
		return aggregator.SourceState{}, fmt.Errorf("storage: source state %q: %w", source, err)
	}
	var st aggregator.SourceState
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		st, err = getState(tx, source)
		return err
	})
	if err != nil {
		return aggregator.SourceState{}, fmt.Errorf("storage: source state %q: %w", source, err)
	}
	return st, nil
}

// SaveState stores a source's state alone. ItemCount is ignored: storage
// keeps the count. Like SaveFeed it shares its commit with concurrent
// saves, and a commit of state saves alone waits up to stateLinger for
// more: a round of polls that all answer 304 syncs a few dozen times, not
// once per source. It returns once its commit is synced.
func (db *DB) SaveState(ctx context.Context, state aggregator.SourceState) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: save state %q: %w", state.Source, err)
	}
	if state.Source == "" {
		return fmt.Errorf("storage: save state: empty source name")
	}
	err := db.commits.updateLight(func(tx *bolt.Tx, _ *recentTx) error { return putState(tx, &state) })
	if err != nil {
		return fmt.Errorf("storage: save state %q: %w", state.Source, err)
	}
	return nil
}

// SaveStates stores the states of sources polled earlier, all in one
// commit: a round of polls saves its unchanged sources (304s) together at
// its end rather than a few dozen at a time as they answer. A state is
// skipped where the stored one was polled later (a scheduled poll of the
// same source that ran meanwhile), so the round never undoes a newer
// poll. ItemCount is ignored, as in SaveState.
func (db *DB) SaveStates(ctx context.Context, states []aggregator.SourceState) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: save %d states: %w", len(states), err)
	}
	for i := range states {
		if states[i].Source == "" {
			return fmt.Errorf("storage: save %d states: empty source name", len(states))
		}
	}
	if len(states) == 0 {
		return nil
	}
	err := db.commits.update(func(tx *bolt.Tx, _ *recentTx) error {
		bucket := tx.Bucket(bucketStates)
		for i := range states {
			st := &states[i]
			// A stored record that cannot be decoded is replaced, as
			// SaveState would.
			if v := bucket.Get([]byte(st.Source)); v != nil {
				if stored, err := decodeState(st.Source, v); err == nil && stored.LastPolled.After(st.LastPolled) {
					continue
				}
			}
			if err := putState(tx, st); err != nil {
				return fmt.Errorf("source %q: %w", st.Source, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: save %d states: %w", len(states), err)
	}
	return nil
}

// SourceStates returns every stored state sorted by Source (the bucket's
// key order), ItemCount filled.
func (db *DB) SourceStates(ctx context.Context) ([]aggregator.SourceState, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: source states: %w", err)
	}
	var out []aggregator.SourceState
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStates).ForEach(func(k, v []byte) error {
			st, err := decodeState(string(k), v)
			if err != nil {
				return fmt.Errorf("source %q: %w", k, err)
			}
			st.ItemCount = getCount(tx, st.Source)
			out = append(out, st)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: source states: %w", err)
	}
	return out, nil
}

func getState(tx *bolt.Tx, source string) (aggregator.SourceState, error) {
	st := aggregator.SourceState{Source: source}
	if v := tx.Bucket(bucketStates).Get([]byte(source)); v != nil {
		var err error
		if st, err = decodeState(source, v); err != nil {
			return aggregator.SourceState{}, err
		}
	}
	st.ItemCount = getCount(tx, source)
	return st, nil
}

func putState(tx *bolt.Tx, st *aggregator.SourceState) error {
	b, err := encodeState(st)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketStates).Put([]byte(st.Source), b)
}
