package publish

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"time"
)

// render writes a feed view in a format.
func render(v *feedView, s *site, f format) ([]byte, error) {
	switch f {
	case formatRSS:
		return renderRSS(v, s)
	case formatAtom:
		return renderAtom(v, s)
	case formatJSON:
		return renderJSON(v, s)
	}
	return nil, fmt.Errorf("unknown format %q", f.name)
}

// writeXML encodes doc as an indented UTF-8 XML document.
func writeXML(doc any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode xml: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// writeJSON encodes doc as indented JSON without HTML escaping (the
// content is JSON strings, not markup embedded in a page).
func writeJSON(doc any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return b.Bytes(), nil
}

// rfc3339 formats t in UTC to the second, as Atom and JSON Feed want it.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
