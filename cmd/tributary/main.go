// Command tributary polls news feeds, stores their items and republishes
// merged topic feeds. This package only parses the command line and wires
// the aggregator, storage and publish packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tributary-news/tributary/configs"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `tributary — polls news feeds and republishes merged topic feeds

Usage:
  tributary run     --config FILE            run the daemon: poll on schedule, serve HTTP
  tributary poll    --config FILE [--source NAME]   poll every source (or one) once
  tributary check   --config FILE            validate the config
  tributary export  --config FILE --out DIR  write topic feeds and OPML as static files
  tributary topics test --config FILE --topic NAME [--query Q]
                                             list the stored items a topic's query matches
  tributary backup  --config FILE --out FILE  copy the store consistently (also while run runs)
  tributary compact --config FILE            rewrite the stopped store without its free space
  tributary sources list|add URL|remove NAME --config FILE   list the sources, or edit them in the config
  tributary opml import FILE|export [--out FILE] --config FILE  subscriptions in and out as OPML
  tributary version                          print the version

Common flags: --log-level debug|info|warn|error (default info), --log-format text|json
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 || os.Args[1] != "run" {
		// Every command but the daemon exits when done.
		relaxGCWhileSmall()
	}
	os.Exit(Execute(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command-line mistake (exit code 2).
var errUsage = errors.New("usage")

// Execute runs one command and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		err = cmdRun(ctx, rest, stderr)
	case "poll":
		err = cmdPoll(ctx, rest, stdout, stderr)
	case "check":
		err = cmdCheck(rest, stdout, stderr)
	case "export":
		err = cmdExport(ctx, rest, stdout, stderr)
	case "topics":
		err = cmdTopics(ctx, rest, stdout, stderr)
	case "sources":
		err = cmdSources(ctx, rest, stdout, stderr)
	case "opml":
		err = cmdOPML(rest, stdout, stderr)
	case "backup":
		err = cmdBackup(ctx, rest, stdout, stderr)
	case "compact":
		err = cmdCompact(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "tributary %s\n", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "tributary: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintf(stderr, "tributary: %v\n", err)
		return 1
	}
}

// commonFlags are the flags every command that reads the config takes.
type commonFlags struct {
	config    string
	logLevel  string
	logFormat string
}

func newFlagSet(name string, stderr io.Writer, cf *commonFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cf.config, "config", "", "config file (YAML)")
	fs.StringVar(&cf.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&cf.logFormat, "log-format", "text", "log format: text or json")
	return fs
}

// parseFlags parses args and checks that a config was given.
func parseFlags(fs *flag.FlagSet, cf *commonFlags, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "tributary %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	if cf.config == "" {
		fmt.Fprintf(fs.Output(), "tributary %s: --config FILE is required\n", fs.Name())
		return errUsage
	}
	return nil
}

// load builds the logger the flags ask for (writing to stderr) and loads
// the config, as every command that opens the store does.
func (cf *commonFlags) load(stderr io.Writer) (*slog.Logger, *configs.Config, error) {
	logger, err := newLogger(stderr, cf.logLevel, cf.logFormat)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := loadConfig(cf.config)
	if err != nil {
		return nil, nil, err
	}
	return logger, cfg, nil
}

// newLogger builds the slog logger the flags ask for, writing to w.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}
