package publish

import (
	"context"
	"fmt"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// sourceStatus is one element of /sources.json. Its field names are an API:
// do not rename them.
type sourceStatus struct {
	Name                string  `json:"name"`
	URL                 string  `json:"url"`
	Title               string  `json:"title"`
	LastPolled          *string `json:"last_polled"`
	LastStatus          int     `json:"last_status"`
	LastError           string  `json:"last_error"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
	NextPoll            *string `json:"next_poll"`
	Disabled            bool    `json:"disabled"`
	PermanentRedirect   string  `json:"permanent_redirect"`
	Items               int     `json:"items"`
}

// sourceHealth pairs each configured source, in config order, with its
// stored state (a zero state when it was never polled).
type sourceHealth struct {
	Source aggregator.Source
	State  aggregator.SourceState
}

func loadSourceHealth(ctx context.Context, store Store, s *site) ([]sourceHealth, error) {
	states, err := store.SourceStates(ctx)
	if err != nil {
		return nil, fmt.Errorf("publish: source states: %w", err)
	}
	byName := make(map[string]aggregator.SourceState, len(states))
	for _, st := range states {
		byName[st.Source] = st
	}
	out := make([]sourceHealth, 0, len(s.cfg.Sources))
	for _, src := range s.cfg.Sources {
		st, ok := byName[src.Name]
		if !ok {
			st = aggregator.SourceState{Source: src.Name}
		}
		out = append(out, sourceHealth{Source: src, State: st})
	}
	return out, nil
}

func renderSources(health []sourceHealth) ([]byte, error) {
	out := make([]sourceStatus, 0, len(health))
	for _, h := range health {
		st := h.State
		out = append(out, sourceStatus{
			Name:                h.Source.Name,
			URL:                 h.Source.URL,
			Title:               sourceTitle(h.Source),
			LastPolled:          optionalTime(st.LastPolled),
			LastStatus:          st.LastStatus,
			LastError:           st.LastError,
			ConsecutiveFailures: st.ConsecutiveFailures,
			NextPoll:            optionalTime(st.NextPoll),
			Disabled:            st.Disabled,
			PermanentRedirect:   st.PermanentRedirect,
			Items:               st.ItemCount,
		})
	}
	return writeJSON(out)
}

// optionalTime is t as RFC 3339 in UTC, or nil (JSON null) when zero.
func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := rfc3339(t)
	return &s
}
