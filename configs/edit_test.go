package configs

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var updateEdit = flag.Bool("update-edit", false, "rewrite the golden files in testdata/edit")

func readEditInput(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "edit", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "edit", name+".golden")
	if *updateEdit {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update-edit to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// onlyInserted checks that new is old with lines inserted at one place
// (changed lines allowed: the key line of an empty list, say).
func changedRegion(old, new []byte) (oldMid, newMid []string) {
	a, b := splitLines(old), splitLines(new)
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return a[p : len(a)-s], b[p : len(b)-s]
}

func TestAddSourcesGolden(t *testing.T) {
	quoted := NewSource{
		Name:  "new-one",
		Title: "A \"quoted\" title: with # and \\ and 'quotes' — Genève",
		URL:   "https://new.example/feed?a=1&b=2#x",
		Tags:  []string{"one", "fresh"},
	}
	plain := NewSource{Name: "plain", URL: "https://plain.example/rss"}
	tests := []struct {
		name, in string
		add      []NewSource
		// keyLineChanged: the sources key line itself changes (an empty
		// list or a null replaced by the block list).
		keyLineChanged bool
		wantLine       int
	}{
		{name: "add-block-comments", in: "block.yaml", add: []NewSource{quoted}, wantLine: 36},
		{name: "add-block-two", in: "block.yaml", add: []NewSource{plain, quoted}, wantLine: 36},
		{name: "add-flow", in: "flow.yaml", add: []NewSource{quoted}, wantLine: 5},
		{name: "add-indent0-block-tags", in: "indent0.yaml", add: []NewSource{quoted}, wantLine: 6},
		{name: "add-no-sources-key", in: "nosources.yaml", add: []NewSource{quoted, plain}, wantLine: 6},
		{name: "add-no-final-newline", in: "noeol.yaml", add: []NewSource{plain}, wantLine: 5},
		{name: "add-empty-flow-list", in: "emptyflow.yaml", add: []NewSource{quoted}, keyLineChanged: true, wantLine: 2},
		{name: "add-null", in: "null.yaml", add: []NewSource{plain}, wantLine: 3},
		{name: "add-tilde", in: "tilde.yaml", add: []NewSource{plain}, keyLineChanged: true, wantLine: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := readEditInput(t, tt.in)
			before := bytes.Clone(data)
			e, err := AddSources(data, "tributary.yaml", tt.add, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, before) {
				t.Fatal("AddSources changed its input")
			}
			checkGolden(t, tt.name, e.New)
			if e.Line != tt.wantLine {
				t.Errorf("Line = %d, want %d", e.Line, tt.wantLine)
			}
			if first := splitLines(e.New)[e.Line-1]; !strings.Contains(first, "- ") {
				t.Errorf("line %d is %q, not the first added item", e.Line, first)
			}
			// Everything else is byte for byte as it was.
			oldMid, newMid := changedRegion(e.Old, e.New)
			switch {
			case tt.keyLineChanged:
				if len(oldMid) != 1 || !strings.HasPrefix(oldMid[0], "sources:") {
					t.Errorf("changed old lines %q, want only the sources key line", oldMid)
				}
			case len(oldMid) > 0 && !(len(oldMid) == 1 && !strings.HasSuffix(oldMid[0], "\n")):
				t.Errorf("old lines changed: %q", oldMid)
			}
			if len(newMid) == 0 {
				t.Error("nothing inserted")
			}
			// What was written reads back as what was asked for.
			got := e.Config.Sources[len(e.Config.Sources)-len(tt.add):]
			for i, want := range tt.add {
				if got[i].Name != want.Name || got[i].URL != want.URL || got[i].Title != want.Title || !slices.Equal(got[i].Tags, want.Tags) {
					t.Errorf("source %d reads back as %+v, want %+v", i, got[i], want)
				}
			}
		})
	}
}

