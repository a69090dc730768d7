package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakePDF is a PDF-looking byte string of size n: what checkPDF accepts.
func fakePDF(n int) []byte {
	b := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), n)...)
	return append(b, "\n%%EOF\n"...)
}

// TestFraming: a message is its JSON and a NUL byte; several in one read come apart,
// and a stream that ends inside one is an error.
func TestFraming(t *testing.T) {
	var stream []byte
	in := []message{
		{ID: 1, Method: "Target.createTarget", Params: json.RawMessage(`{"url":"about:blank"}`)},
		{Method: "Page.loadEventFired", SessionID: "S1", Params: json.RawMessage(`{"timestamp":1.5}`)},
		{ID: 2, Result: json.RawMessage(`{"data":"JVBERi0="}`), SessionID: "S1"},
		{ID: 3, Error: &protocolError{Code: -32000, Message: "No target", Data: "x\x00y"}},
	}
	for _, m := range in {
		b, err := frame(m)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) != len(b)-1 {
			t.Fatalf("frame %q: the NUL must end it and be its only one", b)
		}
		stream = append(stream, b...)
	}
	r := bufio.NewReader(bytes.NewReader(append(stream, `{"id":4`...)))
	for i, want := range in {
		got, err := readFrame(r)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got.ID != want.ID || got.Method != want.Method || got.SessionID != want.SessionID ||
			!bytes.Equal(got.Params, want.Params) || !bytes.Equal(got.Result, want.Result) {
			t.Errorf("message %d: got %+v, want %+v", i, got, want)
		}
		if (got.Error == nil) != (want.Error == nil) || got.Error != nil && *got.Error != *want.Error {
			t.Errorf("message %d: error %v, want %v", i, got.Error, want.Error)
		}
	}
	if _, err := readFrame(r); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a message cut short: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := readFrame(bufio.NewReader(strings.NewReader("not json\x00"))); err == nil {
		t.Error("undecodable message accepted")
	}
}

