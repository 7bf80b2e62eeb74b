package publish

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
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
}

type indexTopic struct {
	Name, Title, Query string
	Count              int
	RSS, Atom, JSON    string
}

type indexSource struct {
	Name, Title string
	URL         string // "" unless http(s)
	Health      string // CSS class: ok, failing, disabled, never
	HealthText  string
	LastPolled  string
	Status      string
	Error       string
	Redirect    string
	NextPoll    string
	Items       int
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
	for _, h := range health {
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
			row.LastPolled = humanTime(st.LastPolled, now)
		}
		if !st.NextPoll.IsZero() && !st.Disabled {
			row.NextPoll = humanTime(st.NextPoll, now)
		}
		switch {
		case st.LastStatus == 0 && st.LastPolled.IsZero():
			row.Status = "–"
		case st.LastStatus == 0:
			row.Status = "no HTTP response"
		default:
			row.Status = fmt.Sprintf("%d %s", st.LastStatus, http.StatusText(st.LastStatus))
		}
		switch {
		case st.Disabled:
			row.Health, row.HealthText = "disabled", "disabled"
		case st.LastPolled.IsZero():
			row.Health, row.HealthText = "never", "not polled yet"
		case st.ConsecutiveFailures > 0:
			row.Health = "failing"
			row.HealthText = fmt.Sprintf("failing (%d in a row)", st.ConsecutiveFailures)
		default:
			row.Health, row.HealthText = "ok", "ok"
		}
		p.Sources = append(p.Sources, row)
	}
	return p, nil
}

func renderIndex(tmpl *template.Template, p *indexPage) ([]byte, error) {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("publish: index page: %w", err)
	}
	return b.Bytes(), nil
}

// humanTime shows t in UTC with its distance from now, e.g.
// "2024-05-01 12:00 UTC (5 min ago)".
func humanTime(t, now time.Time) string {
	s := t.UTC().Format("2006-01-02 15:04 UTC")
	d := now.Sub(t)
	switch {
	case d < 0:
		return s + " (in " + humanDuration(-d) + ")"
	case d < time.Minute:
		return s + " (just now)"
	default:
		return s + " (" + humanDuration(d) + " ago)"
	}
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}