func TestRemoveSourceGolden(t *testing.T) {
	tests := []struct {
		name, in, source string
		wantLine         int
		// commentGone is a comment line that must go with the source, or
		// stay ("" for none).
		commentGone, commentKept string
	}{
		{name: "remove-first-keeps-group-heading", in: "block.yaml", source: "alpha", wantLine: 11,
			commentKept: "# Group one: a heading comment"},
		{name: "remove-middle-with-attached-comment", in: "block.yaml", source: "gamma", wantLine: 20,
			commentGone: "# Gamma is temporary"},
		{name: "remove-last", in: "block.yaml", source: "epsilon", wantLine: 33,
			commentKept: "# a comment after the last item"},
		{name: "remove-only", in: "single.yaml", source: "only", wantLine: 4,
			commentGone: "# The only one."},
		{name: "remove-flow-item", in: "flow.yaml", source: "b", wantLine: 4},
		{name: "remove-indent0", in: "indent0.yaml", source: "a", wantLine: 2, commentKept: "# end of sources"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := readEditInput(t, tt.in)
			e, err := RemoveSource(data, "tributary.yaml", tt.source, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.name, e.New)
			if e.Line != tt.wantLine {
				t.Errorf("Line = %d, want %d", e.Line, tt.wantLine)
			}
			// A pure deletion of one run of lines.
			oldMid, newMid := changedRegion(e.Old, e.New)
			if len(newMid) != 0 {
				t.Errorf("lines added: %q", newMid)
			}
			removed := strings.Join(oldMid, "")
			if !strings.Contains(removed, "name: "+tt.source) {
				t.Errorf("removed lines %q do not hold the source", removed)
			}
			if strings.Count(removed, "name:") != 1 {
				t.Errorf("removed lines %q hold more than one item", removed)
			}
			if tt.commentGone != "" && bytes.Contains(e.New, []byte(tt.commentGone)) {
				t.Errorf("comment %q stayed", tt.commentGone)
			}
			if tt.commentKept != "" && !bytes.Contains(e.New, []byte(tt.commentKept)) {
				t.Errorf("comment %q went", tt.commentKept)
			}
			for _, s := range e.Config.Sources {
				if s.Name == tt.source {
					t.Errorf("source %q still there", tt.source)
				}
			}
		})
	}
}

