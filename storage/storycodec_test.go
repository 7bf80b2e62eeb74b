package storage

import (
	"reflect"
	"slices"
	"strings"
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
	}
}

// sameStory compares records member by member, times as instants with
// their offsets (a decoded zone has no name).
func sameStory(a, b *storyRecord) bool {
	if len(a.Members) != len(b.Members) || !slices.Equal(a.Absorbed, b.Absorbed) {
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
	tests := []struct {
		name string
		in   []byte
		want string // error substring; "" means success
	}{
		{"valid", b, ""},
		{"valid version 1 (JSON), as stores written before the binary codec hold", v1, ""},
		{"empty", nil, "empty record"},
		{"unknown version", append([]byte{9}, b[1:]...), "unknown codec version 9"},
		{"truncated", b[:len(b)-3], "truncated"},
		{"more members than bytes", []byte{codecBinary, 0xff, 0xff, 0x03, 0}, "truncated"},
		{"corrupt version 1", v1[:len(v1)-3], "decode record"},
		{"trailing bytes", append(slices.Clone(b), 0), "trailing bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeStory(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("decodeStory: %v", err)
			case tt.want == "" && !sameStory(got, want):
				t.Errorf("decoded %+v, want %+v", got, want)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
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
	for _, c := range []struct {
		name string
		rec  []byte
	}{{"binary", bin}, {"json", v1}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeStory(c.rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
