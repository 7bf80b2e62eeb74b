package publish

import (
	"encoding/xml"

	"github.com/gorilla/feeds"
)

// Atom 1.0 from our own feed and entry structs built on gorilla/feeds'
// element types (links, authors, summary, content): its AtomFeed takes the
// feed id from its one link and its AtomEntry has one category and a
// <source> that is only a string, where we need a structured one.

type atomFeed struct {
	XMLName   xml.Name         `xml:"feed"`
	Xmlns     string           `xml:"xmlns,attr"`
	ID        string           `xml:"id"`
	Title     atomText         `xml:"title"`
	Subtitle  atomText         `xml:"subtitle"`
	Updated   string           `xml:"updated"`
	Links     []feeds.AtomLink `xml:"link"`
	Author    feeds.AtomAuthor `xml:"author"`
	Generator atomGenerator    `xml:"generator"`
	Entries   []atomEntry      `xml:"entry"`
}

type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Body string `xml:",chardata"`
}

type atomGenerator struct {
	URI     string `xml:"uri,attr,omitempty"`
	Version string `xml:"version,attr,omitempty"`
	Name    string `xml:",chardata"`
}

// atomLink is gorilla's AtomLink with the title attribute RFC 4287 allows,
// which names the outlet of a related link.
type atomLink struct {
	Href  string `xml:"href,attr"`
	Rel   string `xml:"rel,attr,omitempty"`
	Type  string `xml:"type,attr,omitempty"`
	Title string `xml:"title,attr,omitempty"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

type atomEntry struct {
	ID         string             `xml:"id"`
	Title      atomText           `xml:"title"`
	Links      []atomLink         `xml:"link"`
	Published  string             `xml:"published"`
	Updated    string             `xml:"updated"`
	Authors    []feeds.AtomAuthor `xml:"author"`
	Categories []atomCategory     `xml:"category"`
	Summary    *feeds.AtomSummary `xml:"summary"`
	Content    *feeds.AtomContent `xml:"content"`
	Source     atomSource         `xml:"source"`
}

type atomSource struct {
	ID    string           `xml:"id,omitempty"`
	Title atomText         `xml:"title"`
	Links []feeds.AtomLink `xml:"link"`
}

func renderAtom(v *feedView, s *site) ([]byte, error) {
	feed := atomFeed{
		Xmlns:    nsAtom,
		ID:       v.ID,
		Title:    atomText{Body: v.Title},
		Subtitle: atomText{Body: v.Description},
		Updated:  rfc3339(v.Updated),
		Links: []feeds.AtomLink{
			{Rel: "self", Type: "application/atom+xml", Href: s.feedURL(v.Name, formatAtom)},
			{Rel: "alternate", Type: "text/html", Href: v.HomeURL},
		},
		// A feed-level author makes entries without one valid (RFC 4287
		// 4.1.1): the aggregator is who assembled the feed.
		Author:    feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{Name: v.Generator, Uri: v.HomeURL}},
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
		// Where else the story ran: one related link per other outlet.
		for _, a := range e.Also {
			if a.Link != "" {
				en.Links = append(en.Links, atomLink{Rel: "related", Type: "text/html", Href: a.Link, Title: a.Source.Title + ": " + a.Title})
			}
		}
		for _, a := range e.Authors {
			en.Authors = append(en.Authors, feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{Name: a}})
		}
		for _, c := range e.Categories {
			en.Categories = append(en.Categories, atomCategory{Term: c})
		}
		if e.Summary != "" {
			en.Summary = &feeds.AtomSummary{Type: "html", Content: e.Summary}
		}
		// An entry without an alternate link must have content (RFC 4287
		// 4.1.2), even an empty one.
		if e.Content != "" || e.Link == "" {
			en.Content = &feeds.AtomContent{Type: "html", Content: e.Content}
		}
		if e.Source.URL != "" {
			en.Source.ID = e.Source.URL
			en.Source.Links = []feeds.AtomLink{{Rel: "self", Href: e.Source.URL}}
		}
		feed.Entries = append(feed.Entries, en)
	}
	return writeXML(feed)
}
