package configs

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/net/html/charset"

	"github.com/tributary-news/tributary/aggregator"
)

// OPML is how feed readers move subscriptions: a tree of <outline>
// elements, feeds being those with an xmlUrl, folders those without.
// tributary writes its sources as OPML 2.0 with tags as the category
// attribute, and keeps each source's name in a namespaced attribute
// (tributary:name, which OPML 2.0 allows) so that an export imported
// again gives the same sources.

// OPMLNamespace is the namespace of the tributary:name attribute.
const OPMLNamespace = ProjectURL

// maxFolderDepth bounds how many enclosing folders become tags.
const maxFolderDepth = 16

// OPMLFeed is one feed outline of an OPML file.
type OPMLFeed struct {
	// Name is the tributary:name attribute, "" when the outline has none.
	Name string
	// Title is the title attribute, else the text attribute (unless that
	// only repeats Name).
	Title string
	URL   string // the xmlUrl attribute
	// Tags are the categories (category="/a/b,c" is a, b and c), then the
	// folders the outline is in, outermost first, each slugged, without
	// duplicates.
	Tags []string
}

type opmlIn struct {
	XMLName xml.Name
	Body    struct {
		Outlines []opmlInOutline `xml:"outline"`
	} `xml:"body"`
}

type opmlInOutline struct {
	Attrs    []xml.Attr      `xml:",any,attr"`
	Outlines []opmlInOutline `xml:"outline"`
}

// attr is the attribute of that local name, matched without regard to
// case (files in the wild write xmlurl and xmlURL too) and namespace.
func (o *opmlInOutline) attr(local string) string {
	for _, a := range o.Attrs {
		if a.Name.Space == "" && strings.EqualFold(a.Name.Local, local) {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

func (o *opmlInOutline) name() string {
	for _, a := range o.Attrs {
		if a.Name.Local == "name" && (a.Name.Space == OPMLNamespace || a.Name.Space == "tributary") {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// ParseOPML reads the feeds of an OPML file (any version), in document
// order. A file that is not OPML is an error; an outline without xmlUrl
// is a folder, whose title (or text) becomes a tag of the feeds in it.
func ParseOPML(data []byte) ([]OPMLFeed, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = charset.NewReaderLabel
	var doc opmlIn
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("opml: %w", err)
	}
	if doc.XMLName.Local != "opml" {
		return nil, fmt.Errorf("opml: the document is <%s>, not <opml>", doc.XMLName.Local)
	}
	var feeds []OPMLFeed
	var walk func(outlines []opmlInOutline, folders []string)
	walk = func(outlines []opmlInOutline, folders []string) {
		for i := range outlines {
			o := &outlines[i]
			text := o.attr("title")
			if text == "" {
				text = o.attr("text")
			}
			u := o.attr("xmlUrl")
			if u == "" {
				inner := folders
				if tag := Slug(text); tag != "" && len(folders) < maxFolderDepth {
					inner = append(slices.Clip(folders), tag)
				}
				walk(o.Outlines, inner)
				continue
			}
			f := OPMLFeed{Name: o.name(), URL: u, Title: o.attr("title")}
			if f.Title == "" {
				if t := o.attr("text"); t != f.Name {
					f.Title = t
				}
			}
			var tags []string
			for c := range strings.SplitSeq(o.attr("category"), ",") {
				for seg := range strings.SplitSeq(c, "/") {
					tags = append(tags, Slug(seg))
				}
			}
			tags = append(tags, folders...)
			for _, t := range tags {
				if t != "" && !slices.Contains(f.Tags, t) {
					f.Tags = append(f.Tags, t)
				}
			}
			feeds = append(feeds, f)
			// A feed outline with children is unusual; its children are
			// still feeds, in the same folders.
			walk(o.Outlines, folders)
		}
	}
	walk(doc.Body.Outlines, nil)
	return feeds, nil
}

type opmlOut struct {
	XMLName xml.Name    `xml:"opml"`
	Version string      `xml:"version,attr"`
	NS      string      `xml:"xmlns:tributary,attr"`
	Head    opmlOutHead `xml:"head"`
	Body    opmlOutBody `xml:"body"`
}

type opmlOutHead struct {
	Title string `xml:"title"`
	Docs  string `xml:"docs"`
}

type opmlOutBody struct {
	Outlines []opmlOutOutline `xml:"outline"`
}

type opmlOutOutline struct {
	Text     string `xml:"text,attr"`
	Title    string `xml:"title,attr,omitempty"`
	Type     string `xml:"type,attr"`
	XMLURL   string `xml:"xmlUrl,attr"`
	Category string `xml:"category,attr,omitempty"`
	Name     string `xml:"tributary:name,attr"`
}

// WriteOPML writes sources as an OPML 2.0 subscription list, in their
// order: text is the title (the name when there is none), category the
// tags, tributary:name the name. The output depends only on sources.
func WriteOPML(w io.Writer, sources []aggregator.Source) error {
	doc := opmlOut{
		Version: "2.0",
		NS:      OPMLNamespace,
		Head:    opmlOutHead{Title: "tributary sources", Docs: "http://opml.org/spec2.opml"},
	}
	for _, s := range sources {
		text := s.Title
		if text == "" {
			text = s.Name
		}
		doc.Body.Outlines = append(doc.Body.Outlines, opmlOutOutline{
			Text:     text,
			Title:    s.Title,
			Type:     "rss",
			XMLURL:   s.URL,
			Category: strings.Join(s.Tags, ","),
			Name:     s.Name,
		})
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("opml: %w", err)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("opml: %w", err)
	}
	out = append(out, '\n')
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("opml: %w", err)
	}
	return nil
}

// ImportPlan is what importing an OPML file into a config would do.
type ImportPlan struct {
	Add     []NewSource
	Skipped []SkippedFeed
}

// SkippedFeed is a feed of the file that is not imported, and why.
type SkippedFeed struct {
	Title  string
	URL    string
	Reason string
}

// PlanImport decides which feeds become sources of cfg: a feed whose URL
// is already a source's (or appeared earlier in the file), whose URL the
// loader would refuse, or whose tributary:name is taken is skipped with
// the reason. The others are named by their tributary:name, else by the
// slug of their title, else of their URL's host, made unique.
func PlanImport(cfg *Config, feeds []OPMLFeed) ImportPlan {
	var plan ImportPlan
	names := map[string]bool{}
	urls := map[string]string{}
	for _, s := range cfg.Sources {
		names[s.Name] = true
		urls[s.URL] = "already source " + s.Name
	}
	taken := func(n string) bool { return names[n] }
	for _, f := range feeds {
		skip := func(reason string) {
			plan.Skipped = append(plan.Skipped, SkippedFeed{Title: f.Title, URL: f.URL, Reason: reason})
		}
		abs, err := SourceURL(cfg.Path, f.URL)
		if err != nil {
			skip(err.Error())
			continue
		}
		if why, dup := urls[abs]; dup {
			skip(why)
			continue
		}
		name := f.Name
		switch {
		case name != "" && namePattern.MatchString(name) && len(name) <= maxNameLen:
			if names[name] {
				skip(fmt.Sprintf("a source named %q already exists", name))
				continue
			}
		default:
			base := Slug(f.Title)
			if base == "" {
				base = HostName(abs)
			}
			name = UniqueName(base, taken)
		}
		names[name] = true
		urls[abs] = "listed twice in the file (imported as " + name + ")"
		plan.Add = append(plan.Add, NewSource{Name: name, URL: f.URL, Title: f.Title, Tags: f.Tags})
	}
	return plan
}
