package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSampleSeedStory polls the sample feeds the example config ships —
// the 2021 South-South Human Rights Forum letter as five outlets ran it —
// and checks that the topic feed shows the story once, led by Xinhua's
// original, with the other three outlets that ran it as "also reported by",
// in every format, and valid.
func TestSampleSeedStory(t *testing.T) {
	samples, err := filepath.Abs(filepath.Join("..", "..", "configs", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "listen: \"127.0.0.1:0\"\ndata_dir: %q\nbacklog: 0\nretention: {max_age: 0}\n"+
		"topics:\n  - name: human-rights-forum\n    title: Human rights forum coverage\n    query: '\"human rights\" AND (forum OR summit)'\nsources:\n",
		filepath.Join(dir, "data"))
	for _, s := range []struct{ name, title, file string }{
		{"sample-cgtn-world", "CGTN World", "cgtn-world.xml"},
		{"sample-un-news", "UN News", "un-news.atom"},
		{"sample-xinhua", "Xinhua", "xinhua.json"},
		{"sample-china-daily", "China Daily", "china-daily.xml"},
		{"sample-global-times", "Global Times", "global-times.atom"},
	} {
		fmt.Fprintf(&cfg, "  - name: %s\n    title: %q\n    url: \"file://%s\"\n", s.name, s.title, filepath.ToSlash(filepath.Join(samples, s.file)))
	}
	cfgPath := filepath.Join(dir, "tributary.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := execute(t, "poll", "--config", cfgPath); code != 0 || !strings.Contains(out, "5 ok, 0 failed") {
		t.Fatalf("poll: exit %d\n%s%s", code, out, errOut)
	}

	d := startDaemon(t, cfgPath)
	want := []string{
		"Xi congratulates South-South Human Rights Forum",
		"UN Forum on Business and Human Rights marks a decade of the Guiding Principles",
	}
	for _, ext := range []string{"rss", "atom", "json"} {
		if got := titles(fetchTopic(t, d.url(), "human-rights-forum", ext)); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", ext, got, want)
		}
	}
	resp, err := http.Get(d.url() + "/topics/human-rights-forum.json")
	if err != nil {
		t.Fatal(err)
	}
	var feed struct {
		Items []struct {
			ContentHTML string `json:"content_html"`
			Tributary   struct {
				Source string `json:"source"`
				Story  string `json:"story"`
				Also   []struct {
					Source string `json:"source"`
				} `json:"also_reported_by"`
			} `json:"_tributary"`
		} `json:"items"`
	}
	err = json.NewDecoder(resp.Body).Decode(&feed)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	lead := feed.Items[0]
	var also []string
	for _, a := range lead.Tributary.Also {
		also = append(also, a.Source)
	}
	slices.Sort(also)
	if lead.Tributary.Source != "sample-xinhua" || !slices.Equal(also, []string{"sample-cgtn-world", "sample-china-daily", "sample-global-times"}) {
		t.Errorf("lead %s, also reported by %v", lead.Tributary.Source, also)
	}
	if !strings.Contains(lead.ContentHTML, "Also reported by") {
		t.Errorf("content lacks the 'Also reported by' list:\n%s", lead.ContentHTML)
	}
	resp, err = http.Get(d.url() + "/stories/" + lead.Tributary.Story + ".json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/stories/%s.json: %s", lead.Tributary.Story, resp.Status)
	}
	validateTopicFeeds(t, d.url(), "human-rights-forum", len(want))
}
