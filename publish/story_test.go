package publish

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/storage"
)

// seedConfig is a site with the four outlets that ran the seed story and
// the topic it belongs to.
func seedConfig(baseURL string) Config {
	return Config{
		BaseURL: baseURL, MaxItems: 10, Version: "test",
		Topics: []aggregator.Topic{{Name: "human-rights-forum", Title: "Human rights forum coverage",
			Query: `"human rights" AND (forum OR summit)`}},
		Sources: []aggregator.Source{
			{Name: "xinhua", Title: "Xinhua", URL: "http://www.news.cn/english/feeds/world.json"},
			{Name: "cgtn-world", Title: "CGTN | World", URL: "https://www.cgtn.com/subscribe/rss/section/world.xml"},
			{Name: "chinadaily", Title: "China Daily", URL: "https://www.chinadaily.com.cn/rss/world_rss.xml"},
			{Name: "globaltimes", Title: "Global Times", URL: "https://www.globaltimes.cn/rss/outbrain.xml"},
		},
	}
}

// seedFeeds are the seed story (the South-South Human Rights Forum letter,
// 10 Dec 2021) as four outlets ran it: different guids, Global Times
// linking Xinhua's article through a tracking, https, port and
// trailing-slash variant of its URL, China Daily appending its name.
func seedFeeds() map[string]aggregator.ParsedItem {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	return map[string]aggregator.ParsedItem{
		"xinhua": {GUID: "http://www.news.cn/english/2021-12/10/c_1310364158.htm",
			Link:      "http://www.news.cn/english/2021-12/10/c_1310364158.htm",
			Title:     "Xi congratulates South-South Human Rights Forum",
			Summary:   "Chinese President Xi Jinping sent a congratulatory letter on Friday to the South-South Human Rights Forum in Beijing.",
			Published: at("2021-12-10T13:05:00Z")},
		"cgtn-world": {GUID: "15UUFSrXGmc",
			Link:      "https://news.cgtn.com/news/2021-12-10/Xi-sends-congratulatory-letter-to-South-South-Human-Rights-Forum-15UUFSrXGmc/index.html",
			Title:     "Xi sends congratulatory letter to South-South Human Rights Forum",
			Summary:   `<p>Chinese President Xi Jinping on Friday sent a congratulatory letter to the South-South Human Rights Forum, which opened in Beijing the same day under the theme "putting people first and global human rights governance."</p>`,
			Published: at("2021-12-10T14:26:00Z")},
		"chinadaily": {GUID: "cd-20211210-xi-forum",
			Link:      "https://www.chinadaily.com.cn/a/202112/10/WS61b3586ca310cdd39bc7a4f1.html",
			Title:     "Xi sends congratulatory letter to South-South Human Rights Forum - Chinadaily.com.cn",
			Summary:   "President Xi Jinping sent a congratulatory letter to the South-South Human Rights Forum that opened in Beijing on Friday.",
			Published: at("2021-12-10T15:10:00Z")},
		"globaltimes": {GUID: "gt-1241092",
			Link:      "https://NEWS.cn:443/english/2021-12/10/c_1310364158.htm/?utm_source=globaltimes&utm_medium=rss#main",
			Title:     "Xi congratulates South-South Human Rights Forum | Global Times",
			Summary:   "The South-South Human Rights Forum opened in Beijing on Friday.",
			Published: at("2021-12-10T16:00:00Z")},
	}
}

// ingestSeed stores the seed story's four copies, one poll per outlet in
// the order they were published (Xinhua's original first), through the
// real pipeline pieces: topic matcher, story merger, storage.
func ingestSeed(t *testing.T, db *storage.DB, cfg Config) {
	t.Helper()
	ingestSeedIn(t, db, cfg, "xinhua", "cgtn-world", "chinadaily", "globaltimes")
}

