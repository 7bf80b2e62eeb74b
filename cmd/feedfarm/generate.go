package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The content is news-like: titles are "Country actor verb object", the
// summaries a few paragraphs (~2 KB) of HTML built from the same words.
// Each sentence draws its country and object at random, so the 20 topics
// of TributaryConfig match far more than a realistic share of the items:
// in a cold poll of 2,000 sources × 30 items, a story was in 16 topics on
// average (739,672 topic index entries for 46,491 stories). Real topic
// feeds hold a few percent of a newsroom's items each; this farm makes
// the topic indexes, and the store's writes for them, the heavier part.
// About one item in five is a wire story also run by other outlets (same
// canonical link with tracking parameters, the title with the outlet's name
// appended), which exercises story merging.
var (
	countries = []string{"Kenya", "Brazil", "India", "Germany", "Japan", "Canada", "Egypt", "Indonesia",
		"Mexico", "France", "Nigeria", "Vietnam", "Chile", "Norway", "Australia", "Turkey", "Genève"}
	actors = []string{"parliament", "central bank", "prime minister", "president", "health ministry",
		"UN Security Council envoy", "trade unions", "farmers", "researchers", "election commission",
		"supreme court", "finance minister", "city council", "opposition leader"}
	verbs = []string{"approves", "rejects", "announces", "delays", "debates", "launches", "warns over",
		"signs", "expands", "cuts", "defends", "reviews"}
	objects = []string{"climate plan", "budget", "interest rates", "trade deal", "vaccine programme",
		"election reform", "rail project", "refugee policy", "water rights", "AI regulation",
		"human rights inquiry", "drought relief", "energy subsidies", "peace talks", "press freedom law",
		"tariffs", "pension reform", "emissions targets", "migrants' rights forum", "deficit plan"}
	fillers = []string{"officials said on Tuesday", "according to a statement", "analysts expect further talks",
		"the decision follows months of debate", "critics called the move premature",
		"the measure still needs a final vote", "observers at the summit welcomed the step",
		"protesters gathered outside the building", "the figures were published late on Monday",
		"it is the third such announcement this year", "markets reacted calmly",
		"the committee will report back in the spring"}
	outlets = []string{"Daily Ledger", "Morning Post", "World Wire", "Evening Standard Times", "Global Herald",
		"Capital Chronicle", "Coastal Gazette", "Northern Observer", "Metro Courier", "Pacific Review"}
)

type generator struct {
	opts  Options
	base  time.Time // newest publication time
	wires int       // number of shared wire stories
}

func newGenerator(opts Options) *generator {
	wires := max(opts.Sources*opts.Items/25, 1)
	return &generator{opts: opts, base: time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC), wires: wires}
}

type item struct {
	id, link, title, summary, author, category string
	published                                  time.Time
}

func (g *generator) rng(a, b uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.opts.Seed^0x9e3779b97f4a7c15, a<<32^b))
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// story generates the title, summary and category of one story.
func (g *generator) story(r *rand.Rand) (title, summary, category string) {
	country, actor, verb, object := pick(r, countries), pick(r, actors), pick(r, verbs), pick(r, objects)
	title = fmt.Sprintf("%s %s %s %s", country, actor, verb, object)
	var b strings.Builder
	for p := range 4 + r.IntN(2) {
		b.WriteString("<p>")
		for s := range 4 {
			c, a, v, o := pick(r, countries), pick(r, actors), pick(r, verbs), pick(r, objects)
			if p == 0 && s == 0 {
				c, a, v, o = country, actor, verb, object
			}
			switch r.IntN(4) {
			case 0:
				fmt.Fprintf(&b, `The %s of %s %s the <a href="/topics/%s">%s</a>, %s. `,
					a, c, v, strings.ReplaceAll(o, " ", "-"), o, pick(r, fillers))
			case 1:
				fmt.Fprintf(&b, "In %s, the %s %s the <strong>%s</strong>; %s. ", c, a, v, o, pick(r, fillers))
			case 2:
				fmt.Fprintf(&b, "&ldquo;We will not accept this %s,&rdquo; said a spokesperson for the %s in %s, as %s. ",
					o, a, c, pick(r, fillers))
			default:
				fmt.Fprintf(&b, "The %s %s the %s &amp; %s, %s. ", a, v, o, pick(r, objects), pick(r, fillers))
			}
		}
		b.WriteString("</p>\n")
		if p == 1 && r.IntN(3) == 0 {
			fmt.Fprintf(&b, `<figure><img src="/img/%d.jpg" alt="%s" width="640" height="360"><figcaption>%s</figcaption></figure>`+"\n",
				r.IntN(100000), country, title)
		}
	}
	if r.IntN(20) == 0 {
		b.WriteString(`<script>trackView()</script><p onclick="x()">Share this story</p>`)
	}
	return title, b.String(), object
}

