package storage

import (
	"bytes"
	"fmt"
	"reflect"
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
	if b[0] != codecBinary {
		t.Errorf("version byte = %d", b[0])
	}
	v1, err := encodeRecord(itemRecord{ID: "x", Source: "s", Title: "T", Published: it.Published})
	if err != nil {
		t.Fatal(err)
	}
	checkDecoding(t, malformedRecords(b, v1), func(in []byte) error {
		got, err := decodeItem(in)
		if err == nil && got.Title != "T" {
			return fmt.Errorf("decoded %+v", got)
		}
		return err
	})
}

// TestItemCodecRoundTrip encodes items with every field set (and with
// none) and checks they decode equal, zones included; and that every
// truncation of the record is an error, never a panic or a wrong item.
func TestItemCodecRoundTrip(t *testing.T) {
	paris := time.FixedZone("", 3600)
	full := aggregator.Item{
		ID: "urn:uuid:1", Source: "wire", Identity: "guid-1",
		Link: "https://example.org/a?x=1", Title: "Forum opens — “quotes” & <tags>",
		Summary: "<p>lede</p>", Content: strings.Repeat("<p>body é 中文</p>", 300),
		Authors: []string{"A", "B"}, Categories: []string{"World"},
		Published: time.Date(2026, 11, 27, 10, 0, 0, 123, paris),
		Updated:   time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC),
		FirstSeen: time.Date(2026, 11, 27, 12, 0, 0, 0, time.FixedZone("", -5*3600-1800)),
		Hash:      "abc", Topics: []string{"hr", "un"}, StoryID: "urn:uuid:0", MergedBy: "near",
		Keys: aggregator.StoryKeys{Link: "example.org/a", Title: "forum opens", Bands: []uint64{1, 1 << 63, 42}},
		Tokens: &aggregator.StoryTokens{
			Title: []string{"forum", "open"}, TitleNamed: []string{"forum"},
			Lede: []string{"lede", "forum", "lede"}, LedeNamed: nil,
		},
	}
	for _, in := range []aggregator.Item{full, {ID: "y", Source: "s"}} {
		b, err := encodeItem(&in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeItem(b)
		if err != nil {
			t.Fatalf("decode %q: %v", in.ID, err)
		}
		for _, p := range []struct{ got, want time.Time }{
			{got.Published, in.Published}, {got.Updated, in.Updated}, {got.FirstSeen, in.FirstSeen},
		} {
			_, gotOff := p.got.Zone()
			_, wantOff := p.want.Zone()
			if !p.got.Equal(p.want) || gotOff != wantOff {
				t.Errorf("time %v decoded as %v", p.want, p.got)
			}
		}
		got.Published, got.Updated, got.FirstSeen = in.Published, in.Updated, in.FirstSeen
		if !reflect.DeepEqual(got, in) {
			t.Errorf("round trip of %q:\n got %+v\nwant %+v", in.ID, got, in)
		}
		head, err := decodeItemHead(b)
		if err != nil {
			t.Fatalf("decode head of %q: %v", in.ID, err)
		}
		got.Summary, got.Content = "", ""
		head.Published, head.Updated, head.FirstSeen = in.Published, in.Updated, in.FirstSeen
		if !reflect.DeepEqual(head, got) {
			t.Errorf("head of %q:\n got %+v\nwant %+v", in.ID, head, got)
		}
		for n := 1; n < len(b); n++ {
			if _, err := decodeItem(b[:n]); err == nil {
				t.Fatalf("%q cut to %d of %d bytes decoded without error", in.ID, n, len(b))
			}
		}
	}
}
