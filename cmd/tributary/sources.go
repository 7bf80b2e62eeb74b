package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/configs"
)

// `tributary sources …` and `tributary opml …` edit the config file in
// place (see configs.AddSources for how comments and layout are kept):
// every edit is validated exactly as `tributary check` validates, shown
// with --dry-run, and written atomically.

const sourcesUsage = `usage:
  tributary sources list   --config FILE
  tributary sources add    --config FILE URL [--name N] [--title T] [--tag T]... [--pick N] [--dry-run]
  tributary sources remove --config FILE NAME [--dry-run]
`

const opmlUsage = `usage:
  tributary opml import --config FILE OPML-FILE [--dry-run]
  tributary opml export --config FILE [--out FILE]
`

// maxOPMLBytes bounds an OPML file read for import.
const maxOPMLBytes = 16 << 20

// maxTitleRunes bounds a title taken from a feed.
const maxTitleRunes = 200

// cmdSources is `tributary sources SUBCOMMAND`.
func cmdSources(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, sourcesUsage)
		return errUsage
	}
	switch args[0] {
	case "list":
		return cmdSourcesList(args[1:], stdout, stderr)
	case "add":
		return cmdSourcesAdd(ctx, args[1:], stdout, stderr)
	case "remove", "rm":
		return cmdSourcesRemove(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "tributary sources: unknown subcommand %q\n%s", args[0], sourcesUsage)
	return errUsage
}