// items generates source n's items, newest first.
func (g *generator) items(n int) []item {
	r := g.rng(uint64(n), 0)
	outlet := fmt.Sprintf("%s %d", pick(r, outlets), n)
	host := fmt.Sprintf("outlet-%d.example.com", n)
	out := make([]item, 0, g.opts.Items)
	for j := range g.opts.Items {
		pub := g.base.Add(-time.Duration(j)*47*time.Minute - time.Duration(r.IntN(40))*time.Minute - time.Duration(n%97)*time.Minute)
		it := item{published: pub, author: fmt.Sprintf("Reporter %d", r.IntN(500))}
		if r.IntN(5) == 0 {
			k := r.IntN(g.wires)
			wr := g.rng(1<<31+uint64(k), 1)
			title, summary, cat := g.story(wr)
			it.title = title + " - " + outlet
			it.summary = summary
			it.category = cat
			it.link = fmt.Sprintf("https://wire.example.org/story/%d/?utm_source=s%d&utm_medium=rss", k, n)
			it.id = fmt.Sprintf("%s:wire-%d", host, k)
			it.published = g.base.Add(-time.Duration(k%(g.opts.Items*47)) * time.Minute).Add(time.Duration(r.IntN(30)) * time.Minute)
		} else {
			title, summary, cat := g.story(r)
			slug := strings.ToLower(strings.NewReplacer(" ", "-", "'", "", "è", "e").Replace(title))
			it.title, it.summary, it.category = title, summary, cat
			it.link = fmt.Sprintf("https://%s/news/%d/%s", host, j, slug)
			it.id = it.link
		}
		out = append(out, it)
	}
	return out
}

func (g *generator) feed(n int) feedDoc {
	items := g.items(n)
	newest := items[0].published
	for _, it := range items {
		if it.published.After(newest) {
			newest = it.published
		}
	}
	title := fmt.Sprintf("Outlet %d: World news", n)
	home := fmt.Sprintf("https://outlet-%d.example.com/", n)
	var b bytes.Buffer
	switch n % 3 {
	case 0:
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
		b.WriteString(`<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>` + "\n")
		fmt.Fprintf(&b, "<title>%s</title><link>%s</link><description>Latest world news</description><language>en</language><lastBuildDate>%s</lastBuildDate>\n",
			esc(title), home, newest.Format(time.RFC1123Z))
		for _, it := range items {
			fmt.Fprintf(&b, "<item><title>%s</title><link>%s</link><guid isPermaLink=\"%t\">%s</guid><pubDate>%s</pubDate><dc:creator>%s</dc:creator><category>%s</category><description><![CDATA[%s]]></description></item>\n",
				esc(it.title), esc(it.link), it.id == it.link, esc(it.id), it.published.Format(time.RFC1123Z),
				esc(it.author), esc(it.category), strings.ReplaceAll(it.summary, "]]>", "]]&gt;"))
		}
		b.WriteString("</channel></rss>\n")
		return newDoc("xml", b.Bytes(), newest)
	case 1:
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
		fmt.Fprintf(&b, `<feed xmlns="http://www.w3.org/2005/Atom"><title>%s</title><id>%s</id><updated>%s</updated><link rel="alternate" href="%s"/>`+"\n",
			esc(title), home, newest.Format(time.RFC3339), home)
		for _, it := range items {
			fmt.Fprintf(&b, `<entry><title>%s</title><id>%s</id><link rel="alternate" href="%s"/><published>%s</published><updated>%s</updated><author><name>%s</name></author><category term="%s"/><summary type="html">%s</summary></entry>`+"\n",
				esc(it.title), esc(it.id), esc(it.link), it.published.Format(time.RFC3339), it.published.Format(time.RFC3339),
				esc(it.author), esc(it.category), esc(it.summary))
		}
		b.WriteString("</feed>\n")
		return newDoc("atom", b.Bytes(), newest)
	default:
		type author struct {
			Name string `json:"name"`
		}
		type jitem struct {
			ID            string   `json:"id"`
			URL           string   `json:"url"`
			Title         string   `json:"title"`
			ContentHTML   string   `json:"content_html"`
			DatePublished string   `json:"date_published"`
			Authors       []author `json:"authors"`
			Tags          []string `json:"tags"`
		}
		doc := struct {
			Version     string  `json:"version"`
			Title       string  `json:"title"`
			HomePageURL string  `json:"home_page_url"`
			Items       []jitem `json:"items"`
		}{Version: "https://jsonfeed.org/version/1.1", Title: title, HomePageURL: home}
		for _, it := range items {
			doc.Items = append(doc.Items, jitem{ID: it.id, URL: it.link, Title: it.title, ContentHTML: it.summary,
				DatePublished: it.published.Format(time.RFC3339), Authors: []author{{it.author}}, Tags: []string{it.category}})
		}
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(doc) // plain strings into a bytes.Buffer: cannot fail
		return newDoc("json", b.Bytes(), newest)
	}
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}

