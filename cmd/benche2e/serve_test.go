package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const wrkOK = `Running 10s test @ http://127.0.0.1:41000/topics/x.rss
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms    1.31ms  30.27ms   88.12%
    Req/Sec    24.60k     2.81k   31.06k    70.50%
  489638 requests in 10.00s, 8.13GB read
Requests/sec:  48948.51
Transfer/sec:    832.45MB
`

func TestParseWrk(t *testing.T) {
	gz200, notMod := serveKinds[0], serveKinds[1]
	tests := []struct {
		name    string
		out     string
		kind    serveKind
		gzLen   int
		want    float64
		wantErr string
	}{
		{"200", wrkOK, gz200, 17440, 48948.51, ""},
		{"200 too small", wrkOK, gz200, 40000, 0, "not the feed"},
		{"304", strings.Replace(wrkOK, "8.13GB", "11.17MB", 1), notMod, 17440, 48948.51, ""},
		{"304 with bodies", wrkOK, notMod, 17440, 0, "not 304s"},
		{"non-2xx", strings.Replace(wrkOK, "Requests/sec", "  Non-2xx or 3xx responses: 12\nRequests/sec", 1), gz200, 17440, 0, "non-2xx"},
		{"socket errors", strings.Replace(wrkOK, "Requests/sec", "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec", 1), gz200, 17440, 48948.51, ""},
		{"no rate", "unable to connect to 127.0.0.1:1 Connection refused\n", gz200, 17440, 0, "no Requests/sec"},
		{"no request", strings.Replace(strings.Replace(wrkOK, "489638 requests", "0 requests", 1), "48948.51", "0.00", 1), gz200, 17440, 0, "no request completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseWrk([]byte(tt.out), tt.kind, tt.gzLen)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.reqPerSec != tt.want {
				t.Errorf("req/s %v, want %v", r.reqPerSec, tt.want)
			}
			if strings.Contains(tt.out, "Socket errors") != strings.Contains(r.note, "Socket errors") {
				t.Errorf("note %q", r.note)
			}
		})
	}
}

func TestServingConfig(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"farm's", "# Generated.\ndata_dir: \"d\"\nschedule: \"@every 1h\"\nbacklog: 0\nsources:\n  - name: s0\n    schedule: \"@every 5m\"\n"},
		{"with listen", "listen: \"127.0.0.1:8080\"\ndata_dir: \"d\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "in.yaml")
			if err := os.WriteFile(src, []byte(tt.in), 0o644); err != nil {
				t.Fatal(err)
			}
			dst, err := servingConfig(src, "127.0.0.1:4242", filepath.Join(dir, "out.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			got := string(b)
			for _, want := range []string{"\nlisten: \"127.0.0.1:4242\"\n", "\nschedule: \"@every 24h\"\n", "\ndata_dir: \"d\"\n"} {
				if strings.Count("\n"+got, want) != 1 {
					t.Errorf("config lacks %q once:\n%s", want, got)
				}
			}
			if strings.Contains(tt.in, "    schedule:") && !strings.Contains(got, "    schedule: \"@every 5m\"") {
				t.Errorf("a source's own schedule was changed:\n%s", got)
			}
		})
	}
}

func TestWrkDuration(t *testing.T) {
	for in, want := range map[string]string{"10s": "10s", "1m": "60s", "200ms": "1s", "2.6s": "3s"} {
		d, err := time.ParseDuration(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := wrkDuration(d); got != want {
			t.Errorf("wrkDuration(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestFormatRatio(t *testing.T) {
	for r, want := range map[float64]string{
		6.72:          "6.72x",
		0.88:          "0.88x",
		0.1:           "0.10x",
		0.524 / 105.8: "1/202x",
		0:             "0.00x",
	} {
		if got := formatRatio(r); got != want {
			t.Errorf("formatRatio(%v) = %q, want %q", r, got, want)
		}
	}
}