// cmdOPML is `tributary opml SUBCOMMAND`.
func cmdOPML(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, opmlUsage)
		return errUsage
	}
	switch args[0] {
	case "import":
		return cmdOPMLImport(args[1:], stdout, stderr)
	case "export":
		return cmdOPMLExport(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "tributary opml: unknown subcommand %q\n%s", args[0], opmlUsage)
	return errUsage
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// parseArgs parses flags given before, between or after the positional
// arguments (flag stops at the first positional one), checks that there
// are want positional arguments and a config, and returns them.
func parseArgs(fs *flag.FlagSet, cf *commonFlags, args []string, want int, what string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != want {
		fmt.Fprintf(fs.Output(), "tributary %s: want %s, got %d arguments\n", fs.Name(), what, len(pos))
		return nil, errUsage
	}
	if cf.config == "" {
		fmt.Fprintf(fs.Output(), "tributary %s: --config FILE is required\n", fs.Name())
		return nil, errUsage
	}
	return pos, nil
}

// readConfig reads the config file and loads it: the bytes are what an
// edit is made from, the Config what it is checked against.
func readConfig(path string) ([]byte, *configs.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := configs.Parse(data, path, configOptions())
	if err != nil {
		return nil, nil, err
	}
	return data, cfg, nil
}

// finish checks an edit as `tributary check` would and writes it, or
// shows it when dryRun is set.
func finish(e *configs.Edit, dryRun bool, stdout io.Writer) error {
	if _, err := aggregator.NewTopicMatcher(e.Config.Topics, e.Config.Sources); err != nil {
		return fmt.Errorf("the edited %s would not be valid, nothing written: %w", e.Path, err)
	}
	if dryRun {
		fmt.Fprint(stdout, e.Diff())
		return nil
	}
	return e.Apply()
}

// cmdSourcesList prints the sources, one per line: name, URL, title and
// tags, aligned.
func cmdSourcesList(args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("sources list", stderr, &cf)
	if _, err := parseArgs(fs, &cf, args, 0, "no arguments"); err != nil {
		return err
	}
	cfg, err := loadConfig(cf.config)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tURL\tTITLE\tTAGS")
	for _, s := range cfg.Sources {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.URL, orDash(singleLine(s.Title)), orDash(strings.Join(s.Tags, ",")))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// singleLine keeps a title on its line of the listing.
func singleLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// cmdSourcesAdd adds a feed: it fetches the URL once, and when that is a
// web page, the feed the page advertises; then writes the source with the
// feed's title and a name made from it.
func cmdSourcesAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("sources add", stderr, &cf)
	name := fs.String("name", "", "the source's name (default: made from the feed's title, or its host)")
	title := fs.String("title", "", "the source's title (default: the feed's title)")
	var tags stringList
	fs.Var(&tags, "tag", "a tag for the source (repeatable)")
	pick := fs.Int("pick", 1, "which of the feeds a web page advertises to take, from 1")
	dryRun := fs.Bool("dry-run", false, "show the change without writing it")
	pos, err := parseArgs(fs, &cf, args, 1, "a URL")
	if err != nil {
		return err
	}
	logger, err := newLogger(stderr, cf.logLevel, cf.logFormat)
	if err != nil {
		return err
	}
	data, cfg, err := readConfig(cf.config)
	if err != nil {
		return err
	}
	given := strings.TrimSpace(pos[0])
	abs, err := configs.SourceURL(cf.config, given)
	if err != nil {
		return fmt.Errorf("%s: %w", given, err)
	}
	for _, s := range cfg.Sources {
		if s.URL == abs {
			return fmt.Errorf("%s is already source %q", given, s.Name)
		}
	}
	fetcher := aggregator.NewFetcher(aggregator.FetcherOptions{
		Timeout:      cfg.Fetch.Timeout,
		MaxBodyBytes: cfg.Fetch.MaxBodyBytes,
		UserAgent:    cfg.Fetch.UserAgent,
		Logger:       logger,
	})
	found, err := findFeed(ctx, fetcher, abs, *pick, stdout)
	if err != nil {
		return err
	}
	feedURL := found.url
	if feedURL == abs {
		feedURL = given // as the user wrote it: a relative file: URL stays relative
	}
	src := configs.NewSource{URL: feedURL, Title: strings.TrimSpace(*title), Tags: tags}
	if src.Title == "" {
		src.Title = found.title
	}
	src.Name = *name
	if src.Name == "" {
		taken := map[string]bool{}
		for _, s := range cfg.Sources {
			taken[s.Name] = true
		}
		base := configs.Slug(found.title)
		if base == "" {
			base = configs.HostName(found.url)
		}
		src.Name = configs.UniqueName(base, func(n string) bool { return taken[n] })
	}
	e, err := configs.AddSources(data, cf.config, []configs.NewSource{src}, configOptions())
	if err != nil {
		return err
	}
	if err := finish(e, *dryRun, stdout); err != nil {
		return err
	}
	verb := "added"
	if *dryRun {
		verb = "would add"
	}
	fmt.Fprintf(stdout, "%s source %s (%s) %s at %s:%d\n", verb, src.Name, orDash(src.Title), src.URL, cf.config, e.Line)
	return nil
}

// foundFeed is a feed found for `sources add`.
type foundFeed struct {
	url   string // where to poll it
	title string // its title, cleaned; may be ""
}

// findFeed fetches rawURL; a feed is taken as it is, a web page for the
// pick-th (1-based) feed it advertises, which is fetched and parsed in
// turn. Whatever is taken must parse as a feed.
func findFeed(ctx context.Context, f *aggregator.Fetcher, rawURL string, pick int, stdout io.Writer) (foundFeed, error) {
	res, err := f.Fetch(ctx, aggregator.FetchRequest{URL: rawURL})
	if err != nil {
		return foundFeed{}, err
	}
	feed, parseErr := aggregator.ParseFeed(res.Body, res.ContentType, res.FinalURL)
	if parseErr == nil {
		return foundFeed{url: pollURL(rawURL, res, stdout), title: cleanTitle(feed.Title)}, nil
	}
	links := aggregator.DiscoverFeeds(res.Body, res.FinalURL)
	if len(links) == 0 {
		return foundFeed{}, fmt.Errorf("%s: %w", rawURL, parseErr)
	}
	fmt.Fprintf(stdout, "%s is a web page; it advertises %d feed(s):\n", rawURL, len(links))
	for i, l := range links {
		fmt.Fprintf(stdout, "  %d. %s\n", i+1, l)
	}
	if pick < 1 || pick > len(links) {
		return foundFeed{}, fmt.Errorf("--pick %d: the page advertises %d feed(s): %s", pick, len(links), strings.Join(links, ", "))
	}
	chosen := links[pick-1]
	if len(links) > 1 {
		fmt.Fprintf(stdout, "taking %d. (--pick N takes another)\n", pick)
	}
	res, err = f.Fetch(ctx, aggregator.FetchRequest{URL: chosen})
	if err != nil {
		return foundFeed{}, err
	}
	feed, err = aggregator.ParseFeed(res.Body, res.ContentType, res.FinalURL)
	if err != nil {
		return foundFeed{}, fmt.Errorf("%s, advertised by %s: %w", chosen, rawURL, err)
	}
	return foundFeed{url: pollURL(chosen, res, stdout), title: cleanTitle(feed.Title)}, nil
}

// pollURL is the URL to poll a feed fetched from u at: where it has moved
// to for good, if it has.
func pollURL(u string, res *aggregator.FetchResult, stdout io.Writer) string {
	if res.PermanentRedirect != "" && res.PermanentRedirect != u {
		fmt.Fprintf(stdout, "%s has moved permanently to %s; using the new URL\n", u, res.PermanentRedirect)
		return res.PermanentRedirect
	}
	return u
}

// cleanTitle keeps a feed title on one line, within a sane length.
func cleanTitle(s string) string {
	s = singleLine(s)
	if utf8.RuneCountInString(s) > maxTitleRunes {
		s = string([]rune(s)[:maxTitleRunes-1]) + "…"
	}
	return s
}

// cmdSourcesRemove removes a source by name.
func cmdSourcesRemove(args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("sources remove", stderr, &cf)
	dryRun := fs.Bool("dry-run", false, "show the change without writing it")
	pos, err := parseArgs(fs, &cf, args, 1, "a source name")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(cf.config)
	if err != nil {
		return err
	}
	e, err := configs.RemoveSource(data, cf.config, pos[0], configOptions())
	if err != nil {
		return err
	}
	if err := finish(e, *dryRun, stdout); err != nil {
		return err
	}
	verb := "removed"
	if *dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(stdout, "%s source %s from %s:%d\n", verb, pos[0], cf.config, e.Line)
	return nil
}

// cmdOPMLImport adds every feed of an OPML file that is not a source yet,
// in one validated write.
func cmdOPMLImport(args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("opml import", stderr, &cf)
	dryRun := fs.Bool("dry-run", false, "show the change without writing it")
	pos, err := parseArgs(fs, &cf, args, 1, "an OPML file")
	if err != nil {
		return err
	}
	opml, err := readLimited(pos[0], maxOPMLBytes)
	if err != nil {
		return err
	}
	feeds, err := configs.ParseOPML(opml)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	data, cfg, err := readConfig(cf.config)
	if err != nil {
		return err
	}
	plan := configs.PlanImport(cfg, feeds)
	for _, s := range plan.Skipped {
		fmt.Fprintf(stdout, "skipped %s <%s>: %s\n", orDash(singleLine(s.Title)), s.URL, s.Reason)
	}
	if len(plan.Add) == 0 {
		fmt.Fprintf(stdout, "nothing to import: %d feed(s) in %s, %d skipped\n", len(feeds), pos[0], len(plan.Skipped))
		return nil
	}
	e, err := configs.AddSources(data, cf.config, plan.Add, configOptions())
	if err != nil {
		return err
	}
	if err := finish(e, *dryRun, stdout); err != nil {
		return err
	}
	verb := "imported"
	if *dryRun {
		verb = "would import"
	}
	for _, s := range plan.Add {
		fmt.Fprintf(stdout, "%s %s (%s) %s\n", verb, s.Name, orDash(s.Title), s.URL)
	}
	fmt.Fprintf(stdout, "%s %d source(s) into %s at line %d, skipped %d\n", verb, len(plan.Add), cf.config, e.Line, len(plan.Skipped))
	return nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// cmdOPMLExport writes the sources as OPML 2.0, to stdout or a file.
func cmdOPMLExport(args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("opml export", stderr, &cf)
	out := fs.String("out", "", "file to write (default: standard output)")
	if _, err := parseArgs(fs, &cf, args, 0, "no arguments"); err != nil {
		return err
	}
	cfg, err := loadConfig(cf.config)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := configs.WriteOPML(&buf, cfg.Sources); err != nil {
		return err
	}
	if *out == "" || *out == "-" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if err := configs.WriteFileAtomic(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %d source(s) to %s\n", len(cfg.Sources), *out)
	return nil
}
