package configs

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampleItem is the little of a feed entry these tests look at.
type sampleItem struct {
	ID, Title, Body string
	Published       time.Time
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func rssItems(t *testing.T, data []byte) []sampleItem {
	var doc struct {
		Channel struct {
			Items []struct {
				GUID        string `xml:"guid"`
				Title       string `xml:"title"`
				Description string `xml:"description"`
				PubDate     string `xml:"pubDate"`
			} `xml:"item"`
		} `xml:"channel"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []sampleItem
	for _, it := range doc.Channel.Items {
		pub, err := time.Parse(time.RFC1123Z, it.PubDate)
		if err != nil {
			t.Errorf("item %s: %v", it.GUID, err)
		}
		out = append(out, sampleItem{it.GUID, it.Title, it.Description, pub})
	}
	return out
}

func atomItems(t *testing.T, data []byte) []sampleItem {
	var doc struct {
		Entries []struct {
			ID        string `xml:"id"`
			Title     string `xml:"title"`
			Summary   string `xml:"summary"`
			Published string `xml:"published"`
		} `xml:"http://www.w3.org/2005/Atom entry"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []sampleItem
	for _, e := range doc.Entries {
		pub, err := time.Parse(time.RFC3339, e.Published)
		if err != nil {
			t.Errorf("entry %s: %v", e.ID, err)
		}
		out = append(out, sampleItem{e.ID, e.Title, e.Summary, pub})
	}
	return out
}

func jsonItems(t *testing.T, data []byte) []sampleItem {
	var doc struct {
		Version string `json:"version"`
		Items   []struct {
			ID            string `json:"id"`
			Title         string `json:"title"`
			ContentHTML   string `json:"content_html"`
			DatePublished string `json:"date_published"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "https://jsonfeed.org/version/1.1" {
		t.Errorf("version %q", doc.Version)
	}
	var out []sampleItem
	for _, it := range doc.Items {
		pub, err := time.Parse(time.RFC3339, it.DatePublished)
		if err != nil {
			t.Errorf("item %s: %v", it.ID, err)
		}
		out = append(out, sampleItem{it.ID, it.Title, it.ContentHTML, pub})
	}
	return out
}

var (
	tagRE    = regexp.MustCompile(`<[^>]*>`)
	forumRE  = regexp.MustCompile(`\b(forum|summit)\b`)
	phraseRE = regexp.MustCompile(`\bhuman rights\b`)
)

// matchesForumTopic is a plain reading of the example topic query
// '"human rights" AND (forum OR summit)' over title and text, so that the
// samples can be checked without the query package.
func matchesForumTopic(it sampleItem) bool {
	text := strings.ToLower(it.Title + " " + tagRE.ReplaceAllString(it.Body, " "))
	return phraseRE.MatchString(text) && forumRE.MatchString(text)
}

func TestSamples(t *testing.T) {
	tests := []struct {
		file      string
		items     func(*testing.T, []byte) []sampleItem
		wantCount int
		wantMatch []string // ids matching the human-rights-forum query
	}{
		{"cgtn-world.xml", rssItems, 7, []string{"15UUFSrXGmc"}},
		{"un-news.atom", atomItems, 5, []string{"https://news.un.org/en/story/2021/12/1107262"}},
		{"xinhua.json", jsonItems, 5, []string{"http://www.news.cn/english/2021-12/10/c_1310364158.htm"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			items := tt.items(t, readSample(t, tt.file))
			if len(items) != tt.wantCount {
				t.Errorf("%d items, want %d", len(items), tt.wantCount)
			}
			var matched []string
			for _, it := range items {
				if y, m, _ := it.Published.UTC().Date(); y != 2021 || m != time.December {
					t.Errorf("item %s published %v, want December 2021", it.ID, it.Published)
				}
				if matchesForumTopic(it) {
					matched = append(matched, it.ID)
				}
			}
			if !slices.Equal(matched, tt.wantMatch) {
				t.Errorf("human-rights-forum matches %q, want %q", matched, tt.wantMatch)
			}
		})
	}
}

// TestSeedStory pins what other packages' tests rely on in the CGTN
// sample: the seed story's date and its hostile, relative-URL markup.
func TestSeedStory(t *testing.T) {
	var seed *sampleItem
	items := rssItems(t, readSample(t, "cgtn-world.xml"))
	for i := range items {
		if items[i].ID == "15UUFSrXGmc" {
			seed = &items[i]
		}
	}
	if seed == nil {
		t.Fatal("seed story missing")
	}
	if want := time.Date(2021, 12, 10, 14, 26, 0, 0, time.UTC); !seed.Published.Equal(want) {
		t.Errorf("published %v, want %v", seed.Published.UTC(), want)
	}
	if seed.Title != "Xi sends congratulatory letter to South-South Human Rights Forum" {
		t.Errorf("title %q", seed.Title)
	}
	for _, want := range []string{`<img src="/news/2021-12-10/`, ` onclick="`, "<p>"} {
		if !strings.Contains(seed.Body, want) {
			t.Errorf("description lacks %q", want)
		}
	}
}