// topics are 20 realistic topic queries over the generated vocabulary.
var topics = []struct{ name, title, query string }{
	{"climate", "Climate and drought", `climate OR drought OR "emissions targets"`},
	{"elections", "Elections", `election OR "election commission" OR "election reform"`},
	{"central-banks", "Central banks", `"central bank" AND ("interest rates" OR budget OR deficit)`},
	{"trade", "Trade", `"trade deal" OR tariffs`},
	{"health", "Health", `vaccine* OR "health ministry"`},
	{"human-rights", "Human rights", `"human rights" AND (inquiry OR forum)`},
	{"africa", "Africa", `Kenya OR Nigeria OR Egypt`},
	{"asia-pacific", "Asia-Pacific", `Japan OR India OR Indonesia OR Vietnam OR Australia`},
	{"europe", "Europe", `Germany OR France OR Norway OR Geneve`},
	{"americas", "The Americas", `Brazil OR Mexico OR Canada OR Chile`},
	{"energy", "Energy", `energy AND (subsid* OR prices)`},
	{"tech-regulation", "Technology regulation", `"AI regulation" OR title:technology`},
	{"peace-talks", "Peace talks", `"peace talks" AND NOT title:delays`},
	{"press-freedom", "Press freedom", `"press freedom"`},
	{"migration", "Migration", `refugee* OR migrants`},
	{"infrastructure", "Infrastructure", `rail OR "water rights" OR infrastructure`},
	{"parliament-votes", "Parliament votes", `title:parliament AND (approves OR rejects)`},
	{"labour", "Labour", `"trade unions" OR strike* OR "pension reform"`},
	{"budget", "Budgets", `budget AND (cuts OR deficit)`},
	{"security-council", "Security Council", `"Security Council"`},
}

// TributaryConfig is a tributary config polling every feed of the farm.
func (f *Farm) TributaryConfig(base, dataDir string, perHost int) []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by feedfarm for the end-to-end benchmark.\n")
	fmt.Fprintf(&b, "data_dir: %q\nschedule: \"@every 1h\"\nbacklog: 0\n", dataDir)
	fmt.Fprintf(&b, "fetch:\n  concurrency: 8\n  per_host: %d\n  timeout: 60s\n", perHost)
	b.WriteString("retention:\n  max_age: 0\npublish:\n  max_items: 50\nsources:\n")
	for n, d := range f.feeds {
		fmt.Fprintf(&b, "  - name: s%d\n    title: \"Outlet %d\"\n    url: \"%s/s/%d.%s\"\n", n, n, base, n, d.ext)
	}
	b.WriteString("topics:\n")
	for _, t := range topics {
		fmt.Fprintf(&b, "  - name: %s\n    title: %q\n    query: '%s'\n", t.name, t.title, t.query)
	}
	return b.Bytes()
}
