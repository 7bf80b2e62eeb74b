package aggregator

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzDefuseXML holds parseDefuseXML, which copies runs of plain ASCII at
// once, to parseDefuseXMLByByte, the byte-at-a-time loop it replaced:
// same output, same error, on any input.
func FuzzDefuseXML(f *testing.F) {
	for _, dir := range []string{"testdata/parse", "testdata/bench"} {
		files, err := filepath.Glob(filepath.Join(dir, "*"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			body, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(body)
		}
	}
	for _, s := range []string{
		"<!DOCTYPE rss [<!ENTITY nbsp \"&#160;\"><!ENTITY x \"boom\">]><rss>a&nbsp;b&x;c&amp;d</rss>",
		"<a>\r\n\t<![CDATA[x & <y> \x01]]><!-- & \x02 --><b attr='<&>'>&#1;&#x41;&#xD800;</b>\x7f\x00</a>",
		"<a><b><c></a></c>&&;&#;&#x;&toolongaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;",
		"caf\xc3\xa9 \xff\xfe <x/> <y / > < z>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := parseDefuseXML(bytes.Clone(body))
		want, wantErr := parseDefuseXMLByByte(bytes.Clone(body))
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !bytes.Equal(got, want) {
			t.Fatalf("parseDefuseXML(%q)\n= %q, %v\nwant %q, %v", body, got, gotErr, want, wantErr)
		}
		if gotErr == nil && utf8.Valid(body) && !utf8.Valid(got) {
			t.Fatalf("parseDefuseXML(%q) made valid UTF-8 invalid: %q", body, got)
		}
	})
}

// BenchmarkDefuseXML times parseDefuseXML on the 50-item RSS and Atom
// fixtures, against the byte-at-a-time reference.
func BenchmarkDefuseXML(b *testing.B) {
	for _, file := range []string{"news-50.rss", "news-50.atom"} {
		body, err := os.ReadFile(filepath.Join("testdata", "bench", file))
		if err != nil {
			b.Fatal(err)
		}
		for _, impl := range []struct {
			name   string
			defuse func([]byte) ([]byte, error)
		}{{"runs", parseDefuseXML}, {"bytes", parseDefuseXMLByByte}} {
			b.Run(file+"/"+impl.name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					if _, err := impl.defuse(body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// parseDefuseXMLByByte is parseDefuseXML as it was before its plain-ASCII
// runs: the reference FuzzDefuseXML holds it to.
func parseDefuseXMLByByte(body []byte) ([]byte, error) {
	start, end := parseFindDoctype(body)
	var entities map[string]string
	if start >= 0 {
		for _, m := range parseEntityDecl.FindAllSubmatch(body[start:end], -1) {
			if entities == nil {
				entities = make(map[string]string)
			}
			value := string(m[2]) + string(m[3])
			if !parseCharRef.MatchString(value) {
				value = ""
			}
			entities[string(m[1])] = value
		}
		body = slices.Concat(body[:start], body[end:])
	}
	out := make([]byte, 0, len(body))
	var (
		open   [][]byte // names of the open elements (sub-slices of body)
		tagEnd int      // end of the start tag last measured
	)
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '<' && (bytes.HasPrefix(body[i:], []byte("<![CDATA[")) || bytes.HasPrefix(body[i:], []byte("<!--"))):
			// Literal text: references are not references here.
			closer := []byte("]]>")
			if body[i+2] == '-' {
				closer = []byte("-->")
			}
			n := bytes.Index(body[i+4:], closer)
			if n < 0 {
				n = len(body)
			} else {
				n = i + 4 + n + len(closer)
			}
			out = parseAppendXMLChars(out, body[i:n])
			i = n
		case c == '<' && i >= tagEnd && i+1 < len(body):
			// Follow the nesting, tolerating what the non-strict decoder
			// tolerates: an end tag closes the nearest open element of its
			// name (and those inside it), an unmatched one nothing.
			if body[i+1] == '/' {
				name := parseTagName(body, i+2)
				for j := len(open) - 1; j >= max(0, len(open)-parseMaxUnclosed); j-- {
					if bytes.Equal(open[j], name) {
						open = open[:j]
						break
					}
				}
			} else if name := parseTagName(body, i+1); len(name) > 0 {
				tagEnd = parseTagEnd(body, i+1)
				if selfClosing := body[tagEnd-2] == '/'; tagEnd < len(body) && !selfClosing {
					open = append(open, name)
					if len(open) > parseMaxDepth {
						return nil, fmt.Errorf("parse feed: elements nested more than %d deep", parseMaxDepth)
					}
				}
			}
			out = append(out, c)
			i++
		case c == '&':
			window := body[i+1 : min(len(body), i+1+parseMaxEntityName)]
			semi := bytes.IndexByte(window, ';')
			if semi <= 0 {
				out = append(out, c)
				i++
				continue
			}
			name := window[:semi]
			ref := body[i : i+semi+2]
			i += semi + 2
			if name[0] == '#' {
				if r, ok := parseCharRefRune(name[1:]); ok && !parseIsXMLChar(r) {
					continue // a forbidden character, spelt as a reference
				}
				out = append(out, ref...)
				continue
			}
			if value, ok := entities[string(name)]; ok {
				out = append(out, value...)
				continue
			}
			out = append(out, ref...)
		case c >= 0x20 && c < 0x80:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(body[i:])
			if parseIsXMLChar(r) || r == '\r' {
				out = append(out, body[i:i+size]...)
			}
			i += size
		}
	}
	return out, nil
}
