package storage

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

func testStory() *storyRecord {
	at := time.Date(2026, 11, 3, 10, 0, 0, 5, time.UTC)
	return &storyRecord{
		Members: []storyMember{
			{Source: "xinhua", ID: "https://x.example/1", Published: at, Updated: at.Add(time.Hour), Topics: []string{"human-rights", "un"}},
			{Source: "cgtn", ID: "urn:uuid:2", Published: at.In(time.FixedZone("", 8*3600)).Add(time.Minute)},
		},
		Absorbed: []string{"urn:uuid:3", "https://x.example/4"},
		Seq:      300,
	}
}

// sameStory compares records member by member, times as instants with
// their offsets (a decoded zone has no name).
func sameStory(a, b *storyRecord) bool {
	if len(a.Members) != len(b.Members) || !slices.Equal(a.Absorbed, b.Absorbed) || a.Seq != b.Seq || a.KeyLag != b.KeyLag {
		return false
	}
	for i := range a.Members {
		ma, mb := a.Members[i], b.Members[i]
		for _, p := range [][2]*time.Time{{&ma.Published, &mb.Published}, {&ma.Updated, &mb.Updated}} {
			_, offA := p[0].Zone()
			_, offB := p[1].Zone()
			if !p[0].Equal(*p[1]) || offA != offB {
				return false
			}
			*p[0], *p[1] = time.Time{}, time.Time{}
		}
		if !reflect.DeepEqual(ma, mb) {
			return false
		}
	}
	return true
}

func TestStoryCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   *storyRecord
	}{
		{"members, topics and absorbed stories", testStory()},
		{"no members", &storyRecord{}},
		{"a key lag", func() *storyRecord { r := testStory(); r.KeyLag = 2; return r }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeStory(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != codecBinary {
				t.Errorf("version byte = %d, want %d", b[0], codecBinary)
			}
			got, err := decodeStory(b)
			if err != nil {
				t.Fatal(err)
			}
			if !sameStory(got, tt.in) {
				t.Errorf("decoded %+v\nwant    %+v", got, tt.in)
			}
		})
	}
}

// TestStoryCodecUnnumbered: records written before schema 4 end after
// the absorbed list; they decode with no sequence number.
func TestStoryCodecUnnumbered(t *testing.T) {
	want := testStory()
	want.Seq = 0
	b, err := encodeStory(want)
	if err != nil {
		t.Fatal(err)
	}
	if b[len(b)-1] != 0 {
		t.Fatalf("record ends in %x, want the uvarint 0", b[len(b)-1])
	}
	got, err := decodeStory(b[:len(b)-1])
	if err != nil {
		t.Fatal(err)
	}
	if !sameStory(got, want) {
		t.Errorf("decoded %+v\nwant    %+v", got, want)
	}
}

func TestStoryCodecErrors(t *testing.T) {
	want := testStory()
	b, err := encodeStory(want)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := encodeRecord(want)
	if err != nil {
		t.Fatal(err)
	}
	cases := append(malformedRecords(b, v1), recordCase{"more members than bytes", []byte{codecBinary, 0xff, 0xff, 0x03, 0}, "truncated"})
	checkDecoding(t, cases, func(in []byte) error {
		got, err := decodeStory(in)
		if err == nil && !sameStory(got, want) {
			return fmt.Errorf("decoded %+v, want %+v", got, want)
		}
		return err
	})
}

// BenchmarkDecodeStory decodes a three-member story in each codec: the
// binary one is what saves write, JSON what older stores hold.
func BenchmarkDecodeStory(b *testing.B) {
	r := testStory()
	r.Members = append(r.Members, r.Members[0])
	r.Members[2].Source = "chinadaily"
	bin, err := encodeStory(r)
	if err != nil {
		b.Fatal(err)
	}
	v1, err := encodeRecord(r)
	if err != nil {
		b.Fatal(err)
	}
	benchDecoding(b, bin, v1, func(rec []byte) error {
		_, err := decodeStory(rec)
		return err
	})
}
