package storage

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

func TestStateCodecRoundTrip(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	full := aggregator.SourceState{
		Source: "src", ETag: `W/"abc"`, LastModified: "Tue, 03 Nov 2026 10:00:00 GMT", BodyHash: "f00d",
		LastPolled: time.Date(2026, 11, 3, 10, 0, 0, 123456789, time.UTC), LastStatus: 503,
		LastError: "server said 503: try later", ConsecutiveFailures: 4,
		NextPoll: time.Date(2026, 11, 3, 11, 0, 0, 0, paris), Disabled: true,
		PermanentRedirect: "https://new.example/feed", ConfigURL: "https://old.example/feed",
		RetryAfter: time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC), MinInterval: 90 * time.Minute,
	}
	tests := []struct {
		name string
		in   aggregator.SourceState
	}{
		{"zero", aggregator.SourceState{Source: "src"}},
		{"every field", full},
		{"negative integers", aggregator.SourceState{Source: "src", LastStatus: -1, ConsecutiveFailures: -2, MinInterval: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeState(&tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != codecBinary {
				t.Errorf("version byte = %d, want %d", b[0], codecBinary)
			}
			got, err := decodeState(tt.in.Source, b)
			if err != nil {
				t.Fatal(err)
			}
			if !sameState(got, tt.in) {
				t.Errorf("decoded %+v\nwant    %+v", got, tt.in)
			}
		})
	}
}

// sameState compares states field by field, times as instants with their
// offsets (a decoded zone has no name).
func sameState(a, b aggregator.SourceState) bool {
	for _, p := range [][2]*time.Time{{&a.LastPolled, &b.LastPolled}, {&a.NextPoll, &b.NextPoll}, {&a.RetryAfter, &b.RetryAfter}} {
		_, offA := p[0].Zone()
		_, offB := p[1].Zone()
		if !p[0].Equal(*p[1]) || offA != offB {
			return false
		}
		*p[0], *p[1] = time.Time{}, time.Time{}
	}
	return reflect.DeepEqual(a, b)
}

func TestStateCodecErrors(t *testing.T) {
	st := aggregator.SourceState{Source: "src", ETag: `"e"`, LastPolled: time.Unix(1, 0).UTC(), ConsecutiveFailures: 2}
	b, err := encodeState(&st)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := encodeRecord(stateRecord{ETag: `"e"`, LastPolled: st.LastPolled, ConsecutiveFailures: 2})
	if err != nil {
		t.Fatal(err)
	}
	badFlag := slices.Clone(b)
	badFlag[len(badFlag)-1] = 7
	cases := append(malformedRecords(b, v1), recordCase{"Disabled neither 0 nor 1", badFlag, "Disabled"})
	checkDecoding(t, cases, func(in []byte) error {
		got, err := decodeState("src", in)
		if err == nil && !sameState(got, st) {
			return fmt.Errorf("decoded %+v, want %+v", got, st)
		}
		return err
	})
}

// BenchmarkDecodeState decodes a polled source's state in each codec: the
// binary one is what SaveState writes, JSON what older stores hold.
func BenchmarkDecodeState(b *testing.B) {
	st := aggregator.SourceState{
		Source: "src", ETag: `"5f3c-61a2b"`, LastModified: "Tue, 03 Nov 2026 10:00:00 GMT", BodyHash: "9f86d081884c7d65",
		LastPolled: time.Now().UTC(), LastStatus: 304, NextPoll: time.Now().UTC().Add(time.Hour),
		ConfigURL: "https://news.example/feed.xml", MinInterval: time.Hour,
	}
	bin, err := encodeState(&st)
	if err != nil {
		b.Fatal(err)
	}
	v1, err := encodeRecord(stateRecord{
		ETag: st.ETag, LastModified: st.LastModified, BodyHash: st.BodyHash, LastPolled: st.LastPolled,
		LastStatus: st.LastStatus, NextPoll: st.NextPoll, ConfigURL: st.ConfigURL, MinInterval: int64(st.MinInterval),
	})
	if err != nil {
		b.Fatal(err)
	}
	benchDecoding(b, bin, v1, func(rec []byte) error {
		_, err := decodeState("src", rec)
		return err
	})
}
