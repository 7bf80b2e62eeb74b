package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// Records are one version byte followed by the payload, so the format can
// change (to a binary codec, say) without a schema migration of the keys.
// Version 1 is JSON of the record structs below, which are kept apart from
// the domain types so renaming a Go field never silently changes the format.
const codecJSON byte = 1

// Version 2 is the binary codec of items (itemcodec.go), source states
// (statecodec.go) and stories (storycodec.go), the records every save
// reads or writes.
const codecBinary byte = 2

var errEmptyRecord = errors.New("empty record")

type itemRecord struct {
	ID         string    `json:"id"`
	Source     string    `json:"source"`
	Identity   string    `json:"identity,omitempty"`
	Link       string    `json:"link,omitempty"`
	Title      string    `json:"title,omitempty"`
	Summary    string    `json:"summary,omitempty"`
	Content    string    `json:"content,omitempty"`
	Authors    []string  `json:"authors,omitempty"`
	Categories []string  `json:"categories,omitempty"`
	Published  time.Time `json:"published"`
	Updated    time.Time `json:"updated"`
	FirstSeen  time.Time `json:"first_seen"`
	Hash       string    `json:"hash,omitempty"`
	Topics     []string  `json:"topics,omitempty"`
	StoryID    string    `json:"story,omitempty"`
	MergedBy   string    `json:"merged_by,omitempty"`
	Keys       keyRecord `json:"keys,omitzero"`
}

type keyRecord struct {
	Link  string   `json:"link,omitempty"`
	Title string   `json:"title,omitempty"`
	Bands []uint64 `json:"bands,omitempty"`
}

// storyRecord is a story: its members, with what the story's derived
// fields (published, updated, topics) are computed from, so that keeping
// the topic indexes never needs the members' items.
type storyRecord struct {
	Members []storyMember `json:"members"`
	// Absorbed are the ids of the stories merged into this one, each
	// with an alias record naming this story: kept here so that the
	// aliases follow the story when it is absorbed or deleted in turn.
	Absorbed []string `json:"absorbed,omitempty"`
	// Seq numbers the story in the order stories were first stored; it
	// places the story within its day in the topic indexes (topicKey).
	// Records stored before schema 4 have none until the migration.
	Seq uint64 `json:"seq,omitempty"`
	// KeyLag is how many days the story's key day, which its topic index
	// keys name, is after the day of its Published (see keyDay). Records
	// stored before schema 6 have none: their key day was that day.
	KeyLag uint64 `json:"key_lag,omitempty"`
}

type storyMember struct {
	Source    string    `json:"source"`
	ID        string    `json:"id"`
	Published time.Time `json:"published"`
	Updated   time.Time `json:"updated"`
	Topics    []string  `json:"topics,omitempty"`
}

type stateRecord struct {
	ETag                string    `json:"etag,omitempty"`
	LastModified        string    `json:"last_modified,omitempty"`
	BodyHash            string    `json:"body_hash,omitempty"`
	LastPolled          time.Time `json:"last_polled"`
	LastStatus          int       `json:"last_status,omitempty"`
	LastError           string    `json:"last_error,omitempty"`
	ConsecutiveFailures int       `json:"consecutive_failures,omitempty"`
	NextPoll            time.Time `json:"next_poll"`
	Disabled            bool      `json:"disabled,omitempty"`
	PermanentRedirect   string    `json:"permanent_redirect,omitempty"`
	ConfigURL           string    `json:"config_url,omitempty"`
	RetryAfter          time.Time `json:"retry_after,omitzero"`
	MinInterval         int64     `json:"min_interval_ns,omitempty"`
	// ItemCount is not here: it lives in the counts bucket, maintained by
	// storage alone.
}

// encodeItem encodes an item in the binary codec: items are most of the
// store and are decoded on every lookup, where JSON cost ten times more.
func encodeItem(it *aggregator.Item) ([]byte, error) {
	b, err := appendItem(nil, it)
	if err != nil {
		return nil, fmt.Errorf("encode item: %w", err)
	}
	return b, nil
}

// decodeItem decodes b into a fresh Item; nothing in the result aliases b,
// so it may outlive the transaction b came from.
func decodeItem(b []byte) (aggregator.Item, error) { return decodeItemPart(b, true) }

// decodeItemHead decodes b like decodeItem but without its Summary and
// Content where the record allows skipping them (records of the JSON codec
// are decoded whole). It is for code that needs the item's ids, dates,
// keys and tokens only.
func decodeItemHead(b []byte) (aggregator.Item, error) { return decodeItemPart(b, false) }

func decodeItemPart(b []byte, body bool) (aggregator.Item, error) {
	if len(b) == 0 {
		return aggregator.Item{}, fmt.Errorf("decode record: %w", errEmptyRecord)
	}
	if b[0] == codecBinary {
		it, err := readItem(b[1:], body)
		if err != nil {
			return aggregator.Item{}, fmt.Errorf("decode record: %w", err)
		}
		return it, nil
	}
	var r itemRecord
	if err := decodeRecord(b, &r); err != nil {
		return aggregator.Item{}, err
	}
	return aggregator.Item{
		ID: r.ID, Source: r.Source, Identity: r.Identity,
		Link: r.Link, Title: r.Title, Summary: r.Summary, Content: r.Content,
		Authors: r.Authors, Categories: r.Categories,
		Published: r.Published, Updated: r.Updated, FirstSeen: r.FirstSeen,
		Hash: r.Hash, Topics: r.Topics,
		StoryID: r.StoryID, MergedBy: r.MergedBy,
		Keys: aggregator.StoryKeys{Link: r.Keys.Link, Title: r.Keys.Title, Bands: r.Keys.Bands},
	}, nil
}

func encodeRecord(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(codecJSON)
	enc := json.NewEncoder(&buf)
	// Items are mostly HTML: escaping <, > and & would grow records and
	// slow decoding for nothing.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func decodeRecord(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("decode record: %w", errEmptyRecord)
	}
	switch b[0] {
	case codecJSON:
		// json.Unmarshal copies strings out of b.
		if err := json.Unmarshal(b[1:], v); err != nil {
			return fmt.Errorf("decode record: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("decode record: unknown codec version %d", b[0])
	}
}
