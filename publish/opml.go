package publish

import "encoding/xml"

// OPML 2.0 list of the topic feeds, for importing every topic into a reader
// at once.

type opmlDoc struct {
	XMLName xml.Name `xml:"opml"`
	Version string   `xml:"version,attr"`
	Head    opmlHead `xml:"head"`
	Body    opmlBody `xml:"body"`
}

type opmlHead struct {
	Title string `xml:"title"`
	Docs  string `xml:"docs"`
}

type opmlBody struct {
	Outlines []opmlOutline `xml:"outline"`
}

type opmlOutline struct {
	Text        string `xml:"text,attr"`
	Title       string `xml:"title,attr"`
	Type        string `xml:"type,attr"`
	XMLURL      string `xml:"xmlUrl,attr"`
	HTMLURL     string `xml:"htmlUrl,attr"`
	Description string `xml:"description,attr,omitempty"`
}

func renderOPML(s *site) ([]byte, error) {
	doc := opmlDoc{
		Version: "2.0",
		Head:    opmlHead{Title: "tributary topics", Docs: "http://opml.org/spec2.opml"},
	}
	for _, t := range s.cfg.Topics {
		title := cleanText(topicTitle(t))
		doc.Body.Outlines = append(doc.Body.Outlines, opmlOutline{
			Text:        title,
			Title:       title,
			Type:        "rss",
			XMLURL:      s.feedURL(t.Name, formatRSS),
			HTMLURL:     s.homeURL(),
			Description: cleanText(topicDescription(t)),
		})
	}
	return writeXML(doc)
}
