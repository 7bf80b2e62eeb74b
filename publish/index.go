package publish

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

//go:embed index.html.tmpl
var indexTemplateText string

func newIndexTemplate() *template.Template {
	return template.Must(template.New("index").Parse(indexTemplateText))
}

type indexPage struct {
	Title       string
	Generator   string
	Generated   string
	OPML        string
	SourcesJSON string
	Topics      []indexTopic
	Sources     []indexSource
	// Health counts the sources per health class for the summary at the
	// top of the page.
	Health []healthCount
}

type indexTopic struct {
	Name, Title, Query string
	Count              int
	RSS, Atom, JSON    string
}

// healthCount is one part of the summary: "2 failing".
type healthCount struct {
	Class, Text string
	N           int
}

type indexSource struct {
	Name, Title string
	URL         string // "" unless http(s)
	Health      string // CSS class: ok, moved, paused, failing, disabled, never
	HealthText  string
	Status      string // the last HTTP status in words, "" before the first poll
	Error       string
	Redirect    string
	LastPolled  indexTime
	NextPoll    indexTime
	Items       int
}

// indexTime is a time as the status page shows it: how far from now, in
// words, with the exact time beside it. Zero when there is none.
type indexTime struct {
	Rel, Abs, ISO string
}

func buildIndex(ctx context.Context, store Store, s *site, now time.Time) (*indexPage, error) {
	p := &indexPage{
		Title:       "tributary",
		Generator:   s.generator(),
		Generated:   now.UTC().Format("2006-01-02 15:04 UTC"),
		OPML:        s.baseURL + "/topics.opml",
		SourcesJSON: s.baseURL + "/sources.json",
	}
	for _, t := range s.cfg.Topics {
		n, err := store.TopicItemCount(ctx, t.Name)
		if err != nil {
			return nil, fmt.Errorf("publish: item count of topic %q: %w", t.Name, err)
		}
		p.Topics = append(p.Topics, indexTopic{
			Name:  t.Name,
			Title: cleanText(topicTitle(t)),
			Query: t.Query,
			Count: n,
			RSS:   s.feedURL(t.Name, formatRSS),
			Atom:  s.feedURL(t.Name, formatAtom),
			JSON:  s.feedURL(t.Name, formatJSON),
		})
	}
	health, err := loadSourceHealth(ctx, store, s)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, h := range health {
		row := indexRow(h, now)
		counts[row.Health]++
		p.Sources = append(p.Sources, row)
	}
	// What needs a look comes first.
	for _, h := range []struct{ class, text string }{
		{"failing", "failing"},
		{"paused", "paused by the publisher"},
		{"disabled", "disabled"},
		{"moved", "moved"},
		{"never", "not polled yet"},
		{"ok", "ok"},
	} {
		if n := counts[h.class]; n > 0 {
			p.Health = append(p.Health, healthCount{Class: h.class, Text: h.text, N: n})
		}
	}
	return p, nil
}

// indexRow is one source's line on the status page: its health in words
// first, then what the last poll said and when the next one is.
func indexRow(h sourceHealth, now time.Time) indexSource {
	st := h.State
	row := indexSource{
		Name:     h.Source.Name,
		Title:    sourceTitle(h.Source),
		Error:    st.LastError,
		Redirect: st.PermanentRedirect,
		Items:    st.ItemCount,
	}
	// Only web URLs become links: a file:// path means nothing to a
	// visitor's browser.
	if u, ok := httpURL(h.Source.URL); ok {
		row.URL = u.String()
	}
	if !st.LastPolled.IsZero() {
		row.LastPolled = newIndexTime(st.LastPolled, now)
	}
	if !st.NextPoll.IsZero() && !st.Disabled {
		row.NextPoll = newIndexTime(st.NextPoll, now)
	}
	// The status in words, unless the error already says it.
	switch text := http.StatusText(st.LastStatus); {
	case st.LastPolled.IsZero():
	case st.LastStatus == 0:
		row.Status = "no HTTP response"
	case text != "" && strings.Contains(st.LastError, fmt.Sprintf("%d %s", st.LastStatus, text)):
	default:
		row.Status = strings.TrimSpace(fmt.Sprintf("HTTP %d %s", st.LastStatus, text))
	}
	switch {
	case st.Disabled:
		row.Health, row.HealthText = "disabled", "disabled"
	case st.LastPolled.IsZero():
		row.Health, row.HealthText = "never", "not polled yet"
	case st.RetryAfter.After(now):
		row.Health = "paused"
		row.HealthText = "paused by the publisher for " + humanDuration(st.RetryAfter.Sub(now))
	case st.ConsecutiveFailures > 0:
		row.Health = "failing"
		row.HealthText = fmt.Sprintf("failing (%d in a row)", st.ConsecutiveFailures)
		if st.ConsecutiveFailures == 1 {
			row.HealthText = "last poll failed"
		}
	case st.PermanentRedirect != "":
		row.Health, row.HealthText = "moved", "ok, but moved"
	default:
		row.Health, row.HealthText = "ok", "ok"
	}
	return row
}

func newIndexTime(t, now time.Time) indexTime {
	return indexTime{
		Rel: relTime(t, now),
		Abs: t.UTC().Format("2006-01-02 15:04 UTC"),
		ISO: t.UTC().Format(time.RFC3339),
	}
}

func renderIndex(tmpl *template.Template, p *indexPage) ([]byte, error) {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("publish: index page: %w", err)
	}
	return b.Bytes(), nil
}

// relTime is t's distance from now in words: "5 min ago", "in 2 h".
func relTime(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + humanDuration(-d)
	case d < time.Minute:
		return "just now"
	default:
		return humanDuration(d) + " ago"
	}
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 6*time.Hour && int(d.Minutes())%60 != 0:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}
