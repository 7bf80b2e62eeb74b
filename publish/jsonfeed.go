package publish

import "github.com/gorilla/feeds"

// JSON Feed 1.1 on gorilla/feeds' types, with three fields shadowed by the
// outer structs (encoding/json prefers the shallower field): gorilla's
// Items is omitempty, so an empty feed would lack the required "items";
// its content_html is omitempty, so an item whose sanitised content is
// empty would have neither content_html nor content_text; and it has no
// place for the _tributary extension object.

const jsonFeedVersion = "https://jsonfeed.org/version/1.1"

type jsonFeed struct {
	*feeds.JSONFeed
	Items []jsonItem `json:"items"`
}

type jsonItem struct {
	*feeds.JSONItem
	ContentHTML string        `json:"content_html"`
	Tributary   jsonExtension `json:"_tributary"`
}

// jsonExtension tells where an item came from (JSON Feed has no source
// element; extension keys start with an underscore).
type jsonExtension struct {
	Source      string `json:"source"`
	SourceTitle string `json:"source_title"`
	SourceURL   string `json:"source_url,omitempty"`
	// Story is the id of the story the item shows; AlsoReportedBy lists
	// the story's other outlets.
	Story          string     `json:"story"`
	AlsoReportedBy []jsonAlso `json:"also_reported_by,omitempty"`
}

// jsonAlso is one other outlet that ran an item's story.
type jsonAlso struct {
	Source      string `json:"source"`
	SourceTitle string `json:"source_title"`
	URL         string `json:"url,omitempty"`
	Title       string `json:"title"`
	Published   string `json:"published"`
}

func renderJSON(v *feedView, s *site) ([]byte, error) {
	feed := jsonFeed{
		JSONFeed: &feeds.JSONFeed{
			Version:     jsonFeedVersion,
			Title:       v.Title,
			HomePageUrl: v.HomeURL,
			FeedUrl:     s.feedURL(v.Name, formatJSON),
			Description: v.Description,
			Authors:     []*feeds.JSONAuthor{{Name: v.Generator, Url: v.HomeURL}},
		},
		Items: make([]jsonItem, 0, len(v.Entries)),
	}
	for i := range v.Entries {
		e := &v.Entries[i]
		published, updated := e.Published.UTC(), e.Updated.UTC()
		it := jsonItem{
			JSONItem: &feeds.JSONItem{
				Id:            e.ID,
				Url:           e.Link,
				Title:         e.Title,
				PublishedDate: &published,
				ModifiedDate:  &updated,
				Tags:          e.Categories,
			},
			ContentHTML: e.Content,
			Tributary: jsonExtension{
				Source:      e.Source.Name,
				SourceTitle: e.Source.Title,
				SourceURL:   e.Source.URL,
				Story:       e.Story,
			},
		}
		for _, a := range e.Also {
			it.Tributary.AlsoReportedBy = append(it.Tributary.AlsoReportedBy, jsonAlso{
				Source: a.Source.Name, SourceTitle: a.Source.Title, URL: a.Link,
				Title: a.Title, Published: rfc3339(a.Published),
			})
		}
		// JSON Feed's summary is plain text.
		if e.Summary != "" {
			it.Summary = plainText(e.Summary)
		}
		for _, a := range e.Authors {
			it.Authors = append(it.Authors, &feeds.JSONAuthor{Name: a})
		}
		feed.Items = append(feed.Items, it)
	}
	return writeJSON(feed)
}
