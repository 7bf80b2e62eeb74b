package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/aggregator/query"
	"github.com/tributary-news/tributary/storage"
)

// cmdTopics is `tributary topics SUBCOMMAND`.
func cmdTopics(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprint(stderr, "usage: tributary topics test --config FILE --topic NAME [--query Q] [--limit N]\n")
		return errUsage
	}
	return cmdTopicsTest(ctx, args[1:], stdout, stderr)
}

// cmdTopicsTest lists the stored items a topic (or a draft query for it)
// matches, with the terms that matched, and counts the rest. It opens the
// store read-only and changes nothing.
func cmdTopicsTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("topics test", stderr, &cf)
	name := fs.String("topic", "", "the topic to test (a new name tries --query against every source)")
	draft := fs.String("query", "", "a query to try instead of the topic's own")
	limit := fs.Int("limit", 100, "list at most this many matches (0: all)")
	if err := parseFlags(fs, &cf, args); err != nil {
		return err
	}
	if *name == "" {
		fmt.Fprintln(stderr, "tributary topics test: --topic NAME is required")
		return errUsage
	}
	cfg, err := loadConfig(cf.config)
	if err != nil {
		return err
	}
	topic := aggregator.Topic{Name: *name}
	found := false
	for _, t := range cfg.Topics {
		if t.Name == *name {
			topic, found = t, true
		}
	}
	if *draft != "" {
		topic.Query = *draft
	} else if !found {
		return fmt.Errorf("no topic named %q in %s (give --query to try a new one)", *name, cfg.Path)
	}
	if _, err := query.Parse(topic.Query); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	db, err := storage.Open(cfg.DBPath(), storage.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return err
	}
	defer db.Close()
	trial, err := aggregator.TryTopic(topic, cfg.Sources, func(fn func(*aggregator.Item) error) error {
		return db.Items(ctx, fn)
	})
	if err != nil {
		return err
	}
	writeTrial(stdout, topic, trial, *limit)
	return nil
}

func writeTrial(w io.Writer, topic aggregator.Topic, trial *aggregator.TopicTrial, limit int) {
	fmt.Fprintf(w, "topic %s: %s\n", topic.Name, topic.Query)
	if len(topic.Sources) > 0 {
		fmt.Fprintf(w, "sources: %s\n", strings.Join(topic.Sources, ", "))
	}
	fmt.Fprintln(w)
	for i, m := range trial.Matches {
		if limit > 0 && i == limit {
			fmt.Fprintf(w, "… and %d more (raise --limit to list them)\n", len(trial.Matches)-limit)
			break
		}
		fmt.Fprintf(w, "%s  %s  %s\n", m.Item.Published.UTC().Format(time.DateOnly+" 15:04"), m.Item.Source, oneLine(m.Item.Title))
		if m.Item.Link != "" {
			fmt.Fprintf(w, "    %s\n", m.Item.Link)
		}
		fmt.Fprintf(w, "    matched: %s\n", strings.Join(m.Terms, ", "))
	}
	if len(trial.Matches) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d stored items match; %d do not", len(trial.Matches), trial.NotMatched)
	if trial.Excluded > 0 {
		fmt.Fprintf(w, "; %d are from sources the topic does not draw from", trial.Excluded)
	}
	fmt.Fprintln(w, ".")
}

// oneLine folds whitespace so a title stays on its line.
func oneLine(s string) string {
	if s = strings.Join(strings.Fields(s), " "); s == "" {
		return "(untitled)"
	}
	return s
}