// TestDecodePDF: printToPDF's base64 data is decoded and checked; garbage is refused.
func TestDecodePDF(t *testing.T) {
	pdf := fakePDF(minPDF)
	res, _ := json.Marshal(map[string]string{"data": base64.StdEncoding.EncodeToString(pdf)})
	got, err := decodePDF(res)
	if err != nil || !bytes.Equal(got, pdf) {
		t.Fatalf("decodePDF: %d bytes, %v", len(got), err)
	}
	for name, data := range map[string]string{
		"not base64":    `{"data":"%%%"}`,
		"not a PDF":     `{"data":"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("<html>"), 4096)) + `"}`,
		"tiny PDF":      `{"data":"` + base64.StdEncoding.EncodeToString(fakePDF(10)) + `"}`,
		"no data":       `{}`,
		"no %%EOF":      `{"data":"` + base64.StdEncoding.EncodeToString(pdf[:len(pdf)-7]) + `"}`,
		"not an answer": `[1]`,
	} {
		if _, err := decodePDF(json.RawMessage(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestDevtoolsClient drives the client against a fake browser on the other end of two
// pipes: create a target, attach, enable, navigate (events arriving before and after
// the answer), print; and an error answer.
func TestDevtoolsClient(t *testing.T) {
	cmdR, cmdW := io.Pipe()
	evR, evW := io.Pipe()
	defer cmdW.Close()
	defer evW.Close()
	pdf := fakePDF(minPDF)
	go func() { // the browser
		r := bufio.NewReader(cmdR)
		send := func(m message) {
			b, _ := frame(m)
			_, _ = evW.Write(b) // fails once the test has closed the pipe
		}
		for {
			m, err := readFrame(r)
			if err != nil {
				return
			}
			switch m.Method {
			case "Target.createTarget":
				send(message{ID: m.ID, Result: json.RawMessage(`{"targetId":"T1"}`)})
			case "Target.attachToTarget":
				var p struct {
					TargetID string `json:"targetId"`
					Flatten  bool   `json:"flatten"`
				}
				_ = json.Unmarshal(m.Params, &p)
				if p.TargetID != "T1" || !p.Flatten {
					send(message{ID: m.ID, Error: &protocolError{Code: -32602, Message: "bad attach " + string(m.Params)}})
					continue
				}
				send(message{ID: m.ID, Result: json.RawMessage(`{"sessionId":"S1"}`)})
			case "Page.enable":
				send(message{ID: m.ID, SessionID: m.SessionID, Result: json.RawMessage(`{}`)})
			case "Page.navigate":
				// An event of another session, the answer, then the load event.
				send(message{Method: "Page.loadEventFired", SessionID: "OTHER", Params: json.RawMessage(`{}`)})
				send(message{ID: m.ID, SessionID: m.SessionID, Result: json.RawMessage(`{"frameId":"F"}`)})
				send(message{Method: "Page.frameNavigated", SessionID: m.SessionID, Params: json.RawMessage(`{}`)})
				send(message{Method: "Page.loadEventFired", SessionID: m.SessionID, Params: json.RawMessage(`{}`)})
			case "Page.printToPDF":
				if m.SessionID != "S1" {
					send(message{ID: m.ID, Error: &protocolError{Code: -32601, Message: "printToPDF outside the page's session"}})
					continue
				}
				res, _ := json.Marshal(map[string]string{"data": base64.StdEncoding.EncodeToString(pdf)})
				send(message{ID: m.ID, SessionID: m.SessionID, Result: res})
			default:
				send(message{ID: m.ID, SessionID: m.SessionID, Error: &protocolError{Code: -32601, Message: "'" + m.Method + "' wasn't found"}})
			}
		}
	}()
	d := newDevtools(evR, cmdW, 5*time.Second)
	p, err := d.newPage()
	if err != nil {
		t.Fatal(err)
	}
	if p.session != "S1" {
		t.Fatalf("session %q", p.session)
	}
	for range 3 {
		if err := p.load("file:///letter.html"); err != nil {
			t.Fatal(err)
		}
		got, err := p.printToPDF()
		if err != nil || !bytes.Equal(got, pdf) {
			t.Fatalf("printToPDF: %d bytes, %v", len(got), err)
		}
	}
	if _, err := d.call("S1", "Page.noSuchThing", nil); err == nil || !strings.Contains(err.Error(), "wasn't found") {
		t.Errorf("an error answer: %v", err)
	}
	evW.Close() // the browser goes away
	if _, err := d.call("", "Browser.getVersion", nil); err == nil {
		t.Error("a call after the browser closed its pipe succeeded")
	}
}

// TestBodyIsTheDemoLetter: the body benchmarked is the Case 3386 update the portal's
// demo and dispatch tests use.
func TestBodyIsTheDemoLetter(t *testing.T) {
	demo, err := os.ReadFile("../../cmd/unionportal/demo/case-3386-update.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(demo) != body {
		t.Error("bench/letter/testdata/case-3386-update.md differs from cmd/unionportal/demo/case-3386-update.md")
	}
}

// TestChromiumPrint is one real round trip through Debian's Chromium over the pipe,
// when it is installed: the letter's HTML page printed to a PDF holding the case.
func TestChromiumPrint(t *testing.T) {
	bin, err := chromiumBinary()
	if err != nil {
		t.Skip(err)
	}
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	defer killAll()
	dir := t.TempDir()
	l := letter()
	page, err := letterPage(l)
	if err != nil {
		t.Fatal(err)
	}
	htmlPath := filepath.Join(dir, "letter.html")
	if err := os.WriteFile(htmlPath, page, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := startBrowser(bin, filepath.Join(dir, "profile"), filepath.Join(dir, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	pdf, err := b.print("file://" + htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Log("pdftotext not installed: the PDF's text is not checked")
		return
	}
	if err := checkText("chromium", pdf, dir, l); err != nil {
		t.Error(err)
	}
}
