package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// The binary state codec (version 2, as for items): the strings, the
// times in time.Time's binary form, then the integers as varints and
// Disabled as one byte. Every poll reads its source's state and every
// poll, a 304 included, writes it back, so in a round of unchanged
// sources states are most of what the store decodes and encodes; JSON
// took twenty times as long to decode (BenchmarkDecodeState). Records of
// the JSON codec (version 1) are still read: a stored state is rewritten
// in this codec at its next poll.

func encodeState(s *aggregator.SourceState) ([]byte, error) {
	b := make([]byte, 0, 64+len(s.ETag)+len(s.LastModified)+len(s.BodyHash)+
		len(s.LastError)+len(s.PermanentRedirect)+len(s.ConfigURL))
	b = append(b, codecBinary)
	for _, str := range [...]string{s.ETag, s.LastModified, s.BodyHash, s.LastError, s.PermanentRedirect, s.ConfigURL} {
		b = appendString(b, str)
	}
	for _, t := range [...]time.Time{s.LastPolled, s.NextPoll, s.RetryAfter} {
		var err error
		if b, err = appendTime(b, t); err != nil {
			return nil, fmt.Errorf("encode state: %w", err)
		}
	}
	for _, n := range [...]int64{int64(s.LastStatus), int64(s.ConsecutiveFailures), int64(s.MinInterval)} {
		b = binary.AppendVarint(b, n)
	}
	disabled := byte(0)
	if s.Disabled {
		disabled = 1
	}
	return append(b, disabled), nil
}

func decodeState(source string, b []byte) (aggregator.SourceState, error) {
	if len(b) > 0 && b[0] == codecBinary {
		st, err := readState(source, string(b[1:]))
		if err != nil {
			return aggregator.SourceState{}, fmt.Errorf("decode record: %w", err)
		}
		return st, nil
	}
	var r stateRecord
	if err := decodeRecord(b, &r); err != nil {
		return aggregator.SourceState{}, err
	}
	return aggregator.SourceState{
		Source: source,
		ETag:   r.ETag, LastModified: r.LastModified, BodyHash: r.BodyHash,
		LastPolled: r.LastPolled, LastStatus: r.LastStatus, LastError: r.LastError,
		ConsecutiveFailures: r.ConsecutiveFailures, NextPoll: r.NextPoll,
		Disabled: r.Disabled, PermanentRedirect: r.PermanentRedirect,
		ConfigURL: r.ConfigURL, RetryAfter: r.RetryAfter, MinInterval: time.Duration(r.MinInterval),
	}, nil
}

func readState(source, payload string) (aggregator.SourceState, error) {
	r := fieldReader{s: payload}
	st := aggregator.SourceState{Source: source}
	for _, p := range [...]*string{&st.ETag, &st.LastModified, &st.BodyHash, &st.LastError, &st.PermanentRedirect, &st.ConfigURL} {
		*p = r.str()
	}
	for _, p := range [...]*time.Time{&st.LastPolled, &st.NextPoll, &st.RetryAfter} {
		*p = r.time()
	}
	st.LastStatus = int(r.varint())
	st.ConsecutiveFailures = int(r.varint())
	st.MinInterval = time.Duration(r.varint())
	switch r.byte() {
	case 0:
	case 1:
		st.Disabled = true
	default:
		r.fail(errors.New("state record: Disabled is neither 0 nor 1"))
	}
	if err := r.end("state record"); err != nil {
		return aggregator.SourceState{}, err
	}
	return st, nil
}
