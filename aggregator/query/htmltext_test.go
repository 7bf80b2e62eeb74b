package query

import (
	"bytes"
	"strings"
	"testing"

	nethtml "golang.org/x/net/html"
)

// tokenizerHTMLTextPrefix is appendHTMLTextPrefix as it was built on
// golang.org/x/net/html's Tokenizer: the reference the scanner is held to.
func tokenizerHTMLTextPrefix(dst []byte, s string, limit int) (_ []byte, complete bool) {
	start := len(dst)
	cut := func(from int) ([]byte, bool) {
		if limit <= 0 || len(dst)-start < limit {
			return dst, false
		}
		for i := max(from, start+limit-1); i < len(dst); i++ {
			switch dst[i] {
			case ' ', '\t', '\n', '\r', '\f':
				return dst[:i+1], true
			}
		}
		return dst, false
	}
	z := nethtml.NewTokenizer(strings.NewReader(s))
	var nameBuf [16]byte
	var skip []byte
	depth := 0
	for {
		tt := z.Next()
		switch tt {
		case nethtml.ErrorToken:
			return dst, true
		case nethtml.TextToken:
			if skip == nil {
				from := len(dst)
				dst = append(dst, z.Text()...)
				if out, stop := cut(from); stop {
					return out, false
				}
			}
			continue
		case nethtml.StartTagToken, nethtml.EndTagToken, nethtml.SelfClosingTagToken:
		default:
			continue
		}
		name := tagName(nameBuf[:0], string(z.Raw()))
		switch {
		case skip != nil:
			if bytes.Equal(name, skip) {
				switch tt {
				case nethtml.StartTagToken:
					depth++
				case nethtml.EndTagToken:
					if depth--; depth == 0 {
						skip = nil
					}
				}
			}
		case tt == nethtml.StartTagToken && isSkipped(name):
			skip = append([]byte(nil), name...)
			depth = 1
		case !isInline(name):
			dst = append(dst, ' ')
			if out, stop := cut(len(dst) - 1); stop {
				return out, false
			}
		}
	}
}

