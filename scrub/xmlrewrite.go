package scrub

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// xmlRules say what leaves an XML part. Names are written as in the file,
// "prefix:local" (the documents' prefixes are fixed by their standards).
type xmlRules struct {
	// drop names elements removed with their content, and the label under which their
	// text is reported ("" reports the label alone).
	drop map[string]string
	// blankAttr names attributes whose value is emptied (by local name, any prefix, or
	// "element@attribute" for one element), with the label their values are reported by.
	blankAttr map[string]string
	// removeAttrPrefix removes attributes whose local name starts with it (Word's rsid
	// revision-session ids), reported once by label.
	removeAttrPrefix, removeAttrLabel string
	// blankText names elements whose text is emptied, with a label.
	blankText map[string]string
	// dropWhen decides for other elements whether they are dropped, by their
	// attributes; value is reported along with the element's text.
	dropWhen func(t xml.StartElement) (label, value string, drop bool)
}

// attr is the value of t's attribute named local, whatever its prefix.
func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// gathered collects values per label, reported as "label: a, b".
type gathered struct {
	order  []string
	values map[string][]string
}

func (g *gathered) add(label, v string) {
	if g.values == nil {
		g.values = map[string][]string{}
	}
	if _, ok := g.values[label]; !ok {
		g.order = append(g.order, label)
		g.values[label] = []string{}
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	for _, have := range g.values[label] {
		if have == v {
			return
		}
	}
	if len(g.values[label]) < 10 {
		g.values[label] = append(g.values[label], v)
	}
}

func (g *gathered) report(f *findings) {
	for _, label := range g.order {
		vs := g.values[label]
		if len(vs) == 0 {
			f.add("%s", label)
			continue
		}
		q := make([]string, len(vs))
		for i, v := range vs {
			q[i] = quote(v)
		}
		f.add("%s: %s", label, strings.Join(q, ", "))
	}
}

// recorder keeps the bytes the decoder read that were not yet copied out, so that every
// token the rules leave alone is copied as it was written.
type recorder struct {
	r    io.Reader
	buf  []byte
	base int64 // input offset of buf[0]
}

func (c *recorder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf = append(c.buf, p[:n]...)
	return n, err
}

// take returns the bytes from the input offset from to to, and forgets those before to.
func (c *recorder) take(from, to int64) []byte {
	b := c.buf[from-c.base : to-c.base]
	c.buf = c.buf[to-c.base:]
	c.base = to
	return b
}

func xmlName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// rewriteXML copies an XML part, token by token, the raw bytes of every token the rules
// leave alone; a start element with an attribute changed is written anew. It reports
// what it removed into g.
func rewriteXML(g *gathered, w io.Writer, r io.Reader, rules *xmlRules) error {
	rec := &recorder{r: r}
	dec := xml.NewDecoder(rec)
	var prev int64
	skip := 0            // depth inside a dropped element
	var skipLabel string // its label
	var skipText []byte  // and its text, for the report
	var textLabel string // inside an element whose text is emptied
	var textValue []byte // its text
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			_, werr := w.Write(rec.take(prev, rec.base+int64(len(rec.buf))))
			return werr
		}
		if err != nil {
			return err
		}
		cur := dec.InputOffset()
		raw := rec.take(prev, cur)
		prev = cur
		switch t := tok.(type) {
		case xml.StartElement:
			if skip > 0 {
				skip++
				continue
			}
			name := xmlName(t.Name)
			if label, ok := rules.drop[name]; ok {
				skip, skipLabel, skipText = 1, label, skipText[:0]
				continue
			}
			if rules.dropWhen != nil {
				if label, value, ok := rules.dropWhen(t); ok {
					skip, skipLabel, skipText = 1, label, append(skipText[:0], value...)
					continue
				}
			}
			if label, ok := rules.blankText[name]; ok {
				textLabel, textValue = label, textValue[:0]
			}
			if changed := rewriteAttrs(g, &t, rules); changed {
				raw = startElement(t, bytes.HasSuffix(raw, []byte("/>")))
			}
		case xml.EndElement:
			if skip > 0 {
				skip--
				if skip == 0 {
					g.add(skipLabel, string(skipText))
				}
				continue
			}
			if textLabel != "" {
				g.add(textLabel, string(textValue))
				textLabel = ""
			}
		case xml.CharData:
			switch {
			case skip > 0:
				if len(skipText) < 200 {
					skipText = append(skipText, t...)
				}
				continue
			case textLabel != "":
				textValue = append(textValue, t...)
				continue
			}
		default:
			if skip > 0 {
				continue
			}
		}
		if _, err := w.Write(raw); err != nil {
			return err
		}
	}
}

// rewriteAttrs applies the attribute rules to t and reports whether any changed.
func rewriteAttrs(g *gathered, t *xml.StartElement, rules *xmlRules) bool {
	changed := false
	kept := t.Attr[:0:0]
	for _, a := range t.Attr {
		if rules.removeAttrPrefix != "" && a.Name.Space != "xmlns" && strings.HasPrefix(a.Name.Local, rules.removeAttrPrefix) {
			g.add(rules.removeAttrLabel, "")
			changed = true
			continue
		}
		label, ok := rules.blankAttr[t.Name.Local+"@"+a.Name.Local]
		if !ok {
			label, ok = rules.blankAttr[a.Name.Local]
		}
		if ok && a.Name.Space != "xmlns" && a.Value != "" {
			g.add(label, a.Value)
			a.Value = ""
			changed = true
		}
		kept = append(kept, a)
	}
	t.Attr = kept
	return changed
}

// startElement writes a start element (self-closing when it was).
func startElement(t xml.StartElement, selfClosing bool) []byte {
	var b bytes.Buffer
	b.WriteByte('<')
	b.WriteString(xmlName(t.Name))
	for _, a := range t.Attr {
		b.WriteByte(' ')
		b.WriteString(xmlName(a.Name))
		b.WriteString(`="`)
		xml.EscapeText(&b, []byte(a.Value))
		b.WriteByte('"')
	}
	if selfClosing {
		b.WriteString("/>")
	} else {
		b.WriteByte('>')
	}
	return b.Bytes()
}
