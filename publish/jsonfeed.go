package publish

// JSON Feed 1.1, written directly: gorilla/feeds' JSONFeed has no feed_url
// set, omits "items" when there are none, drops an empty content_html and
// cannot carry an extension object.

const jsonFeedVersion = "https://jsonfeed.org/version/1.1"

type jsonFeed struct {
	Version     string       `json:"version"`
	Title       string       `json:"title"`
	HomePageURL string       `json:"home_page_url"`
	FeedURL     string       `json:"feed_url"`
	Description string       `json:"description,omitempty"`
	Authors     []jsonAuthor `json:"authors,omitempty"`
	Items       []jsonItem   `json:"items"`
}

type jsonAuthor struct {
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
}

type jsonItem struct {
	ID            string        `json:"id"`
	URL           string        `json:"url,omitempty"`
	Title         string        `json:"title,omitempty"`
	ContentHTML   string        `json:"content_html"`
	Summary       string        `json:"summary,omitempty"`
	DatePublished string        `json:"date_published"`
	DateModified  string        `json:"date_modified"`
	Authors       []jsonAuthor  `json:"authors,omitempty"`
	Tags          []string      `json:"tags,omitempty"`
	Tributary     jsonExtension `json:"_tributary"`
}

// jsonExtension tells where an item came from (JSON Feed has no source
// element; extension keys start with an underscore).
type jsonExtension struct {
	Source      string `json:"source"`
	SourceTitle string `json:"source_title"`
	SourceURL   string `json:"source_url,omitempty"`
}

func renderJSON(v *feedView, s *site) ([]byte, error) {
	feed := jsonFeed{
		Version:     jsonFeedVersion,
		Title:       v.Title,
		HomePageURL: v.HomeURL,
		FeedURL:     s.feedURL(v.Name, formatJSON),
		Description: v.Description,
		Authors:     []jsonAuthor{{Name: v.Generator, URL: v.HomeURL}},
		Items:       make([]jsonItem, 0, len(v.Entries)),
	}
	for i := range v.Entries {
		e := &v.Entries[i]
		it := jsonItem{
			ID:            e.ID,
			URL:           e.Link,
			Title:         e.Title,
			ContentHTML:   e.Content,
			DatePublished: rfc3339(e.Published),
			DateModified:  rfc3339(e.Updated),
			Tags:          e.Categories,
			Tributary: jsonExtension{
				Source:      e.Source.Name,
				SourceTitle: e.Source.Title,
				SourceURL:   e.Source.URL,
			},
		}
		// JSON Feed's summary is plain text.
		if e.Summary != "" {
			it.Summary = plainText(e.Summary)
		}
		for _, a := range e.Authors {
			it.Authors = append(it.Authors, jsonAuthor{Name: a})
		}
		feed.Items = append(feed.Items, it)
	}
	return writeJSON(feed)
}