// htmlTextCases are fragments that take each path of the HTML5
// tokenizer: tags cut short by the end, quoted and unquoted attributes
// holding '>' and '/', the self-closing check, comments and their
// endings, bogus comments, doctypes, raw text elements and the escapes
// of script data, references of every form, line breaks and NULs.
var htmlTextCases = []string{
	"",
	"plain",
	"a<",
	"a</",
	"a</>b",
	"a</ b>c",
	"a</1>c",
	"a<p",
	"a<p class",
	"a<p class=",
	`a<p class="x`,
	"a</p",
	"a</p x",
	"a<1b",
	"a<<p>b",
	"a < b > c",
	`<a href="x>y">link</a>`,
	`<a href='x>y' title=z>link</a>`,
	`<a href=x>y>link</a>`,
	"<p a=/>x</p>",
	"<p a=b/>x",
	"<p/>x",
	"<br/>x<br />y",
	"<script/>alert(1)</script>after",
	"<script a=/>x</script>y",
	"<script a = / >x</script>y",
	"<style a=b a=/>x</style>y",
	"<style A=b a=/>x</style>y",
	`<style =a b=/>x</style>y`,
	"<p =a>x",
	"<p a=>x",
	"<p a = 'b' c = d e>x",
	"<p\ta\n=\rb\f>x",
	"a<!-- b -->c",
	"a<!-->b",
	"a<!--->b",
	"a<!---->b",
	"a<!-- b --!>c",
	"a<!-- b --!x -->c",
	"a<!-- b --!-->c",
	"a<!-- b -- >c-->d",
	"a<!-- b",
	"a<!-- b -",
	"a<!-- b --",
	"a<!-- b --!",
	"a<!",
	"a<!-",
	"a<!x",
	"a<!>b",
	"a<!DOCTYPE html>b",
	"a<!doctype html",
	"a<!DOCTY",
	"a<![CDATA[x]]>y",
	"a<?xml version='1.0'?>b",
	"a<?b",
	"<script>a<b</script>c",
	"<script>x</scriptx>y</script>z",
	"<script>x</SCRIPT >y",
	"<script>x</script",
	"<script>x</scr",
	"<script>x</",
	"<script>x<",
	"<script>x<!--y</script>z",
	"<script><!--x--></script>y",
	"<script><!--<script>x</script>y</script>z",
	"<script><!--<script>x</script>y-->z</script>w",
	"<script><!--<script>x<!--y-->z</script>w",
	"<script><!--<scriptx>y</script>z",
	"<script><!--<SCRIPT/>y</script>z</script>w",
	"<script><!--x<y--</script>z",
	"<script><!--x-<y</script>z",
	"<script><!--x</scr</script>z",
	"<script><!--<script>x--<y</script>z",
	"<script><!--<script>x-<y</script>z",
	"<script><!--<script>x</scrip",
	"<script><!-x</script>y",
	"<script><!x</script>y",
	"<script><!--",
	"<script><!--<script",
	"<script><!--<script>",
	"<style>a</style >b",
	"<style>a</style/>b",
	"<style>a</styl</style>b",
	"<style>a</ style>b</style>c",
	"<title>a &amp; b</title>c",
	"<textarea>a &lt;b&gt;</textarea>c",
	"<TITLE>x</Title>y",
	"<xmp>a &amp; <b>b</b></xmp>c",
	"<iframe>a</iframe>b",
	"<noscript>a</noscript>b",
	"<noembed>a</noembed>b<noframes>c</noframes>d",
	"<plaintext>a</plaintext>b &amp;",
	"<template>a<template>b</template>c</template>d",
	"<object>a</object>b",
	"<ruby>a<rt>b</rt><rp>(</rp></ruby>c",
	"<rt/>a",
	"&amp;&lt;&gt;&quot;&apos;&nbsp;&ldquo;&rdquo;&lsquo;&rsquo;&ndash;&mdash;&hellip;",
	"&#39;&#160;&#8220;&#8221;&#8216;&#8217;&#8211;&#8212;&#8230;",
	"&amp &lt &copy &ampx; &notit; &notin; &not",
	"&#; &#x; &#xZZ &#65 &#x41; &#X42; &#0; &#128; &#x9F; &#xD800; &#x110000; &#99999999999;",
	"&eacute;&Eacute &NotEqualTilde; &fjlig; &; & &&amp;",
	"a&b=c&d",
	"a\r\nb\rc\n",
	"a\x00b<script>\x00</script><title>\x00&amp;</title>",
	"<plaintext>\x00\r\n&amp;",
	"a<b>b</b>c<p>d</p>e<div>f",
	"<P CLASS=x>a</P>b",
	"<averyveryverylongtagname>a</averyveryverylongtagname>b",
	"<scriptx>a</scriptx>b",
	"<p>ümlaut &eacute; 漢字</p>",
	"\xff<p>\xfe</p>",
}

func TestHTMLTextMatchesTokenizer(t *testing.T) {
	for _, in := range htmlTextCases {
		for _, limit := range []int{0, 1, 2, 3, 5, 8, 13, 40} {
			checkHTMLText(t, in, limit)
		}
	}
}

func checkHTMLText(t *testing.T, in string, limit int) {
	t.Helper()
	want, wantComplete := tokenizerHTMLTextPrefix([]byte("x"), in, limit)
	got, complete := appendHTMLTextPrefix([]byte("x"), in, limit)
	if string(got) != string(want) || complete != wantComplete {
		t.Fatalf("appendHTMLTextPrefix(%q, %d) = %q, %v; the Tokenizer gives %q, %v", in, limit, got, complete, want, wantComplete)
	}
}

func FuzzHTMLText(f *testing.F) {
	for _, in := range htmlTextCases {
		f.Add(in, 0)
	}
	f.Add(loadItem(f, "news_en.html"), 100)
	f.Add(loadItem(f, "news_zh.html"), 7)
	f.Fuzz(func(t *testing.T, in string, limit int) {
		checkHTMLText(t, in, limit%64)
	})
}
