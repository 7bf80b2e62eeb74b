package storage

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

func TestTimeKeyOrder(t *testing.T) {
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), // clamped
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(-1, 0),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 3600)),
		time.Date(2025, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), // clamped
	}
	for i := 1; i < len(times); i++ {
		a, b := timeKey(times[i-1]), timeKey(times[i])
		if bytes.Compare(a[:], b[:]) >= 0 {
			t.Errorf("timeKey(%v) >= timeKey(%v)", times[i-1], times[i])
		}
	}
	for _, tm := range times[1 : len(times)-1] {
		k := timeKey(tm)
		if got := parseTimeKey(k[:]); !got.Equal(tm) {
			t.Errorf("parseTimeKey(timeKey(%v)) = %v", tm, got)
		}
	}
}

func TestCodec(t *testing.T) {
	it := aggregator.Item{ID: "x", Source: "s", Title: "T", Published: time.Unix(1, 0).UTC()}
	b, err := encodeItem(&it)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != codecJSON {
		t.Errorf("version byte = %d", b[0])
	}
	tests := []struct {
		name string
		in   []byte
		want string // error substring; "" means success
	}{
		{"valid", b, ""},
		{"empty", nil, "empty record"},
		{"unknown version", append([]byte{9}, b[1:]...), "unknown codec version 9"},
		{"corrupt", b[:len(b)-3], "decode record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeItem(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("decodeItem: %v", err)
			case tt.want == "" && got.Title != "T":
				t.Errorf("decoded %+v", got)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