func TestEditRefused(t *testing.T) {
	block := readEditInput(t, "block.yaml")
	tests := []struct {
		name    string
		data    []byte
		edit    func(data []byte) (*Edit, error)
		wantErr string
	}{
		{name: "remove unknown source", data: block,
			edit:    func(d []byte) (*Edit, error) { return RemoveSource(d, "x.yaml", "zeta", Options{}) },
			wantErr: `x.yaml: no source named "zeta"`},
		{name: "remove a source a topic names", data: block,
			edit:    func(d []byte) (*Edit, error) { return RemoveSource(d, "x.yaml", "beta", Options{}) },
			wantErr: `x.yaml:42: topic "all" lists source "beta"; take it out of the topic first`},
		{name: "remove the only source with a tag a topic selects", data: block,
			edit:    func(d []byte) (*Edit, error) { return RemoveSource(d, "x.yaml", "delta", Options{}) },
			wantErr: `unknown tag "solo": no source has it`},
		{name: "add a taken name", data: block,
			edit: func(d []byte) (*Edit, error) {
				return AddSources(d, "x.yaml", []NewSource{{Name: "gamma", URL: "https://other.example/"}}, Options{})
			},
			wantErr: `x.yaml:21: a source named "gamma" already exists`},
		{name: "add a name twice", data: block,
			edit: func(d []byte) (*Edit, error) {
				return AddSources(d, "x.yaml", []NewSource{{Name: "z", URL: "https://z1.example/"}, {Name: "z", URL: "https://z2.example/"}}, Options{})
			},
			wantErr: `source name "z" is given twice`},
		{name: "add a URL already present", data: block,
			edit: func(d []byte) (*Edit, error) {
				return AddSources(d, "x.yaml", []NewSource{{Name: "z", URL: "https://gamma.example/atom"}}, Options{})
			},
			wantErr: `https://gamma.example/atom is already the URL of source "gamma"`},
		{name: "add a bad URL", data: block,
			edit: func(d []byte) (*Edit, error) {
				return AddSources(d, "x.yaml", []NewSource{{Name: "z", URL: "ftp://z.example/"}}, Options{})
			},
			wantErr: `source "z": scheme "ftp" is not supported`},
		{name: "add a bad name", data: block,
			edit: func(d []byte) (*Edit, error) {
				return AddSources(d, "x.yaml", []NewSource{{Name: "Bad Name", URL: "https://z.example/"}}, Options{})
			},
			wantErr: `x.yaml:36: sources[5].name: "Bad Name" must match`},
		{name: "add a bad tag", data: block,
			edit: func(d []byte) (*Edit, error) {
				return AddSources(d, "x.yaml", []NewSource{{Name: "z", URL: "https://z.example/", Tags: []string{"no way"}}}, Options{})
			},
			wantErr: `sources[5].tags[0]: "no way" must match`},
		{name: "invalid to begin with", data: []byte("sources:\n  - name: a\n    url: nope\n"),
			edit: func(d []byte) (*Edit, error) {
				return AddSources(d, "x.yaml", []NewSource{{Name: "z", URL: "https://z.example/"}}, Options{})
			},
			wantErr: "x.yaml is not valid as it stands; fix it first:\nx.yaml:3: sources[0].url:"},
		{name: "query validator applies", data: block,
			edit: func(d []byte) (*Edit, error) {
				return AddSources(d, "x.yaml", []NewSource{{Name: "z", URL: "https://z.example/"}}, Options{
					ValidateQuery: func(q string) error {
						if q == "solo" {
							return errors.New("no solo queries")
						}
						return nil
					},
				})
			},
			wantErr: "topics[1].query: no solo queries"},
		{name: "flow list of sources", data: []byte("sources: [{name: a, url: \"https://a.example/\"}]\n"),
			edit: func(d []byte) (*Edit, error) {
				return AddSources(d, "x.yaml", []NewSource{{Name: "z", URL: "https://z.example/"}}, Options{})
			},
			wantErr: "sources is written as a flow list"},
		{name: "flow mapping config", data: []byte("{sources: []}\n"),
			edit: func(d []byte) (*Edit, error) {
				return AddSources(d, "x.yaml", []NewSource{{Name: "z", URL: "https://z.example/"}}, Options{})
			},
			wantErr: "written as a flow mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := bytes.Clone(tt.data)
			e, err := tt.edit(tt.data)
			if err == nil {
				t.Fatalf("no error; edit:\n%s", e.New)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.wantErr)
			}
			if !bytes.Equal(tt.data, before) {
				t.Error("the input changed")
			}
		})
	}
}

