package aggregator

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tributary-news/tributary/aggregator/fifo"
	"github.com/tributary-news/tributary/aggregator/query"
)

// Story merging: when one news story runs in many outlets, their items are
// kept as one Story. Two items are copies of one story when one of three
// rules holds for the pair, in order of confidence:
//
//  1. "link": the same CanonicalLink.
//  2. "title": the same TitleKey, published within StoryWindow, and the
//     ledes do not contradict it.
//  3. "near": a near-duplicate title and lede, published within
//     StoryWindow, found through MinHash LSH bands and then checked word by
//     word, so that stories built on one template (the same headline with
//     another place, person or number) stay apart.
//
// Precision comes first: a wrong merge hides a story, a missed one only
// repeats it.
//
// Stories are single-linkage clusters over these rules: an incoming item
// is compared with the stored items the story indexes find, and joins
// every story one of them belongs to; when it matches several, they are
// merged into one (see Item.MergeStories). Every rule is symmetric and
// every pair is compared when the later of the two arrives, so the stories
// a set of items ends up in — the connected components of the pairs the
// rules match — do not depend on the order the items arrive in, as long
// as no lookup is cut short by its caps (the latest 64 entries of a link,
// title key or band within the window, the 16 near-duplicate candidates
// sharing most bands). Only new items are compared: an edited item keeps
// its story, and pruning an item never splits one.

// StoryWindow is how far apart in publication two items may be for the
// title and near-duplicate rules to merge them.
const StoryWindow = 48 * time.Hour

// Merge rules, as recorded in Item.MergedBy.
const (
	MergedByLink  = "link"
	MergedByTitle = "title"
	MergedByNear  = "near"
	// MergedByBridge marks the founder of a story absorbed into another
	// because a later item matched both.
	MergedByBridge = "bridge"
)

const (
	minhashSize    = 32 // hash functions
	minhashRows    = 2  // per band: 16 bands find pairs of Jaccard 0.5 with p > 0.99
	ledeTokens     = 48 // content tokens of the summary (or content) compared
	minSharedBands = 2  // a near-duplicate of Jaccard 0.5 shares 4 bands on average
	maxCandidates  = 16 // candidates verified per item, most bands shared first
	// minTitleOverlap is the least share of the shorter title's tokens
	// that a near-duplicate's titles have in common (see nearDuplicate).
	minTitleOverlap = 0.5
)

// trackingParams are query parameters that say how a reader arrived, not
// what they read; CanonicalLink drops them. Keys are lower case; a key
// ending in "_" is a prefix. Keep the list here, in one place.
var trackingParams = []string{
	"utm_", "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
	"mc_cid", "mc_eid", "ocid", "cmpid", "igshid", "spm", "_ga", "_gl",
	"ref_src", "ref_url", "s_cid", "mkt_tok", "oly_enc_id", "oly_anon_id",
	"vero_id", "wt.mc_id", "__twitter_impression",
}

func isTrackingParam(key string) bool {
	key = strings.ToLower(key)
	for _, p := range trackingParams {
		if strings.HasSuffix(p, "_") && strings.HasPrefix(key, p) || key == p {
			return true
		}
	}
	return false
}

// CanonicalLink returns the form of an http(s) link that copies of one
// article share: scheme, leading "www.", default port, user info, fragment,
// trailing slash and tracking parameters dropped, host lower-cased, the
// remaining query parameters sorted. It returns "" for anything else, and
// for a site's home page, which many items may link to.
func CanonicalLink(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return ""
	}
	host := strings.ToLower(u.Hostname())
	host = strings.TrimSuffix(host, ".")
	host = strings.TrimPrefix(host, "www.")
	if host == "" {
		return ""
	}
	if port := u.Port(); port != "" && port != "80" && port != "443" {
		host += ":" + port
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	q := u.Query()
	for k := range q {
		if isTrackingParam(k) {
			delete(q, k)
		}
	}
	for _, vs := range q {
		slices.Sort(vs)
	}
	query := q.Encode() // sorted by key
	if path == "" && query == "" {
		return ""
	}
	if query != "" {
		return host + path + "?" + query
	}
	return host + path
}

