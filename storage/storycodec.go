package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The binary story codec (version 2, as for items and states): the
// members, each its source, ID, times in time.Time's binary form and
// topics, then the absorbed story IDs, then the story's sequence number
// (a uvarint; records written before schema 4 end without it), then its
// KeyLag when not 0 (a uvarint; schema 6 on); lists are prefixed with
// their length. Storing an item reads its story's record and writes it
// back, inside the single write transaction, so on a cold poll JSON cost
// a second of the writer's time at 2,000 sources. Records of the JSON
// codec (version 1) are still read, and rewritten in this codec when
// their story next changes.

func encodeStory(r *storyRecord) ([]byte, error) {
	size := 16
	for i := range r.Members {
		m := &r.Members[i]
		size += len(m.Source) + len(m.ID) + 40
		for _, t := range m.Topics {
			size += len(t) + 1
		}
	}
	for _, a := range r.Absorbed {
		size += len(a) + 2
	}
	size += uvarintSize(r.Seq) + uvarintSize(r.KeyLag)
	b := make([]byte, 0, size)
	b = append(b, codecBinary)
	b = binary.AppendUvarint(b, uint64(len(r.Members)))
	for i := range r.Members {
		m := &r.Members[i]
		b = appendString(b, m.Source)
		b = appendString(b, m.ID)
		for _, t := range [...]time.Time{m.Published, m.Updated} {
			var err error
			if b, err = appendTime(b, t); err != nil {
				return nil, fmt.Errorf("encode story: %w", err)
			}
		}
		b = appendStrings(b, m.Topics)
	}
	b = appendStrings(b, r.Absorbed)
	b = binary.AppendUvarint(b, r.Seq)
	if r.KeyLag > 0 {
		b = binary.AppendUvarint(b, r.KeyLag)
	}
	return b, nil
}

func decodeStory(b []byte) (*storyRecord, error) {
	if len(b) > 0 && b[0] == codecBinary {
		r, err := readStoryRecord(string(b[1:]))
		if err != nil {
			return nil, fmt.Errorf("decode record: %w", err)
		}
		return r, nil
	}
	var r storyRecord
	if err := decodeRecord(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// minMemberSize is the fewest bytes a member takes: two empty strings,
// two times (a length and at least 15 bytes each) and an empty topic list.
const minMemberSize = 1 + 1 + 2*(1+15) + 1

func readStoryRecord(payload string) (*storyRecord, error) {
	r := fieldReader{s: payload}
	n := r.count(minMemberSize)
	var st storyRecord
	if n > 0 {
		st.Members = make([]storyMember, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		m := &st.Members[i]
		m.Source, m.ID = r.str(), r.str()
		m.Published, m.Updated = r.time(), r.time()
		m.Topics = r.strs()
	}
	st.Absorbed = r.strs()
	if r.s != "" {
		st.Seq = r.uvarint()
	}
	if r.s != "" {
		// Written only when not 0: a 0 is a byte too many.
		if st.KeyLag = r.uvarint(); st.KeyLag == 0 {
			r.fail(errors.New("trailing bytes in story record"))
		}
	}
	if err := r.end("story record"); err != nil {
		return nil, err
	}
	return &st, nil
}
