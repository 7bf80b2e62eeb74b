package configs

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tributary-news/tributary/aggregator"
)

func TestParseOPML(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "edit", "import.opml"))
	if err != nil {
		t.Fatal(err)
	}
	feeds, err := ParseOPML(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []OPMLFeed{
		{Title: "BBC News: World", URL: "https://feeds.bbci.co.uk/news/world/rss.xml", Tags: []string{"news", "world"}},
		{Title: "Al Jazeera", URL: "https://www.aljazeera.com/xml/rss/all.xml", Tags: []string{"middle-east", "qatar", "broadcaster", "news", "world"}},
		{Title: "Genève Soir", URL: "https://geneve.example/feed", Tags: []string{"news"}},
		{Title: "Already here", URL: "https://alpha.example/feed.xml"},
		{Title: "BBC again, elsewhere", URL: "https://feeds.bbci.co.uk/news/world/rss.xml"},
		{Title: "Alpha", URL: "https://another-alpha.example/feed"},
		{Title: "新华网", URL: "https://www.xinhuanet.com/rss.xml"},
		{Title: "Not a web feed", URL: "gopher://old.example/1"},
	}
	if !reflect.DeepEqual(feeds, want) {
		t.Errorf("got  %+v\nwant %+v", feeds, want)
	}

	for name, bad := range map[string]string{
		"not XML":      "hello",
		"not OPML":     `<rss version="2.0"><channel/></rss>`,
		"entity bomb":  `<!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body><outline text="&a;" xmlUrl="https://x.example/"/></body></opml>`,
		"unclosed tag": `<opml><body><outline>`,
	} {
		if _, err := ParseOPML([]byte(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPlanImport(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "edit", "import.opml"))
	if err != nil {
		t.Fatal(err)
	}
	feeds, err := ParseOPML(data)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(readEditInput(t, "block.yaml"), "tributary.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan := PlanImport(cfg, feeds)
	var names []string
	for _, s := range plan.Add {
		names = append(names, s.Name)
	}
	if want := []string{"bbc-news-world", "al-jazeera", "geneve-soir", "alpha-2", "xinhuanet-com"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	var reasons []string
	for _, s := range plan.Skipped {
		reasons = append(reasons, s.Title+": "+s.Reason)
	}
	want := []string{
		"Already here: already source alpha",
		"BBC again, elsewhere: listed twice in the file (imported as bbc-news-world)",
		`Not a web feed: scheme "gopher" is not supported (use http, https or file)`,
	}
	if !reflect.DeepEqual(reasons, want) {
		t.Errorf("skipped %q\nwant %q", reasons, want)
	}

	// One validated edit for the whole import.
	e, err := AddSources(readEditInput(t, "block.yaml"), "tributary.yaml", plan.Add, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "import-opml", e.New)

	// A tributary:name already taken is skipped, not renamed.
	plan = PlanImport(cfg, []OPMLFeed{{Name: "gamma", URL: "https://other.example/feed"}})
	if len(plan.Add) != 0 || len(plan.Skipped) != 1 || plan.Skipped[0].Reason != `a source named "gamma" already exists` {
		t.Errorf("plan %+v", plan)
	}
}

// Export, then import into an empty config: the same sources.
func TestOPMLRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := readEditInput(t, "block.yaml")
	cfg, err := Parse(data, filepath.Join(dir, "a.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sources = append(cfg.Sources, aggregator.Source{
		Name: "local", URL: "file://" + filepath.ToSlash(filepath.Join(dir, "feed.xml")),
		Title: `Quotes " & <angles> — Genève`, Tags: []string{"a-b", "c"},
	})
	var out bytes.Buffer
	if err := WriteOPML(&out, cfg.Sources); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "export-opml", bytes.ReplaceAll(out.Bytes(), []byte(filepath.ToSlash(dir)), []byte("/DIR")))

	feeds, err := ParseOPML(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	emptyPath := filepath.Join(dir, "empty.yaml")
	empty, err := Parse(nil, emptyPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan := PlanImport(empty, feeds)
	if len(plan.Skipped) != 0 {
		t.Fatalf("skipped %+v", plan.Skipped)
	}
	e, err := AddSources(nil, emptyPath, plan.Add, Options{})
	if err != nil {
		t.Fatal(err)
	}
	type brief struct {
		Name, URL, Title string
		Tags             []string
	}
	var want, got []brief
	for _, s := range cfg.Sources {
		want = append(want, brief{s.Name, s.URL, s.Title, s.Tags})
	}
	for _, s := range e.Config.Sources {
		got = append(got, brief{s.Name, s.URL, s.Title, s.Tags})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\ngot  %+v\nwant %+v", got, want)
	}
	// And exporting again gives the same bytes.
	var again bytes.Buffer
	if err := WriteOPML(&again, e.Config.Sources); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), out.Bytes()) {
		t.Errorf("second export differs:\n%s", again.String())
	}
	if strings.Contains(out.String(), "dateCreated") {
		t.Error("export is not deterministic")
	}
}