func TestEditCRLF(t *testing.T) {
	data := []byte("listen: \":8080\"\r\nsources:\r\n  - name: a\r\n    url: \"https://a.example/\"\r\n\r\n  - name: b\r\n    url: \"https://b.example/\"\r\n")
	e, err := AddSources(data, "x.yaml", []NewSource{{Name: "c", URL: "https://c.example/", Tags: []string{"t"}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(e.New, []byte("\n")); n != bytes.Count(e.New, []byte("\r\n")) {
		t.Errorf("mixed line endings:\n%q", e.New)
	}
	r, err := RemoveSource(e.New, "x.yaml", "b", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "listen: \":8080\"\r\nsources:\r\n  - name: a\r\n    url: \"https://a.example/\"\r\n\r\n  - name: c\r\n    url: \"https://c.example/\"\r\n    tags: [t]\r\n"
	if string(r.New) != want {
		t.Errorf("got\n%q\nwant\n%q", r.New, want)
	}
}

func TestAddThenRemoveGivesBackTheFile(t *testing.T) {
	for _, in := range []string{"block.yaml", "flow.yaml", "indent0.yaml", "single.yaml"} {
		t.Run(in, func(t *testing.T) {
			data := readEditInput(t, in)
			e, err := AddSources(data, "x.yaml", []NewSource{{Name: "round-trip", URL: "https://rt.example/", Title: "RT", Tags: []string{"rt"}}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r, err := RemoveSource(e.New, "x.yaml", "round-trip", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.New, data) {
				t.Errorf("add then remove gives\n%s\nwant\n%s", r.New, data)
			}
		})
	}
}

func TestYAMLQuote(t *testing.T) {
	for _, s := range []string{
		"", "plain", `a "b" c`, `back\slash`, "tab\tnew\nline", "null", "true", "123", "- dash", "#hash", ": colon",
		"控制\x01\x7f", "bad utf8 \xff end", "emoji 🎉", "\u2028 line separator", "'single'", "{flow}", "[x]",
	} {
		var got string
		if err := yaml.Unmarshal([]byte("v: "+yamlQuote(s)), &struct {
			V *string `yaml:"v"`
		}{&got}); err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); got != want {
			t.Errorf("yamlQuote(%q) = %s reads back as %q", s, yamlQuote(s), got)
		}
	}
	for name, plain := range map[string]bool{"abc": true, "a-1": true, "true": false, "null": false, "123": false, "0x1f": false, "Abc": false, "1e3": false} {
		if got := yamlName(name) == name; got != plain {
			t.Errorf("yamlName(%q) = %s", name, yamlName(name))
		}
	}
}

func TestSlugAndUniqueName(t *testing.T) {
	for in, want := range map[string]string{
		"The Guardian: World news": "the-guardian-world-news",
		"Genève — Réseau":          "geneve-reseau",
		"Al Jazeera's Feed":        "al-jazeeras-feed",
		"  --Hello--  ":            "hello",
		"新华网":                      "",
		"ﬁve ½":                    "five-1-2",
		strings.Repeat("ab-", 40):  strings.Repeat("ab-", 21) + "a",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
		if got := Slug(in); len(got) > maxNameLen || (got != "" && !namePattern.MatchString(got)) {
			t.Errorf("Slug(%q) = %q is not a name", in, got)
		}
	}
	taken := map[string]bool{"news": true, "news-2": true, strings.Repeat("x", 64): true}
	for base, want := range map[string]string{
		"news": "news-3", "fresh": "fresh", "": "source",
		strings.Repeat("x", 64): strings.Repeat("x", 62) + "-2",
	} {
		if got := UniqueName(base, func(n string) bool { return taken[n] }); got != want {
			t.Errorf("UniqueName(%q) = %q, want %q", base, got, want)
		}
	}
	if got := HostName("https://www.Example.co.uk:8443/feed"); got != "example-co-uk" {
		t.Errorf("HostName = %q", got)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tributary.yaml")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "new\n" {
		t.Errorf("contents %q", got)
	}
	if info, _ := os.Stat(path); runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 kept", info.Mode().Perm())
	}

	// A symbolic link stays a link; its target changes.
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink("tributary.yaml", link); err == nil {
		if err := WriteFileAtomic(link, []byte("via link\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
			t.Error("the link was replaced by a file")
		}
		if got, _ := os.ReadFile(path); string(got) != "via link\n" {
			t.Errorf("target holds %q", got)
		}
	}

	// A new file gets perm; no temporary file is left behind.
	fresh := filepath.Join(dir, "fresh.opml")
	if err := WriteFileAtomic(fresh, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(fresh); runtime.GOOS != "windows" && info.Mode().Perm() != 0o640 {
		t.Errorf("new file mode %v", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}

	// A directory in the way is refused.
	if err := WriteFileAtomic(dir, []byte("x"), 0o644); err == nil {
		t.Error("writing over a directory succeeded")
	}
}

func TestApplyRefusesAChangedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tributary.yaml")
	data := readEditInput(t, "single.yaml")
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	e, err := AddSources(data, path, []NewSource{{Name: "two", URL: "https://two.example/"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	changed := append(bytes.Clone(data), "# edited meanwhile\n"...)
	if err := os.WriteFile(path, changed, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(); err == nil || !strings.Contains(err.Error(), "changed while it was being edited") {
		t.Fatalf("Apply = %v", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, changed) {
		t.Error("the file was written anyway")
	}
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, e.New) {
		t.Error("Apply did not write the edit")
	}
	if info, _ := os.Stat(path); runtime.GOOS != "windows" && info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", info.Mode().Perm())
	}
}

func TestEditDiff(t *testing.T) {
	data := readEditInput(t, "single.yaml")
	e, err := AddSources(data, "t.yaml", []NewSource{{Name: "two", URL: "https://two.example/", Title: "Two"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `--- t.yaml
+++ t.yaml
@@ -5,4 +5,7 @@
   - name: only
     url: "https://only.example/feed"
+  - name: two
+    url: "https://two.example/"
+    title: "Two"
 
 # done
`
	if got := e.Diff(); got != want {
		t.Errorf("Diff:\n%s\nwant\n%s", got, want)
	}
}

// Every source of the example config can be removed (or is refused for a
// topic naming it) with a pure deletion, and added back at the end.
func TestEditExampleConfig(t *testing.T) {
	data, err := os.ReadFile("tributary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, "tributary.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cfg.Sources {
		t.Run(s.Name, func(t *testing.T) {
			e, err := RemoveSource(data, "tributary.yaml", s.Name, Options{})
			if err != nil {
				if !strings.Contains(err.Error(), "lists source") && !strings.Contains(err.Error(), "no source has it") {
					t.Fatal(err)
				}
				return
			}
			oldMid, newMid := changedRegion(e.Old, e.New)
			if len(newMid) != 0 || strings.Count(strings.Join(oldMid, ""), "- name:") != 1 {
				t.Errorf("removal changed %q into %q", oldMid, newMid)
			}
			back, err := AddSources(e.New, "tributary.yaml", []NewSource{{Name: s.Name, URL: "https://back.example/" + s.Name, Title: s.Title, Tags: s.Tags}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if oldMid, _ := changedRegion(back.Old, back.New); len(oldMid) != 0 {
				t.Errorf("adding back changed %q", oldMid)
			}
		})
	}
}

// Whatever a title, tags or URL hold, adding a source and removing it
// again gives back the file byte for byte, and the values read back.
func FuzzAddRemove(f *testing.F) {
	f.Add("t", "https://x.example/", "tag")
	f.Add("\"quoted\" # not a comment: {flow} [x] \\ \t\n\u2028", "https://x.example/?a=\"b\"&c=#d", "x-1")
	f.Add("'single' \x01\x7f é 新华", "file:///tmp/a b.xml", "true")
	inputs := [][]byte{readEditInput(f, "block.yaml"), readEditInput(f, "flow.yaml"), readEditInput(f, "indent0.yaml")}
	f.Fuzz(func(t *testing.T, title, url, tag string) {
		for _, data := range inputs {
			src := NewSource{Name: "fuzz", URL: url, Title: strings.TrimSpace(title), Tags: []string{tag}}
			e, err := AddSources(data, "x.yaml", []NewSource{src}, Options{})
			if err != nil {
				continue // refused: an invalid URL or tag, say
			}
			got := e.Config.Sources[len(e.Config.Sources)-1]
			if got.Title != strings.TrimSpace(strings.ToValidUTF8(src.Title, "\uFFFD")) || got.Tags[0] != strings.TrimSpace(tag) {
				t.Fatalf("read back %+v, want %+v", got, src)
			}
			r, err := RemoveSource(e.New, "x.yaml", "fuzz", Options{})
			if err != nil {
				t.Fatalf("remove: %v\n%s", err, e.New)
			}
			if !bytes.Equal(r.New, data) {
				t.Fatalf("add then remove:\n%s", r.New)
			}
		}
	})
}