// knownOutlets are outlet names (normalised words joined by spaces) that
// TitleKey strips when a title ends with one, whatever source carried it.
var knownOutlets = map[string]bool{
	"xinhua": true, "xinhuanet": true, "xinhua net": true, "xinhua english": true, "news cn": true,
	"cgtn": true, "cgtn com": true, "china daily": true, "chinadaily": true, "chinadaily com cn": true,
	"global times": true, "globaltimes": true, "globaltimes cn": true, "people s daily": true,
	"people s daily online": true, "peoples daily": true, "people cn": true, "en people cn": true,
	"china org cn": true, "china news": true, "ecns": true, "cctv": true, "cctv com": true,
	"shine": true, "shanghai daily": true, "south china morning post": true, "scmp": true,
	"reuters": true, "ap": true, "ap news": true, "associated press": true, "afp": true,
	"bbc": true, "bbc news": true, "cnn": true, "al jazeera": true, "the guardian": true,
	"un news": true, "france 24": true, "dw": true, "tass": true, "nikkei asia": true,
	"新华网": true, "新华社": true, "人民网": true, "中国日报网": true, "央视网": true,
	"环球网": true, "中新网": true, "中国新闻网": true, "光明网": true, "澎湃新闻": true,
}

// titleSeparators end a title's last segment when an outlet appends its
// name: "… - CGTN", "… | Reuters", "…：新华网".
var titleSeparators = []string{" - ", " – ", " — ", " | ", " ｜ ", "｜", " :: ", "：", " _ ", "_", "丨"}

// TitleKey returns the normalised title the title rule compares: NFKC,
// case folded, diacritics removed, punctuation and spaces collapsed to one
// space, and the outlet's name dropped where it is appended to the title.
// names are the carrying source's name and title; a trailing segment is
// taken as an outlet name only when it is one of knownOutlets, made of the
// words of names, a bare domain name, or a short Chinese name ending in
// 网, 报 or 社, and the title before it keeps at least two words.
func TitleKey(title string, names ...string) string {
	return strings.Join(titleWords(title, names), " ")
}

// titleWords is TitleKey as words.
func titleWords(title string, names []string) []string {
	title = stripOutlet(title, names)
	words, _ := query.Words(title)
	return words
}

// stripOutlet drops an outlet's name appended to title.
func stripOutlet(title string, names []string) string {
	title = strings.TrimSpace(title)
	cut, sepLen := -1, 0
	for _, sep := range titleSeparators {
		if i := strings.LastIndex(title, sep); i > cut {
			cut, sepLen = i, len(sep)
		}
	}
	if cut <= 0 {
		return title
	}
	head, seg := title[:cut], strings.TrimSpace(title[cut+sepLen:])
	if hw, ns := query.Words(head); len(hw) < 2 && (len(hw) == 0 || !ns[0] || utf8.RuneCountInString(hw[0]) < 4) {
		return title // too little would be left: "Reuters | Analysis"
	}
	if isOutletName(seg, names) {
		return head
	}
	return title
}

func isOutletName(seg string, names []string) bool {
	words, noSpace := query.Words(seg)
	if len(words) == 0 {
		return true // "Title -": nothing after the separator
	}
	if len(words) > 5 {
		return false
	}
	if knownOutlets[strings.Join(words, " ")] {
		return true
	}
	if len(words) == 1 && noSpace[0] {
		n := utf8.RuneCountInString(words[0])
		r, _ := utf8.DecodeLastRuneInString(words[0])
		if n <= 6 && (r == '网' || r == '报' || r == '社') {
			return true
		}
	}
	if isDomainName(seg) {
		return true
	}
	own := map[string]bool{}
	for _, n := range names {
		ws, _ := query.Words(n)
		for _, w := range ws {
			own[w] = true
		}
	}
	for _, w := range words {
		if !own[w] {
			return false
		}
	}
	return true
}

