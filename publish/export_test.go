package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
)

func TestExport(t *testing.T) {
	dir := t.TempDir()
	store := fixtureStore()
	cfg := testConfig(testBaseURL)
	if err := Export(context.Background(), store, cfg, dir); err != nil {
		t.Fatal(err)
	}
	// The exported files are the same bytes the handler serves.
	h := newTestHandler(t, store, cfg)
	for _, topic := range cfg.Topics {
		for _, f := range formats() {
			name := topic.Name + "." + f.ext
			t.Run(name, func(t *testing.T) {
				data, err := os.ReadFile(filepath.Join(dir, "topics", name))
				if err != nil {
					t.Fatal(err)
				}
				if served := get(t, h, "GET", "/topics/"+name, nil).Body.Bytes(); !bytes.Equal(data, served) {
					t.Errorf("exported %s differs from the served feed", name)
				}
				parseBack(t, f, data, len(store.topics[topic.Name]))
			})
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "topics.opml"))
	if err != nil {
		t.Fatal(err)
	}
	var opml struct {
		Version  string `xml:"version,attr"`
		Outlines []struct {
			Text   string `xml:"text,attr"`
			XMLURL string `xml:"xmlUrl,attr"`
		} `xml:"body>outline"`
	}
	if err := xml.Unmarshal(data, &opml); err != nil {
		t.Fatalf("topics.opml does not parse: %v", err)
	}
	if opml.Version != "2.0" || len(opml.Outlines) != len(cfg.Topics) {
		t.Errorf("topics.opml: version %q, %d outlines", opml.Version, len(opml.Outlines))
	}
	if got, want := opml.Outlines[0].XMLURL, testBaseURL+"/topics/tech.rss"; got != want {
		t.Errorf("first outline xmlUrl %q, want %q", got, want)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Join(dir, "topics"))
	if len(entries) != 3*len(cfg.Topics) {
		t.Errorf("%d files in topics/, want %d", len(entries), 3*len(cfg.Topics))
	}
	// Exporting again replaces the files.
	store.setItems("tech", nil)
	if err := Export(context.Background(), store, cfg, dir); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(filepath.Join(dir, "topics", "tech.json"))
	parseBack(t, formatJSON, data, 0)
}

func TestExportError(t *testing.T) {
	store := fixtureStore()
	store.err = os.ErrPermission
	err := Export(context.Background(), store, testConfig(testBaseURL), t.TempDir())
	if err == nil {
		t.Fatal("Export succeeded with a failing store")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Export(ctx, fixtureStore(), testConfig(testBaseURL), t.TempDir()); err == nil {
		t.Fatal("Export succeeded with a cancelled context")
	}
}

// parseBack decodes a feed with the standard library and checks its item
// count.
func parseBack(t *testing.T, f format, data []byte, want int) {
	t.Helper()
	var got int
	switch f {
	case formatRSS:
		var doc struct {
			Items []struct {
				GUID string `xml:"guid"`
			} `xml:"channel>item"`
		}
		if err := xml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("rss does not parse: %v", err)
		}
		got = len(doc.Items)
	case formatAtom:
		var doc struct {
			Entries []struct {
				ID string `xml:"id"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("atom does not parse: %v", err)
		}
		got = len(doc.Entries)
	case formatJSON:
		var doc struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("json does not parse: %v", err)
		}
		if doc.Items == nil {
			t.Fatalf("json has no items array")
		}
		got = len(doc.Items)
	}
	if got != want {
		t.Errorf("%s: %d items, want %d", f.name, got, want)
	}
}
