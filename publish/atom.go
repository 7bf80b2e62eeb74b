package publish

import "encoding/xml"

// Atom 1.0, written directly: gorilla/feeds' AtomFeed takes the feed id from
// its one link and has no entry <published>, no structured <source> and one
// category per entry.

type atomFeed struct {
	XMLName   xml.Name      `xml:"feed"`
	Xmlns     string        `xml:"xmlns,attr"`
	ID        string        `xml:"id"`
	Title     atomText      `xml:"title"`
	Subtitle  atomText      `xml:"subtitle"`
	Updated   string        `xml:"updated"`
	Links     []atomLink    `xml:"link"`
	Author    atomPerson    `xml:"author"`
	Generator atomGenerator `xml:"generator"`
	Entries   []atomEntry   `xml:"entry"`
}

type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Body string `xml:",chardata"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomPerson struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomGenerator struct {
	URI     string `xml:"uri,attr,omitempty"`
	Version string `xml:"version,attr,omitempty"`
	Name    string `xml:",chardata"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      atomText       `xml:"title"`
	Links      []atomLink     `xml:"link"`
	Published  string         `xml:"published"`
	Updated    string         `xml:"updated"`
	Authors    []atomPerson   `xml:"author"`
	Categories []atomCategory `xml:"category"`
	Summary    *atomText      `xml:"summary"`
	Content    *atomText      `xml:"content"`
	Source     atomSource     `xml:"source"`
}

type atomSource struct {
	ID    string     `xml:"id,omitempty"`
	Title atomText   `xml:"title"`
	Links []atomLink `xml:"link"`
}

func renderAtom(v *feedView, s *site) ([]byte, error) {
	feed := atomFeed{
		Xmlns:    nsAtom,
		ID:       v.ID,
		Title:    atomText{Body: v.Title},
		Subtitle: atomText{Body: v.Description},
		Updated:  rfc3339(v.Updated),
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: s.feedURL(v.Name, formatAtom)},
			{Rel: "alternate", Type: "text/html", Href: v.HomeURL},
		},
		// A feed-level author makes entries without one valid (RFC 4287
		// 4.1.1): the aggregator is who assembled the feed.
		Author:    atomPerson{Name: v.Generator, URI: v.HomeURL},
		Generator: atomGenerator{Version: v.Version, Name: v.Generator},
		Entries:   make([]atomEntry, 0, len(v.Entries)),
	}
	for i := range v.Entries {
		e := &v.Entries[i]
		en := atomEntry{
			ID:        e.ID,
			Title:     atomText{Body: e.Title},
			Published: rfc3339(e.Published),
			Updated:   rfc3339(e.Updated),
			Source:    atomSource{Title: atomText{Body: e.Source.Title}},
		}
		if e.Link != "" {
			en.Links = []atomLink{{Rel: "alternate", Type: "text/html", Href: e.Link}}
		}
		for _, a := range e.Authors {
			en.Authors = append(en.Authors, atomPerson{Name: a})
		}
		for _, c := range e.Categories {
			en.Categories = append(en.Categories, atomCategory{Term: c})
		}
		if e.Summary != "" {
			en.Summary = &atomText{Type: "html", Body: e.Summary}
		}
		// An entry without an alternate link must have content (RFC 4287
		// 4.1.2), even an empty one.
		if e.Content != "" || e.Link == "" {
			en.Content = &atomText{Type: "html", Body: e.Content}
		}
		if e.Source.URL != "" {
			en.Source.ID = e.Source.URL
			en.Source.Links = []atomLink{{Rel: "self", Href: e.Source.URL}}
		}
		feed.Entries = append(feed.Entries, en)
	}
	return writeXML(feed)
}