// isDomainName reports whether s looks like a bare host name
// ("Chinadaily.com.cn", "news.cn").
func isDomainName(s string) bool {
	if strings.ContainsAny(s, " /") || !strings.Contains(s, ".") {
		return false
	}
	labels := strings.Split(strings.ToLower(s), ".")
	for _, l := range labels {
		if l == "" {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return len(tld) >= 2 && len(tld) <= 6 && strings.Trim(tld, "0123456789") == tld
}

// stopwords carry no story of their own: they are left out of the word
// sets compared.
var stopwords = map[string]bool{
	"a": true, "an": true, "the": true, "of": true, "to": true, "in": true, "on": true,
	"for": true, "and": true, "or": true, "with": true, "at": true, "by": true, "from": true,
	"as": true, "is": true, "are": true, "was": true, "were": true, "be": true, "been": true,
	"it": true, "its": true, "this": true, "that": true, "these": true, "those": true,
	"s": true, "t": true, "has": true, "have": true, "had": true, "will": true, "after": true,
	"over": true, "into": true, "amid": true, "says": true, "said": true, "say": true,
	"about": true, "their": true, "his": true, "her": true, "he": true, "she": true,
	"they": true, "we": true, "not": true, "but": true, "than": true, "more": true,
	"up": true, "out": true, "new": true, "also": true, "which": true, "who": true,
}

// storyDoc is an item prepared for comparison. Its sets hold tokens as
// their 64-bit hashes (fnv64), sorted and without duplicates: a document
// is a few small allocations, cheap to build from stored tokens and to
// keep in a cache, and sets compare by merging integers. Two tokens that
// differ but share a hash count as one; for 64-bit hashes of news
// vocabulary that happens once in billions of comparisons, and then only
// nudges a score.
type storyDoc struct {
	source     string
	title      []string   // content tokens of the title, outlet name stripped
	titleSet   []uint64   // the same as a set
	titleWords []string   // the token of each hash in titleSet
	key        []uint64   // title tokens naming something: numbers, capitalised words
	lede       []uint64   // content tokens of the summary (else content), the first ledeTokens, as a set
	ledeKey    []uint64   // lede tokens naming something
	seq        [][]string // title tokens, then lede tokens, in order: where abbreviations are spelt out
}

// mentions reports whether the document's title or lede holds the token
// of hash h.
func (d *storyDoc) mentions(h uint64) bool {
	return has(d.titleSet, h) || has(d.lede, h)
}

// stem reduces a folded word to a form its inflections share: common
// suffixes dropped ("finished", "launches", "rights"), then at most seven
// letters ("congratulates", "congratulatory").
func stem(w string) string {
	for _, suf := range []string{"ing", "ed", "es", "s"} {
		if strings.HasSuffix(w, suf) && len(w)-len(suf) >= 4 && !strings.HasSuffix(w, "ss") {
			w = w[:len(w)-len(suf)]
			break
		}
	}
	i := 0
	for k := range w {
		if i == 7 {
			return w[:k]
		}
		i++
	}
	return w
}

func isNumber(w string) bool {
	for _, r := range w {
		if unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// appendTokens appends the content tokens of normalised words: stemmed
// words without stopwords, and character bigrams of scripts written
// without spaces.
func appendTokens(dst []string, words []string, noSpace []bool) []string {
	for i, w := range words {
		if noSpace[i] {
			runes := []rune(w)
			if len(runes) == 1 {
				dst = append(dst, w)
			}
			for k := 0; k+1 < len(runes); k++ {
				dst = append(dst, string(runes[k:k+2]))
			}
			continue
		}
		if stopwords[w] || len(w) == 1 && !isNumber(w) {
			continue
		}
		dst = append(dst, stem(w))
	}
	return dst
}

// namedTokens returns the content tokens of text (at most limit) and
// those of them that name something: numbers, and words written with a
// capital letter other than at the start of a sentence (all of them in a
// headline written in Title Case, where capitals say nothing). full
// reports whether it stopped at the limit, before the end of the text.
// splitter is reused across the fields of the text.
func namedTokens(splitter *query.WordSplitter, text string, limit int) (tokens []string, key []string, full bool) {
	type field struct {
		end   int // tokens[previous end:end] are the field's
		upper bool
	}
	// About a word in six bytes of text: room for the tokens, up to
	// the limit, without growing.
	n := min(limit+8, len(text)/4+1)
	tokens = make([]string, 0, n)
	fields := make([]field, 0, n)
	var words []string // the words of one field, reused
	var noSpace []bool
	upper, long := 0, 0
	start := true
	for rest := text; !full; {
		f, next, ok := nextField(rest)
		if !ok {
			break
		}
		rest = next
		n := len(tokens)
		words, noSpace = splitter.AppendWords(words[:0], noSpace[:0], f)
		tokens = appendTokens(tokens, words, noSpace)
		sentenceStart := start
		start = strings.ContainsAny(f[len(f)-1:], ".!?:")
		if len(tokens) == n {
			continue
		}
		r, _ := utf8.DecodeRuneInString(strings.TrimLeft(f, "\"'“‘(["))
		up := unicode.IsUpper(r) && !sentenceStart
		if !sentenceStart && len(f) >= 4 {
			long++
			if up {
				upper++
			}
		}
		fields = append(fields, field{len(tokens), up})
		// Enough tokens: the rest of a long text is not read.
		full = len(tokens) >= limit
	}
	titleCase := long >= 2 && upper*10 >= long*7
	from := 0
	for _, f := range fields {
		for _, t := range tokens[from:f.end] {
			if isNumber(t) || f.upper || titleCase {
				key = append(key, t)
			}
		}
		from = f.end
	}
	if len(tokens) > limit {
		tokens = tokens[:limit]
	}
	return slices.Clip(tokens), setOf(key), full
}

// nextField returns the first field of text — a run of characters other
// than spaces, dashes, slashes and commas, which separate the words a
// capital is judged on — and the text after it; ok is false when text
// holds no field.
func nextField(text string) (field, rest string, ok bool) {
	i := indexSeparator(text, false)
	if i < 0 {
		return "", "", false
	}
	text = text[i:]
	j := indexSeparator(text, true)
	if j < 0 {
		j = len(text)
	}
	return text[:j], text[j:], true
}

// indexSeparator returns the index of the first rune of text that is a
// field separator (want true) or is not (want false), or -1. ASCII, most
// of most text, is classed by table.
func indexSeparator(text string, want bool) int {
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf {
			if asciiSeparator[c] == want {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		if isFieldSeparator(r) == want {
			return i
		}
		i += n
	}
	return -1
}

// isFieldSeparator reports whether r separates the fields of a text (see
// nextField).
func isFieldSeparator(r rune) bool {
	return unicode.IsSpace(r) || r == '-' || r == '–' || r == '—' || r == '/' || r == ','
}

var asciiSeparator = func() (t [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		t[c] = isFieldSeparator(rune(c))
	}
	return t
}()

// setOf returns the tokens as a set: sorted, without duplicates, in a
// slice of its own.
func setOf(tokens []string) []string {
	if len(tokens) == 0 {
		return nil
	}
	set := slices.Clone(tokens)
	slices.Sort(set)
	return slices.Clip(slices.Compact(set))
}

// hashSets builds the hash sets of token lists (see storyDoc) in one
// array.
type hashSets struct{ buf []uint64 }

// set returns the hashes of tokens as a set.
func (b *hashSets) set(tokens []string) []uint64 {
	start := len(b.buf)
	for _, t := range tokens {
		b.buf = append(b.buf, fnv64(t))
	}
	set := b.buf[start:]
	slices.Sort(set)
	set = slices.Compact(set)
	b.buf = b.buf[:start+len(set)]
	return set[:len(set):len(set)]
}

// wordSet returns the hashes of tokens as a set, and the token of each
// hash.
func (b *hashSets) wordSet(tokens []string) ([]uint64, []string) {
	start := len(b.buf)
	for _, t := range tokens {
		b.buf = append(b.buf, fnv64(t))
	}
	hashes := b.buf[start:]
	words := slices.Clone(tokens)
	// Few tokens: an insertion sort of both lists by hash, dropping
	// repeats.
	n := 0
	for i, h := range hashes {
		w := words[i]
		k := n
		for k > 0 && hashes[k-1] > h {
			k--
		}
		if k > 0 && hashes[k-1] == h {
			continue
		}
		copy(hashes[k+1:n+1], hashes[k:n])
		copy(words[k+1:n+1], words[k:n])
		hashes[k], words[k] = h, w
		n++
	}
	b.buf = b.buf[:start+n]
	return hashes[:n:n], words[:n:n]
}

// has reports whether the set holds t.
func has[T cmp.Ordered](set []T, t T) bool {
	_, ok := slices.BinarySearch(set, t)
	return ok
}

// union is the set of the elements of two sets.
func union[T cmp.Ordered](a, b []T) []T {
	out := make([]T, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case a[0] > b[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// common counts the elements two sets share.
func common[T cmp.Ordered](a, b []T) int {
	n := 0
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			a = a[1:]
		case a[0] > b[0]:
			b = b[1:]
		default:
			n, a, b = n+1, a[1:], b[1:]
		}
	}
	return n
}

// newStoryDoc prepares an item for comparison; names are its source's name
// and title.
func newStoryDoc(it *Item, names []string) *storyDoc {
	return docOf(it.Source, storyTokens(it, names))
}

// storyTokens reduces an item to what the merge rules compare: the tokens
// of its title (outlet name stripped) and of its lede (the summary, else
// the content).
func storyTokens(it *Item, names []string) *StoryTokens {
	t := &StoryTokens{}
	var splitter query.WordSplitter
	t.Title, t.TitleNamed, _ = namedTokens(&splitter, stripOutlet(it.Title, names), 64)
	t.Lede, t.LedeNamed = ledeTokensOf(&splitter, it)
	return t
}

// ledeTextBytes is how much of a summary's text is read for its lede at
// first: about twice what ledeTokens content words take in news prose.
const ledeTextBytes = 1024

// ledeTokensOf returns namedTokens of the text of the item's summary, or
// of its content when the summary has no text, reading no more of the
// HTML than the lede needs: the start of the text, four times more each
// time that start holds too few tokens.
func ledeTokensOf(splitter *query.WordSplitter, it *Item) (tokens, named []string) {
	html, summary := it.Summary, true
	for size := ledeTextBytes; ; size *= 4 {
		text, complete := query.HTMLTextPrefix(html, size)
		if summary && complete && strings.TrimSpace(text) == "" {
			html, summary, size = it.Content, false, ledeTextBytes/4
			continue
		}
		tokens, named, full := namedTokens(splitter, text, ledeTokens)
		if full || complete {
			return tokens, named
		}
	}
}

// docOf builds the comparison document of stored tokens.
func docOf(source string, t *StoryTokens) *storyDoc {
	sets := hashSets{buf: make([]uint64, 0, len(t.Title)+len(t.TitleNamed)+len(t.Lede)+len(t.LedeNamed))}
	d := &storyDoc{source: source, title: t.Title, seq: [][]string{t.Title, t.Lede}}
	d.titleSet, d.titleWords = sets.wordSet(t.Title)
	d.key, d.lede, d.ledeKey = sets.set(t.TitleNamed), sets.set(t.Lede), sets.set(t.LedeNamed)
	return d
}

// overlap is |a ∩ b| / min(|a|, |b|): 1 when one set holds the other, as
// a trimmed title or a shortened lede does.
func overlap[T cmp.Ordered](a, b []T) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	return float64(common(a, b)) / float64(min(len(a), len(b)))
}

// unsupported returns how many tokens of a's title are in neither b's
// title nor b's lede, and whether any of them names something. A token
// that abbreviates words of b ("FM", "LegCo") is supported. It stops
// counting at the first that names something or at enough of them, what
// templateGuard needs to decide.
func unsupported(a, b *storyDoc, enough int) (n int, named bool) {
	for i, h := range a.titleSet {
		if !b.mentions(h) && !b.abbreviates(a.titleWords[i]) {
			n++
			if has(a.key, h) {
				return n, true
			}
			if n == enough {
				return n, false
			}
		}
	}
	return n, false
}

// abbreviates reports whether t is made of leading letters of two or more
// consecutive words of d, each giving at least one: "fm" of "foreign
// minister", "legco" of "legislative council".
func (d *storyDoc) abbreviates(t string) bool {
	if len(t) < 2 || len(t) > 6 || isNumber(t) {
		return false
	}
	for _, seq := range d.seq {
		for i := range seq {
			if seq[i] != "" && seq[i][0] == t[0] && spellsOut(t, seq[i:], 0) {
				return true
			}
		}
	}
	return false
}

// spellsOut reports whether t is made of leading letters of words, in
// order, each giving at least one, from words[0] on, with used words so
// far and at least two in all.
func spellsOut(t string, words []string, used int) bool {
	if t == "" {
		return used >= 2
	}
	if len(words) == 0 {
		return false
	}
	w := words[0]
	for k := 1; k <= len(w) && k <= len(t); k++ {
		if w[:k] != t[:k] {
			break
		}
		if spellsOut(t[k:], words[1:], used+1) {
			return true
		}
	}
	return false
}

// templateGuard reports whether the titles of a and b differ in a way
// that makes them different stories: either side names something (a
// place, a person, a number) the other never mentions, or each side has
// words the other lacks (a substitution: "rise" for "fall") — unless that
// is one plain word each and the ledes are nearly the same, which is an
// editor's synonym ("finish" for "complete").
func templateGuard(a, b *storyDoc) bool {
	na, namedA := unsupported(a, b, 3)
	if namedA || na > 2 {
		return true
	}
	nb, namedB := unsupported(b, a, 3)
	if namedB || nb > 2 {
		return true
	}
	if na > 0 && nb > 0 {
		return na > 1 || nb > 1 || len(a.lede) < 8 || len(b.lede) < 8 || overlap(a.lede, b.lede) < 0.8
	}
	return false
}

// ledesDisagree reports whether each lede names at least two things the
// other item never mentions: the same headline over two events.
func ledesDisagree(a, b *storyDoc) bool {
	count := func(x, y *storyDoc) int {
		n := 0
		for _, t := range x.ledeKey {
			if !y.mentions(t) {
				n++
			}
		}
		return n
	}
	return count(a, b) >= 2 && count(b, a) >= 2
}

// sameTitle decides the title rule for two items with equal title keys.
func sameTitle(a, b *storyDoc) (float64, bool) {
	lo := overlap(a.lede, b.lede)
	both := len(a.lede) >= 8 && len(b.lede) >= 8
	switch {
	case both && (lo < 0.3 || ledesDisagree(a, b)):
		return 0, false // the same headline over different stories
	case min(len(a.title), len(b.title)) < 4 && (!both || lo < 0.5):
		return 0, false // too generic a headline to trust alone
	case a.source == b.source && (!both || lo < 0.5):
		return 0, false // a recurring column of one outlet
	}
	return 1 + lo, true
}

// nearDuplicate decides the near-duplicate rule. The overlaps are
// checked first: they are cheap, and most candidates of a crowded index
// fail them, so the guards run for few.
func nearDuplicate(a, b *storyDoc) (float64, bool) {
	if len(a.title) < 2 || len(b.title) < 2 {
		return 0, false
	}
	shared := common(a.titleSet, b.titleSet)
	to := float64(shared) / float64(min(len(a.titleSet), len(b.titleSet)))
	tj := float64(shared) / float64(len(a.titleSet)+len(b.titleSet)-shared)
	score := tj
	if len(a.lede) < 8 || len(b.lede) < 8 {
		// Without ledes to compare, the titles must say it all.
		if tj < 0.8 {
			return 0, false
		}
	} else {
		lo := overlap(a.lede, b.lede)
		if !(to >= minTitleOverlap && lo >= 0.6 || to >= 0.75 && lo >= 0.45) {
			return 0, false
		}
		score += lo
	}
	if templateGuard(a, b) || ledesDisagree(a, b) {
		return 0, false
	}
	return score, true
}

// A TitleSketch summarises the title tokens of an item's story tokens in a
// few bytes, so that a lookup can keep one for every indexed item and rule
// out most band candidates without reading them (see mayNearDuplicate):
// in a cold poll of 60,000 items, 1 band candidate in 20 had titles close
// enough to be compared. The zero value rules nothing out.
type TitleSketch struct {
	bits  [2]uint64 // bit h%128 set for the hash h of each title token
	words uint8     // title tokens, at most 255
	set   uint8     // distinct title tokens, at most 255
	known bool
}

// Sketch returns the sketch of the title tokens; a nil t has the zero
// sketch.
func (t *StoryTokens) Sketch() TitleSketch {
	if t == nil {
		return TitleSketch{}
	}
	var sets hashSets
	set := sets.set(t.Title)
	s := TitleSketch{words: uint8(min(len(t.Title), 255)), set: uint8(min(len(set), 255)), known: true}
	for _, h := range set {
		s.bits[h>>6&1] |= 1 << (h & 63)
	}
	return s
}

// mayNearDuplicate reports whether d could be a near-duplicate of an
// item with sketch c. It is false only where nearDuplicate is: either
// title has fewer than two tokens, or the titles share less than
// minTitleOverlap of the shorter's tokens — counting each token of d
// whose bit c has set, which counts every shared one (and some others).
func (d *storyDoc) mayNearDuplicate(c TitleSketch) bool {
	if !c.known {
		return true
	}
	if len(d.title) < 2 || c.words < 2 {
		return false
	}
	n := 0
	for _, h := range d.titleSet {
		if c.bits[h>>6&1]&(1<<(h&63)) != 0 {
			n++
		}
	}
	// c.set is at most the candidate's distinct tokens, so this ratio
	// is at least the titles' overlap.
	shorter := min(len(d.titleSet), int(c.set))
	return shorter == 0 || float64(n)/float64(shorter) >= minTitleOverlap
}

// minhashBands returns the LSH bands of a token set, given as the tokens'
// hashes (hashSet): minhashSize MinHash values, minhashRows to a band,
// each band hashed with its number.
func minhashBands(tokens []uint64) []uint64 {
	if len(tokens) < 3 {
		return nil
	}
	var mins [minhashSize]uint64
	for i := range mins {
		mins[i] = ^uint64(0)
	}
	for _, x := range tokens {
		for i := range mins {
			if h := mix64(x ^ (uint64(i+1) * 0x9e3779b97f4a7c15)); h < mins[i] {
				mins[i] = h
			}
		}
	}
	bands := make([]uint64, 0, minhashSize/minhashRows)
	for b := 0; b < minhashSize; b += minhashRows {
		h := uint64(b) * 0xbf58476d1ce4e5b9
		for r := range minhashRows {
			h = mix64(h ^ mins[b+r])
		}
		bands = append(bands, h)
	}
	return bands
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is splitmix64's finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// StoryMerger assigns incoming items to stories: its Cluster method is
// FeedUpdate.Cluster. It is immutable and safe for concurrent use.
type StoryMerger struct {
	names map[string][]string // source name → its name and title
	docs  *storyDocCache
}

// storyDocCacheSize bounds the candidate documents a merger keeps, the
// most recently used: copies of a story arrive within hours of each
// other, so recent items are the likeliest candidates. Since items keep
// their tokens a miss costs a few microseconds, so the cache is small.
const storyDocCacheSize = 2048

// storyDocCache keeps candidates' comparison documents. The same earlier
// items are candidates for many new ones, and building a document (HTML
// stripped, text normalised and tokenised) is the expensive part of
// merging; a document never changes once built, so it can be shared.
type storyDocCache struct {
	mu   sync.Mutex
	docs *fifo.Cache[storyDocKey, *storyDoc]
}

func newStoryDocCache() *storyDocCache {
	return &storyDocCache{docs: fifo.New[storyDocKey, *storyDoc](storyDocCacheSize)}
}

// storyDocKey names a version of an item: its ID and content hash.
type storyDocKey struct{ id, hash string }

// doc returns the comparison document of it, built at most once per
// version of the item (its ID and content hash): from its stored tokens
// when it has them, else from its text.
func (c *storyDocCache) doc(it *Item, names []string) *storyDoc {
	build := func() *storyDoc {
		if it.Tokens != nil {
			return docOf(it.Source, it.Tokens)
		}
		return newStoryDoc(it, names)
	}
	if c == nil {
		return build()
	}
	key := storyDocKey{it.ID, it.Hash}
	c.mu.Lock()
	d, ok := c.docs.Get(key)
	c.mu.Unlock()
	if ok {
		return d
	}
	d = build()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached, ok := c.docs.Get(key); ok {
		return cached
	}
	c.docs.Put(key, d)
	return d
}

// NewStoryMerger returns a merger that knows the sources' titles, to
// recognise an outlet's name appended to its own titles.
func NewStoryMerger(sources []Source) *StoryMerger {
	m := &StoryMerger{
		names: make(map[string][]string, len(sources)),
		docs:  newStoryDocCache(),
	}
	for _, s := range sources {
		m.names[s.Name] = []string{s.Name, s.Title}
	}
	return m
}

// candidateDoc is the comparison document of an item: an earlier one
// found by a lookup, or the incoming one.
func (m *StoryMerger) candidateDoc(c *Item) *storyDoc {
	var cache *storyDocCache
	if m != nil {
		cache = m.docs
	}
	return cache.doc(c, m.sourceNames(c.Source))
}

// Prepare computes an item's story tokens and keys: the part of Cluster
// that needs no lookups and most of its cost. A poller prepares a feed's
// items before the store's write transaction, in parallel with other
// polls, so that the transaction holds only lookups and comparisons;
// Cluster prepares an item that was not.
func (m *StoryMerger) Prepare(it *Item) {
	names := m.sourceNames(it.Source)
	it.Tokens = storyTokens(it, names)
	it.Keys = storyKeys(it, m.candidateDoc(it), names)
}

func (m *StoryMerger) sourceNames(source string) []string {
	if m != nil {
		if n, ok := m.names[source]; ok {
			return n
		}
	}
	return []string{source}
}

// StoryKeysOf computes an item's story index keys. names are its source's
// name and title.
func StoryKeysOf(it *Item, names ...string) StoryKeys {
	return storyKeys(it, newStoryDoc(it, names), names)
}

func storyKeys(it *Item, d *storyDoc, names []string) StoryKeys {
	return StoryKeys{
		Link:  CanonicalLink(it.Link),
		Title: TitleKey(it.Title, names...),
		Bands: minhashBands(union(d.titleSet, d.lede)),
	}
}

// Keys computes an item's story index keys.
func (m *StoryMerger) Keys(it *Item) StoryKeys {
	return StoryKeysOf(it, m.sourceNames(it.Source)...)
}

// Cluster sets it.Keys and it.Tokens (unless Prepare did) and, for a new
// item (empty StoryID), its story:
// every rule is tried against every candidate the indexes find, and the
// item joins the stories of all the items it matches. With none it founds
// a story with its own ID; with several, StoryID is the one whose earliest
// member is earliest (ties: the lower id), MergedBy the rule that matched
// it, and MergeStories the others, sorted, for storage to absorb.
func (m *StoryMerger) Cluster(it *Item, lookup StoryLookup) error {
	if it.Tokens == nil {
		m.Prepare(it)
	}
	doc := m.candidateDoc(it)
	it.MergeStories = nil
	if it.StoryID != "" {
		return nil
	}
	matches, err := m.matches(it, doc, lookup)
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		it.StoryID, it.MergedBy = it.ID, ""
		return nil
	}
	ids := make([]string, 0, len(matches))
	for id := range matches {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	survivor := ids[0]
	if len(ids) > 1 {
		var first time.Time
		for i, id := range ids {
			pub, err := lookup.StoryPublished(id)
			if err != nil {
				return fmt.Errorf("story %q: %w", id, err)
			}
			if i == 0 || pub.Before(first) {
				survivor, first = id, pub
			}
		}
	}
	it.StoryID, it.MergedBy = survivor, matches[survivor].rule
	for _, id := range ids {
		if id != survivor {
			it.MergeStories = append(it.MergeStories, id)
		}
	}
	return nil
}

// match is how an incoming item matches a story: through which rule
// (ranked by confidence, lower first) and how strongly.
type match struct {
	rule  string
	rank  int
	score float64
}

func (a match) better(b match) bool {
	return b.rule == "" || a.rank < b.rank || a.rank == b.rank && a.score > b.score
}

// matches returns the stories the item matches by any rule, each with its
// strongest match. A candidate whose story already matched by a stronger
// rule is not compared again.
func (m *StoryMerger) matches(it *Item, doc *storyDoc, lookup StoryLookup) (map[string]match, error) {
	from, to := it.Published.Add(-StoryWindow), it.Published.Add(StoryWindow)
	out := map[string]match{}
	add := func(c *Item, x match) {
		if x.better(out[c.StoryID]) {
			out[c.StoryID] = x
		}
	}
	// settled reports whether c needs no comparison under a rule of rank.
	settled := func(c *Item, rank int) bool {
		if c.ID == it.ID || c.StoryID == "" {
			return true
		}
		x, ok := out[c.StoryID]
		return ok && x.rank < rank
	}

	if it.Keys.Link != "" {
		cands, err := lookup.ByLink(it.Keys.Link)
		if err != nil {
			return nil, err
		}
		for i := range cands {
			if c := &cands[i]; !settled(c, 0) {
				add(c, match{MergedByLink, 0, 1})
			}
		}
	}
	if it.Keys.Title != "" {
		cands, err := lookup.ByTitleKey(it.Keys.Title, from, to)
		if err != nil {
			return nil, err
		}
		for i := range cands {
			c := &cands[i]
			if settled(c, 1) {
				continue
			}
			if score, ok := sameTitle(doc, m.candidateDoc(c)); ok {
				add(c, match{MergedByTitle, 1, score})
			}
		}
	}
	if len(it.Keys.Bands) > 0 {
		cands, err := lookup.ByBands(it.Keys.Bands, from, to, minSharedBands, maxCandidates, doc.mayNearDuplicate)
		if err != nil {
			return nil, err
		}
		for i := range cands {
			c := &cands[i]
			if settled(c, 2) {
				continue
			}
			if score, ok := nearDuplicate(doc, m.candidateDoc(c)); ok {
				add(c, match{MergedByNear, 2, score})
			}
		}
	}
	return out, nil
}

// SortMembers orders a story's members earliest published first, ties by
// source then item ID.
func SortMembers(members []Item) {
	slices.SortStableFunc(members, func(a, b Item) int {
		if c := a.Published.Compare(b.Published); c != 0 {
			return c
		}
		if c := strings.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Lead returns the index in s.Members of the member a topic feed shows:
// the one from the source of the highest priority, earliest published
// among those; -1 when the story has no members. priority may be nil.
func (s *Story) Lead(priority func(source string) int) int {
	lead := -1
	for i := range s.Members {
		if lead < 0 {
			lead = i
			continue
		}
		a, b := &s.Members[i], &s.Members[lead]
		pa, pb := 0, 0
		if priority != nil {
			pa, pb = priority(a.Source), priority(b.Source)
		}
		if pa > pb || pa == pb && a.Published.Before(b.Published) {
			lead = i
		}
	}
	return lead
}