// ingestSeedIn is ingestSeed with the outlets polled in the order given.
func ingestSeedIn(t *testing.T, db *storage.DB, cfg Config, order ...string) {
	t.Helper()
	matcher, err := aggregator.NewTopicMatcher(cfg.Topics, cfg.Sources)
	if err != nil {
		t.Fatal(err)
	}
	merger := aggregator.NewStoryMerger(cfg.Sources)
	now := time.Date(2021, 12, 11, 0, 0, 0, 0, time.UTC)
	feeds := seedFeeds()
	for _, src := range order {
		p := feeds[src]
		items := []aggregator.Item{{
			ID: aggregator.ItemID(src, p.GUID), Source: src, Identity: p.GUID, Link: p.Link,
			Title: p.Title, Summary: p.Summary, Published: p.Published, Hash: "h",
		}}
		_, err := db.SaveFeed(context.Background(), aggregator.FeedUpdate{
			Source: src,
			State:  aggregator.SourceState{Source: src, LastPolled: now, LastStatus: 200},
			Items:  items,
			Reconcile: func(stored, in *aggregator.Item) bool {
				if stored != nil {
					return false
				}
				in.FirstSeen, in.Updated, in.Topics = now, in.Published, matcher.Match(in)
				return true
			},
			Cluster: merger.Cluster,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSeedStoryFeeds: the seed story from four outlets is one entry in its
// topic feed, in every format, naming the three other outlets as "also
// reported by", and /stories/ID.json shows its four members.
func TestSeedStoryFeeds(t *testing.T) {
	db, err := storage.Open(filepath.Join(t.TempDir(), "tributary.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := seedConfig(testBaseURL)
	ingestSeed(t, db, cfg)
	h := newTestHandler(t, db, cfg)
	var rendered atomic.Int32
	h.Rendered = func() { rendered.Add(1) }
	storyID := aggregator.ItemID("xinhua", "http://www.news.cn/english/2021-12/10/c_1310364158.htm") // the first copy stored

	atomBody := get(t, h, http.MethodGet, "/topics/human-rights-forum.atom", nil).Body.Bytes()
	var atom struct {
		Entries []struct {
			ID    string `xml:"id"`
			Links []struct {
				Rel   string `xml:"rel,attr"`
				Href  string `xml:"href,attr"`
				Title string `xml:"title,attr"`
			} `xml:"link"`
			Content string `xml:"content"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(atomBody, &atom); err != nil {
		t.Fatal(err)
	}
	if len(atom.Entries) != 1 {
		t.Fatalf("atom has %d entries, want 1:\n%s", len(atom.Entries), atomBody)
	}
	e := atom.Entries[0]
	related := 0
	for _, l := range e.Links {
		if l.Rel == "related" {
			related++
		}
		if l.Rel == "alternate" && l.Href != "http://www.news.cn/english/2021-12/10/c_1310364158.htm" {
			t.Errorf("alternate link %s, want Xinhua's (the earliest copy leads)", l.Href)
		}
	}
	if e.ID != storyID || related != 3 || !strings.Contains(e.Content, "Also reported by: ") ||
		!strings.Contains(e.Content, ">CGTN | World</a>, ") || !strings.Contains(e.Content, ">Global Times</a>.") {
		t.Errorf("atom entry id %s, %d related links, content %q", e.ID, related, e.Content)
	}

	rssBody := get(t, h, http.MethodGet, "/topics/human-rights-forum.rss", nil).Body.Bytes()
	var rss struct {
		Items []struct {
			GUID    string `xml:"guid"`
			Related []struct {
				Rel string `xml:"rel,attr"`
			} `xml:"http://www.w3.org/2005/Atom link"`
		} `xml:"channel>item"`
	}
	if err := xml.Unmarshal(rssBody, &rss); err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 1 || rss.Items[0].GUID != storyID || len(rss.Items[0].Related) != 3 {
		t.Errorf("rss: %+v\n%s", rss.Items, rssBody)
	}

	jsonBody := get(t, h, http.MethodGet, "/topics/human-rights-forum.json", nil).Body.Bytes()
	var jf struct {
		Items []struct {
			ID        string `json:"id"`
			Tributary struct {
				Story          string `json:"story"`
				AlsoReportedBy []struct {
					Source, URL string
				} `json:"also_reported_by"`
			} `json:"_tributary"`
		} `json:"items"`
	}
	if err := json.Unmarshal(jsonBody, &jf); err != nil {
		t.Fatal(err)
	}
	if len(jf.Items) != 1 || jf.Items[0].Tributary.Story != storyID || len(jf.Items[0].Tributary.AlsoReportedBy) != 3 {
		t.Errorf("json: %+v", jf.Items)
	}

	feeds := rendered.Load()
	rec := get(t, h, http.MethodGet, "/stories/"+storyID+".json", nil)
	if got := rendered.Load() - feeds; got != 1 {
		t.Errorf("a story page called Rendered %d times, want 1", got)
	}
	var doc storyDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || rec.Code != 200 {
		t.Fatalf("/stories: %d %v %s", rec.Code, err, rec.Body)
	}
	var rules []string
	for _, m := range doc.Members {
		rules = append(rules, m.Source+":"+m.MergedBy)
	}
	if doc.ID != storyID || len(doc.Members) != 4 || doc.Lead != aggregator.ItemID("xinhua", "http://www.news.cn/english/2021-12/10/c_1310364158.htm") {
		t.Errorf("/stories: id %s lead %s members %v", doc.ID, doc.Lead, rules)
	}
	t.Logf("members and the rule that merged each: %v", rules)
	if rec := get(t, h, http.MethodGet, "/stories/urn:uuid:nope.json", nil); rec.Code != 404 {
		t.Errorf("unknown story: status %d", rec.Code)
	}

	// A source with priority leads instead of the earliest copy.
	cfg.Sources[2].Priority = 5 // chinadaily
	h.SetConfig(cfg)
	if body := get(t, h, http.MethodGet, "/topics/human-rights-forum.json", nil).Body.String(); !strings.Contains(body, `"url": "https://www.chinadaily.com.cn/a/202112/10/WS61b3586ca310cdd39bc7a4f1.html"`) ||
		!strings.Contains(body, `"id": "`+storyID+`"`) {
		t.Errorf("with chinadaily preferred, the entry is not led by it or changed id:\n%s", body)
	}
}

// TestSeedStoryMerged: polled Global Times, China Daily, Xinhua, CGTN,
// the first two found stories of their own, which Xinhua's copy (matching
// both) merges: the feed shows one entry of four under China Daily's
// story (its earliest member is earlier), and Global Times' absorbed story
// id answers /stories/ID.json with the survivor.
func TestSeedStoryMerged(t *testing.T) {
	db, err := storage.Open(filepath.Join(t.TempDir(), "tributary.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := seedConfig(testBaseURL)
	ingestSeedIn(t, db, cfg, "globaltimes", "chinadaily", "xinhua", "cgtn-world")
	h := newTestHandler(t, db, cfg)
	survivor := aggregator.ItemID("chinadaily", "cd-20211210-xi-forum")
	absorbed := aggregator.ItemID("globaltimes", "gt-1241092")

	var jf struct {
		Items []struct {
			ID        string `json:"id"`
			Tributary struct {
				Source         string            `json:"source"`
				AlsoReportedBy []json.RawMessage `json:"also_reported_by"`
			} `json:"_tributary"`
		} `json:"items"`
	}
	if err := json.Unmarshal(get(t, h, http.MethodGet, "/topics/human-rights-forum.json", nil).Body.Bytes(), &jf); err != nil {
		t.Fatal(err)
	}
	if len(jf.Items) != 1 || jf.Items[0].ID != survivor || jf.Items[0].Tributary.Source != "xinhua" || len(jf.Items[0].Tributary.AlsoReportedBy) != 3 {
		t.Fatalf("json feed: %+v", jf.Items)
	}

	rec := get(t, h, http.MethodGet, "/stories/"+absorbed+".json", nil)
	var doc storyDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("/stories/%s.json: %d %v %s", absorbed, rec.Code, err, rec.Body)
	}
	if doc.ID != survivor || len(doc.Members) != 4 {
		t.Errorf("absorbed id reads story %s of %d members, want %s of 4", doc.ID, len(doc.Members), survivor)
	}
	if loc := rec.Header().Get("Content-Location"); loc != "/stories/"+survivor+".json" {
		t.Errorf("Content-Location %q", loc)
	}
	rules := map[string]string{}
	for _, m := range doc.Members {
		rules[m.Source] = m.MergedBy
	}
	if rules["chinadaily"] != "" || rules["globaltimes"] != aggregator.MergedByBridge || rules["xinhua"] == "" || rules["cgtn-world"] != aggregator.MergedByTitle {
		t.Errorf("merged by %v", rules)
	}
	if rec := get(t, h, http.MethodGet, "/stories/"+survivor+".json", nil); rec.Code != http.StatusOK || rec.Header().Get("Content-Location") != "" {
		t.Errorf("/stories/%s.json: %d, Content-Location %q", survivor, rec.Code, rec.Header().Get("Content-Location"))
	}
}

// TestValidateSeedStory runs the validators on the seed story's topic
// feed in every format.
func TestValidateSeedStory(t *testing.T) {
	tool := validateFeedPath(t)
	db, err := storage.Open(filepath.Join(t.TempDir(), "tributary.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ingestSeed(t, db, seedConfig(testBaseURL))
	h := newTestHandler(t, db, Config{})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.SetConfig(seedConfig(srv.URL))
	for _, f := range formats() {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			url := srv.URL + "/topics/human-rights-forum." + f.ext
			runValidateFeed(t, tool, url, f.name, 1)
		})
	}
}
