package publish

import (
	"encoding/xml"

	"github.com/gorilla/feeds"
)

// RSS 2.0 from our own channel and item structs (gorilla/feeds' RssItem has
// no dc:creator, a single category and a <source> without its url
// attribute, and its channel no atom:link rel="self"), with its RssGuid.

const (
	nsAtom    = "http://www.w3.org/2005/Atom"
	nsContent = "http://purl.org/rss/1.0/modules/content/"
	nsDC      = "http://purl.org/dc/elements/1.1/"
)

type rssDoc struct {
	XMLName   xml.Name   `xml:"rss"`
	Version   string     `xml:"version,attr"`
	AtomNS    string     `xml:"xmlns:atom,attr"`
	ContentNS string     `xml:"xmlns:content,attr"`
	DCNS      string     `xml:"xmlns:dc,attr"`
	Channel   rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title         string      `xml:"title"`
	Link          string      `xml:"link"`
	Description   string      `xml:"description"`
	Self          rssAtomLink `xml:"atom:link"`
	LastBuildDate string      `xml:"lastBuildDate,omitempty"`
	Generator     string      `xml:"generator"`
	Docs          string      `xml:"docs"`
	Items         []rssItem   `xml:"item"`
}

type rssAtomLink struct {
	Href  string `xml:"href,attr"`
	Rel   string `xml:"rel,attr"`
	Type  string `xml:"type,attr"`
	Title string `xml:"title,attr,omitempty"`
}

type rssItem struct {
	Title       string `xml:"title,omitempty"`
	Link        string `xml:"link,omitempty"`
	GUID        feeds.RssGuid
	PubDate     string        `xml:"pubDate"`
	Creators    []string      `xml:"dc:creator"`
	Categories  []string      `xml:"category"`
	Description string        `xml:"description,omitempty"`
	Content     string        `xml:"content:encoded,omitempty"`
	Source      *rssSource    `xml:"source"`
	Related     []rssAtomLink `xml:"atom:link"`
}

type rssSource struct {
	URL   string `xml:"url,attr"`
	Title string `xml:",chardata"`
}

// rfc1123 is RFC 822 with a four-digit year and a numeric zone, as RSS
// readers parse most reliably.
const rfc1123 = "Mon, 02 Jan 2006 15:04:05 -0700"

func renderRSS(v *feedView, s *site) ([]byte, error) {
	ch := rssChannel{
		Title:       v.Title,
		Link:        v.HomeURL,
		Description: v.Description,
		Self:        rssAtomLink{Href: s.feedURL(v.Name, formatRSS), Rel: "self", Type: "application/rss+xml"},
		Generator:   s.generator(),
		Docs:        "https://www.rssboard.org/rss-specification",
		Items:       make([]rssItem, 0, len(v.Entries)),
	}
	if !v.Updated.Equal(epoch) {
		ch.LastBuildDate = v.Updated.UTC().Format(rfc1123)
	}
	for i := range v.Entries {
		e := &v.Entries[i]
		it := rssItem{
			Title:      e.Title,
			Link:       e.Link,
			GUID:       feeds.RssGuid{IsPermaLink: "false", Id: e.ID},
			PubDate:    e.Published.UTC().Format(rfc1123),
			Creators:   e.Authors,
			Categories: e.Categories,
		}
		// description carries the summary when there is one, else the
		// whole content; content:encoded then carries the content.
		if e.Summary != "" {
			it.Description, it.Content = e.Summary, e.Content
		} else {
			it.Description = e.Content
		}
		if e.Source.URL != "" {
			it.Source = &rssSource{URL: e.Source.URL, Title: e.Source.Title}
		}
		// RSS has no element for related links; Atom's, in the atom
		// namespace the channel already declares, is what readers know.
		for _, a := range e.Also {
			if a.Link != "" {
				it.Related = append(it.Related, rssAtomLink{Href: a.Link, Rel: "related", Type: "text/html", Title: a.Source.Title + ": " + a.Title})
			}
		}
		ch.Items = append(ch.Items, it)
	}
	return writeXML(rssDoc{
		Version:   "2.0",
		AtomNS:    nsAtom,
		ContentNS: nsContent,
		DCNS:      nsDC,
		Channel:   ch,
	})
}
