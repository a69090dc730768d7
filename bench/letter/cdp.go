package main

// A client of the Chrome DevTools protocol over --remote-debugging-pipe, with the
// standard library only: Chromium reads commands from its file descriptor 3 and writes
// answers and events to its descriptor 4, each message a JSON object followed by a NUL
// byte. Sessions are flattened (Target.attachToTarget with flatten): a command for a
// page carries the session's ID beside its own, and so do the page's events.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// message is any message of the protocol: a command (ID, Method, Params), its answer
// (ID, Result or Error) or an event (Method, Params, no ID).
type message struct {
	ID        int64           `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *protocolError  `json:"error,omitempty"`
}

type protocolError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data,omitempty"`
}

func (e *protocolError) Error() string {
	if e.Data != "" {
		return fmt.Sprintf("%s (%d): %s", e.Message, e.Code, e.Data)
	}
	return fmt.Sprintf("%s (%d)", e.Message, e.Code)
}

// frame is m as the pipe carries it: its JSON and a NUL byte.
func frame(m message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, errors.New("devtools: a NUL byte inside a message") // json escapes it; never happens
	}
	return append(b, 0), nil
}

// readFrame reads one message from r: the bytes up to the next NUL, decoded.
func readFrame(r *bufio.Reader) (message, error) {
	b, err := r.ReadBytes(0)
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return message{}, err
	}
	var m message
	if err := json.Unmarshal(b[:len(b)-1], &m); err != nil {
		return message{}, fmt.Errorf("devtools: undecodable message %.200q: %w", b, err)
	}
	return m, nil
}

// decodePDF decodes Page.printToPDF's result and checks that it is a PDF.
func decodePDF(result json.RawMessage) ([]byte, error) {
	var r struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(result, &r); err != nil {
		return nil, fmt.Errorf("printToPDF result: %w", err)
	}
	pdf, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return nil, fmt.Errorf("printToPDF data: %w", err)
	}
	return pdf, checkPDF(pdf)
}

// minPDF is the least size of a real letter: a two-page A4 letter with its fonts is
// tens of kilobytes; an empty page is about one.
const minPDF = 8 << 10

// checkPDF fails unless b looks like a real PDF: the header, the end-of-file marker and
// a non-trivial size.
func checkPDF(b []byte) error {
	switch {
	case !bytes.HasPrefix(b, []byte("%PDF-")):
		return fmt.Errorf("not a PDF: starts with %.16q", b)
	case len(b) < minPDF:
		return fmt.Errorf("a PDF of %d bytes only (less than %d)", len(b), minPDF)
	case !bytes.Contains(b[max(0, len(b)-1024):], []byte("%%EOF")):
		return errors.New("a PDF without %%EOF at its end")
	}
	return nil
}

// devtools is a connection to one browser over its pipe.
type devtools struct {
	w       io.Writer
	timeout time.Duration

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan message
	events  chan message
	done    chan struct{} // closed when the reader stops
	err     error         // why the reader stopped, set before done is closed
}

// newDevtools starts reading r (the browser's descriptor 4) and writes commands to w
// (its descriptor 3). Events go to a buffer that waitEvent reads; commands and events
// time out after timeout.
func newDevtools(r io.Reader, w io.Writer, timeout time.Duration) *devtools {
	d := &devtools{w: w, timeout: timeout, pending: map[int64]chan message{},
		events: make(chan message, 1024), done: make(chan struct{})}
	go d.read(bufio.NewReaderSize(r, 1<<20))
	return d
}

