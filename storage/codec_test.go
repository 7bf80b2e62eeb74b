package storage

import (
	"slices"
	"strings"
	"testing"
)

// recordCase is a stored record and the error decoding it must give.
type recordCase struct {
	name string
	in   []byte
	want string // error substring; "" means success
}

// malformedRecords are the cases every record codec must get right, made
// from a valid record in the binary codec and the same in JSON (version 1,
// as stores written before the binary codec hold).
func malformedRecords(bin, v1 []byte) []recordCase {
	return []recordCase{
		{"valid", bin, ""},
		{"valid version 1 (JSON)", v1, ""},
		{"empty", nil, "empty record"},
		{"unknown version", append([]byte{9}, bin[1:]...), "unknown codec version 9"},
		{"truncated", bin[:len(bin)-3], "truncated"},
		{"corrupt version 1", v1[:len(v1)-3], "decode record"},
		{"trailing bytes", append(slices.Clone(bin), 0), "trailing bytes"},
	}
}

// checkDecoding runs decode on every case. decode returns the decoding's
// error, or one of its own when a record decoded to the wrong value.
func checkDecoding(t *testing.T, cases []recordCase, decode func([]byte) error) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := decode(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Error(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// benchDecoding runs decode on a record in each codec, as the
// sub-benchmarks "binary" and "json".
func benchDecoding(b *testing.B, bin, v1 []byte, decode func([]byte) error) {
	for _, c := range []struct {
		name string
		rec  []byte
	}{{"binary", bin}, {"json", v1}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := decode(c.rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
