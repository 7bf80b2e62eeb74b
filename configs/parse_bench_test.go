package configs

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParse loads a config of 2,000 sources and 20 topics, the size
// of the end-to-end benchmark's: the daemon parses it at every start and
// reload, and `tributary poll` before its first fetch.
func BenchmarkParse(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("data_dir: data\nschedule: \"@every 1h\"\nfetch:\n  concurrency: 8\nsources:\n")
	for i := range 2000 {
		fmt.Fprintf(&sb, "  - name: s%d\n    title: \"Outlet %d\"\n    url: \"http://127.0.0.1:8080/s/%d.xml\"\n", i, i, i)
	}
	sb.WriteString("topics:\n")
	for i := range 20 {
		fmt.Fprintf(&sb, "  - name: t%d\n    title: \"Topic %d\"\n    query: '\"word%d\" OR other%d'\n", i, i, i, i)
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := Parse(data, "bench.yaml", Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Sources) != 2000 || len(cfg.Topics) != 20 {
			b.Fatalf("parsed %d sources and %d topics", len(cfg.Sources), len(cfg.Topics))
		}
	}
}