func (d *devtools) read(r *bufio.Reader) {
	defer close(d.done)
	for {
		m, err := readFrame(r)
		if err != nil {
			d.err = err
			return
		}
		if m.ID == 0 {
			select {
			case d.events <- m:
			default: // nobody waits for it: the buffer keeps the latest 1,024
				select {
				case <-d.events:
				default:
				}
				d.events <- m
			}
			continue
		}
		d.mu.Lock()
		ch := d.pending[m.ID]
		delete(d.pending, m.ID)
		d.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// call sends method with params (to session, if not empty) and waits for its result.
func (d *devtools) call(session, method string, params any) (json.RawMessage, error) {
	var raw json.RawMessage
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	ch := make(chan message, 1)
	d.mu.Lock()
	d.nextID++
	id := d.nextID
	d.pending[id] = ch
	d.mu.Unlock()
	b, err := frame(message{ID: id, SessionID: session, Method: method, Params: raw})
	if err != nil {
		return nil, err
	}
	if _, err := d.w.Write(b); err != nil {
		return nil, fmt.Errorf("devtools %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return nil, fmt.Errorf("devtools %s: %w", method, m.Error)
		}
		return m.Result, nil
	case <-d.done:
		return nil, fmt.Errorf("devtools %s: the browser closed its pipe: %v", method, d.err)
	case <-time.After(d.timeout):
		return nil, fmt.Errorf("devtools %s: no answer in %s", method, d.timeout)
	}
}

// drain forgets the events received so far.
func (d *devtools) drain() {
	for {
		select {
		case <-d.events:
		default:
			return
		}
	}
}

// waitEvent waits for event method of session.
func (d *devtools) waitEvent(session, method string) (message, error) {
	deadline := time.After(d.timeout)
	for {
		select {
		case m := <-d.events:
			if m.Method == method && m.SessionID == session {
				return m, nil
			}
		case <-d.done:
			return message{}, fmt.Errorf("devtools: waiting for %s, the browser closed its pipe: %v", method, d.err)
		case <-deadline:
			return message{}, fmt.Errorf("devtools: no %s in %s", method, d.timeout)
		}
	}
}

// page is a tab the client is attached to.
type page struct {
	d       *devtools
	session string
}

// newPage creates a blank tab, attaches to it with a flat session and enables its
// page events.
func (d *devtools) newPage() (*page, error) {
	res, err := d.call("", "Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		return nil, err
	}
	var t struct {
		TargetID string `json:"targetId"`
	}
	if err := json.Unmarshal(res, &t); err != nil || t.TargetID == "" {
		return nil, fmt.Errorf("Target.createTarget: no targetId in %s", res)
	}
	res, err = d.call("", "Target.attachToTarget", map[string]any{"targetId": t.TargetID, "flatten": true})
	if err != nil {
		return nil, err
	}
	var s struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(res, &s); err != nil || s.SessionID == "" {
		return nil, fmt.Errorf("Target.attachToTarget: no sessionId in %s", res)
	}
	p := &page{d: d, session: s.SessionID}
	if _, err := d.call(p.session, "Page.enable", nil); err != nil {
		return nil, err
	}
	return p, nil
}

// load navigates to url and waits for the page's load event (its fonts loaded too).
func (p *page) load(url string) error {
	p.d.drain()
	res, err := p.d.call(p.session, "Page.navigate", map[string]any{"url": url})
	if err != nil {
		return err
	}
	var n struct {
		ErrorText string `json:"errorText"`
	}
	if err := json.Unmarshal(res, &n); err != nil {
		return fmt.Errorf("Page.navigate: %w", err)
	}
	if n.ErrorText != "" {
		return fmt.Errorf("Page.navigate %s: %s", url, n.ErrorText)
	}
	_, err = p.d.waitEvent(p.session, "Page.loadEventFired")
	return err
}

// printToPDF prints the loaded page as the letter's CSS asks (@page: A4, margins,
// page numbers), without Chromium's own header and footer.
func (p *page) printToPDF() ([]byte, error) {
	res, err := p.d.call(p.session, "Page.printToPDF", map[string]any{
		"preferCSSPageSize":   true,
		"displayHeaderFooter": false,
		"printBackground":     false,
	})
	if err != nil {
		return nil, err
	}
	return decodePDF(res)
}
